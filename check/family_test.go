package check

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/netnstest"
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
			vs, rs := firstRealServer(t, conf)
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

// TestLinkLocalChecksInNamespaces: checkers of a real server at an IPv6
// link-local address, with keepalived's required bind_if, from a
// link-local bindto too, between two namespaces on a bridge: each
// connects (TCP_CHECK, HTTP_GET; PING_CHECK's echo is answered) and the
// server is up. Without bind_if
// as the zone the connect (or the bind) fails with EINVAL every time.
func TestLinkLocalChecksInNamespaces(t *testing.T) {
	netnstest.RequireRoot(t)
	sw := netnstest.NewSwitch(t)
	me := netnstest.New(t, "llm")
	peer := netnstest.New(t, "llp")
	sw.Plug(me, "eth0", "02:00:00:00:0a:01", "")
	sw.Plug(peer, "eth0", "02:00:00:00:0a:02", "")
	me.MustRun("ip", "-6", "addr", "add", "fe80::a1/64", "dev", "eth0", "nodad")
	peer.MustRun("ip", "-6", "addr", "add", "fe80::a2/64", "dev", "eth0", "nodad")
	var tcpLn, httpLn net.Listener
	if err := peer.Do(func() error {
		var err error
		if tcpLn, err = net.Listen("tcp6", "[fe80::a2%eth0]:0"); err != nil {
			return err
		}
		httpLn, err = net.Listen("tcp6", "[fe80::a2%eth0]:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcpLn.Close(); httpLn.Close() })
	go func() {
		for {
			c, err := tcpLn.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), ReadHeaderTimeout: time.Second}
	go srv.Serve(httpLn)
	t.Cleanup(func() { srv.Close() })
	tcpPort, httpPort := tcpLn.Addr().(*net.TCPAddr).Port, httpLn.Addr().(*net.TCPAddr).Port
	if !netnstest.Eventually(15*time.Second, func() bool {
		_, err := me.Run("ping", "-c1", "-W1", "fe80::a2%eth0")
		return err == nil
	}) {
		t.Fatal("lab: fe80::a2 never answered ping")
	}
	for _, tc := range []struct{ name, checker string }{
		{"TCP_CHECK", "TCP_CHECK {\n bind_if eth0\n connect_timeout 2\n }"},
		{"TCP_CHECK from a link-local bindto", "TCP_CHECK {\n bind_if eth0\n bindto fe80::a1\n connect_timeout 2\n }"},
		{"HTTP_GET", fmt.Sprintf("HTTP_GET {\n url {\n path /\n }\n bind_if eth0\n connect_port %d\n connect_timeout 2\n }", httpPort)},
		{"PING_CHECK", "PING_CHECK {\n bind_if eth0\n connect_timeout 2\n }"},
		{"PING_CHECK from a link-local bindto", "PING_CHECK {\n bind_if eth0\n bindto fe80::a1\n connect_timeout 2\n }"},
		{"HTTP_GET from a link-local bindto", fmt.Sprintf("HTTP_GET {\n url {\n path /\n }\n bindto fe80::a1\n bind_if eth0\n connect_port %d\n connect_timeout 2\n }", httpPort)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := fmt.Sprintf("virtual_server 2001:db8::10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server fe80::a2 %d {\n %s\n }\n}\n", tcpPort, tc.checker)
			vs, rs := firstRealServer(t, conf)
			cs, err := FromConfig(vs, rs, rs.Checks[0])
			if err != nil {
				t.Fatal(err)
			}
			var r Result
			me.Do(func() error {
				r = cs[0].Check(context.Background())
				return nil
			})
			if !r.Healthy {
				t.Errorf("%s: unhealthy: %s", cs[0], r.Reason)
			}
		})
	}
}

// firstRealServer parses conf, which must load without problems, and
// returns its first virtual server and that one's first real server.
func firstRealServer(t *testing.T, conf string) (*config.VirtualServer, *config.RealServer) {
	t.Helper()
	cfg, err := config.Parse("t.conf", []byte(conf), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Problems) > 0 {
		t.Fatalf("problems %v", cfg.Problems)
	}
	vs := cfg.VirtualServers[0]
	return vs, vs.RealServers[0]
}
