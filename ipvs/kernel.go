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
	"slices"
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

// familyID asks generic netlink for the IPVS family (0: missing).
func familyID() uint16 {
	f, err := netlink.GenlFamilyGet("IPVS")
	if err != nil {
		return 0
	}
	return f.ID
}

// Detect checks for IPVS, trying `modprobe ip_vs` once when it is
// missing.
func Detect() error {
	_, err := detect()
	return err
}

// detect is Detect returning the family id.
func detect() (uint16, error) {
	if id := familyID(); id != 0 {
		return id, nil
	}
	out, err := exec.Command("modprobe", "ip_vs").CombinedOutput()
	if id := familyID(); id != 0 {
		return id, nil
	}
	why := modprobeWhy(out, err)
	if why == "" {
		why = "module loaded but no IPVS netlink family"
	}
	return 0, fmt.Errorf("%w: generic netlink family IPVS is missing and `modprobe ip_vs` did not provide it (%s); build or load IP_VS (CONFIG_IP_VS)", ErrNoIPVS, why)
}

// OpenNoLoad is Open for a run that must change nothing (--dry-run,
// which plans what a real run would do): it never runs `modprobe ip_vs`,
// since loading a module is a change, and it asks generic netlink for
// the IPVS family only once ip_vs is there (/sys/module/ip_vs, which a
// built-in ip_vs has too): a lookup by name makes the kernel load the
// module itself (request_module of "net-pf-16-proto-16-family-IPVS",
// an alias ip_vs has carried since Linux 5.16). When IPVS is not loaded
// but `modprobe -n ip_vs` says a real run would load it, it returns
// Unloaded{}: the empty table that run would find. Otherwise it is Open
// (IPVS loaded) or an ErrNoIPVS error (no module to load), as a real run
// would fail.
func OpenNoLoad() (Kernel, error) {
	if _, err := os.Stat(sysModule); err == nil {
		return Open()
	}
	if out, err := exec.Command("modprobe", "-n", "ip_vs").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: generic netlink family IPVS is missing and `modprobe -n ip_vs` says it cannot be loaded (%s); build or load IP_VS (CONFIG_IP_VS)", ErrNoIPVS, modprobeWhy(out, err))
	}
	return Unloaded{}, nil
}

// modprobeWhy is what modprobe said (its output, else its exit error;
// "" when it succeeded silently).
func modprobeWhy(out []byte, err error) string {
	why := strings.TrimSpace(string(out))
	if err != nil && why == "" {
		why = err.Error()
	}
	return why
}

// sysModule exists while ip_vs is loaded or built in.
const sysModule = "/sys/module/ip_vs"

// Unloaded is the IPVS of a kernel whose ip_vs module is not loaded yet,
// for a dry run (OpenNoLoad): its table is empty, and every write fails
// (a dry run makes none).
type Unloaded struct{}

var errUnloaded = errors.New("ip_vs is not loaded and this run loads nothing (dry run)")

func (Unloaded) GetServices() ([]*mobyipvs.Service, error) { return nil, nil }
func (Unloaded) GetDestinations(*mobyipvs.Service) ([]*mobyipvs.Destination, error) {
	return nil, nil
}
func (Unloaded) NewService(*mobyipvs.Service) error                               { return errUnloaded }
func (Unloaded) UpdateService(*mobyipvs.Service) error                            { return errUnloaded }
func (Unloaded) DelService(*mobyipvs.Service) error                               { return errUnloaded }
func (Unloaded) NewDestination(*mobyipvs.Service, *mobyipvs.Destination) error    { return errUnloaded }
func (Unloaded) UpdateDestination(*mobyipvs.Service, *mobyipvs.Destination) error { return errUnloaded }
func (Unloaded) DelDestination(*mobyipvs.Service, *mobyipvs.Destination) error    { return errUnloaded }
func (Unloaded) Flush() error                                                     { return errUnloaded }

var envMu sync.Mutex

