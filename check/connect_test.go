package check

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// dialerTCP is TCP_CHECK as kahook ran it before ConnectAll, on
// net.Dialer: the oracle ConnectAll's verdicts and reasons must match.
type dialerTCP struct{ Conn }

func (t dialerTCP) String() string { return "dialer TCP_CHECK " + t.Addr.String() }

func (t dialerTCP) Check(ctx context.Context) Result {
	return timed(func() Result {
		c, err := t.dial(ctx)
		if err != nil {
			return failf("connect %s: %v", t.Addr, err)
		}
		c.Close()
		return ok("connected")
	})
}

// acceptAll listens on network/addr and accepts (and closes) every
// connection, recording each peer's address.
type acceptAll struct {
	ln    net.Listener
	mu    sync.Mutex
	peers []netip.AddrPort
}

func listenAccept(t *testing.T, network, addr string) *acceptAll {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s %s: %v", network, addr, err)
	}
	a := &acceptAll{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.peers = append(a.peers, c.RemoteAddr().(*net.TCPAddr).AddrPort())
			a.mu.Unlock()
			c.Close()
		}
	}()
	return a
}

func (a *acceptAll) addr() netip.AddrPort { return a.ln.Addr().(*net.TCPAddr).AddrPort() }

func (a *acceptAll) waitPeers(t *testing.T, n int) []netip.AddrPort {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		a.mu.Lock()
		got := append([]netip.AddrPort(nil), a.peers...)
		a.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	t.Fatalf("the server accepted fewer than %d connections", n)
	return nil
}

// closedPort is a port on addr nothing listens on: connection refused.
func closedPort(t *testing.T, network, addr string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s %s: %v", network, addr, err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return ap
}

// fullBacklog is a loopback port whose listener (backlog 0, never
// accepting) has its accept queue full: the kernel drops further SYNs,
// so a connect there times out.
func fullBacklog(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port))
	c, err := net.DialTimeout("tcp", ap.String(), time.Second) // fills the queue
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ap
}

