// Package vip owns the virtual IP addresses kahook binds: /32 and /128
// addresses on lo (or another interface), with an optional label. It only
// ever adds or removes the addresses it is given: other addresses on the
// interface are never touched.
package vip

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Addr is a VIP on an interface.
type Addr struct {
	Prefix netip.Prefix `json:"prefix"`
	Dev    string       `json:"dev"`
	Label  string       `json:"label,omitempty"`
}

func (a Addr) String() string {
	s := a.Prefix.String() + " dev " + a.Dev
	if a.Label != "" {
		s += " label " + a.Label
	}
	return s
}

// Check enforces the one rule on the shape of a VIP: on lo it must be a
// host address (/32, /128), since every address of a prefix on lo is
// local (a 10.0.0.1/24 on lo makes the node accept, and answer, all of
// 10.0.0.0/24). The error names the prefix wanted.
func (a Addr) Check() error {
	if a.Dev == "lo" && a.Prefix.Bits() != a.Prefix.Addr().BitLen() {
		return fmt.Errorf("%s: a VIP on lo must be /%d (a wider prefix on lo makes the whole subnet local)", a.Prefix, a.Prefix.Addr().BitLen())
	}
	return nil
}

// Op is what a change does.
type Op string

const (
	Add Op = "add"
	Del Op = "del"
)

// Change is one address to add or remove, and why.
type Change struct {
	Op     Op     `json:"op"`
	Addr   Addr   `json:"addr"`
	Reason string `json:"reason"`
}

// String is the change as every kahook plan prints it:
// "vip add 10.0.0.10/32 dev lo".
func (c Change) String() string { return fmt.Sprintf("vip %s %s", c.Op, c.Addr) }

// Plan compares the VIPs wanted with the addresses present on their
// interfaces. want=true makes every addr present, false absent. An
// address already in the wanted state plans nothing: a second run is a
// no-op (a present VIP with another label is left alone, not churned).
func Plan(addrs []Addr, present map[string][]netip.Prefix, want bool) []Change {
	var out []Change
	for _, a := range addrs {
		has := false
		for _, p := range present[a.Dev] {
			if p.Addr() != a.Prefix.Addr() {
				continue
			}
			has = true
			if !want {
				// Removed as the kernel holds it: the kernel deletes an
				// address only when the prefix length (and a label, if
				// one is given) match, and an earlier config may have
				// bound it as /24 or with a label; each entry goes.
				out = append(out, Change{Op: Del, Addr: Addr{Prefix: p, Dev: a.Dev}, Reason: "VIP present on " + a.Dev})
			}
		}
		if want && !has {
			out = append(out, Change{Op: Add, Addr: a, Reason: "VIP missing on " + a.Dev})
		}
	}
	return out
}

// Netlink is the part of *netlink.Handle kahook uses.
type Netlink interface {
	LinkByName(name string) (netlink.Link, error)
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
	AddrAdd(link netlink.Link, addr *netlink.Addr) error
	AddrDel(link netlink.Link, addr *netlink.Addr) error
}

// Manager applies VIP plans through netlink.
type Manager struct {
	NL  Netlink
	Log *slog.Logger
	// Mark sets kahook's marker (Proto) on the addresses it adds: the
	// VIPs of VRRP instances, which a release without config removes.
	// Addresses of `kahook vip` and `kahook realserver` are not marked.
	Mark bool
}

// NewManager opens a netlink handle in the current network namespace.
func NewManager(log *slog.Logger) (*Manager, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	return &Manager{NL: h, Log: log}, nil
}

// ErrNoInterface is returned for a device that does not exist.
var ErrNoInterface = errors.New("no such interface")

// Present lists the addresses on each device of addrs.
func (m *Manager) Present(addrs []Addr) (map[string][]netip.Prefix, error) {
	out := map[string][]netip.Prefix{}
	for _, a := range addrs {
		if _, done := out[a.Dev]; done {
			continue
		}
		list, err := m.List(a.Dev)
		if err != nil {
			return nil, err
		}
		out[a.Dev] = list
	}
	return out, nil
}

// List returns the addresses on dev.
func (m *Manager) List(dev string) ([]netip.Prefix, error) {
	link, err := m.link(dev)
	if err != nil {
		return nil, err
	}
	list, err := m.NL.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses on %s: %w", dev, err)
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, a := range list {
		if p, ok := toPrefix(a.IPNet); ok {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr().Less(out[j].Addr()) })
	return out, nil
}

