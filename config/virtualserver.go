package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// LBAlgos are the schedulers keepalived accepts (check_parser.c).
var LBAlgos = []string{"rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos"}

// schedFlags maps keepalived's scheduler flag keywords to the scheduler
// they need ("" = any).
var schedFlags = map[string]string{
	"ops": "", "hashed": "", "flag-1": "", "flag-2": "", "flag-3": "",
	"sh-port": "sh", "sh-fallback": "sh", "mh-port": "mh", "mh-fallback": "mh",
}

// unset marks inheritable numeric settings that were not written.
const unset = -1

func (b *builder) virtualServer(n *Node) {
	vs := &VirtualServer{
		Pos:              n.Pos,
		LBAlgo:           DefaultLBAlgo,
		DelayLoop:        DefaultDelayLoop,
		ConnectTimeout:   DefaultConnectTimeout,
		Retry:            unset,
		DelayBeforeRetry: unset,
		Quorum:           1,
		Weight:           1,
	}
	switch n.Arg(0) {
	case "":
		b.errorf(n.Pos, "virtual_server: expected 'IP PORT', 'fwmark N' or 'group NAME'")
		return
	case "fwmark":
		v, ok := b.uintArg(n, 1, 1, MaxFWMark, "fwmark")
		if !ok {
			return
		}
		vs.FWMark = uint32(v)
	case "group":
		name, ok := b.arg(n, 1, "a virtual_server_group name")
		if !ok {
			return
		}
		vs.Group = name
	default:
		a, ok := b.addrArg(n, 0, "virtual server address")
		if !ok {
			return
		}
		p, ok := b.portArg(n, 1)
		if !ok {
			return
		}
		vs.Addr = netip.AddrPortFrom(a, p)
		vs.Family = family(a)
	}
	lbKindSet := false
	var flagNodes []*Node
	var sorryKind string
	sorryInhibit := false
	for _, c := range n.Children {
		switch c.Key {
		case "delay_loop":
			if d, ok := b.timer(c, time.Microsecond, 0); ok {
				vs.DelayLoop = d
			}
		case "lb_algo", "lvs_sched":
			if s, ok := b.oneOf(c, false, LBAlgos...); ok {
				vs.LBAlgo = s
			}
		case "lb_kind", "lvs_method":
			if s, ok := b.oneOf(c, true, "NAT", "DR", "TUN"); ok {
				vs.LBKind = s
				lbKindSet = true
			}
		case "ops", "hashed", "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback":
			flagNodes = append(flagNodes, c)
		case "persistence_timeout":
			if len(c.Args) == 0 {
				vs.PersistenceTimeout = DefaultPersistence
			} else if d, ok := b.intArg(c, 1, int(MaxPersistenceTimeout/time.Second), "persistence timeout in seconds"); ok {
				vs.PersistenceTimeout = time.Duration(d) * time.Second
			}
		case "persistence_granularity":
			if s, ok := b.granularity(c, vs); ok {
				vs.PersistenceGranularity = s
			}
		case "persistence_engine":
			if s, ok := b.one(c, "an engine name"); ok {
				vs.PersistenceEngine = s
			}
		case "protocol":
			if s, ok := b.oneOf(c, true, "TCP", "UDP", "SCTP"); ok {
				vs.Protocol = s
			}
		case "ip_family":
			if s, ok := b.oneOf(c, false, "inet", "inet6"); ok {
				f := 4
				if s == "inet6" {
					f = 6
				}
				if vs.Family != 0 && vs.Family != f {
					b.errorf(c.Pos, "ip_family %s conflicts with the virtual server address", s)
				}
				vs.Family = f
			}
		case "quorum":
			if v, ok := b.intArg(c, 1, 1<<31-1, "quorum"); ok {
				vs.Quorum = v
			}
		case "hysteresis":
			if v, ok := b.intArg(c, 0, 1<<31-1, "hysteresis"); ok {
				vs.Hysteresis = v
			}
		case "inhibit_on_failure":
			vs.InhibitOnFailure = b.flag(c)
		case "alpha":
			vs.Alpha = b.flag(c)
		case "omega":
			vs.Omega = b.flag(c)
		case "ha_suspend":
			vs.HASuspend = b.flag(c)
		case "virtualhost":
			if s, ok := b.one(c, "a host name"); ok {
				vs.Virtualhost = s
			}
		case "connect_timeout":
			if d, ok := b.timer(c, time.Microsecond, 0); ok {
				vs.ConnectTimeout = d
			}
		case "retry":
			if v, ok := b.intArg(c, 1, 1<<31-1, "retry count"); ok {
				vs.Retry = v
			}
		case "delay_before_retry":
			if d, ok := b.timer(c, 0, 0); ok {
				vs.DelayBeforeRetry = d
			}
		case "warmup":
			if d, ok := b.timer(c, 0, 0); ok {
				vs.Warmup = d
			}
		case "weight":
			if v, ok := b.intArg(c, 1, MaxWeight, "weight"); ok {
				vs.Weight = v
			}
		case "real_server":
			if rs, ok := b.realServer(c, vs); ok {
				vs.RealServers = append(vs.RealServers, rs)
			}
		case "sorry_server":
			if rs, ok := b.serverAddr(c); ok {
				rs.Sorry = true
				vs.SorryServer = rs
			}
		case "sorry_server_inhibit":
			sorryInhibit = b.flag(c)
		case "sorry_server_lvs_method":
			if s, ok := b.oneOf(c, true, "NAT", "DR", "TUN"); ok {
				sorryKind = s
			}
		default:
			b.skip(c, "virtual_server "+vs.Name())
		}
	}
	if !lbKindSet {
		vs.LBKind = DefaultLBKind
	}
	for _, f := range flagNodes {
		if need := schedFlags[f.Key]; need != "" && need != vs.LBAlgo {
			b.errorf(f.Pos, "%s only applies to lb_algo %s (this virtual server uses %s)", f.Key, need, vs.LBAlgo)
			continue
		}
		vs.SchedFlags = append(vs.SchedFlags, f.Key)
	}
	if vs.PersistenceGranularity != "" && vs.PersistenceTimeout == 0 {
		vs.PersistenceTimeout = DefaultPersistence // keepalived's pgr_handler does this
	}
	b.resolveRealServers(vs, sorryKind, sorryInhibit)
	id := serviceOf(vs)
	if other, dup := b.services[id]; dup {
		b.errorf(n.Pos, "virtual_server %s: already defined at %s", vs.Name(), other.Pos)
		return
	}
	if b.services == nil {
		b.services = map[serviceID]*VirtualServer{}
	}
	b.services[id] = vs
	b.cfg.VirtualServers = append(b.cfg.VirtualServers, vs)
}

