package check_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/netnstest"
)

// udpServer answers each datagram with reply(datagram) (nil: no answer)
// on 127.0.0.1 and records the senders' ports.
type udpServer struct {
	addr  netip.AddrPort
	mu    sync.Mutex
	from  []int
	got   [][]byte
	close func()
}

func startUDP(t *testing.T, reply func([]byte) []byte) *udpServer {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &udpServer{addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), close: func() { c.Close() }}
	t.Cleanup(s.close)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.from = append(s.from, from.(*net.UDPAddr).Port)
			s.got = append(s.got, append([]byte(nil), buf[:n]...))
			s.mu.Unlock()
			if r := reply(buf[:n]); r != nil {
				c.WriteTo(r, from)
			}
		}
	}()
	return s
}

func closedUDPPort(t *testing.T) netip.AddrPort {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := c.LocalAddr().(*net.UDPAddr).AddrPort()
	c.Close()
	return a
}

func hex(t *testing.T, s string, wild bool) ([]byte, []byte) {
	d, m, ok := config.ParseHex(s, wild)
	if !ok {
		t.Fatalf("bad hex %q", s)
	}
	return d, m
}

// TestUDP: UDP_CHECK's verdicts as check_udp.c gives them, against local
// servers: a closed port (ICMP port unreachable) fails, a silent server
// passes unless a reply is required, a reply is compared with the
// expected bytes under the X mask and the length bounds.
func TestUDP(t *testing.T) {
	echo := startUDP(t, func(b []byte) []byte { return []byte("OK 200 ready") })
	silent := startUDP(t, func([]byte) []byte { return nil })
	closed := closedUDPPort(t)
	conn := func(a netip.AddrPort) check.Conn { return check.Conn{Addr: a, Timeout: 300 * time.Millisecond} }
	okReply, _ := hex(t, "4f 4b 20 32", true) // "OK 2"
	wild, wmask := hex(t, "4f4b 20 3X", true) // "OK " then 0x30-0x3f ('2' is 0x32)
	wildBad, wbmask := hex(t, "4f4b 20 4X", true)
	bad, _ := hex(t, "4e4f", true) // "NO"
	for _, tc := range []struct {
		name string
		c    check.UDP
		want bool
	}{
		{"closed port: ICMP unreachable", check.UDP{Conn: conn(closed), MaxLength: 255}, false},
		{"silent server, no reply required", check.UDP{Conn: conn(silent.addr), MaxLength: 255}, true},
		{"silent server, reply required", check.UDP{Conn: conn(silent.addr), RequireReply: true, MaxLength: 255}, false},
		{"any reply required", check.UDP{Conn: conn(echo.addr), RequireReply: true, MaxLength: 255}, true},
		{"reply matches", check.UDP{Conn: conn(echo.addr), RequireReply: true, Reply: okReply, MaxLength: 255}, true},
		{"reply matches under the mask", check.UDP{Conn: conn(echo.addr), RequireReply: true, Reply: wild, Mask: wmask, MaxLength: 255}, true},
		{"reply differs outside the mask", check.UDP{Conn: conn(echo.addr), RequireReply: true, Reply: wildBad, Mask: wbmask, MaxLength: 255}, false},
		{"reply differs", check.UDP{Conn: conn(echo.addr), RequireReply: true, Reply: bad, MaxLength: 255}, false},
		{"reply too short", check.UDP{Conn: conn(echo.addr), RequireReply: true, Reply: okReply, MinLength: 20, MaxLength: 255}, false},
		{"reply too long", check.UDP{Conn: conn(echo.addr), RequireReply: true, Reply: okReply, MaxLength: 5}, false},
		{"length bounds without reply bytes are not checked", check.UDP{Conn: conn(echo.addr), RequireReply: true, MinLength: 20, MaxLength: 255}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := tc.c.Check(context.Background()); r.Healthy != tc.want {
				t.Errorf("healthy = %v (%s), want %v", r.Healthy, r.Reason, tc.want)
			}
		})
	}
	// X in the high nibble.
	m2, mm2 := hex(t, "4f4b 20 X2", true)
	if r := (check.UDP{Conn: conn(echo.addr), RequireReply: true, Reply: m2, Mask: mm2, MaxLength: 255}).Check(context.Background()); !r.Healthy {
		t.Errorf("X in the high nibble: %s", r.Reason)
	}
	// Without a payload keepalived sends 32 bytes of its pattern.
	silent.mu.Lock()
	defer silent.mu.Unlock()
	if len(silent.got) == 0 || string(silent.got[0]) != "keepalived check - keepalived ch" {
		t.Errorf("default payload %q", silent.got)
	}
}