func (m *Manager) link(dev string) (netlink.Link, error) {
	link, err := m.NL.LinkByName(dev)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("interface %s: %w", dev, ErrNoInterface)
		}
		return nil, fmt.Errorf("look up interface %s: %w", dev, err)
	}
	return link, nil
}

// Plan reads the interfaces of addrs and returns the changes that make
// addrs present (want) or absent, changing nothing. A removal goes by
// the kernel's entry; an entry whose prefix length differs from the one
// asked for is removed only when it carries kahook's marker (Proto: an
// earlier config bound it so); any other is the node's own address (an
// admin's 10.0.0.1/24 where the config says 10.0.0.1): it is logged at
// error level and left in place, as keepalived only ever removes what it
// added.
func (m *Manager) Plan(addrs []Addr, want bool) ([]Change, error) {
	present, err := m.Present(addrs)
	if err != nil {
		return nil, err
	}
	changes := Plan(addrs, present, want)
	if want {
		return changes, nil
	}
	var marked []Addr
	listed := false
	out := changes[:0]
	for _, c := range changes {
		asked := slices.IndexFunc(addrs, func(a Addr) bool {
			return a.Dev == c.Addr.Dev && a.Prefix.Addr() == c.Addr.Prefix.Addr() && a.Prefix.Bits() == c.Addr.Prefix.Bits()
		}) >= 0
		if !asked {
			if !listed {
				if marked, err = m.marked(); err != nil {
					return nil, err
				}
				listed = true
			}
			if !slices.ContainsFunc(marked, func(k Addr) bool { return k.Dev == c.Addr.Dev && k.Prefix == c.Addr.Prefix }) {
				m.Log.Error("not removing an address the VIP's address shares but kahook did not bind (another prefix length, no kahook marker): the node's own address?", "addr", c.Addr.Prefix.String(), "dev", c.Addr.Dev)
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// marked is Marked, except where the Netlink is not the kernel's (tests'
// fakes mark nothing).
func (m *Manager) marked() ([]Addr, error) {
	if _, real := m.NL.(*netlink.Handle); !real {
		return nil, nil
	}
	return Marked()
}

// Ensure makes addrs present (want) or absent, logging each change.
func (m *Manager) Ensure(addrs []Addr, want bool, dryRun bool) ([]Change, error) {
	changes, err := m.Plan(addrs, want)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return changes, nil
	}
	for i, c := range changes {
		if err := m.Apply(c); err != nil {
			return changes[:i], err
		}
	}
	return changes, nil
}

// Apply performs one change. Adding an address that appeared meanwhile
// (EEXIST) or removing one that is gone (EADDRNOTAVAIL) is success: the
// wanted state holds.
func (m *Manager) Apply(c Change) error {
	link, err := m.link(c.Addr.Dev)
	if err != nil {
		return err
	}
	p := c.Addr.Prefix
	nl := &netlink.Addr{
		IPNet: &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Label: c.Addr.Label,
	}
	if p.Addr().Is6() {
		// A VIP must be usable at once: no duplicate address detection.
		nl.Flags = unix.IFA_F_NODAD
	}
	switch c.Op {
	case Add:
		add := func() error { return m.NL.AddrAdd(link, nl) }
		if _, real := m.NL.(*netlink.Handle); real && m.Mark {
			// Marked in the kernel as kahook's (Proto).
			add = func() error { return addMarked(link.Attrs().Index, c.Addr) }
		}
		if err := add(); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add VIP %s: %w", c.Addr, err)
		}
		m.Log.Info("VIP added", "vip", p.String(), "dev", c.Addr.Dev, "label", c.Addr.Label)
	case Del:
		if err := m.NL.AddrDel(link, nl); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("remove VIP %s: %w", c.Addr, err)
		}
		m.Log.Info("VIP removed", "vip", p.String(), "dev", c.Addr.Dev)
	}
	return nil
}

func toPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones), true
}

// HostPrefix makes ip a /32 or /128.
func HostPrefix(ip netip.Addr) netip.Prefix {
	return netip.PrefixFrom(ip, ip.BitLen())
}
