package check

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// TCPJob is one TCP_CHECK for ConnectAll: where it connects (address,
// bindto, bind_port, connect_timeout) and keepalived's retry and
// delay_before_retry (Retries further attempts, Delay apart).
type TCPJob struct {
	Conn
	Retries int
	Delay   time.Duration
}

// TCPJobOf returns the TCPJob of c when c is a TCP_CHECK, bare or wrapped
// in Retry (as FromConfig builds it); ok is false for any other checker.
func TCPJobOf(c Checker) (j TCPJob, ok bool) {
	switch v := c.(type) {
	case TCP:
		return TCPJob{Conn: v.Conn}, true
	case Retry:
		if t, isTCP := v.Checker.(TCP); isTCP {
			return TCPJob{Conn: t.Conn, Retries: v.Retries, Delay: v.Delay}, true
		}
	}
	return TCPJob{}, false
}

// ConnectAll runs TCP_CHECKs from one goroutine (the caller's) on
// nonblocking sockets, at most parallel of them at once (a job waiting
// delay_before_retry holds its place, as a worker sleeping in Retry
// does): socket, bind when bindto/bind_port are set, connect, then
// SO_ERROR once ppoll reports the socket writable, as keepalived's checker
// does (it waits in epoll). A pass over 1,000 real servers then costs
// four system calls per check (socket, connect, getsockopt, close) plus
// one ppoll per round for all those in flight, instead of the nine of
// net.Dialer, and no goroutine, context or timer per check.
//
// The verdicts and reasons are TCP.Check's: healthy once the connect
// completes within connect_timeout (Timeout <= 0: no bound but ctx);
// otherwise "connect ADDR: dial tcp [SRC->]ADDR: ..." with the error the
// net package gives (connection refused, i/o timeout, ...), retried as
// Retry does ("... (after N retries)"; latency: the last attempt's).
//
// done(i, r) is called exactly once per job, from the calling goroutine:
// a job that has not started when ctx ends fails with ctx's error, one in
// flight is cut off with it. ConnectAll returns when every job has its
// result.
func ConnectAll(ctx context.Context, jobs []TCPJob, parallel int, done func(i int, r Result)) {
	if len(jobs) == 0 {
		return
	}
	l, err := newConnectLoop(ctx, jobs, parallel, done)
	if err != nil {
		for i, j := range jobs {
			done(i, failf("connect %s: %v", j.Addr, dialError(j.Conn, err)))
		}
		return
	}
	defer l.close()
	l.run()
}

// attempt is one job in flight: connecting (fd >= 0) or waiting for its
// next try (fd < 0, due).
type attempt struct {
	job      int
	try      int
	fd       int
	start    time.Time
	deadline time.Time // zero: none
	due      time.Time // next try, when waiting
	last     Result    // the failed try before the wait
}

type connectLoop struct {
	ctx        context.Context
	jobs       []TCPJob
	parallel   int
	done       func(int, Result)
	wake       int // eventfd written when ctx ends (-1: ctx never ends)
	stop       func() bool
	fired      chan struct{} // closed once the AfterFunc wrote to wake
	connecting []*attempt
	waiting    []*attempt
	next       int // the next job to start
	active     int // jobs started and not done
	pfds       []unix.PollFd
}

func newConnectLoop(ctx context.Context, jobs []TCPJob, parallel int, done func(int, Result)) (*connectLoop, error) {
	if parallel <= 0 {
		parallel = 1
	}
	parallel = min(parallel, len(jobs))
	// ppoll refuses more fds than RLIMIT_NOFILE allows (EINVAL for the
	// whole call, so every check would fail): keep those in flight below
	// it, with room for the process's other files.
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < uint64(parallel)+fdReserve {
		parallel = int(max(rl.Cur, fdReserve+1) - fdReserve)
	}
	l := &connectLoop{ctx: ctx, jobs: jobs, parallel: parallel, done: done, wake: -1,
		connecting: make([]*attempt, 0, parallel), pfds: make([]unix.PollFd, 0, parallel+1)}
	if ctx.Done() != nil {
		var err error
		l.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return nil, os.NewSyscallError("eventfd", err)
		}
		w, fired := l.wake, make(chan struct{})
		l.fired = fired
		l.stop = context.AfterFunc(ctx, func() {
			one := [8]byte{1}
			_, _ = unix.Write(w, one[:])
			close(fired)
		})
	}
	return l, nil
}

