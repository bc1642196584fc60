package config

import (
	"net/netip"
	"strings"
	"time"

	"github.com/kahook/kahook/vip"
)

// DefaultMaster and DefaultBackup are what a transition does when the
// instance block does not say: a plain LVS director.
var (
	DefaultMaster = Actions{VIP: true, Sysctl: RoleDirector, IPVS: IPVSLoad}
	DefaultBackup = Actions{VIP: false, Sysctl: RoleNone, IPVS: IPVSRemove}
)

func (b *builder) instance(n *Node) {
	in := &Instance{
		Pos:    n.Pos,
		Name:   n.Args[0],
		Master: DefaultMaster,
		Backup: DefaultBackup,
		GARP: GARP{
			Repeat:        DefaultGARPRepeat,
			Delay:         DefaultGARPDelay,
			RefreshRepeat: 1,
			Interval:      DefaultGARPInterval,
		},
	}
	if prev := b.cfg.Instance(in.Name); prev != nil {
		b.errorf(n.Pos, "instance %s: already defined at %s", in.Name, prev.Pos)
		return
	}
	for _, c := range n.Children {
		switch c.Key {
		case "interface":
			if s, ok := b.ifName(c); ok {
				in.Interface = s
			}
		case "virtual_ipaddress":
			in.VIPs = append(in.VIPs, b.vipBlock(c)...)
		case "fwmark":
			for i := range c.Args {
				if v, ok := b.uintArg(c, i, 1, MaxFWMark, "fwmark"); ok {
					in.FWMarks = append(in.FWMarks, uint32(v))
				}
			}
		case "master":
			if b.needBlock(c) {
				b.actions(c, &in.Master)
			}
		case "backup":
			if b.needBlock(c) {
				b.actions(c, &in.Backup)
				in.backupIPVSSet = c.First("ipvs") != nil
			}
		case "garp_master_repeat":
			if v, ok := b.intArg(c, 1, 255, "repeat count"); ok {
				in.GARP.Repeat = v
			}
		case "garp_master_refresh_repeat":
			if v, ok := b.intArg(c, 1, 255, "repeat count"); ok {
				in.GARP.RefreshRepeat = v
			}
		case "garp_master_delay":
			if d, ok := b.timer(c, 0, time.Hour); ok {
				in.GARP.Delay = d
			}
		case "garp_master_refresh":
			if d, ok := b.timer(c, 0, 24*time.Hour); ok {
				in.GARP.Refresh = d
			}
		case "garp_interval":
			if d, ok := b.timer(c, 0, 10*time.Second); ok {
				in.GARP.Interval = d
			}
		default:
			b.unknownKeyword(c, n, instanceKeywords)
		}
	}
	if in.Interface == "" {
		b.errorf(n.Pos, "instance %s: missing 'interface IFACE' (the interface gratuitous ARP is sent on)", in.Name)
	}
	// IPv6 has no arp_ignore=0: a node answers neighbour solicitations
	// only for addresses on the interface they arrive on, so an active
	// director's IPv6 VIPs default to the announce interface.
	for i := range in.VIPs {
		if in.VIPs[i].devDefault && in.VIPs[i].Prefix.Addr().Is6() && in.Interface != "" {
			in.VIPs[i].Dev = in.Interface
		}
	}
	if in.Master.VIP && len(in.VIPs) == 0 && !hasVIPLines(n) {
		// (VIP lines that were all refused each said why already)
		b.errorf(n.Pos, "instance %s: no virtual_ipaddress", in.Name)
	}
	onLo := false
	for _, v := range in.VIPs {
		onLo = onLo || v.Dev == "lo"
	}
	if onLo && in.Backup.VIP && in.Backup.Sysctl != RoleRealServer {
		b.errorf(n.Pos, "instance %s: backup keeps the VIPs on lo with sysctl %s: the backup would answer ARP for them; use 'backup { vip on sysctl realserver }' on its own lines", in.Name, in.Backup.Sysctl)
	}
	if onLo && in.Master.VIP && in.Master.Sysctl == RoleRealServer {
		b.errorf(n.Pos, "instance %s: master binds the VIPs on lo with sysctl realserver: nobody would answer ARP for them; use 'sysctl director'", in.Name)
	}
	b.cfg.Instances = append(b.cfg.Instances, in)
}

