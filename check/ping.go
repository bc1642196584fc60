package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Ping is PING_CHECK (keepalived's check_ping.c): one ICMP (or ICMPv6)
// echo request to the server; healthy when its echo reply arrives within
// the connect timeout. keepalived sends from an unprivileged ping socket;
// kahook, as root, uses a raw ICMP socket (falling back to a ping socket)
// and takes only the reply with its own identifier and sequence from the
// server's address.
type Ping struct{ Conn }

func (p Ping) String() string { return "PING_CHECK " + p.Addr.Addr().String() }

func (p Ping) Check(ctx context.Context) Result {
	return timed(func() Result {
		dst := p.Addr.Addr().Unmap()
		v6 := dst.Is6()
		raw, dgram, bind := "ip4:icmp", "udp4", "0.0.0.0"
		var echo, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
		proto := 1
		if v6 {
			raw, dgram, bind = "ip6:ipv6-icmp", "udp6", "::"
			echo, reply, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
		}
		if p.BindTo.IsValid() {
			bind = p.BindTo.String()
		}
		isRaw := true
		c, err := icmp.ListenPacket(raw, bind)
		if err != nil {
			isRaw = false
			if c, err = icmp.ListenPacket(dgram, bind); err != nil {
				return failf("icmp socket: %v", err)
			}
		}
		defer c.Close()
		id, seq := rand.IntN(0xffff), rand.IntN(0xffff)
		msg := icmp.Message{Type: echo, Body: &icmp.Echo{ID: id, Seq: seq, Data: fillPattern(56)}}
		wb, err := msg.Marshal(nil)
		if err != nil {
			return failf("icmp echo: %v", err)
		}
		var to net.Addr = &net.IPAddr{IP: net.IP(dst.AsSlice()), Zone: dst.Zone()}
		if !isRaw {
			to = &net.UDPAddr{IP: net.IP(dst.AsSlice()), Zone: dst.Zone()}
		}
		if _, err := c.WriteTo(wb, to); err != nil {
			return failf("icmp echo to %s: %v", dst, err)
		}
		_ = c.SetReadDeadline(p.exchangeDeadline(ctx))
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				if os.IsTimeout(err) {
					return failf("no echo reply from %s within %v", dst, p.Timeout)
				}
				return failf("icmp read: %v", err)
			}
			if !sameIP(from, dst.AsSlice()) {
				continue
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != reply {
				continue
			}
			e, isEcho := m.Body.(*icmp.Echo)
			// A ping socket rewrites the identifier: it filters by it.
			if !isEcho || e.Seq != seq || (isRaw && e.ID != id) {
				continue
			}
			return ok(fmt.Sprintf("echo reply from %s", dst))
		}
	})
}

func sameIP(a net.Addr, ip net.IP) bool {
	switch v := a.(type) {
	case *net.IPAddr:
		return v.IP.Equal(ip)
	case *net.UDPAddr:
		return v.IP.Equal(ip)
	}
	return false
}