func (l *connectLoop) close() {
	if l.stop != nil && !l.stop() {
		// The AfterFunc ran or runs: closing the eventfd under its
		// write could hit a reused fd.
		<-l.fired
	}
	if l.wake >= 0 {
		unix.Close(l.wake)
	}
}

// run polls the connecting sockets with one ppoll per round (no
// registration per socket: a check costs socket, connect, getsockopt and
// close, and the round's ppoll is shared by all in flight).
func (l *connectLoop) run() {
	for l.next < len(l.jobs) || l.active > 0 {
		if l.ctx.Err() != nil {
			l.cancelAll()
			return
		}
		for l.active < l.parallel && l.next < len(l.jobs) {
			l.active++
			l.start(&attempt{job: l.next})
			l.next++
		}
		if l.active == 0 {
			continue
		}
		l.pfds = l.pfds[:0]
		if l.wake >= 0 {
			l.pfds = append(l.pfds, unix.PollFd{Fd: int32(l.wake), Events: unix.POLLIN})
		}
		first := len(l.pfds)
		for _, a := range l.connecting {
			l.pfds = append(l.pfds, unix.PollFd{Fd: int32(a.fd), Events: unix.POLLOUT})
		}
		_, err := unix.Ppoll(l.pfds, l.timeout(), nil)
		if err != nil && err != unix.EINTR {
			l.failAll(os.NewSyscallError("ppoll", err))
			return
		}
		if err == nil {
			// l.connecting is as polled: connected only ends attempts.
			polled := l.connecting
			for i, pfd := range l.pfds[first:] {
				if pfd.Revents != 0 {
					l.connected(polled[i], uint32(pfd.Revents))
				}
			}
			l.compact()
		}
		l.expire()
	}
}

// compact drops the attempts whose socket was closed from l.connecting.
func (l *connectLoop) compact() {
	kept := l.connecting[:0]
	for _, a := range l.connecting {
		if a.fd >= 0 {
			kept = append(kept, a)
		}
	}
	clear(l.connecting[len(kept):])
	l.connecting = kept
}

// timeout is ppoll's: until the nearest connect deadline or retry (nil:
// none).
func (l *connectLoop) timeout() *unix.Timespec {
	var first time.Time
	for _, a := range l.connecting {
		if !a.deadline.IsZero() && (first.IsZero() || a.deadline.Before(first)) {
			first = a.deadline
		}
	}
	for _, a := range l.waiting {
		if first.IsZero() || a.due.Before(first) {
			first = a.due
		}
	}
	if first.IsZero() {
		return nil
	}
	ts := unix.NsecToTimespec(max(int64(time.Until(first)), 0))
	return &ts
}

// start makes a's next try: it connects, or fails at once.
func (l *connectLoop) start(a *attempt) {
	c := l.jobs[a.job].Conn
	a.start = time.Now()
	a.deadline = time.Time{}
	if c.Timeout > 0 {
		a.deadline = a.start.Add(c.Timeout)
	}
	fd, err := openConnect(c)
	switch {
	case err == nil:
		l.finish(a, ok("connected"))
	case err == errInProgress:
		a.fd = fd
		l.connecting = append(l.connecting, a)
	default:
		l.finish(a, failf("connect %s: %v", c.Addr, dialError(c, err)))
	}
}