// serviceID identifies a virtual_server block: two blocks with the same
// one define the same service (a fwmark's has no protocol).
type serviceID struct {
	addr     netip.AddrPort
	fwmark   uint32
	group    string
	protocol string
}

func serviceOf(vs *VirtualServer) serviceID {
	id := serviceID{addr: vs.Addr, fwmark: vs.FWMark, group: vs.Group, protocol: vs.Protocol}
	if vs.FWMark != 0 {
		id.protocol = ""
	}
	return id
}

// granularity reads persistence_granularity: a netmask for IPv4, a
// prefix length 1-128 for IPv6 (keepalived's pgr_handler).
func (b *builder) granularity(n *Node, vs *VirtualServer) (string, bool) {
	s, ok := b.one(n, "a netmask or IPv6 prefix length")
	if !ok {
		return "", false
	}
	if strings.Contains(s, ".") {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			b.errorf(n.Pos, "persistence_granularity: %q is not an IPv4 netmask", s)
			return "", false
		}
		return s, true
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 128 {
		b.errorf(n.Pos, "persistence_granularity: %q is not an IPv6 prefix length (1-128)", s)
		return "", false
	}
	if vs.Family == 0 {
		vs.Family = 6
	}
	return s, true
}

func (b *builder) serverAddr(n *Node) (*RealServer, bool) {
	a, ok := b.addrArg(n, 0, "real server address")
	if !ok {
		return nil, false
	}
	p, ok := b.portArg(n, 1)
	if !ok {
		return nil, false
	}
	return &RealServer{Pos: n.Pos, Addr: a, Port: p, Weight: unset, LThreshold: 0}, true
}

// rsInherit holds per-real-server settings that default to the virtual
// server's.
type rsInherit struct {
	inhibit, alpha    *bool
	retry             int
	delayBeforeRetry  time.Duration
	connectTimeout    time.Duration
	delayLoop, warmup time.Duration
}

