package arp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	mdarp "github.com/mdlayher/arp"
	"golang.org/x/net/icmp"
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
// old link-layer address they hold.
type NA struct {
	conn *icmp.PacketConn
	ifi  *net.Interface
}

// DialNA opens a raw ICMPv6 socket for advertisements on ifname.
func DialNA(ifi *net.Interface) (*NA, error) {
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("open ICMPv6 socket: %w", err)
	}
	pc := c.IPv6PacketConn()
	if err := pc.SetMulticastInterface(ifi); err != nil {
		c.Close()
		return nil, fmt.Errorf("ICMPv6 on %s: %w", ifi.Name, err)
	}
	// Neighbours drop NDP messages whose hop limit is not 255.
	if err := pc.SetMulticastHopLimit(255); err != nil {
		c.Close()
		return nil, err
	}
	return &NA{conn: c, ifi: ifi}, nil
}

// Advertise sends one unsolicited NA for target, from target.
func (n *NA) Advertise(target netip.Addr) error {
	body := make([]byte, 4+16+8)
	binary.BigEndian.PutUint32(body[0:4], 1<<29) // O (override) flag
	t16 := target.As16()
	copy(body[4:20], t16[:])
	body[20] = 2 // option: target link-layer address
	body[21] = 1 // length in units of 8 bytes
	copy(body[22:28], n.ifi.HardwareAddr)
	msg := icmp.Message{Type: ipv6.ICMPTypeNeighborAdvertisement, Body: &icmp.RawBody{Data: body}}
	// The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets.
	b, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	cm := &ipv6.ControlMessage{HopLimit: 255, Src: net.IP(t16[:]), IfIndex: n.ifi.Index}
	dst := &net.IPAddr{IP: net.ParseIP("ff02::1"), Zone: n.ifi.Name}
	_, err = n.conn.IPv6PacketConn().WriteTo(b, cm, dst)
	return err
}

// Close closes the socket.
func (n *NA) Close() error { return n.conn.Close() }