// TestBindPort: bind_port is the source port of TCP and UDP checks.
func TestBindPort(t *testing.T) {
	srv := startUDP(t, func([]byte) []byte { return []byte("x") })
	bp := uint16(closedUDPPort(t).Port())
	r := check.UDP{Conn: check.Conn{Addr: srv.addr, BindPort: bp, Timeout: time.Second}, RequireReply: true, MaxLength: 255}.Check(context.Background())
	srv.mu.Lock()
	from := srv.from
	srv.mu.Unlock()
	if !r.Healthy || len(from) != 1 || from[0] != int(bp) {
		t.Errorf("UDP from port %v (%s), want %d", from, r.Reason, bp)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ports := make(chan int, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ports <- c.RemoteAddr().(*net.TCPAddr).Port
			c.Close()
		}
	}()
	tp := uint16(freePort(t))
	for i := 0; i < 2; i++ {
		if i > 0 {
			// Twice: the port serves the next check. The checker closes
			// first, so the same 4-tuple sits in TIME_WAIT; Linux reuses
			// it for a new connect only a second after its last
			// timestamp (tcp_tw_reuse), which a check interval always
			// is. Back to back it failed now and then.
			time.Sleep(1100 * time.Millisecond)
		}
		tcp := check.TCP{Conn: check.Conn{Addr: ln.Addr().(*net.TCPAddr).AddrPort(), BindPort: tp, Timeout: time.Second}}
		if r := tcp.Check(context.Background()); !r.Healthy {
			t.Fatalf("TCP with bind_port: %s", r.Reason)
		}
		if p := <-ports; p != int(tp) {
			t.Errorf("TCP from port %d, want %d", p, tp)
		}
	}
}

