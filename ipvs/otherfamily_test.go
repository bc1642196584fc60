package ipvs

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestApplyRefusesOtherFamilyThroughMoby: where the batched writer is not
// used (its socket did not open, or the kernel is not a *Handle), a
// destination whose family is not its service's (a tunnelled IPv4 real
// server of an IPv6 service) is refused, named, without a write:
// moby/ipvs would write it with the service's family (192.168.200.40 as
// [c0a8:c828::]). The service and its other destinations are written.
func TestApplyRefusesOtherFamilyThroughMoby(t *testing.T) {
	svc := Service{Key: ServiceKey{Family: 6, Protocol: ProtoTCP, Addr: netip.MustParseAddr("2001:db8::10"), Port: 80}, Sched: "wrr"}
	v4 := &Dest{Key: DestKey{Addr: netip.MustParseAddr("192.168.200.40"), Port: 80}, Weight: 1, Fwd: FwdTunnel}
	v6 := &Dest{Key: DestKey{Addr: netip.MustParseAddr("2001:db8::41"), Port: 80}, Weight: 1, Fwd: FwdTunnel}
	changes := []Change{
		{Op: AddService, Service: svc},
		{Op: AddDest, Service: svc, Dest: v4},
		{Op: AddDest, Service: svc, Dest: v6},
	}
	k := newFakeKernel()
	done, refused, err := Apply(t.Context(), k, changes)
	if len(done) != 2 || len(refused) != 1 || refused[0].Dest != v4 {
		t.Fatalf("done %v, refused %v; want the service and %s done, %s refused", done, refused, v6.Key, v4.Key)
	}
	var r *Refused
	if !errors.As(err, &r) || !strings.Contains(err.Error(), "192.168.200.40") || !strings.Contains(err.Error(), "not written") || strings.Contains(err.Error(), "kernel refused") {
		t.Errorf("error %v: want the refusal of 192.168.200.40, not written (the kernel was not asked)", err)
	}
	for _, ds := range k.dests {
		for key := range ds {
			if !strings.HasPrefix(key, "2001:db8::41/") {
				t.Errorf("written destination %s, want only 2001:db8::41", key)
			}
		}
	}
}
