package check

import (
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
)

// TestLinkLocalTakesBindIf: keepalived requires a bind_if for an IPv6
// link-local destination and binds the checker's socket to it; kahook
// gives the destination that zone, which routes the same way. The zone
// is the sender's: it is not in an HTTP Host header. Other destinations
// keep no zone.
func TestLinkLocalTakesBindIf(t *testing.T) {
	for _, tc := range []struct {
		name, lines, wantAddr, wantHost string
	}{
		{"link-local connect_ip", "connect_ip fe80::5\n bind_if eth0", "[fe80::5%eth0]:80", "Host: [fe80::5]:80\r\n"},
		{"global connect_ip", "connect_ip 2001:db8::5\n bind_if eth0", "[2001:db8::5]:80", "Host: [2001:db8::5]:80\r\n"},
		{"no bind_if, global", "", "[2001:db8::1]:80", "Host: [2001:db8::1]:80\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := "virtual_server 2001:db8::10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n" +
				" real_server 2001:db8::1 80 {\n  TCP_CHECK {\n " + tc.lines + "\n  }\n" +
				"  HTTP_GET {\n   url {\n    path /\n   }\n " + tc.lines + "\n  }\n }\n}\n"
			cfg, err := config.Parse("t.conf", []byte(conf), config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Problems) > 0 {
				t.Fatalf("problems %v", cfg.Problems)
			}
			vs := cfg.VirtualServers[0]
			rs := vs.RealServers[0]
			tcp, err := FromConfig(vs, rs, rs.Checks[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := tcp[0].(Retry).Checker.(TCP).Addr.String(); got != tc.wantAddr {
				t.Errorf("TCP_CHECK connects to %s, want %s", got, tc.wantAddr)
			}
			hc, err := FromConfig(vs, rs, rs.Checks[1])
			if err != nil {
				t.Fatal(err)
			}
			h := hc[0].(Retry).Checker.(HTTP)
			if got := h.Addr.String(); got != tc.wantAddr {
				t.Errorf("HTTP_GET connects to %s, want %s", got, tc.wantAddr)
			}
			if req := h.Request(h.URLs[0]); !strings.Contains(req, tc.wantHost) {
				t.Errorf("request %q, want %q", req, tc.wantHost)
			}
		})
	}
}
