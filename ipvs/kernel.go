package ipvs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	mobyipvs "github.com/moby/ipvs"
	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
)

// Kernel is the part of *ipvs.Handle (github.com/moby/ipvs) kahook uses.
type Kernel interface {
	GetServices() ([]*mobyipvs.Service, error)
	GetDestinations(*mobyipvs.Service) ([]*mobyipvs.Destination, error)
	NewService(*mobyipvs.Service) error
	UpdateService(*mobyipvs.Service) error
	DelService(*mobyipvs.Service) error
	NewDestination(*mobyipvs.Service, *mobyipvs.Destination) error
	UpdateDestination(*mobyipvs.Service, *mobyipvs.Destination) error
	DelDestination(*mobyipvs.Service, *mobyipvs.Destination) error
	Flush() error
}

// ErrNoIPVS: the kernel has no IPVS. moby/ipvs does not notice this
// itself: with the generic netlink family missing its requests go to
// family 0, which the kernel acknowledges, and every call "succeeds"
// having done nothing.
var ErrNoIPVS = errors.New("the kernel has no IPVS")

// familyPresent asks generic netlink for the IPVS family.
func familyPresent() bool {
	_, err := netlink.GenlFamilyGet("IPVS")
	return err == nil
}

// Detect checks for IPVS, trying `modprobe ip_vs` once when it is
// missing.
func Detect() error {
	if familyPresent() {
		return nil
	}
	out, err := exec.Command("modprobe", "ip_vs").CombinedOutput()
	if familyPresent() {
		return nil
	}
	why := strings.TrimSpace(string(out))
	if err != nil && why == "" {
		why = err.Error()
	}
	if why == "" {
		why = "module loaded but no IPVS netlink family"
	}
	return fmt.Errorf("%w: generic netlink family IPVS is missing and `modprobe ip_vs` did not provide it (%s); build or load IP_VS (CONFIG_IP_VS)", ErrNoIPVS, why)
}

var envMu sync.Mutex

// Open detects IPVS and opens a handle in the current network namespace.
func Open() (*mobyipvs.Handle, error) {
	if err := Detect(); err != nil {
		return nil, err
	}
	// moby/ipvs logs through logrus; kahook's logs are its own.
	logrus.SetOutput(io.Discard)
	// moby/ipvs forks `modprobe -va ip_vs` on the first handle of every
	// process. Detect has just seen the family, so let that lookup fail
	// at once instead of paying a fork/exec on every notify.
	envMu.Lock()
	path := os.Getenv("PATH")
	os.Setenv("PATH", "")
	h, err := mobyipvs.New("")
	os.Setenv("PATH", path)
	envMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("open IPVS netlink: %w", err)
	}
	return h, nil
}

// bounded runs f, giving up when ctx ends: moby/ipvs retries EAGAIN
// without end and takes no context.
func bounded[T any](ctx context.Context, what string, f func() (T, error)) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := f()
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// Read dumps the kernel's table into kahook's types.
func Read(ctx context.Context, k Kernel) (Table, error) {
	return bounded(ctx, "read IPVS table", func() (Table, error) {
		svcs, err := k.GetServices()
		if err != nil {
			return nil, fmt.Errorf("list IPVS services: %w", err)
		}
		t := Table{}
		for _, ms := range svcs {
			s, err := fromMobyService(ms)
			if err != nil {
				return nil, err
			}
			dests, err := k.GetDestinations(ms)
			if err != nil {
				if errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENOENT) {
					continue // deleted between the two dumps
				}
				return nil, fmt.Errorf("list destinations of %s: %w", s.Key, err)
			}
			e := &Entry{Service: s, Dests: make(map[DestKey]*Dest, len(dests))}
			for _, md := range dests {
				d := fromMobyDest(md)
				e.Dests[d.Key] = d
			}
			t[s.Key] = e
		}
		return t, nil
	})
}