func (b *builder) realServer(n *Node, vs *VirtualServer) (*RealServer, bool) {
	rs, ok := b.serverAddr(n)
	if !ok {
		return nil, false
	}
	inh := rsInherit{retry: unset, delayBeforeRetry: unset, connectTimeout: unset, delayLoop: unset, warmup: unset}
	var checkNodes []*Node
	for _, c := range n.Children {
		switch c.Key {
		case "weight":
			if v, ok := b.intArg(c, 0, MaxWeight, "weight"); ok {
				rs.Weight = v
			}
		case "lvs_method", "lb_kind":
			if s, ok := b.oneOf(c, true, "NAT", "DR", "TUN"); ok {
				rs.LBKind = s
			}
		case "uthreshold":
			if v, ok := b.uintArg(c, 0, 0, 1<<32-1, "threshold"); ok {
				rs.UThreshold = uint32(v)
			}
		case "lthreshold":
			if v, ok := b.uintArg(c, 0, 0, 1<<32-1, "threshold"); ok {
				rs.LThreshold = uint32(v)
			}
		case "inhibit_on_failure":
			v := b.flag(c)
			inh.inhibit = &v
		case "alpha":
			v := b.flag(c)
			inh.alpha = &v
		case "retry":
			if v, ok := b.intArg(c, 1, 1<<31-1, "retry count"); ok {
				inh.retry = v
			}
		case "delay_before_retry":
			if d, ok := b.timer(c, 0, 0); ok {
				inh.delayBeforeRetry = d
			}
		case "connect_timeout":
			if d, ok := b.timer(c, time.Microsecond, 0); ok {
				inh.connectTimeout = d
			}
		case "delay_loop":
			if d, ok := b.timer(c, time.Microsecond, 0); ok {
				inh.delayLoop = d
			}
		case "warmup":
			if d, ok := b.timer(c, 0, 0); ok {
				inh.warmup = d
			}
		case "virtualhost":
			if s, ok := b.one(c, "a host name"); ok {
				rs.Virtualhost = s
			}
		case "HTTP_GET", "SSL_GET", "TCP_CHECK", "SMTP_CHECK", "MISC_CHECK", "PING_CHECK", "UDP_CHECK", "DNS_CHECK", "FILE_CHECK":
			if b.needBlock(c) {
				checkNodes = append(checkNodes, c)
			}
		case "BFD_CHECK":
			rs.OtherChecks = append(rs.OtherChecks, c.Key)
			b.skip(c, "real_server "+rs.Endpoint())
		default:
			// notify_up/down, smtp_alert...: keepalived's, not kahook's.
			b.skip(c, "real_server "+rs.Endpoint())
		}
	}
	// Inherit from the virtual server exactly as keepalived's
	// check_data.c does once the whole block is read.
	if rs.Weight == unset {
		rs.Weight = vs.Weight
	}
	rs.InhibitOnFailure = vs.InhibitOnFailure
	if inh.inhibit != nil {
		rs.InhibitOnFailure = *inh.inhibit
	}
	rs.Alpha = vs.Alpha
	if inh.alpha != nil {
		rs.Alpha = *inh.alpha
	}
	if rs.Virtualhost == "" {
		rs.Virtualhost = vs.Virtualhost
	}
	for _, c := range checkNodes {
		if ck, ok := b.check(c, vs, rs, inh); ok {
			rs.Checks = append(rs.Checks, ck)
		}
	}
	return rs, true
}

// resolveRealServers applies the virtual server's lb_kind and checks
// address families and duplicates.
func (b *builder) resolveRealServers(vs *VirtualServer, sorryKind string, sorryInhibit bool) {
	seen := make(map[netip.AddrPort]Pos, len(vs.RealServers))
	for _, rs := range vs.RealServers {
		if rs.LBKind == "" {
			rs.LBKind = vs.LBKind
		}
		b.checkFamily(vs, rs)
		key := netip.AddrPortFrom(rs.Addr, rs.Port)
		if p, dup := seen[key]; dup {
			b.errorf(rs.Pos, "real_server %s: duplicate of the one at %s", key, p)
		}
		seen[key] = rs.Pos
	}
	if ss := vs.SorryServer; ss != nil {
		ss.LBKind = vs.LBKind
		if sorryKind != "" {
			ss.LBKind = sorryKind
		}
		ss.Weight = 1
		ss.InhibitOnFailure = sorryInhibit
		b.checkFamily(vs, ss)
	}
	if vs.Family == 0 && vs.Group == "" {
		// fwmark service without ip_family: the family of its servers,
		// IPv4 when they do not say (keepalived's vs_end_handler).
		vs.Family = 4
		for _, rs := range vs.RealServers {
			if rs.LBKind != "TUN" {
				vs.Family = family(rs.Addr)
				break
			}
		}
	}
}

