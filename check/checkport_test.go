package check

import (
	"testing"

	"github.com/kahook/kahook/config"
)

// TestDRCheckerKeepsWrittenPort: keepalived resets a DR/TUN real server's
// port to the service's (validate_check_config), but its checkers copied
// the real server's address when they were parsed (queue_checker), so a
// TCP_CHECK without connect_port still connects to the port as written.
func TestDRCheckerKeepsWrittenPort(t *testing.T) {
	for _, tc := range []struct {
		name, kind, rsPort, connectPort string
		wantIPVS, wantCheck             string
	}{
		{"DR, other port", "DR", "8080", "", "198.51.100.1:80", "198.51.100.1:8080"},
		{"TUN, other port", "TUN", "8080", "", "198.51.100.1:80", "198.51.100.1:8080"},
		{"DR, connect_port wins", "DR", "8080", "connect_port 9000", "198.51.100.1:80", "198.51.100.1:9000"},
		{"DR, same port", "DR", "80", "", "198.51.100.1:80", "198.51.100.1:80"},
		{"NAT, other port", "NAT", "8080", "", "198.51.100.1:8080", "198.51.100.1:8080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind " + tc.kind +
				"\n real_server 198.51.100.1 " + tc.rsPort + " {\n  TCP_CHECK {\n   " + tc.connectPort + "\n  }\n }\n}\n"
			cfg, err := config.Parse("t.conf", []byte(conf), config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			vs := cfg.VirtualServers[0]
			rs := vs.RealServers[0]
			if got := rs.Endpoint(); got != tc.wantIPVS {
				t.Errorf("IPVS destination %s, want %s", got, tc.wantIPVS)
			}
			cs, err := FromConfig(vs, rs, rs.Checks[0])
			if err != nil {
				t.Fatal(err)
			}
			ck := cs[0]
			if r, ok := ck.(Retry); ok {
				ck = r.Checker
			}
			if got := ck.(TCP).Conn.Addr.String(); got != tc.wantCheck {
				t.Errorf("TCP_CHECK connects to %s, want %s", got, tc.wantCheck)
			}
		})
	}
}