// Apply performs changes in order. It stops at the first failure: later
// changes may depend on it, and the next run plans again from the kernel.
func Apply(ctx context.Context, k Kernel, changes []Change) (int, error) {
	return bounded(ctx, "apply IPVS changes", func() (int, error) {
		for i, c := range changes {
			if err := applyOne(k, c); err != nil {
				return i, fmt.Errorf("%s: %w", c, err)
			}
		}
		return len(changes), nil
	})
}

func applyOne(k Kernel, c Change) error {
	ms := toMobyService(c.Service)
	switch c.Op {
	case AddService:
		return ignore(k.NewService(ms), syscall.EEXIST)
	case UpdateService:
		return k.UpdateService(ms)
	case DelService:
		return ignore(k.DelService(ms), syscall.ESRCH)
	case AddDest:
		return ignore(k.NewDestination(ms, toMobyDest(c.Dest)), syscall.EEXIST)
	case UpdateDest:
		return k.UpdateDestination(ms, toMobyDest(c.Dest))
	case DelDest:
		return ignore(k.DelDestination(ms, toMobyDest(c.Dest)), syscall.ENOENT)
	}
	return fmt.Errorf("unknown change %s", c.Op)
}

// ignore treats "already there" / "already gone" as done: a killed run
// leaves such half-done work, and the next run must converge anyway.
func ignore(err error, errno syscall.Errno) error {
	if errors.Is(err, errno) {
		return nil
	}
	return err
}

func toMobyService(s Service) *mobyipvs.Service {
	ms := &mobyipvs.Service{
		SchedName:     s.Sched,
		Flags:         s.Flags &^ FlagHashed,
		Timeout:       s.Timeout,
		Netmask:       s.Netmask,
		PEName:        s.PEName,
		AddressFamily: uint16(afNum(s.Key.Family)),
	}
	if s.Key.FWMark != 0 {
		ms.FWMark = s.Key.FWMark
	} else {
		ms.Address = net.IP(s.Key.Addr.AsSlice())
		ms.Protocol = s.Key.Protocol
		ms.Port = s.Key.Port
	}
	return ms
}

func fromMobyService(ms *mobyipvs.Service) (Service, error) {
	fam := 4
	if ms.AddressFamily == syscall.AF_INET6 {
		fam = 6
	}
	s := Service{
		Sched:   ms.SchedName,
		Flags:   ms.Flags &^ FlagHashed,
		Timeout: ms.Timeout,
		Netmask: ms.Netmask,
		PEName:  ms.PEName,
	}
	s.Key.Family = fam
	if ms.FWMark != 0 {
		s.Key.FWMark = ms.FWMark
		return s, nil
	}
	a, ok := netip.AddrFromSlice(ms.Address)
	if !ok {
		return s, fmt.Errorf("IPVS service with address %v", ms.Address)
	}
	s.Key.Addr = a.Unmap()
	s.Key.Protocol = ms.Protocol
	s.Key.Port = ms.Port
	return s, nil
}

func toMobyDest(d *Dest) *mobyipvs.Destination {
	fam := uint16(syscall.AF_INET)
	if d.Key.Addr.Is6() {
		fam = syscall.AF_INET6
	}
	return &mobyipvs.Destination{
		Address:         net.IP(d.Key.Addr.AsSlice()),
		Port:            d.Key.Port,
		Weight:          d.Weight,
		ConnectionFlags: d.Fwd,
		AddressFamily:   fam,
		UpperThreshold:  d.UThreshold,
		LowerThreshold:  d.LThreshold,
	}
}

func fromMobyDest(md *mobyipvs.Destination) *Dest {
	a, _ := netip.AddrFromSlice(md.Address)
	return &Dest{
		Key:           DestKey{Addr: a.Unmap(), Port: md.Port},
		Weight:        md.Weight,
		Fwd:           md.ConnectionFlags & fwdMask,
		UThreshold:    md.UpperThreshold,
		LThreshold:    md.LowerThreshold,
		ActiveConns:   md.ActiveConnections,
		InactiveConns: md.InactiveConnections,
	}
}
