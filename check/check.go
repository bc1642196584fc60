// Package check runs health checks the way keepalived's checkers do
// (HTTP_GET, SSL_GET, TCP_CHECK, SMTP_CHECK, MISC_CHECK), plus HAProxy's
// agent-check and the maintenance-file pattern. Each checker is a value
// with Check(ctx) Result, used by `kahook check` and by the `sync` pass.
// Everything is bounded: connect and exchange timeouts, body size, no
// redirects followed.
package check

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Unchanged is the Weight of a result that does not set one.
const Unchanged = -1

// MaxDynamicWeight is the biggest weight an exit code can carry
// (misc_dynamic: exit 2+weight, at most 255).
const MaxDynamicWeight = 253

// Result is the outcome of one check.
type Result struct {
	Healthy bool          `json:"healthy"`
	Weight  int           `json:"weight"` // Unchanged unless the check sets one
	Reason  string        `json:"reason"`
	Latency time.Duration `json:"latency_ns"`
}

// Checker is one health check.
type Checker interface {
	Check(ctx context.Context) Result
	// String names the check for logs ("HTTP_GET 10.0.0.11:80/health").
	String() string
}

// ExitCode maps a result to keepalived's exit codes: 0 healthy, 1 not;
// with dynamic (misc_dynamic), a healthy result that carries a weight
// exits 2+weight (weight capped at 253).
func (r Result) ExitCode(dynamic bool) int {
	if !r.Healthy {
		return 1
	}
	if dynamic && r.Weight != Unchanged {
		return 2 + min(max(r.Weight, 0), MaxDynamicWeight)
	}
	return 0
}

func ok(reason string) Result   { return Result{Healthy: true, Weight: Unchanged, Reason: reason} }
func fail(reason string) Result { return Result{Healthy: false, Weight: Unchanged, Reason: reason} }

func failf(format string, args ...any) Result { return fail(fmt.Sprintf(format, args...)) }

// Retry runs c up to 1+Retries times, Delay apart, until it passes:
// keepalived's retry/delay_before_retry. The latency reported is the last
// attempt's.
type Retry struct {
	Checker
	Retries int
	Delay   time.Duration
}

func (r Retry) Check(ctx context.Context) Result {
	var res Result
	for i := 0; ; i++ {
		res = r.Checker.Check(ctx)
		if res.Healthy || i >= r.Retries || ctx.Err() != nil {
			if !res.Healthy && i > 0 {
				res.Reason += afterRetries(i)
			}
			return res
		}
		t := time.NewTimer(r.Delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return res
		case <-t.C:
		}
	}
}

// Timed runs f and stamps its latency.
func timed(f func() Result) Result {
	start := time.Now()
	r := f()
	r.Latency = time.Since(start)
	return r
}

// Conn is where a check connects.
type Conn struct {
	Addr     netip.AddrPort
	BindTo   netip.Addr
	BindPort uint16        // keepalived bind_port: the source port (0: any)
	Timeout  time.Duration // connect timeout (keepalived connect_timeout)
	// FWMark is keepalived's fwmark: SO_MARK on the check's socket (TCP
	// and UDP, as keepalived's socket_bind_connect and udp_bind_connect
	// set it), so policy routing can route checks; 0: none. Setting it
	// needs CAP_NET_ADMIN (or CAP_NET_RAW): without, the check fails.
	FWMark uint32
}

// dial connects within the connect timeout and the context, from
// bindto/bind_port when set. TCP keepalive stays off, as on keepalived's
// checker sockets: a check's connection lives for one exchange, and Go's
// default would cost four setsockopt calls per check.
func (c Conn) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: c.Timeout, KeepAlive: -1, Control: c.control()}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		la := &net.TCPAddr{Port: int(c.BindPort)}
		if c.BindTo.IsValid() {
			la.IP, la.Zone = net.IP(c.BindTo.AsSlice()), c.BindTo.Zone()
		}
		d.LocalAddr = la
	}
	conn, err := d.DialContext(ctx, "tcp", c.Addr.String())
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// exchangeDeadline bounds everything after the connect: the request and
// the whole response within one more connect timeout (keepalived uses the
// connect timeout for each read; kahook bounds the sum).
func (c Conn) exchangeDeadline(ctx context.Context) time.Time {
	d := time.Now().Add(c.Timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// TCP is TCP_CHECK: the connect succeeds within the timeout (on a
// nonblocking socket of its own: ConnectAll).
type TCP struct{ Conn }

func (t TCP) String() string { return "TCP_CHECK " + t.Addr.String() }

func (t TCP) Check(ctx context.Context) Result {
	var r Result
	ConnectAll(ctx, []TCPJob{{Conn: t.Conn}}, 1, func(_ int, res Result) { r = res })
	return r
}

// afterRetries is what a failed check's reason ends with after n retries:
// " (after 1 retry)", " (after 2 retries)".
func afterRetries(n int) string {
	if n == 1 {
		return " (after 1 retry)"
	}
	return " (after " + strconv.Itoa(n) + " retries)"
}
