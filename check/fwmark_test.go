package check

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/netnstest"
)

// TestFWMarkRoutesTheCheck: a checker's fwmark (keepalived's
// co_fwmark_handler) marks its socket (SO_MARK) as keepalived's
// socket_bind_connect and udp_bind_connect do, so policy routing routes
// the check: the server's network is reachable only through the table
// that `ip rule fwmark 7` selects. With the mark every kind of connection
// a checker makes gets there (TCP_CHECK on ConnectAll, the net.Dialer of
// HTTP_GET/SSL_GET/SMTP_CHECK with and without bindto, UDP_CHECK and
// DNS_CHECK's UDP socket); without it, or with another mark, the network
// is unreachable. Before, kahook read past fwmark and no check got there.
func TestFWMarkRoutesTheCheck(t *testing.T) {
	cl := netnstest.New(t, "fwmc")
	sv := netnstest.New(t, "fwms")
	cl.MustRun("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", sv.Name)
	cl.MustRun("ip", "addr", "add", "10.88.1.1/24", "dev", "eth0")
	cl.MustRun("ip", "link", "set", "eth0", "up")
	sv.MustRun("ip", "addr", "add", "10.88.1.2/24", "dev", "eth0")
	sv.MustRun("ip", "addr", "add", "10.88.2.2/32", "dev", "lo")
	sv.MustRun("ip", "link", "set", "eth0", "up")
	// 10.88.2.2 only through table 100, for packets marked 7.
	cl.MustRun("ip", "route", "add", "10.88.2.0/24", "via", "10.88.1.2", "table", "100")
	cl.MustRun("ip", "rule", "add", "fwmark", "7", "table", "100")
	var ln net.Listener
	if err := sv.Do(func() (err error) { ln, err = net.Listen("tcp", "10.88.2.2:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	netnstest.AcceptAndClose(ln)
	dst := netip.MustParseAddrPort("10.88.2.2:8080")
	for _, tc := range []struct {
		name  string
		conn  Conn
		reach bool
	}{
		{"mark 7", Conn{Addr: dst, Timeout: 2 * time.Second, FWMark: 7}, true},
		{"mark 7 with bindto", Conn{Addr: dst, Timeout: 2 * time.Second, FWMark: 7, BindTo: netip.MustParseAddr("10.88.1.1")}, true},
		{"no mark", Conn{Addr: dst, Timeout: 2 * time.Second}, false},
		{"another mark", Conn{Addr: dst, Timeout: 2 * time.Second, FWMark: 8}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cl.Do(func() error {
				var r Result
				ConnectAll(context.Background(), []TCPJob{{Conn: tc.conn}}, 1, func(_ int, res Result) { r = res })
				if r.Healthy != tc.reach {
					t.Errorf("TCP_CHECK (ConnectAll): healthy %v (%s), want %v", r.Healthy, r.Reason, tc.reach)
				}
				if !tc.reach && !strings.Contains(r.Reason, "network is unreachable") {
					t.Errorf("TCP_CHECK (ConnectAll): %q, want the network unreachable", r.Reason)
				}
				c, err := tc.conn.dial(context.Background())
				if (err == nil) != tc.reach {
					t.Errorf("net.Dialer (HTTP_GET, SMTP_CHECK): %v, want reachable %v", err, tc.reach)
				}
				if c != nil {
					c.Close()
				}
				u, err := tc.conn.dialUDP(context.Background())
				if (err == nil) != tc.reach {
					t.Errorf("UDP (UDP_CHECK, DNS_CHECK): %v, want reachable %v", err, tc.reach)
				}
				if u != nil {
					u.Close()
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
