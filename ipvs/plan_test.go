package ipvs

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/logging"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.conf", []byte(text), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func desired(t *testing.T, cfg *config.Config) Table {
	t.Helper()
	d, err := Desired(cfg.VirtualServers, cfg.Groups, StartMembers)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func key(s string, port uint16) ServiceKey {
	a := netip.MustParseAddr(s)
	f := 4
	if a.Is6() {
		f = 6
	}
	return ServiceKey{Family: f, Protocol: ProtoTCP, Addr: a, Port: port}
}

func TestDesiredMapsLikeKeepalived(t *testing.T) {
	cfg := parse(t, `
virtual_server 10.0.0.1 80 {
    protocol TCP
    lb_algo sh
    sh-port
    lb_kind DR
    persistence_timeout 50
    persistence_granularity 255.255.255.0
    real_server 10.0.1.1 8080 { weight 3 }
    real_server 10.0.1.2 8080 { lvs_method NAT }
}
virtual_server fwmark 7 {
    lb_kind TUN
    real_server 10.0.1.3 443 { }
}
virtual_server_group G {
    10.0.0.10-12 443
    fwmark 9
}
virtual_server group G {
    protocol TCP
    lb_algo rr
    persistence_timeout 60
    persistence_granularity 255.255.0.0
    real_server 10.0.1.4 443 { }
}
virtual_server 10.0.0.2 53 {
    protocol UDP
    ops
    real_server 10.0.1.5 53 {
        alpha
        MISC_CHECK { misc_path /bin/true }
    }
    real_server 10.0.1.6 53 { }
}
`)
	d := desired(t, cfg)
	if len(d) != 1+1+3+1+1 {
		t.Fatalf("services = %d, want 7", len(d))
	}
	e := d[key("10.0.0.1", 80)]
	if e.Service.Sched != "sh" || e.Service.Flags != FlagPersistent|FlagSched2 || e.Service.Timeout != 50 {
		t.Errorf("service = %+v", e.Service)
	}
	if e.Service.Netmask != 0x00ffffff { // 255.255.255.0 in network byte order, read little-endian
		t.Errorf("netmask = %#x", e.Service.Netmask)
	}
	// DR: destination port is the service's; NAT keeps the real server's.
	dr := e.Dests[DestKey{netip.MustParseAddr("10.0.1.1"), 80}]
	nat := e.Dests[DestKey{netip.MustParseAddr("10.0.1.2"), 8080}]
	if dr == nil || dr.Weight != 3 || dr.Fwd != FwdRoute {
		t.Errorf("DR dest = %+v", dr)
	}
	if nat == nil || nat.Fwd != FwdMasq {
		t.Errorf("NAT dest = %+v", nat)
	}
	fw := d[ServiceKey{FWMark: 7, Family: 4}]
	if fw == nil || fw.Dests[DestKey{netip.MustParseAddr("10.0.1.3"), 0}] == nil {
		t.Errorf("fwmark TUN service must have port 0 destinations: %+v", fw)
	}
	for _, a := range []string{"10.0.0.10", "10.0.0.11", "10.0.0.12"} {
		g := d[key(a, 443)]
		if g == nil {
			t.Fatalf("group range entry %s missing", a)
		}
		if g.Service.Netmask != 0xffffffff {
			t.Errorf("group entries keep keepalived's default netmask, got %#x", g.Service.Netmask)
		}
	}
	if d[ServiceKey{FWMark: 9, Family: 4}] == nil {
		t.Error("group fwmark entry missing")
	}
	udp := d[ServiceKey{Family: 4, Protocol: ProtoUDP, Addr: netip.MustParseAddr("10.0.0.2"), Port: 53}]
	if udp == nil || udp.Service.Flags != FlagOnePacket || len(udp.Dests) != 1 {
		t.Errorf("UDP ops service with one alpha server = %+v dests %d", udp, len(udp.Dests))
	}
}

func TestStartMembersSorryServerBelowQuorum(t *testing.T) {
	cfg := parse(t, `
virtual_server 10.0.0.1 80 {
    protocol TCP
    quorum 2
    sorry_server 10.0.9.9 80
    real_server 10.0.1.1 80 { weight 1 }
    real_server 10.0.1.2 80 {
        weight 1
        alpha
        TCP_CHECK { }
    }
    real_server 10.0.1.3 80 {
        weight 0
        alpha
    }
}
`)
	ms := StartMembers(cfg.VirtualServers[0])
	if len(ms) != 1 || ms[0].RS.Addr != netip.MustParseAddr("10.0.9.9") {
		t.Fatalf("members = %+v, want only the sorry server", ms)
	}
	// alpha without a checker changes nothing (keepalived adds it).
	if StartsDown(cfg.VirtualServers[0].RealServers[2]) {
		t.Error("alpha without checkers must start up")
	}
}

func clone(t Table) Table {
	out := Table{}
	for k, e := range t {
		ne := &Entry{Service: e.Service, Dests: map[DestKey]*Dest{}}
		for dk, d := range e.Dests {
			c := *d
			ne.Dests[dk] = &c
		}
		out[k] = ne
	}
	return out
}

func ops(cs []Change) string {
	var s []string
	for _, c := range cs {
		s = append(s, string(c.Op))
	}
	return strings.Join(s, ",")
}

func TestPlan(t *testing.T) {
	cfg := parse(t, `
virtual_server 10.0.0.1 80 {
    protocol TCP
    lb_algo wrr
    real_server 10.0.1.1 80 { weight 2 }
    real_server 10.0.1.2 80 { weight 2 }
}
`)
	want := desired(t, cfg)
	// From empty: service first, then its destinations.
	if got := ops(Plan(want, Table{}, nil)); got != "add-service,add-dest,add-dest" {
		t.Errorf("from empty: %s", got)
	}
	// Identical: nothing.
	cur := clone(want)
	if p := Plan(want, cur, nil); len(p) != 0 {
		t.Errorf("unchanged table planned %v", p)
	}
	// Hashed flag and counters from the kernel are not differences.
	cur[key("10.0.0.1", 80)].Service.Flags |= FlagHashed
	cur[key("10.0.0.1", 80)].Dests[DestKey{netip.MustParseAddr("10.0.1.1"), 80}].ActiveConns = 7
	if p := Plan(want, cur, nil); len(p) != 0 {
		t.Errorf("kernel-only fields planned %v", p)
	}
	// A changed weight is exactly one update.
	cur = clone(want)
	cur[key("10.0.0.1", 80)].Dests[DestKey{netip.MustParseAddr("10.0.1.2"), 80}].Weight = 5
	if p := Plan(want, cur, nil); ops(p) != "update-dest" || p[0].Dest.Weight != 2 {
		t.Errorf("weight change: %v", p)
	}
	// A destination the kernel reports as Local is not re-written.
	cur = clone(want)
	cur[key("10.0.0.1", 80)].Dests[DestKey{netip.MustParseAddr("10.0.1.2"), 80}].Fwd = FwdLocalNode
	if p := Plan(want, cur, nil); len(p) != 0 {
		t.Errorf("local destination planned %v", p)
	}
	// A changed scheduler is an update in place, never delete + add.
	cur = clone(want)
	cur[key("10.0.0.1", 80)].Service.Sched = "rr"
	if got := ops(Plan(want, cur, nil)); got != "update-service" {
		t.Errorf("scheduler change: %s", got)
	}
	// A real server dropped from the config: exactly one delete.
	cfg2 := parse(t, `
virtual_server 10.0.0.1 80 {
    protocol TCP
    lb_algo wrr
    real_server 10.0.1.1 80 { weight 2 }
}
`)
	if got := ops(Plan(desired(t, cfg2), clone(want), nil)); got != "del-dest" {
		t.Errorf("removed real server: %s", got)
	}
	// Services not in the config and not managed are never touched.
	other := clone(want)
	other[key("192.0.2.1", 25)] = &Entry{Service: Service{Key: key("192.0.2.1", 25), Sched: "rr"}, Dests: map[DestKey]*Dest{}}
	if p := Plan(want, other, nil); len(p) != 0 {
		t.Errorf("foreign service touched: %v", p)
	}
	// ...unless kahook loaded them before (they left the config).
	if got := ops(Plan(want, other, []ServiceKey{key("192.0.2.1", 25)})); got != "del-service" {
		t.Errorf("managed leftover: %s", got)
	}
}

func TestPlanOrderAddsBeforeDeletes(t *testing.T) {
	cfg := parse(t, `
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.1.3 80 { }
}
`)
	cur := desired(t, parse(t, `
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.1.1 80 { }
}
`))
	if got := ops(Plan(desired(t, cfg), cur, nil)); got != "add-dest,del-dest" {
		t.Errorf("replacement order = %s: capacity must be added before it is removed", got)
	}
}

func TestListOrderIsIpvsadms(t *testing.T) {
	// libipvs compares ntohl(a)-ntohl(b) as a signed int: 200.x sorts
	// before 10.x when the difference overflows.
	a, b := key("10.0.0.1", 80), key("200.0.0.1", 80)
	if compareServices(a, b) < 0 {
		t.Error("ipvsadm lists 200.0.0.1 before 10.0.0.1 (signed overflow)")
	}
	c := key("10.0.0.2", 80)
	if compareServices(a, c) >= 0 {
		t.Error("10.0.0.1 before 10.0.0.2")
	}
	if compareServices(ServiceKey{FWMark: 1, Family: 4}, a) <= 0 {
		t.Error("fwmark services come after address services")
	}
}

func TestManagerOnFakeKernel(t *testing.T) {
	cfg := parse(t, `
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.1.1 80 { weight 2 }
    real_server 10.0.1.2 80 { weight 2 }
}
`)
	k := newFakeKernel()
	m := &Manager{K: k, Cfg: cfg, StateDir: t.TempDir(), Log: logging.Discard()}
	ctx := context.Background()
	n, err := m.Load(ctx, cfg.VirtualServers)
	if err != nil || n != 3 {
		t.Fatalf("first load: n=%d err=%v", n, err)
	}
	writes := k.writes
	if n, err := m.Load(ctx, cfg.VirtualServers); err != nil || n != 0 || k.writes != writes {
		t.Fatalf("second load changed things: n=%d err=%v writes %d->%d", n, err, writes, k.writes)
	}
	// The kernel silently drops a write (as moby/ipvs does without IPVS):
	// verification must catch it.
	k.dropWrites = true
	cfg.VirtualServers[0].RealServers[0].Weight = 9
	if _, err := m.Load(ctx, cfg.VirtualServers); err == nil || !strings.Contains(err.Error(), "verify") {
		t.Fatalf("a write the kernel did not keep was reported as success: %v", err)
	}
	k.dropWrites = false
	if n, err := m.Remove(ctx, cfg.VirtualServers); err != nil || n != 1 {
		t.Fatalf("remove: n=%d err=%v", n, err)
	}
	if len(k.svcs) != 0 {
		t.Errorf("left after remove: %v", k.svcs)
	}
}

// BenchmarkPlanUnchanged1000x10 is the planning of an unchanged re-apply
// of 1,000 services x 10 destinations (issue 18): no change, found
// without sorting (allocs/op is the repeatable figure).
func BenchmarkPlanUnchanged1000x10(b *testing.B) {
	want := Table{}
	for i := range 1000 {
		k := ServiceKey{Family: 4, Protocol: ProtoTCP, Addr: netip.AddrFrom4([4]byte{10, 50, byte(i / 250), byte(i%250 + 1)}), Port: 80}
		e := &Entry{Service: Service{Key: k, Sched: "wrr", Netmask: 0xffffffff}, Dests: map[DestKey]*Dest{}}
		for j := range 10 {
			dk := DestKey{Addr: netip.AddrFrom4([4]byte{10, byte(60 + i/250), byte(i % 250), byte(j + 1)}), Port: 80}
			e.Dests[dk] = &Dest{Key: dk, Weight: j + 1, Fwd: FwdRoute}
		}
		want[k] = e
	}
	have := clone(want)
	managed := want.Keys()
	b.ReportAllocs()
	for b.Loop() {
		if cs := Plan(want, have, managed); len(cs) != 0 {
			b.Fatalf("%d changes", len(cs))
		}
	}
}