// TestConnectAllJudgesAsDialer: ConnectAll's verdict and reason for each
// TCP_CHECK equal those of the net.Dialer check it replaced, wrapped in
// Retry as FromConfig wraps it: a listening port, a refused one (also
// after retries), one whose SYNs are dropped (i/o timeout), bindto and
// bind_port (the server sees that source), IPv6 and an IPv4-mapped
// address; TCP.Check (kahook check tcp) gives the same.
func TestConnectAllJudgesAsDialer(t *testing.T) {
	up := listenAccept(t, "tcp4", "127.0.0.1:0")
	refused := closedPort(t, "tcp4", "127.0.0.1:0")
	dropped := fullBacklog(t)
	const timeout = 300 * time.Millisecond
	type tc struct {
		name    string
		job     TCPJob
		healthy bool
		reason  string // a substring of the reason
	}
	cases := []tc{
		{"listening", TCPJob{Conn: Conn{Addr: up.addr(), Timeout: time.Second}}, true, "connected"},
		{"refused", TCPJob{Conn: Conn{Addr: refused, Timeout: time.Second}}, false, "connect: connection refused"},
		{"refused after retries", TCPJob{Conn: Conn{Addr: refused, Timeout: time.Second}, Retries: 2, Delay: 20 * time.Millisecond}, false, "refused (after 2 retries)"},
		{"refused after one retry", TCPJob{Conn: Conn{Addr: refused, Timeout: time.Second}, Retries: 1, Delay: 20 * time.Millisecond}, false, "refused (after 1 retry)"},
		{"SYN dropped: timeout", TCPJob{Conn: Conn{Addr: dropped, Timeout: timeout}}, false, "i/o timeout"},
		{"SYN dropped: sub-millisecond timeout", TCPJob{Conn: Conn{Addr: dropped, Timeout: 1500 * time.Microsecond}}, false, "i/o timeout"},
		{"bindto", TCPJob{Conn: Conn{Addr: up.addr(), BindTo: netip.MustParseAddr("127.0.0.2"), Timeout: time.Second}}, true, "connected"},
		{"bindto refused", TCPJob{Conn: Conn{Addr: refused, BindTo: netip.MustParseAddr("127.0.0.2"), BindPort: 0, Timeout: time.Second}}, false, "dial tcp 127.0.0.2:0->"},
		{"bindto not local", TCPJob{Conn: Conn{Addr: up.addr(), BindTo: netip.MustParseAddr("192.0.2.1"), Timeout: time.Second}}, false, "bind: cannot assign requested address"},
		{"IPv4-mapped", TCPJob{Conn: Conn{Addr: netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), up.addr().Port()), Timeout: time.Second}}, true, "connected"},
	}
	if up6 := tryListen("tcp6", "[::1]:0"); up6 != nil {
		ln6 := listenAccept(t, "tcp6", "[::1]:0")
		up6.Close()
		cases = append(cases,
			tc{"IPv6", TCPJob{Conn: Conn{Addr: ln6.addr(), Timeout: time.Second}}, true, "connected"},
			tc{"IPv6 refused", TCPJob{Conn: Conn{Addr: closedPort(t, "tcp6", "[::1]:0"), Timeout: time.Second}}, false, "connection refused"},
			tc{"IPv6 to an IPv4 bindto", TCPJob{Conn: Conn{Addr: ln6.addr(), BindTo: netip.MustParseAddr("127.0.0.1"), Timeout: time.Second}}, false, "no suitable address"},
			tc{"IPv4 to an IPv6 bindto", TCPJob{Conn: Conn{Addr: up.addr(), BindTo: netip.MustParseAddr("::1"), Timeout: time.Second}}, false, "no suitable address"},
			tc{"IPv6 from a wildcard IPv4 bindto", TCPJob{Conn: Conn{Addr: ln6.addr(), BindTo: netip.MustParseAddr("0.0.0.0"), Timeout: time.Second}}, true, "connected"},
		)
	} else {
		t.Log("no IPv6 loopback: IPv6 cases skipped")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want Result
			if c.job.Retries > 0 {
				want = Retry{Checker: dialerTCP{c.job.Conn}, Retries: c.job.Retries, Delay: c.job.Delay}.Check(context.Background())
			} else {
				want = dialerTCP{c.job.Conn}.Check(context.Background())
			}
			var got []Result
			ConnectAll(context.Background(), []TCPJob{c.job}, 10, func(i int, r Result) {
				if i != 0 {
					t.Errorf("done for job %d of 1", i)
				}
				got = append(got, r)
			})
			if len(got) != 1 {
				t.Fatalf("done called %d times, want once", len(got))
			}
			r := got[0]
			t.Logf("ConnectAll: %v %q (%v); dialer: %v %q", r.Healthy, r.Reason, r.Latency, want.Healthy, want.Reason)
			if r.Healthy != c.healthy || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("got %v %q, want %v and a reason with %q", r.Healthy, r.Reason, c.healthy, c.reason)
			}
			if r.Healthy != want.Healthy || r.Reason != want.Reason || r.Weight != want.Weight {
				t.Errorf("ConnectAll %+v, net.Dialer %+v", r, want)
			}
			if c.job.Retries == 0 {
				if single := (TCP{c.job.Conn}).Check(context.Background()); single.Healthy != r.Healthy || single.Reason != r.Reason {
					t.Errorf("TCP.Check %+v, ConnectAll %+v", single, r)
				}
			}
			// Bounded by connect_timeout, and never judged before it.
			if to := c.job.Timeout; strings.Contains(c.reason, "timeout") && (r.Latency < to || r.Latency > to+time.Second) {
				t.Errorf("took %v for a %v timeout", r.Latency, to)
			}
		})
	}

	// bind_port: once per source port (the closed connection's TIME_WAIT
	// holds the 4-tuple).
	binds := []struct{ name, network, from string }{{"bind_port is the source port", "tcp4", "127.0.0.3"}}
	if tryListen6() {
		binds = append(binds, struct{ name, network, from string }{"IPv6 bind_port is the source port", "tcp6", "::1"})
	}
	for _, b := range binds {
		t.Run(b.name, func(t *testing.T) {
			srv := listenAccept(t, "tcp4", "127.0.0.1:0") // a fresh one: its only peer is this check
			if b.network == "tcp6" {
				srv = listenAccept(t, "tcp6", "[::1]:0")
			}
			from := netip.MustParseAddr(b.from)
			port := closedPort(t, b.network, netip.AddrPortFrom(from, 0).String()).Port()
			var r Result
			ConnectAll(context.Background(), []TCPJob{{Conn: Conn{Addr: srv.addr(), BindTo: from, BindPort: port, Timeout: time.Second}}}, 1,
				func(_ int, res Result) { r = res })
			if !r.Healthy {
				t.Fatalf("%+v", r)
			}
			want := netip.AddrPortFrom(from, port)
			found := false
			for _, p := range srv.waitPeers(t, 1) {
				found = found || p == want
			}
			if !found {
				t.Errorf("the server saw no connection from %s", want)
			}
		})
	}
}

func tryListen6() bool {
	ln := tryListen("tcp6", "[::1]:0")
	if ln != nil {
		ln.Close()
	}
	return ln != nil
}

func tryListen(network, addr string) net.Listener {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil
	}
	return ln
}