func (b *builder) checkFamily(vs *VirtualServer, rs *RealServer) {
	if rs.LBKind == "TUN" {
		return // tunnelled servers may be of the other family
	}
	f := family(rs.Addr)
	switch {
	case vs.Family == 0:
		vs.Family = f
	case vs.Family != f:
		b.errorf(rs.Pos, "%s %s: address family differs from virtual_server %s", serverWord(rs), rs.Addr, vs.Name())
	}
}

func serverWord(rs *RealServer) string {
	if rs.Sorry {
		return "sorry_server"
	}
	return "real_server"
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

func (b *builder) group(n *Node) {
	g := &VirtualServerGroup{Pos: n.Pos, Name: n.Args[0]}
	if prev, dup := b.cfg.Groups[g.Name]; dup {
		b.errorf(n.Pos, "virtual_server_group %s: already defined at %s", g.Name, prev.Pos)
		return
	}
	for _, c := range n.Children {
		if e, ok := b.groupEntry(c); ok {
			g.Entries = append(g.Entries, e)
		}
	}
	if len(g.Entries) == 0 {
		b.errorf(n.Pos, "virtual_server_group %s: no entries", g.Name)
		return
	}
	b.cfg.Groups[g.Name] = g
}

// groupEntry reads "IP[-LAST] PORT", "IP/LEN PORT" is not keepalived's;
// "fwmark N [inet|inet6]".
func (b *builder) groupEntry(n *Node) (GroupEntry, bool) {
	e := GroupEntry{Pos: n.Pos}
	if n.Key == "fwmark" {
		v, ok := b.uintArg(n, 0, 1, MaxFWMark, "fwmark")
		if !ok {
			return e, false
		}
		e.FWMark = uint32(v)
		switch n.Arg(1) {
		case "":
		case "inet":
			e.Family = 4
		case "inet6":
			e.Family = 6
		default:
			b.errorf(n.Pos, "fwmark %d: unknown family %q (inet or inet6)", v, n.Arg(1))
			return e, false
		}
		return e, true
	}
	first, last, err := parseRange(n.Key)
	if err != nil {
		b.errorf(n.Pos, "virtual_server_group entry: %v", err)
		return e, false
	}
	e.First, e.Last = first, last
	p, ok := b.portArg(&Node{Pos: n.Pos, Key: "virtual_server_group entry", Args: n.Args}, 0)
	if !ok {
		return e, false
	}
	e.Port = p
	return e, true
}

// parseRange reads keepalived's "10.0.0.1-10" (last byte, or last 16-bit
// group for IPv6, ranges up to the number after '-').
func parseRange(s string) (first, last netip.Addr, err error) {
	base, end, isRange := strings.Cut(s, "-")
	first, err = netip.ParseAddr(base)
	if err != nil {
		return first, last, fmt.Errorf("%q is not an IP address or range", s)
	}
	first = first.Unmap()
	if !isRange {
		return first, first, nil
	}
	b := first.As16()
	if first.Is4() {
		v, perr := strconv.ParseUint(end, 10, 8)
		if perr != nil || byte(v) < b[15] {
			return first, last, fmt.Errorf("range %q: end must be a number %d-255", s, b[15])
		}
		b4 := first.As4()
		b4[3] = byte(v)
		return first, netip.AddrFrom4(b4), nil
	}
	v, perr := strconv.ParseUint(end, 16, 16)
	cur := uint64(b[14])<<8 | uint64(b[15])
	if perr != nil || v < cur {
		return first, last, fmt.Errorf("range %q: end must be a hex group at least %x", s, cur)
	}
	b[14], b[15] = byte(v>>8), byte(v)
	return first, netip.AddrFrom16(b), nil
}

// resolveGroups checks that every `virtual_server group NAME` names a
// group, and takes the family from the group's addresses.
func (b *builder) resolveGroups() {
	for _, vs := range b.cfg.VirtualServers {
		if vs.Group == "" {
			continue
		}
		g, ok := b.cfg.Groups[vs.Group]
		if !ok {
			b.errorf(vs.Pos, "virtual_server group %s: no virtual_server_group %s is defined", vs.Group, vs.Group)
			continue
		}
		for _, e := range g.Entries {
			if e.FWMark == 0 && vs.Family == 0 {
				vs.Family = family(e.First)
			}
		}
	}
}