// dnsServer answers queries on 127.0.0.1 with respond(query).
func dnsServer(t *testing.T, respond func(q []byte) [][]byte) netip.AddrPort {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, r := range respond(append([]byte(nil), buf[:n]...)) {
				c.WriteTo(r, from)
			}
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// answer is a response header for q (same ID unless id >= 0) with flags.
func answer(q []byte, id int, flags uint16) []byte {
	r := append([]byte(nil), q...)
	if id >= 0 {
		binary.BigEndian.PutUint16(r[0:], uint16(id))
	}
	binary.BigEndian.PutUint16(r[2:], flags)
	return r
}

// TestDNS: DNS_CHECK's verdicts as check_dns.c gives them: NOERROR
// passes, another RCODE fails, responses with another ID or without QR
// are skipped, silence and a closed port fail; the query is keepalived's
// (RD set, one question, default SOA for the root).
func TestDNS(t *testing.T) {
	var mu sync.Mutex
	var queries [][]byte
	record := func(q []byte) { mu.Lock(); queries = append(queries, q); mu.Unlock() }
	noerror := dnsServer(t, func(q []byte) [][]byte { record(q); return [][]byte{answer(q, -1, 0x8180)} })
	servfail := dnsServer(t, func(q []byte) [][]byte { return [][]byte{answer(q, -1, 0x8182)} })
	wrongFirst := dnsServer(t, func(q []byte) [][]byte {
		id := int(binary.BigEndian.Uint16(q)) ^ 0xffff
		return [][]byte{q[:5], answer(q, id, 0x8180), answer(q, -1, 0x0100), answer(q, -1, 0x8180)}
	})
	onlyQueries := dnsServer(t, func(q []byte) [][]byte { return [][]byte{answer(q, -1, 0x0100)} })
	short := func(n int, flags uint16) netip.AddrPort {
		return dnsServer(t, func(q []byte) [][]byte { return [][]byte{answer(q, -1, flags)[:n]} })
	}
	closed := closedUDPPort(t)
	conn := func(a netip.AddrPort) check.Conn { return check.Conn{Addr: a, Timeout: 300 * time.Millisecond} }
	for _, tc := range []struct {
		name string
		d    check.DNS
		want bool
	}{
		{"NOERROR", check.DNS{Conn: conn(noerror)}, true},
		{"SERVFAIL", check.DNS{Conn: conn(servfail)}, false},
		{"short, wrong ID and non-responses skipped", check.DNS{Conn: conn(wrongFirst)}, true},
		{"no response, only a query echoed", check.DNS{Conn: conn(onlyQueries)}, false},
		{"closed port", check.DNS{Conn: conn(closed)}, false},
		// keepalived 2.2.7 (check_dns.c) skips only datagrams under
		// sizeof(pointer) = 8 bytes: its VM differential judges these so.
		{"8-byte NOERROR response passes, as keepalived", check.DNS{Conn: conn(short(8, 0x8180))}, true},
		{"8-byte SERVFAIL response fails", check.DNS{Conn: conn(short(8, 0x8182))}, false},
		{"7-byte response skipped", check.DNS{Conn: conn(short(7, 0x8180))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := tc.d.Check(context.Background()); r.Healthy != tc.want {
				t.Errorf("healthy = %v (%s), want %v", r.Healthy, r.Reason, tc.want)
			}
		})
	}
	t.Run("query format", func(t *testing.T) {
		mu.Lock()
		queries = nil
		mu.Unlock()
		check.DNS{Conn: conn(noerror), Type: "A", Name: "www.example.com"}.Check(context.Background())
		mu.Lock()
		defer mu.Unlock()
		if len(queries) == 0 {
			t.Fatal("no query")
		}
		q := queries[0]
		want := append([]byte{0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, "\x03www\x07example\x03com\x00\x00\x01\x00\x01"...)
		if !bytes.Equal(q[2:], want) {
			t.Errorf("query %x, want ID then %x", q, want)
		}
	})
	t.Run("default SOA for the root", func(t *testing.T) {
		mu.Lock()
		queries = nil
		mu.Unlock()
		check.DNS{Conn: conn(noerror)}.Check(context.Background())
		mu.Lock()
		defer mu.Unlock()
		if len(queries) == 0 || !bytes.HasSuffix(queries[0], []byte{0, 0, 6, 0, 1}) || len(queries[0]) != 17 {
			t.Errorf("default query %x", queries)
		}
	})
}

// TestPing: PING_CHECK passes on an echo reply and fails when the host
// ignores echo requests or does not exist, in namespaces.
func TestPing(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	me := netnstest.New(t, "png")
	peer := netnstest.New(t, "pee")
	sw.Plug(me, "eth0", "02:00:00:00:09:01", "10.9.9.1/24")
	sw.Plug(peer, "eth0", "02:00:00:00:09:02", "10.9.9.2/24")
	me.MustRun("ip", "-6", "addr", "add", "fd09::1/64", "dev", "eth0", "nodad")
	peer.MustRun("ip", "-6", "addr", "add", "fd09::2/64", "dev", "eth0", "nodad")
	ping := func(addr string) check.Result {
		var r check.Result
		me.Do(func() error {
			r = check.Ping{Conn: check.Conn{Addr: netip.AddrPortFrom(netip.MustParseAddr(addr), 0), Timeout: 2 * time.Second}}.Check(context.Background())
			return nil
		})
		return r
	}
	// The bridge and the neighbour entries settle first (a loaded host
	// can take longer than one check's timeout), so the cases below test
	// the checker, not the lab's start-up.
	for _, a := range []string{"10.9.9.2", "fd09::2"} {
		if !netnstest.Eventually(15*time.Second, func() bool { _, err := me.Run("ping", "-c1", "-W1", a); return err == nil }) {
			t.Fatalf("lab: %s never answered ping", a)
		}
	}
	for _, tc := range []struct {
		name, addr string
		want       bool
	}{
		{"peer answers", "10.9.9.2", true},
		{"peer answers IPv6", "fd09::2", true},
		{"nobody there", "10.9.9.99", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := ping(tc.addr); r.Healthy != tc.want {
				t.Errorf("healthy = %v (%s), want %v", r.Healthy, r.Reason, tc.want)
			}
		})
	}
	peer.MustRun("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
	if r := ping("10.9.9.2"); r.Healthy || !strings.Contains(r.Reason, "no echo reply") {
		t.Errorf("peer ignoring echo requests: %v (%s)", r.Healthy, r.Reason)
	}
}
