package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// udpDefaultPayload is what keepalived sends without a payload: 32 bytes
// of "keepalived check - " repeated (layer4.c set_buf, UDP_BUFSIZE).
var udpDefaultPayload = fillPattern(32)

func fillPattern(n int) []byte {
	const pat = "keepalived check - "
	b := make([]byte, n)
	for i := range b {
		b[i] = pat[i%len(pat)]
	}
	return b
}

// UDP is UDP_CHECK (keepalived's check_udp.c): send Payload to the
// server and wait one connect timeout. An ICMP destination unreachable
// (port closed, host down) fails it; no reply passes unless RequireReply;
// a reply passes unless Reply is set and the reply is shorter than
// MinLength, longer than MaxLength, or differs from Reply in a bit Mask
// does not ignore (only the first min(len(reply), len(Reply)) octets are
// compared, as keepalived does).
type UDP struct {
	Conn
	Payload      []byte
	RequireReply bool
	Reply, Mask  []byte
	MinLength    int
	MaxLength    int
}

func (u UDP) String() string { return "UDP_CHECK " + u.Addr.String() }

func (u UDP) Check(ctx context.Context) Result {
	return timed(func() Result {
		c, err := u.dialUDP(ctx)
		if err != nil {
			return failf("udp %s: %v", u.Addr, err)
		}
		defer c.Close()
		payload := u.Payload
		if len(payload) == 0 {
			payload = udpDefaultPayload
		}
		if _, err := c.Write(payload); err != nil {
			return failf("udp send to %s: %v", u.Addr, err)
		}
		_ = c.SetReadDeadline(u.exchangeDeadline(ctx))
		buf := make([]byte, max(u.MaxLength, 255)+1)
		n, err := c.Read(buf)
		switch {
		case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
			if u.RequireReply {
				return failf("udp %s: no reply within %v", u.Addr, u.Timeout)
			}
			return ok("no ICMP error within the timeout")
		case err != nil:
			// ECONNREFUSED, EHOSTUNREACH...: an ICMP destination
			// unreachable came back.
			return failf("udp %s: %v", u.Addr, err)
		}
		if u.Reply != nil {
			if why := u.mismatch(buf[:n]); why != "" {
				return failf("udp %s: reply %s", u.Addr, why)
			}
		}
		return ok(fmt.Sprintf("reply of %d bytes", n))
	})
}

// mismatch is check_udp_reply: "" when the reply is acceptable.
func (u UDP) mismatch(r []byte) string {
	if len(r) < u.MinLength || len(r) > u.MaxLength {
		return fmt.Sprintf("length %d outside %d-%d", len(r), u.MinLength, u.MaxLength)
	}
	for i := 0; i < min(len(r), len(u.Reply)); i++ {
		var m byte
		if u.Mask != nil {
			m = u.Mask[i]
		}
		if (r[i]^u.Reply[i])&^m != 0 {
			return fmt.Sprintf("octet %d is %#02x, want %#02x", i, r[i], u.Reply[i])
		}
	}
	return ""
}

// dialUDP connects a UDP socket to the server from bindto/bind_port,
// within the context.
func (c Conn) dialUDP(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: c.Timeout, Control: c.control()}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		la := &net.UDPAddr{Port: int(c.BindPort)}
		if c.BindTo.IsValid() {
			la.IP, la.Zone = net.IP(c.BindTo.AsSlice()), c.BindTo.Zone()
		}
		d.LocalAddr = la
	}
	return d.DialContext(ctx, "udp", c.Addr.String())
}

// control is the net.Dialer Control of c's sockets, before bind and
// connect: SO_REUSEADDR when c binds (successive checks bind the same
// bind_port) and SO_MARK when c has a fwmark; nil when neither.
func (c Conn) control() func(_, _ string, rc syscall.RawConn) error {
	bind := c.BindTo.IsValid() || c.BindPort != 0
	if !bind && c.FWMark == 0 {
		return nil
	}
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = c.setSockopts(int(fd), bind)
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// setSockopts sets SO_REUSEADDR (bind) and c's SO_MARK on fd.
func (c Conn) setSockopts(fd int, bind bool) error {
	if bind {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if c.FWMark != 0 {
		// keepalived: "Error setting fwmark %u to socket", the check fails.
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_MARK, int(c.FWMark)); err != nil {
			return fmt.Errorf("set fwmark %d: %w", c.FWMark, os.NewSyscallError("setsockopt", err))
		}
	}
	return nil
}
