package notify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/sysctl"
	"github.com/kahook/kahook/vip"
)

// journal records, in order, what the fakes were asked to do.
type journal struct{ calls []string }

func (j *journal) add(s string) { j.calls = append(j.calls, s) }

type fakeVIPs struct{ j *journal }

func (f fakeVIPs) Plan(addrs []vip.Addr, want bool) ([]vip.Change, error) {
	op := vip.Del
	if want {
		op = vip.Add
	}
	var out []vip.Change
	for _, a := range addrs {
		out = append(out, vip.Change{Op: op, Addr: a})
	}
	f.j.add("plan vips")
	return out, nil
}

func (f fakeVIPs) Apply(c vip.Change) error { f.j.add("apply " + c.String()); return nil }

type fakeSysctls struct{ j *journal }

func (f fakeSysctls) Plan(role config.Role, iface string) ([]sysctl.Change, error) {
	f.j.add("plan sysctl")
	return []sysctl.Change{{Value: sysctl.Value{Iface: iface, Knob: "arp_ignore"}, From: 1}}, nil
}

func (f fakeSysctls) Apply(role config.Role, c sysctl.Change, _ *slog.Logger) error {
	f.j.add("apply " + c.String())
	return nil
}

type fakeIPVS struct {
	j       *journal
	planErr error
}

func (f fakeIPVS) PlanLoad(_ context.Context, vss []*config.VirtualServer, _ ipvs.MembersFunc) (*ipvs.LoadPlan, error) {
	f.j.add("plan ipvs")
	if f.planErr != nil {
		return nil, f.planErr
	}
	k := ipvs.ServiceKey{Family: 4, Protocol: ipvs.ProtoTCP, Addr: vss[0].Addr.Addr(), Port: 80}
	return &ipvs.LoadPlan{Changes: []ipvs.Change{{Op: ipvs.AddService, Service: ipvs.Service{Key: k, Sched: "rr"}, Reason: "missing"}}}, nil
}

func (f fakeIPVS) PlanRemove(context.Context, []*config.VirtualServer) (*ipvs.LoadPlan, error) {
	f.j.add("plan ipvs")
	return &ipvs.LoadPlan{}, nil
}

func (f fakeIPVS) ApplyLoad(_ context.Context, p *ipvs.LoadPlan, _ []*config.VirtualServer) (int, error) {
	for _, c := range p.Changes {
		f.j.add("apply " + c.String())
	}
	return len(p.Changes), nil
}

func (f fakeIPVS) ApplyRemove(context.Context, *ipvs.LoadPlan, []*config.VirtualServer) (int, error) {
	return 0, nil
}

type fakeAnnouncer struct{ j *journal }

func (f fakeAnnouncer) Announce(context.Context, *config.Instance, Event) (int, int, error) {
	f.j.add("apply garp")
	return 1, 0, nil
}

// TestPlanThenApply (issue 17 item 8): a MASTER transition plans every
// step before it changes anything, applies exactly the planned changes in
// keepalived-safe order (IPVS, VIPs, sysctls, gratuitous ARP), and a dry
// run applies nothing; a failing IPVS plan holds back neither the VIPs
// nor the ARP.
func TestPlanThenApply(t *testing.T) {
	in := &config.Instance{Name: "VI_1", Interface: "eth0",
		VIPs:   []config.VIP{{Prefix: netip.MustParsePrefix("10.9.0.100/32"), Dev: "lo"}},
		Master: config.Actions{VIP: true, Sysctl: config.RoleDirector, IPVS: config.IPVSLoad}}
	cfg := &config.Config{Instances: []*config.Instance{in},
		VirtualServers: []*config.VirtualServer{{Instance: "VI_1", Addr: netip.MustParseAddrPort("10.9.0.100:80")}}}
	plans := "plan ipvs,plan vips,plan sysctl"
	applied := "apply add-service TCP 10.9.0.100:80 rr (missing),apply vip add 10.9.0.100/32 dev lo,apply sysctl net.ipv4.conf.eth0.arp_ignore 1 -> 0,apply garp"
	for _, tc := range []struct {
		name    string
		dryRun  bool
		planErr error
		want    string
		changed int
		err     bool
	}{
		{"real run", false, nil, plans + "," + applied, 4, false},
		{"dry run", true, nil, plans, 4, false},
		{"IPVS plan fails", false, errors.New("the kernel has no IPVS"), plans + "," + strings.SplitN(applied, ",", 2)[1], 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			e := &Engine{Cfg: cfg, VIPs: fakeVIPs{j}, Sysctl: fakeSysctls{j}, IPVS: fakeIPVS{j, tc.planErr},
				Announce: fakeAnnouncer{j}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DryRun: tc.dryRun}
			res, err := e.Run(context.Background(), in, Steps(in, Master))
			if got := strings.Join(j.calls, ","); got != tc.want {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.ReplaceAll(got, ",", "\n"), strings.ReplaceAll(tc.want, ",", "\n"))
			}
			if (err != nil) != tc.err || res.Changed != tc.changed {
				t.Errorf("err %v, changed %d; want error %v, changed %d", err, res.Changed, tc.err, tc.changed)
			}
			var kinds []string
			for _, s := range res.Steps {
				kinds = append(kinds, string(s.Step.Kind))
			}
			if got := strings.Join(kinds, ","); got != "ipvs-load,vip-add,sysctl,garp" {
				t.Errorf("steps %s", got)
			}
		})
	}
}

// TestStopRemovesStatefulDefault: a BACKUP keeps the services loaded where
// they are kept only for synchronised state (the stateful default of issue
// 19 item 5); a STOP removes them, as keepalived removes its virtual
// servers when it stops. An explicit `backup { ipvs load }` holds for STOP
// too.
func TestStopRemovesStatefulDefault(t *testing.T) {
	for _, tc := range []struct {
		name     string
		explicit string
		st       state.VRRP
		want     StepKind
	}{
		{name: "default backup keeps", st: Backup, want: StepIPVSLoad},
		{name: "default fault keeps", st: Fault, want: StepIPVSLoad},
		{name: "default stop removes", st: Stop, want: StepIPVSRemove},
		{name: "explicit stop keeps", explicit: "backup {\n  ipvs load\n }\n", st: Stop, want: StepIPVSLoad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "global_defs {\n lvs_sync_daemon eth0 VI_1\n}\ninstance VI_1 {\n interface eth0\n virtual_ipaddress { 192.0.2.10 }\n " + tc.explicit + "}\n" +
				"virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 { }\n}\n"
			cfg, err := config.Parse("k.conf", []byte(src), config.Options{ConfigID: "x"})
			if err != nil {
				t.Fatal(err)
			}
			var got []StepKind
			for _, s := range Steps(cfg.Instances[0], tc.st) {
				if s.Kind == StepIPVSLoad || s.Kind == StepIPVSRemove {
					got = append(got, s.Kind)
				}
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("IPVS steps %v, want [%v]", got, tc.want)
			}
		})
	}
}
