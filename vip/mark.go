package vip

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Proto is the address protocol (IFA_PROTO, `ip address ... proto 0x6b`,
// Linux 6.1+) kahook sets on every VIP it adds: the kernel itself then
// says which addresses kahook bound, whatever the config or the state
// file says later. A release that cannot tell which VIPs belong to an
// instance removes every address carrying it (Marked).
const Proto = 0x6b

// ifaProto is IFA_PROTO of linux/if_addr.h (not in x/sys/unix).
const ifaProto = 11

// addMarked adds a as RTM_NEWADDR with IFA_PROTO=Proto (vishvananda/netlink
// v1.3.1's Addr has no protocol field).
func addMarked(index int, a Addr) error {
	p := a.Prefix
	ip := p.Addr().AsSlice()
	family := unix.AF_INET
	if p.Addr().Is6() {
		family = unix.AF_INET6
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	msg := nl.NewIfAddrmsg(family)
	msg.Index = uint32(index)
	msg.Prefixlen = uint8(p.Bits())
	if family == unix.AF_INET6 {
		// A VIP must be usable at once: no duplicate address detection.
		msg.Flags = unix.IFA_F_NODAD
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, ip))
	if a.Label != "" && family == unix.AF_INET {
		req.AddData(nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated(a.Label)))
	}
	req.AddData(nl.NewRtAttr(ifaProto, nl.Uint8Attr(Proto)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// Marked lists every address in this network namespace that carries
// kahook's Proto, on any interface: the VIPs kahook bound and nobody
// removed since.
func Marked() ([]Addr, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var out []Addr
	for _, m := range msgs {
		msg := nl.DeserializeIfAddrmsg(m)
		attrs, err := nl.ParseRouteAttr(m[msg.Len():])
		if err != nil {
			return nil, fmt.Errorf("list addresses: %w", err)
		}
		var local, addr []byte
		var label string
		marked := false
		for _, at := range attrs {
			switch at.Attr.Type {
			case unix.IFA_LOCAL:
				local = at.Value
			case unix.IFA_ADDRESS:
				addr = at.Value
			case unix.IFA_LABEL:
				label = string(at.Value[:max(0, len(at.Value)-1)])
			case ifaProto:
				marked = len(at.Value) == 1 && at.Value[0] == Proto
			}
		}
		if !marked {
			continue
		}
		if local != nil {
			addr = local
		}
		ip, ok := netip.AddrFromSlice(addr)
		if !ok {
			continue
		}
		ifi, err := net.InterfaceByIndex(int(msg.Index))
		if err != nil {
			continue // gone meanwhile: so is the address
		}
		a := Addr{Prefix: netip.PrefixFrom(ip.Unmap(), int(msg.Prefixlen)), Dev: ifi.Name}
		if label != ifi.Name {
			a.Label = label
		}
		out = append(out, a)
	}
	return out, nil
}
