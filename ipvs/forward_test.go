package ipvs

import (
	"strings"
	"testing"
)

// TestDesiredRefusesUnknownLBKind (issue 17 item 9): the forwarding
// method of every destination comes from lb_kind exactly as keepalived
// spells it; a value the config layer did not turn into NAT, DR or TUN
// (a hand-built or later-changed model) is an error at apply time, never
// NAT.
func TestDesiredRefusesUnknownLBKind(t *testing.T) {
	for _, tc := range []struct {
		kind string
		want Forward
		err  bool
	}{
		{"NAT", FwdMasq, false},
		{"DR", FwdRoute, false},
		{"TUN", FwdTunnel, false},
		{"dr", 0, true},
		{"", 0, true},
		{"FULLNAT", 0, true},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			cfg := parse(t, "virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind DR\n real_server 10.0.0.11 80 { }\n}\n")
			cfg.VirtualServers[0].RealServers[0].LBKind = tc.kind
			tab, err := Desired(cfg.VirtualServers, cfg.Groups, StartMembers)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), "unknown lb_kind") {
					t.Fatalf("lb_kind %q: err %v, table %v; want an unknown lb_kind error", tc.kind, err, tab)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range tab[key("10.0.0.1", 80)].Dests {
				if d.Fwd != tc.want {
					t.Errorf("lb_kind %s: forward %s, want %s", tc.kind, d.Fwd, tc.want)
				}
			}
		})
	}
}