// connected judges a connecting socket ppoll reported: SO_ERROR as net's
// connect does (0 with POLLOUT: connected).
func (l *connectLoop) connected(a *attempt, events uint32) {
	c := l.jobs[a.job].Conn
	soerr, err := unix.GetsockoptInt(a.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		l.closeFD(a)
		l.finish(a, failf("connect %s: %v", c.Addr, dialError(c, os.NewSyscallError("getsockopt", err))))
		return
	}
	switch e := unix.Errno(soerr); e {
	case 0, unix.EISCONN:
		if e == 0 && events&unix.POLLOUT == 0 {
			if _, err := unix.Getpeername(a.fd); err != nil {
				return // not connected yet: wait on
			}
		}
		l.closeFD(a)
		l.finish(a, ok("connected"))
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		// wait on
	default:
		l.closeFD(a)
		l.finish(a, failf("connect %s: %v", c.Addr, dialError(c, os.NewSyscallError("connect", e))))
	}
}

// expire fails the connects past their deadline and starts the retries
// that are due.
func (l *connectLoop) expire() {
	now := time.Now()
	expired := false
	for _, a := range l.connecting {
		if !a.deadline.IsZero() && !now.Before(a.deadline) {
			c := l.jobs[a.job].Conn
			l.closeFD(a)
			l.finish(a, failf("connect %s: %v", c.Addr, dialError(c, errTimeout)))
			expired = true
		}
	}
	if expired {
		l.compact()
	}
	kept := l.waiting[:0]
	var due []*attempt
	for _, a := range l.waiting {
		if now.Before(a.due) {
			kept = append(kept, a)
		} else {
			due = append(due, a)
		}
	}
	l.waiting = kept
	for _, a := range due {
		l.start(a)
	}
}

// closeFD closes a's socket; compact then drops a from l.connecting.
func (l *connectLoop) closeFD(a *attempt) {
	unix.Close(a.fd)
	a.fd = -1
}

// finish ends a try: the job's result, or its next try after
// delay_before_retry (Retry's rules).
func (l *connectLoop) finish(a *attempt, r Result) {
	r.Latency = time.Since(a.start)
	j := l.jobs[a.job]
	if !r.Healthy && a.try < j.Retries && l.ctx.Err() == nil {
		a.try++
		a.last = r
		a.due = time.Now().Add(j.Delay)
		l.waiting = append(l.waiting, a)
		return
	}
	l.report(a, r)
}

func (l *connectLoop) report(a *attempt, r Result) {
	if !r.Healthy && a.try > 0 {
		r.Reason += afterRetries(a.try)
	}
	l.active--
	l.done(a.job, r)
}

// cancelAll ends every job once ctx is done: those connecting fail with
// ctx's error, those waiting to retry keep their last failure as it was
// (Retry returns it unannotated when ctx ends in the delay),
// those not started fail with ctx's error (as a dial with a done context).
func (l *connectLoop) cancelAll() {
	cerr := ctxError(l.ctx.Err())
	for _, a := range l.connecting {
		c := l.jobs[a.job].Conn
		l.closeFD(a)
		r := failf("connect %s: %v", c.Addr, dialError(c, cerr))
		r.Latency = time.Since(a.start)
		l.report(a, r)
	}
	l.connecting = nil
	for _, a := range l.waiting {
		a.try = 0 // Retry returns the last failure as it was
		l.report(a, a.last)
	}
	l.waiting = nil
	for ; l.next < len(l.jobs); l.next++ {
		c := l.jobs[l.next].Conn
		l.done(l.next, failf("connect %s: %v", c.Addr, dialError(c, cerr)))
	}
}

// failAll ends every job when ppoll fails.
func (l *connectLoop) failAll(err error) {
	for _, a := range l.connecting {
		c := l.jobs[a.job].Conn
		l.closeFD(a)
		l.report(a, failf("connect %s: %v", c.Addr, dialError(c, err)))
	}
	l.connecting = nil
	for _, a := range l.waiting {
		a.try = 0
		l.report(a, a.last)
	}
	l.waiting = nil
	for ; l.next < len(l.jobs); l.next++ {
		c := l.jobs[l.next].Conn
		l.done(l.next, failf("connect %s: %v", c.Addr, dialError(c, err)))
	}
}

var errInProgress = errors.New("connect in progress")