func (b *builder) realServerNode(n *Node) {
	if b.cfg.RealServer != nil {
		b.errorf(n.Pos, "realserver: already defined at %s", b.cfg.RealServer.Pos)
		return
	}
	rs := &RealServerNode{Pos: n.Pos}
	for _, c := range n.Children {
		switch c.Key {
		case "interface":
			if s, ok := b.ifName(c); ok {
				rs.Interface = s
			}
		case "virtual_ipaddress":
			rs.VIPs = append(rs.VIPs, b.vipBlock(c)...)
		default:
			b.unknownKeyword(c, n, realServerKeywords)
		}
	}
	b.cfg.RealServer = rs
}

// vipBlock reads a virtual_ipaddress { } block.
func (b *builder) vipBlock(n *Node) []VIP {
	if !b.needBlock(n) {
		return nil
	}
	var out []VIP
	for _, l := range n.Children {
		if v, ok := b.vip(l); ok {
			out = append(out, v)
		}
	}
	return out
}

// vip reads a keepalived virtual_ipaddress line:
// ADDR[/LEN] [dev IF] [label LABEL] [brd ...] [scope ...] ...
// kahook binds VIPs on lo by default, where only a host prefix is right:
// a wider prefix on lo makes the whole subnet local.
func (b *builder) vip(n *Node) (VIP, bool) {
	v := VIP{Pos: n.Pos, Dev: "lo", devDefault: true}
	p, err := netip.ParsePrefix(n.Key)
	if err != nil {
		a, aerr := netip.ParseAddr(n.Key)
		if aerr != nil || a.Zone() != "" {
			b.errorf(n.Pos, "virtual_ipaddress: %q is not an IP address or ADDR/LEN", n.Key)
			return v, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		// keepalived reads it as IPv6 ("address family must match VRRP
		// instance ... - ignoring" in an IPv4 instance); binding the IPv4
		// address instead would bind what was not written.
		b.errorf(n.Pos, "virtual_ipaddress: %q is an IPv4-mapped IPv6 address: write %s", n.Key, p.Addr().Unmap())
		return v, false
	}
	v.Prefix = p
	for i := 0; i < len(n.Args); i++ {
		key := n.Args[i]
		if i+1 >= len(n.Args) {
			b.errorf(n.Pos, "virtual_ipaddress: %q needs a value", key)
			return v, false
		}
		val := n.Args[i+1]
		i++
		switch key {
		case "dev":
			if err := ValidIfName(val); err != nil {
				b.errorf(n.Pos, "virtual_ipaddress %s: dev: %v", p, err)
				return v, false
			}
			v.Dev, v.devDefault = val, false
		case "label":
			v.Label = val
		case "brd", "broadcast", "scope", "preferred_lft", "track_group", "use_vmac", "no_track":
			// keepalived address options kahook does not need
		default:
			b.errorf(n.Pos, "virtual_ipaddress: unknown option %q", key)
			return v, false
		}
	}
	if err := (vip.Addr{Prefix: p, Dev: v.Dev}).Check(); err != nil {
		b.errorf(n.Pos, "virtual_ipaddress %v", err) // the /32-on-lo rule, owned by vip
		return v, false
	}
	if v.Label != "" && !strings.HasPrefix(v.Label, v.Dev) {
		b.errorf(n.Pos, "virtual_ipaddress %s: label %q must start with the interface name %q", p, v.Label, v.Dev)
		return v, false
	}
	if len(v.Label) > 15 {
		b.errorf(n.Pos, "virtual_ipaddress %s: label %q is longer than 15 characters", p, v.Label)
		return v, false
	}
	return v, true
}

func (b *builder) actions(n *Node, a *Actions) {
	for _, c := range n.Children {
		switch c.Key {
		case "vip":
			if s, ok := b.oneOf(c, false, "on", "off"); ok {
				a.VIP = s == "on"
			}
		case "sysctl":
			if s, ok := b.oneOf(c, false, string(RoleDirector), string(RoleRealServer), string(RoleNone)); ok {
				a.Sysctl = Role(s)
			}
		case "ipvs":
			if s, ok := b.oneOf(c, false, string(IPVSLoad), string(IPVSRemove), string(IPVSNone)); ok {
				a.IPVS = IPVSAction(s)
			}
		default:
			hint := ""
			if s := suggest(c.Key, actionKeywords); s != "" {
				hint = " (did you mean '" + s + "'?)"
			}
			b.errorf(c.Pos, "%s: unknown keyword %q%s, expected vip, sysctl or ipvs", n.Key, c.Key, hint)
		}
	}
}

// assignOwners gives each virtual server the instance whose VIPs hold its
// address (fwmark services: the instance that lists the mark, or the only
// instance). A service no instance owns is loaded by `ipvs apply` but by
// no transition; `config check` and `doctor` say so.
func (b *builder) assignOwners() {
	insts := b.cfg.Instances
	if len(insts) == 0 {
		return
	}
	for _, vs := range b.cfg.VirtualServers {
		var owners []string
		for _, in := range insts {
			if instanceOwns(in, vs, b.cfg.Groups) {
				owners = append(owners, in.Name)
			}
		}
		if len(owners) == 0 && vs.Addr == (netip.AddrPort{}) && vs.Group == "" && len(insts) == 1 {
			owners = []string{insts[0].Name}
		}
		switch len(owners) {
		case 0:
		case 1:
			vs.Instance = owners[0]
		default:
			b.errorf(vs.Pos, "virtual_server %s: owned by several instances (%s); a service belongs to one instance", vs.Name(), strings.Join(owners, ", "))
		}
	}
}

func instanceOwns(in *Instance, vs *VirtualServer, groups map[string]*VirtualServerGroup) bool {
	hasVIP := func(a netip.Addr) bool {
		for _, v := range in.VIPs {
			if v.Prefix.Addr() == a {
				return true
			}
		}
		return false
	}
	hasMark := func(m uint32) bool {
		for _, f := range in.FWMarks {
			if f == m {
				return true
			}
		}
		return false
	}
	switch {
	case vs.Group != "":
		g := groups[vs.Group]
		if g == nil {
			return false
		}
		for _, e := range g.Entries {
			if e.FWMark != 0 && hasMark(e.FWMark) {
				return true
			}
			if e.FWMark == 0 {
				for _, v := range in.VIPs {
					a := v.Prefix.Addr()
					if a.BitLen() == e.First.BitLen() && a.Compare(e.First) >= 0 && a.Compare(e.Last) <= 0 {
						return true
					}
				}
			}
		}
		return false
	case vs.FWMark != 0:
		return hasMark(vs.FWMark)
	default:
		return hasVIP(vs.Addr.Addr())
	}
}

// ifName is the one argument of an `interface` line, a valid Linux
// interface name (ValidIfName).
func (b *builder) ifName(n *Node) (string, bool) {
	s, ok := b.one(n, "an interface name")
	if !ok {
		return "", false
	}
	if err := ValidIfName(s); err != nil {
		b.errorf(n.Pos, "interface: %v", err)
		return "", false
	}
	return s, true
}

// hasVIPLines: instance block n writes at least one virtual_ipaddress
// entry (refused or not).
func hasVIPLines(n *Node) bool {
	for _, c := range n.Find("virtual_ipaddress") {
		if len(c.Children) > 0 || len(c.Args) > 0 {
			return true
		}
	}
	return false
}
