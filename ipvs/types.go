// Package ipvs owns kahook's view of the kernel's IPVS table: its own
// keyed types (desired and current state are maps keyed by service and
// destination), the mapping from keepalived's virtual_server blocks, a
// pure planner that diffs desired against current, and a thin adapter on
// github.com/moby/ipvs that reads and writes the kernel.
package ipvs

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Protocol is a virtual service's IP protocol number (IPPROTO_*); its
// String is ipvsadm's name.
type Protocol uint16

// The protocols IPVS balances (keepalived's protocol keyword).
const (
	ProtoTCP  Protocol = 6
	ProtoUDP  Protocol = 17
	ProtoSCTP Protocol = 132
)

func (p Protocol) String() string { return ProtoName(p) }

// Forward is a destination's forwarding method (IP_VS_CONN_F_* of
// linux/ip_vs.h, the low bits of its connection flags); its String is
// ipvsadm's Forward column.
type Forward uint32

// Service flags (linux/ip_vs.h).
const (
	FlagPersistent uint32 = 0x1
	FlagHashed     uint32 = 0x2 // set by the kernel on every service; never compared
	FlagOnePacket  uint32 = 0x4
	FlagSched1     uint32 = 0x8
	FlagSched2     uint32 = 0x10
	FlagSched3     uint32 = 0x20
)

// Forwarding methods (IP_VS_CONN_F_*).
const (
	FwdMasq      Forward = 0 // NAT
	FwdLocalNode Forward = 1 // the kernel's choice when the destination is a local address
	FwdTunnel    Forward = 2 // TUN
	FwdRoute     Forward = 3 // DR
	fwdMask      Forward = 0x7
)

func (f Forward) String() string { return FwdName(f) }

// ParseForward maps keepalived's lb_kind (lvs_method) to the method:
// exactly NAT, DR or TUN, as keepalived's svr_forwarding_handler reads
// it. Anything else is an error, never NAT: the config layer has already
// reported an unknown value and applied keepalived's default, so one that
// reaches here was never checked.
func ParseForward(lbKind string) (Forward, error) {
	switch lbKind {
	case "NAT":
		return FwdMasq, nil
	case "DR":
		return FwdRoute, nil
	case "TUN":
		return FwdTunnel, nil
	}
	return 0, fmt.Errorf("unknown lb_kind %q: expected NAT, DR or TUN", lbKind)
}

// ServiceKey identifies a virtual service, as the kernel does.
type ServiceKey struct {
	FWMark   uint32     `json:"fwmark,omitempty"`
	Family   int        `json:"family"` // 4 or 6
	Protocol Protocol   `json:"protocol,omitempty"`
	Addr     netip.Addr `json:"addr,omitzero"`
	Port     uint16     `json:"port,omitempty"`
}

// String is ipvsadm's way of naming a service.
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		if k.Family == 6 {
			return fmt.Sprintf("FWM %d IPv6", k.FWMark)
		}
		return fmt.Sprintf("FWM %d", k.FWMark)
	}
	return fmt.Sprintf("%s %s", ProtoName(k.Protocol), hostPort(k.Addr, k.Port))
}

// Service is a virtual service's settings.
type Service struct {
	Key     ServiceKey `json:"key"`
	Sched   string     `json:"scheduler"`
	Flags   uint32     `json:"flags"`   // without FlagHashed
	Timeout uint32     `json:"timeout"` // persistence, seconds
	Netmask uint32     `json:"netmask"` // persistence granularity, as the kernel holds it
	PEName  string     `json:"pe_name,omitempty"`
}

// DestKey identifies a destination within a service.
type DestKey struct {
	Addr netip.Addr `json:"addr"`
	Port uint16     `json:"port"`
}

func (k DestKey) String() string { return hostPort(k.Addr, k.Port) }

// Dest is a destination (real server).
type Dest struct {
	Key        DestKey `json:"key"`
	Weight     int     `json:"weight"`
	Fwd        Forward `json:"forward"`
	UThreshold uint32  `json:"uthreshold,omitempty"`
	LThreshold uint32  `json:"lthreshold,omitempty"`
	// Read from the kernel only.
	ActiveConns   int `json:"active_conns"`
	InactiveConns int `json:"inactive_conns"`
}

// Entry is a service and its destinations.
type Entry struct {
	Service Service           `json:"service"`
	Dests   map[DestKey]*Dest `json:"-"`
}

// Table is a whole IPVS table keyed by service.
type Table map[ServiceKey]*Entry

// Keys returns the service keys in ipvsadm's listing order.
func (t Table) Keys() []ServiceKey {
	keys := make([]ServiceKey, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return compareServices(keys[i], keys[j]) < 0 })
	return keys
}

// SortedDests returns an entry's destinations in ipvsadm's order.
func (e *Entry) SortedDests() []*Dest {
	out := make([]*Dest, 0, len(e.Dests))
	for _, d := range e.Dests {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return compareDests(out[i].Key, out[j].Key) < 0 })
	return out
}

// compareServices is libipvs's ipvs_cmp_services, including its C
// arithmetic: differences of unsigned values are taken as a signed int,
// which is why ipvsadm lists 10.x after 200.x.
func compareServices(a, b ServiceKey) int {
	if r := int32(a.FWMark - b.FWMark); r != 0 {
		return int(r)
	}
	if r := afNum(a.Family) - afNum(b.Family); r != 0 {
		return r
	}
	if r := int(a.Protocol) - int(b.Protocol); r != 0 {
		return r
	}
	if r := compareAddr(a.Addr, b.Addr); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

func compareDests(a, b DestKey) int {
	if r := compareAddr(a.Addr, b.Addr); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

func compareAddr(a, b netip.Addr) int {
	if !a.IsValid() || !b.IsValid() {
		return 0
	}
	if a.Is4() && b.Is4() {
		x, y := a.As4(), b.As4()
		return int(int32(be32(x[:]) - be32(y[:])))
	}
	x, y := a.As16(), b.As16()
	for i := 0; i < 16; i += 4 {
		if r := int32(be32(x[i:i+4]) - be32(y[i:i+4])); r != 0 {
			return int(r)
		}
	}
	return 0
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// afNum maps a family to its AF_ number (AF_INET 2, AF_INET6 10).
func afNum(f int) int {
	if f == 6 {
		return 10
	}
	return 2
}

// ProtoName is ipvsadm's protocol column.
func ProtoName(p Protocol) string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	}
	return fmt.Sprintf("proto-%d", uint16(p))
}

// FwdName is ipvsadm's Forward column.
func FwdName(f Forward) string {
	switch f & fwdMask {
	case FwdMasq:
		return "Masq"
	case FwdLocalNode:
		return "Local"
	case FwdTunnel:
		return "Tunnel"
	case FwdRoute:
		return "Route"
	}
	return "Bypass"
}

func hostPort(a netip.Addr, port uint16) string {
	if a.Is6() {
		return fmt.Sprintf("[%s]:%d", a, port)
	}
	return fmt.Sprintf("%s:%d", a, port)
}

// ParseProtocol maps keepalived's protocol keyword.
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToUpper(s) {
	case "TCP":
		return ProtoTCP, nil
	case "UDP":
		return ProtoUDP, nil
	case "SCTP":
		return ProtoSCTP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q", s)
}
