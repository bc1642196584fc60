package arp

import (
	"fmt"
	"net"
	"net/netip"

	mdarp "github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

// Dial opens the real ARP client (a raw AF_PACKET socket) on an
// interface. mdlayher/arp needs an IPv4 address on it to use as the sender
// of requests.
func Dial(ifname string) (*mdarp.Client, *net.Interface, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, nil, fmt.Errorf("interface %s: %w", ifname, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, nil, fmt.Errorf("interface %s has no Ethernet address: ARP cannot be sent on it", ifname)
	}
	c, err := mdarp.Dial(ifi)
	if err != nil {
		return nil, nil, fmt.Errorf("open ARP socket on %s: %w", ifname, err)
	}
	return c, ifi, nil
}

// NA sends unsolicited neighbour advertisements (RFC 4861 7.2.6) for IPv6
// VIPs to all-nodes, with the Override flag so neighbours replace the
// old link-layer address they hold. The messages are built and sent by
// github.com/mdlayher/ndp (hop limit 255, checksum by the kernel).
type NA struct {
	conn *ndp.Conn
	ifi  *net.Interface
}

// DialNA opens a raw ICMPv6 socket for advertisements on ifname.
func DialNA(ifi *net.Interface) (*NA, error) {
	// Unspecified: each advertisement names its own source (the VIP, as
	// keepalived sends them), so the interface needs no address of its own.
	c, _, err := ndp.Listen(ifi, ndp.Unspecified)
	if err != nil {
		return nil, fmt.Errorf("open ICMPv6 socket on %s: %w", ifi.Name, err)
	}
	return &NA{conn: c, ifi: ifi}, nil
}

// Advertise sends one unsolicited NA for target, from target, to ff02::1.
func (n *NA) Advertise(target netip.Addr) error {
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: target,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: n.ifi.HardwareAddr}},
	}
	cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: target.AsSlice(), IfIndex: n.ifi.Index}
	if err := n.conn.WriteTo(na, cm, netip.IPv6LinkLocalAllNodes()); err != nil {
		return fmt.Errorf("send on %s: %w", n.ifi.Name, err)
	}
	return nil
}

// Close closes the socket.
func (n *NA) Close() error { return n.conn.Close() }
