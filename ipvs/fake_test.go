package ipvs

import (
	"fmt"
	"syscall"

	mobyipvs "github.com/moby/ipvs"
)

// fakeKernel is an in-memory IPVS for the pure tests of the manager's
// logic; the real kernel is exercised by the vm-tagged tests.
type fakeKernel struct {
	svcs       map[string]*mobyipvs.Service
	dests      map[string]map[string]*mobyipvs.Destination
	writes     int
	dropWrites bool
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{svcs: map[string]*mobyipvs.Service{}, dests: map[string]map[string]*mobyipvs.Destination{}}
}

func skey(s *mobyipvs.Service) string {
	if s.FWMark != 0 {
		return fmt.Sprintf("fwm%d/%d", s.FWMark, s.AddressFamily)
	}
	return fmt.Sprintf("%d/%s/%d", s.Protocol, s.Address, s.Port)
}

func dkey(d *mobyipvs.Destination) string { return fmt.Sprintf("%s/%d", d.Address, d.Port) }

func (f *fakeKernel) GetServices() ([]*mobyipvs.Service, error) {
	var out []*mobyipvs.Service
	for _, s := range f.svcs {
		c := *s
		c.Flags |= uint32(FlagHashed)
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeKernel) GetDestinations(s *mobyipvs.Service) ([]*mobyipvs.Destination, error) {
	var out []*mobyipvs.Destination
	for _, d := range f.dests[skey(s)] {
		c := *d
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeKernel) write() bool {
	f.writes++
	return !f.dropWrites
}

func (f *fakeKernel) NewService(s *mobyipvs.Service) error {
	if !f.write() {
		return nil
	}
	if _, ok := f.svcs[skey(s)]; ok {
		return syscall.EEXIST
	}
	c := *s
	f.svcs[skey(s)] = &c
	f.dests[skey(s)] = map[string]*mobyipvs.Destination{}
	return nil
}

func (f *fakeKernel) UpdateService(s *mobyipvs.Service) error {
	if !f.write() {
		return nil
	}
	if _, ok := f.svcs[skey(s)]; !ok {
		return syscall.ESRCH
	}
	c := *s
	f.svcs[skey(s)] = &c
	return nil
}

func (f *fakeKernel) DelService(s *mobyipvs.Service) error {
	if !f.write() {
		return nil
	}
	if _, ok := f.svcs[skey(s)]; !ok {
		return syscall.ESRCH
	}
	delete(f.svcs, skey(s))
	delete(f.dests, skey(s))
	return nil
}

func (f *fakeKernel) NewDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	if !f.write() {
		return nil
	}
	if d.LowerThreshold > d.UpperThreshold {
		return syscall.ERANGE // as ip_vs_ctl.c's ip_vs_add_dest
	}
	m, ok := f.dests[skey(s)]
	if !ok {
		return syscall.ESRCH
	}
	if _, ok := m[dkey(d)]; ok {
		return syscall.EEXIST
	}
	c := *d
	m[dkey(d)] = &c
	return nil
}

func (f *fakeKernel) UpdateDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	if !f.write() {
		return nil
	}
	m, ok := f.dests[skey(s)]
	if !ok {
		return syscall.ESRCH
	}
	if _, ok := m[dkey(d)]; !ok {
		return syscall.ENOENT
	}
	c := *d
	m[dkey(d)] = &c
	return nil
}

func (f *fakeKernel) DelDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	if !f.write() {
		return nil
	}
	m, ok := f.dests[skey(s)]
	if !ok {
		return syscall.ESRCH
	}
	if _, ok := m[dkey(d)]; !ok {
		return syscall.ENOENT
	}
	delete(m, dkey(d))
	return nil
}

func (f *fakeKernel) Flush() error {
	f.svcs = map[string]*mobyipvs.Service{}
	f.dests = map[string]map[string]*mobyipvs.Destination{}
	return nil
}