// fdReserve is how many descriptors below RLIMIT_NOFILE ConnectAll leaves
// to the rest of the process.
const fdReserve = 64

// openConnect makes the socket net.Dialer would for c (AF_INET when the
// address and bindto are IPv4, else AF_INET6 with IPV6_V6ONLY off;
// SO_REUSEADDR and bind when bindto or bind_port is set) and starts the
// connect: it returns the socket and errInProgress, or nil (connected at
// once), or the failure (the socket closed). A fwmark is set first
// (SO_MARK), as keepalived's socket_bind_connect does.
func openConnect(c Conn) (int, error) {
	dst := c.Addr.Addr().Unmap()
	if b := c.BindTo.Unmap(); b.IsValid() && !b.IsUnspecified() && !dst.IsUnspecified() && b.Is4() != dst.Is4() {
		return -1, errNoSuitableAddress // net filters the address by bindto's family
	}
	family := unix.AF_INET
	if !dst.Is4() || (c.BindTo.IsValid() && !c.BindTo.Unmap().Is4()) {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if family == unix.AF_INET6 {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	bind := c.BindTo.IsValid() || c.BindPort != 0
	if err := c.setSockopts(fd, bind); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if bind {
		if err := unix.Bind(fd, sockaddr(family, c.BindTo, c.BindPort)); err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("bind", err)
		}
	}
	switch err := unix.Connect(fd, sockaddr(family, c.Addr.Addr(), c.Addr.Port())); err {
	case nil, unix.EISCONN:
		unix.Close(fd)
		return -1, nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		// net's connect waits for an interrupted connect to complete.
		return fd, errInProgress
	default:
		unix.Close(fd)
		return -1, os.NewSyscallError("connect", err)
	}
}

// sockaddr is a (an invalid a: the wildcard) with port, for a socket of
// family.
func sockaddr(family int, a netip.Addr, port uint16) unix.Sockaddr {
	if family == unix.AF_INET {
		sa := &unix.SockaddrInet4{Port: int(port)}
		if a.IsValid() {
			sa.Addr = a.Unmap().As4()
		}
		return sa
	}
	sa := &unix.SockaddrInet6{Port: int(port)}
	if a.IsValid() && !a.Unmap().IsUnspecified() { // 0.0.0.0: ::, as net binds it
		sa.Addr = a.As16()
		if z := a.Zone(); z != "" {
			sa.ZoneId = zoneIndex(z)
		}
	}
	return sa
}

// zoneIndex is an IPv6 zone's interface index, as net resolves it: the
// interface of that name, else the zone as a number, else 0.
func zoneIndex(z string) uint32 {
	if ifi, err := net.InterfaceByName(z); err == nil {
		return uint32(ifi.Index)
	}
	n, _ := strconv.ParseUint(z, 10, 32)
	return uint32(n)
}

// dialError is err as net.Dialer reports it ("dial tcp SRC->ADDR: ...").
func dialError(c Conn, err error) error {
	var src *net.TCPAddr
	if c.BindTo.IsValid() || c.BindPort != 0 {
		src = &net.TCPAddr{Port: int(c.BindPort)}
		if c.BindTo.IsValid() {
			src.IP, src.Zone = net.IP(c.BindTo.AsSlice()), c.BindTo.Zone()
		}
	}
	if err == errNoSuitableAddress {
		return &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "no suitable address found", Addr: src.String()}}
	}
	if src == nil {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(c.Addr), Err: err}
	}
	return &net.OpError{Op: "dial", Net: "tcp", Source: src, Addr: net.TCPAddrFromAddrPort(c.Addr), Err: err}
}

// errNoSuitableAddress: bindto and the address are of different families.
var errNoSuitableAddress = errors.New("no suitable address found")

// timeoutError is net's "i/o timeout" (a connect past its deadline).
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var (
	errTimeout  error = timeoutError{}
	errCanceled       = errors.New("operation was canceled")
)

// ctxError maps a context's error as net does.
func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return errTimeout
	}
	return errCanceled
}