// TestConnectAllManyJobs: every job's result reaches done under its own
// index, once, with at most parallel connects at once: 300 jobs,
// alternately to a listening and a refused port, and jobs whose SYNs are
// dropped run parallel at a time (5 jobs, 2 at once: three timeouts in a row).
func TestConnectAllManyJobs(t *testing.T) {
	up := listenAccept(t, "tcp4", "127.0.0.1:0")
	refused := closedPort(t, "tcp4", "127.0.0.1:0")
	jobs := make([]TCPJob, 300)
	for i := range jobs {
		a := up.addr()
		if i%2 == 1 {
			a = refused
		}
		jobs[i] = TCPJob{Conn: Conn{Addr: a, Timeout: 2 * time.Second}}
	}
	calls := make([]int, len(jobs))
	ConnectAll(context.Background(), jobs, 50, func(i int, r Result) {
		calls[i]++
		if r.Healthy != (i%2 == 0) {
			t.Errorf("job %d (%s): %+v", i, jobs[i].Addr, r)
		}
	})
	for i, n := range calls {
		if n != 1 {
			t.Errorf("job %d: done called %d times", i, n)
		}
	}
	if got := len(up.waitPeers(t, 150)); got != 150 {
		t.Errorf("the listening port accepted %d connections, want 150", got)
	}

	dropped := fullBacklog(t)
	const timeout = 150 * time.Millisecond
	slow := make([]TCPJob, 5)
	for i := range slow {
		slow[i] = TCPJob{Conn: Conn{Addr: dropped, Timeout: timeout}}
	}
	start := time.Now()
	n := 0
	ConnectAll(context.Background(), slow, 2, func(int, Result) { n++ })
	if d := time.Since(start); n != 5 || d < 3*timeout {
		t.Errorf("5 timeouts 2 at a time: %d results after %v, want 5 after at least %v", n, d, 3*timeout)
	}
}

// TestConnectAllContextEnds: when the context ends, ConnectAll returns at
// once with one result per job: those connecting and those not started
// fail (the pass drops them: no verdict), those waiting delay_before_retry
// keep their last failure; a context already done starts nothing.
func TestConnectAllContextEnds(t *testing.T) {
	dropped := fullBacklog(t)
	refused := closedPort(t, "tcp4", "127.0.0.1:0")
	jobs := []TCPJob{
		{Conn: Conn{Addr: dropped, Timeout: time.Minute}},
		{Conn: Conn{Addr: refused, Timeout: time.Minute}, Retries: 3, Delay: time.Minute},
		{Conn: Conn{Addr: dropped, Timeout: time.Minute}}, // not started: parallel 2
	}
	for _, tc := range []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		reasons []string
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, []string{"i/o timeout", "connection refused", "i/o timeout"}},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, []string{"operation was canceled", "connection refused", "operation was canceled"}},
		{"done before", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, []string{"operation was canceled", "operation was canceled", "operation was canceled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			got := make([]*Result, len(jobs))
			start := time.Now()
			ConnectAll(ctx, jobs, 2, func(i int, r Result) {
				if got[i] != nil {
					t.Errorf("job %d: done twice", i)
				}
				got[i] = &r
			})
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("returned after %v", d)
			}
			for i, r := range got {
				if r == nil {
					t.Errorf("job %d: no result", i)
					continue
				}
				if r.Healthy || !strings.Contains(r.Reason, tc.reasons[i]) || strings.Contains(r.Reason, "retries") {
					t.Errorf("job %d: %+v, want a failure with %q", i, *r, tc.reasons[i])
				}
			}
		})
	}
}

// TestConnectAllBelowOpenFileLimit: more checks in flight than
// RLIMIT_NOFILE allows are run fewer at a time (ppoll refuses more fds
// than the limit for the whole call, which would fail every check).
func TestConnectAllBelowOpenFileLimit(t *testing.T) {
	up := listenAccept(t, "tcp4", "127.0.0.1:0")
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = 160
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	jobs := make([]TCPJob, 400)
	for i := range jobs {
		jobs[i] = TCPJob{Conn: Conn{Addr: up.addr(), Timeout: 2 * time.Second}}
	}
	bad := 0
	ConnectAll(context.Background(), jobs, 1000, func(i int, r Result) {
		if !r.Healthy {
			bad++
			if bad < 3 {
				t.Errorf("job %d: %+v", i, r)
			}
		}
	})
	if bad > 0 {
		t.Errorf("%d of %d checks failed under RLIMIT_NOFILE %d", bad, len(jobs), low.Cur)
	}
}

func ExampleConnectAll() {
	jobs := []TCPJob{{Conn: Conn{Addr: netip.MustParseAddrPort("127.0.0.1:1"), Timeout: time.Second}}}
	ConnectAll(context.Background(), jobs, 100, func(i int, r Result) {
		fmt.Println(i, r.Healthy)
	})
	// Output: 0 false
}