// Handle is a moby/ipvs handle plus what Read needs to dump
// destinations itself (dump.go), over several sockets at once for a
// large table.
type Handle struct {
	*mobyipvs.Handle
	family uint16
}

// Open detects IPVS and opens a handle in the current network namespace.
func Open() (*Handle, error) {
	family, err := detect()
	if err != nil {
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
	return &Handle{Handle: h, family: family}, nil
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
//
// One dump socket reads the whole table, service after service: IPVS's
// dumps run one at a time in the kernel (genl_mutex), and in the VM a
// second socket read no faster alone while it took a CPU from the
// config's parse beside an early read (15 alternated unchanged
// re-applies, twice: 931 against 1,053 ms and 964 against 1,042 ms
// wall; issue 18).
func Read(ctx context.Context, k Kernel) (Table, error) {
	// Opened here on the caller's thread so that it lives in the
	// handle's network namespace.
	var d *destDumper
	if h, ok := k.(*Handle); ok && h.family != 0 {
		d, _ = newDestDumper(h.family) // nil: moby/ipvs reads below
	}
	return bounded(ctx, "read IPVS table", func() (Table, error) {
		return readTable(k, d)
	})
}

// mobyDests lists a service's destinations through moby/ipvs.
func mobyDests(k Kernel) func(*mobyipvs.Service) ([]*Dest, error) {
	return func(ms *mobyipvs.Service) ([]*Dest, error) {
		mds, err := k.GetDestinations(ms)
		if err != nil {
			return nil, err
		}
		ds := make([]*Dest, len(mds))
		for i, md := range mds {
			ds[i] = fromMobyDest(md)
		}
		return ds, nil
	}
}

// readTable lists the services and their destinations through d, or
// through k (moby/ipvs) when d is nil, and closes d.
func readTable(k Kernel, d *destDumper) (Table, error) {
	list, dests := k.GetServices, mobyDests(k)
	if d != nil {
		// Closed here, not when Read returns: after a deadline the
		// read may still be using it.
		defer d.Close()
		list, dests = d.services, d.dests
	}
	svcs, err := list()
	if err != nil {
		return nil, fmt.Errorf("list IPVS services: %w", err)
	}
	t := make(Table, len(svcs))
	for _, ms := range svcs {
		e, err := readService(dests, ms)
		if err != nil {
			return nil, err
		}
		if e != nil {
			t[e.Service.Key] = e
		}
	}
	return t, nil
}

// readService converts one service and lists its destinations; a nil
// Entry without error means the service went away between the dumps.
func readService(dests func(*mobyipvs.Service) ([]*Dest, error), ms *mobyipvs.Service) (*Entry, error) {
	s, err := fromMobyService(ms)
	if err != nil {
		return nil, err
	}
	ds, err := dests(ms)
	if err != nil {
		if errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("list destinations of %s: %w", s.Key, err)
	}
	e := &Entry{Service: s, Dests: make(map[DestKey]*Dest, len(ds))}
	for _, d := range ds {
		e.Dests[d.Key] = d
	}
	return e, nil
}

// Apply performs changes in order and returns how many were made. A
// change the kernel refuses does not stop the others, as keepalived
// logs a refused destination and loads everything else (for example
// ERANGE for lthreshold without uthreshold): the destinations of a
// service that could not be added are skipped, everything else is tried.
// The error joins every refusal (each a *Refused); refused lists them.
//
// More than one change goes to the kernel through the batched writer
// (batch.go) when k is a *Handle: the same requests, many per send. So
// does any change of a destination whose family is not its service's
// (a tunnelled IPv4 server of an IPv6 service), which moby/ipvs cannot
// write (it never names a destination's own family).
func Apply(ctx context.Context, k Kernel, changes []Change) (done []Change, refused []Change, err error) {
	var noBatch error // why the batched writer is not used (nil: not a *Handle)
	if h, ok := k.(*Handle); ok && h.family != 0 && (len(changes) > 1 || slices.ContainsFunc(changes, otherFamily)) {
		// Opened here, on the caller's thread: in its network namespace.
		w, werr := newBatchWriter(h.family)
		if werr == nil {
			return applyBatch(ctx, w, changes)
		}
		noBatch = werr // moby/ipvs below still works, but for otherFamily
	}
	type result struct{ done, refused []Change }
	r, err := bounded(ctx, "apply IPVS changes", func() (result, error) {
		var r result
		var errs []error
		failedSvc := map[ServiceKey]bool{}
		for _, c := range changes {
			if c.Dest != nil && failedSvc[c.Service.Key] {
				r.refused = append(r.refused, c)
				continue
			}
			if otherFamily(c) {
				// moby/ipvs would write it with the service's family: an
				// IPv4 server of an IPv6 service as [c0a8:c828::].
				r.refused = append(r.refused, c)
				errs = append(errs, &Refused{Change: c, Err: &otherFamilyError{batch: noBatch}})
				continue
			}
			if err := applyOne(k, c); err != nil {
				if c.Op == AddService {
					failedSvc[c.Service.Key] = true
				}
				r.refused = append(r.refused, c)
				errs = append(errs, &Refused{Change: c, Err: err})
				continue
			}
			r.done = append(r.done, c)
		}
		return r, errors.Join(errs...)
	})
	return r.done, r.refused, err
}

// otherFamily: c changes a destination of another family than its
// service's.
func otherFamily(c Change) bool {
	return c.Dest != nil && c.Dest.Key.Addr.IsValid() && c.Dest.Key.Addr.Is4() != (c.Service.Key.Family == 4)
}

// applyBatch is Apply through w, which it closes.
func applyBatch(ctx context.Context, w *batchWriter, changes []Change) (done []Change, refused []Change, err error) {
	type result struct{ done, refused []Change }
	r, err := bounded(ctx, "apply IPVS changes", func() (result, error) {
		defer w.Close() // here, not on return: after a deadline w is still in use
		out, errs, terr := w.apply(changes)
		var r result
		var refusals []error
		for i, c := range changes {
			switch out[i] {
			case applied:
				r.done = append(r.done, c)
			case skippedNoService:
				r.refused = append(r.refused, c)
			case refusedByKernel:
				r.refused = append(r.refused, c)
				refusals = append(refusals, &Refused{Change: c, Err: errs[i]})
			}
		}
		return r, errors.Join(append(refusals, terr)...)
	})
	return r.done, r.refused, err
}

// otherFamilyError: a change of a destination whose family is not its
// service's was not made, because only the batched writer can name the
// destination's family (IPVS_DEST_ATTR_ADDR_FAMILY) and it could not be
// used (batch: why; nil when the kernel is not a *Handle).
type otherFamilyError struct{ batch error }

func (e *otherFamilyError) Error() string {
	msg := "not written: moby/ipvs cannot write a destination whose address family is not its service's"
	if e.batch != nil {
		msg += fmt.Sprintf(", and the batched writer's socket did not open: %v", e.batch)
	}
	return msg
}

// Refused is a change the kernel did not take.
type Refused struct {
	Change Change
	Err    error
}

func (r *Refused) Error() string {
	if _, ok := r.Err.(*otherFamilyError); ok {
		return fmt.Sprintf("%s: %v", r.Change, r.Err) // the kernel was not asked
	}
	return fmt.Sprintf("kernel refused %s: %v", r.Change, r.Err)
}
func (r *Refused) Unwrap() error { return r.Err }

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
		ms.Protocol = uint16(s.Key.Protocol)
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
	s.Key.Protocol = Protocol(ms.Protocol)
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
		ConnectionFlags: uint32(d.Fwd),
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
		Fwd:           Forward(md.ConnectionFlags) & fwdMask,
		UThreshold:    md.UpperThreshold,
		LThreshold:    md.LowerThreshold,
		ActiveConns:   md.ActiveConnections,
		InactiveConns: md.InactiveConnections,
	}
}
