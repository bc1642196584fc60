package ipvs

import (
	"testing"

	"github.com/kahook/kahook/config"
)

// TestFWMarkOnlyGroup (final hostile review): a virtual_server group
// whose group holds fwmark entries only loads its fwmark services, as
// keepalived does; the protocol, which such a service has none of, is
// read only for address entries (Desired failed with `unknown protocol
// ""`, so `ipvs apply` refused a config `config check` passed).
func TestFWMarkOnlyGroup(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"no protocol", "virtual_server_group G {\n fwmark 1 inet\n fwmark 2\n}\nvirtual_server group G {\n lb_algo rr\n lb_kind DR\n real_server 10.0.0.2 0 {\n }\n}\n"},
		{"protocol written", "virtual_server_group G {\n fwmark 1 inet\n fwmark 2\n}\nvirtual_server group G {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 10.0.0.2 0 {\n }\n}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("k.conf", []byte(tc.text), config.Options{ConfigID: "x"})
			if err != nil {
				t.Fatal(err)
			}
			table, err := Desired(cfg.VirtualServers, cfg.Groups, StartMembers)
			if err != nil {
				t.Fatalf("Desired: %v", err)
			}
			for _, k := range []ServiceKey{{FWMark: 1, Family: 4}, {FWMark: 2, Family: 4}} {
				if e := table[k]; e == nil || len(e.Dests) != 1 {
					t.Errorf("service %v: %+v, want it with its real server (table %v)", k, e, table)
				}
			}
		})
	}
}
