package config

import (
	"errors"
	"fmt"
	"math"
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
	"ops": "", "flag-1": "", "flag-2": "", "flag-3": "",
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
		v, ok := b.uintArg(n, 1, 0, MaxFWMark, "fwmark")
		if !ok {
			return
		}
		if v == 0 {
			// keepalived's alloc_vs takes mark 0, which is no mark: with a
			// protocol and persistence it passes -t and loads the address
			// service 0.0.0.0:0 (ipvswrapper.c), which no packet reaches.
			b.errorf(n.Pos, "virtual_server fwmark %s: mark 0 marks no packets (keepalived loads the address service 0.0.0.0 port 0 for it): %v", n.Arg(1), errNumDeliberate)
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
		// keepalived's alloc_vs reports a bad address and skips the
		// block ("Invalid virtual server IP address/port - skipping").
		a, aok := inetAddr(n.Arg(0))
		p, perr := serverPort(n.Arg(1))
		if !aok || perr != nil {
			b.problemf(n.Pos, "virtual_server %s: not an IP address and port: keepalived skips the block, so does kahook", strings.Join(n.Args, " "))
			return
		}
		if a.Is4In6() {
			// Refused; the block is still read, so that what keepalived
			// reports in it (its IPv4 servers of the other family) is
			// reported too.
			b.errorf(n.Pos, "virtual_server %s: %v", a, mappedError(a))
		}
		b.warnAddrSuffix(n, n.Arg(0), a)
		vs.Addr = netip.AddrPortFrom(a, p)
		vs.Family = family(vs.Addr.Addr())
	}
	lbKindSet, lbAlgoSet := false, false
	var flagNodes []*Node
	var sorryKind string
	sorryInhibit := false
	nrs := 0
	for _, c := range n.Children {
		if c.Key == "real_server" {
			nrs++
		}
	}
	if nrs > 0 {
		vs.RealServers = make([]*RealServer, 0, nrs)
	}
	for _, c := range n.Children {
		switch c.Key {
		case "delay_loop":
			if d, ok := b.timer(c, time.Microsecond, 0); ok {
				vs.DelayLoop = d
			}
		case "lb_algo", "lvs_sched":
			if s, ok := b.oneOf(c, false, LBAlgos...); ok {
				vs.LBAlgo = s
				lbAlgoSet = true
			}
		case "lb_kind", "lvs_method":
			if s, ok := b.forwarding(c, "virtual"); ok {
				vs.LBKind = s
				lbKindSet = true
			}
		case "ops", "flag-1", "flag-2", "flag-3":
			flagNodes = append(flagNodes, c)
		case "hashed":
			// keepalived 2.2.7's lbflags_handler sets no flag for
			// hashed (the kernel marks every service hashed itself): under
			// sh or mh set so far it does nothing, under any other (or no)
			// scheduler yet it reports it.
			if lbAlgoSet && (vs.LBAlgo == "sh" || vs.LBAlgo == "mh") {
				b.warnf(c.Pos, "hashed does nothing (keepalived 2.2.7 sets no flag for it; the kernel marks every service hashed): remove it")
			} else {
				b.problemf(c.Pos, "hashed only applies to lb_algo sh (keepalived: \"hashed only applies to sh scheduler - ignoring\"), and sets no flag there either: ignored")
			}
		case "sh-port", "sh-fallback", "mh-port", "mh-fallback":
			// keepalived's lbflags_handler looks at the scheduler set so
			// far: sh-* only under sh and mh-* only under mh set a flag;
			// under sh or mh the other's flags are silently ignored;
			// under any other (or no) scheduler yet, it reports them.
			switch {
			case vs.LBAlgo == schedFlags[c.Key] && lbAlgoSet:
				flagNodes = append(flagNodes, c)
			case lbAlgoSet && (vs.LBAlgo == "sh" || vs.LBAlgo == "mh"):
				b.warnf(c.Pos, "%s does nothing under lb_algo %s: keepalived ignores it silently, so does kahook", c.Key, vs.LBAlgo)
			default:
				b.problemf(c.Pos, "%s only applies to lb_algo %s (keepalived reads the scheduler flags in order, and no lb_algo %s is set before this line): ignored", c.Key, schedFlags[c.Key], schedFlags[c.Key])
			}
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
					// keepalived's ip_family_handler reports it and keeps
					// the family set before it: by the address, a real
					// server before this line or a persistence_granularity.
					b.problemf(c.Pos, "ip_family %s conflicts with the family of what comes before it (the virtual server's address, a real server, persistence_granularity) (keepalived: \"Virtual server specified family %s conflicts with server family\"): ignored", s, s)
					break
				}
				vs.Family = f
			}
		case "quorum":
			if v, ok := b.intArg(c, 1, math.MaxUint32, "quorum"); ok {
				vs.Quorum = v
			}
		case "hysteresis":
			if v, ok := b.intArg(c, 0, math.MaxUint32, "hysteresis"); ok {
				vs.Hysteresis = v
			}
		case "inhibit_on_failure":
			vs.InhibitOnFailure = b.switchOn(c)
		case "alpha":
			vs.Alpha = b.switchOn(c)
		case "omega":
			vs.Omega = b.switchOn(c)
		case "ha_suspend":
			vs.HASuspend = b.switchOn(c)
		case "virtualhost":
			if s, ok := b.one(c, "a host name"); ok {
				vs.Virtualhost = s
			}
		case "connect_timeout":
			if d, ok := b.timer(c, time.Microsecond, MaxConnectTimeout); ok {
				vs.ConnectTimeout = d
			}
		case "retry":
			if v, ok := b.intArg(c, 1, math.MaxUint32, "retry count"); ok {
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
				// keepalived's alloc_rs gives the server the forwarding
				// method set so far; its rs_end_handler, at the server's
				// '}', fixes the service's family with the first server
				// that is not tunnelled and skips one of another family.
				// The family is thus set in file order by the address,
				// ip_family, persistence_granularity and real servers
				// (sorry servers at the block's end).
				if rs.LBKind == "" && lbKindSet {
					rs.LBKind = vs.LBKind
				}
				if b.checkFamily(vs, rs) {
					vs.RealServers = append(vs.RealServers, rs)
				}
			}
		case "sorry_server":
			if rs, ok := b.serverAddr(c); ok {
				rs.Sorry = true
				vs.SorryServer = rs
				// alloc_ssvr makes a new sorry server: the forwarding
				// method set so far ("" when none is yet), unless a
				// sorry_server_lvs_method follows, and not inhibited
				// (a sorry_server_inhibit before this line was the
				// replaced server's).
				sorryKind = ""
				if lbKindSet {
					sorryKind = vs.LBKind
				}
				sorryInhibit = false
			}
		case "sorry_server_inhibit":
			// keepalived's ssvri_handler: takes no value, and only
			// after a sorry_server line.
			if vs.SorryServer == nil {
				b.problemf(c.Pos, "sorry_server_inhibit before or without sorry_server: keepalived ignores it")
			} else {
				sorryInhibit = true
			}
		case "sorry_server_lvs_method":
			if vs.SorryServer == nil {
				b.problemf(c.Pos, "sorry_server_lvs_method before or without sorry_server: keepalived ignores it")
			} else if s, ok := b.forwarding(c, "sorry"); ok {
				sorryKind = s
			}
		case "quorum_up", "quorum_down":
			b.notifierWarning(c, "virtual_server "+vs.Name(), "its quorum", "kahook_pool_quorum_up")
			b.skip(c, "virtual_server "+vs.Name())
		case "smtp_alert":
			b.smtpAlert(c, "virtual_server")
			b.skip(c, "virtual_server "+vs.Name())
		default:
			b.skip(c, "virtual_server "+vs.Name())
		}
	}
	if !lbKindSet {
		vs.LBKind = DefaultLBKind
		needs := vs.SorryServer != nil && sorryKind == ""
		for _, c := range n.Children {
			if c.Key == "real_server" && c.First("lvs_method") == nil {
				needs = true
			}
		}
		if needs {
			b.problemf(n.Pos, "virtual_server %s: no lb_kind set: keepalived (\"no forwarding method set, setting default NAT\") and kahook use NAT", vs.Name())
		}
	}
	if !lbAlgoSet {
		b.problemf(n.Pos, "virtual_server %s: no lb_algo set: keepalived (\"no scheduler set, setting default 'wlc'\") and kahook use wlc", vs.Name())
	}
	for _, f := range flagNodes {
		if need := schedFlags[f.Key]; need != "" && need != vs.LBAlgo {
			// lb_algo changed after the flag: keepalived keeps the bit,
			// and under another scheduler the kernel reads it as that
			// scheduler's flag-N.
			b.warnf(f.Pos, "%s was set under lb_algo %s; the virtual server ends with lb_algo %s, which reads it as its own flag", f.Key, need, vs.LBAlgo)
		}
		vs.SchedFlags = append(vs.SchedFlags, f.Key)
	}
	if vs.PersistenceGranularity != "" && vs.PersistenceTimeout == 0 {
		vs.PersistenceTimeout = DefaultPersistence // keepalived's pgr_handler does this
	}
	b.resolveRealServers(vs, sorryKind, sorryInhibit)
	b.cfg.VirtualServers = append(b.cfg.VirtualServers, vs)
}

// definedTwice refuses a virtual server that loads an IPVS service an
// earlier one loads (a deliberate difference: `keepalived -t` passes it,
// but one IPVS service cannot take two blocks' schedulers, flags and real
// servers, and kahook will not guess which block was meant): the same
// block twice ("already defined at" the first), or a service reached
// twice through virtual_server_group entries (a group entry and a
// virtual server of the same address, two groups with the same fwmark,
// overlapping entries of one group). It runs after keepalivedFixups, on
// the virtual servers keepalived keeps: a block keepalived ignores (no
// real servers) defines nothing, and the protocol keepalived defaults to
// is known. Refused blocks are dropped.
func (b *builder) definedTwice() {
	blocks := make(map[serviceID]*VirtualServer, len(b.cfg.VirtualServers))
	var idx serviceIndex
	kept := b.cfg.VirtualServers[:0]
	for _, vs := range b.cfg.VirtualServers {
		id := serviceOf(vs)
		if other, dup := blocks[id]; dup {
			b.errorf(vs.Pos, "virtual_server %s: already defined at %s", vs.Name(), other.Pos)
			continue
		}
		blocks[id] = vs
		clash := false
		for s, last := range vs.serviceRanges(b.cfg.Groups) {
			entry := s.Entry
			s.Entry = Pos{}
			at, first, dup := idx.add(s, last, owner{vs, entry})
			if !dup {
				continue
			}
			s.Addr = at
			where := first.vs.Pos
			if first.entry != (Pos{}) {
				where = first.entry
			}
			how := "(virtual_server " + first.vs.Name() + ")"
			switch {
			case first.vs == vs:
				how = "(an earlier entry of virtual_server_group " + vs.Group + ")"
			case first.entry != (Pos{}):
				// The entry's line names the group, not the block: two
				// blocks of one group are both "virtual_server group G".
				how += ", by the block at " + first.vs.Pos.String()
			}
			via := ""
			if entry != (Pos{}) {
				via = " (its group entry at " + entry.String() + ")"
			}
			b.errorf(vs.Pos, "virtual_server %s: service %s%s already defined at %s %s: IPVS holds one service for both", vs.Name(), s, via, where, how)
			clash = true
			break
		}
		if !clash {
			kept = append(kept, vs)
		}
	}
	b.cfg.VirtualServers = kept
}

// owner is where a service was first defined: its virtual server and,
// for a group's, the entry.
type owner struct {
	vs    *VirtualServer
	entry Pos
}

// serviceIndex holds the services defined so far as ranges, never one
// entry per address: a group entry of an IPv6 range holds up to 65,536
// services, and expanding them made every command that reads the config
// (notify BACKUP included) take 2.7 s and 1 GB for 16 such entries.
// Services are grouped by everything but the last byte (IPv4) or 16-bit
// group (IPv6) of the address, which a range never leaves. A single
// address is found by a map; a range against the singles of its block
// by the map or by a scan of them, whichever is shorter; ranges by a
// scan of its block's (a config has few).
type serviceIndex struct {
	singles map[serviceSlot]owner
	blocks  map[serviceBlock]*blockSpans
}

type blockSpans struct {
	singles, ranges []serviceSpan
}

func (bs *blockSpans) add(x *serviceIndex, k serviceBlock, lo, hi uint16, o owner) {
	if lo == hi {
		x.singles[serviceSlot{k, lo}] = o
		bs.singles = append(bs.singles, serviceSpan{lo, hi, o})
	} else {
		bs.ranges = append(bs.ranges, serviceSpan{lo, hi, o})
	}
}

// serviceBlock is a Service without the low part of its address (see
// serviceIndex); a fwmark's is the fwmark and family.
type serviceBlock struct {
	fwmark   uint32
	family   int
	protocol string
	port     uint16
	block    netip.Addr
}

type serviceSlot struct {
	serviceBlock
	low uint16
}

type serviceSpan struct {
	lo, hi uint16
	owner
}

// split gives a's block (a with its low part zeroed) and its low part.
func split(a netip.Addr) (netip.Addr, uint16) {
	if !a.IsValid() {
		return a, 0
	}
	if a.Is4() {
		b := a.As4()
		low := uint16(b[3])
		b[3] = 0
		return netip.AddrFrom4(b), low
	}
	b := a.As16()
	low := uint16(b[14])<<8 | uint16(b[15])
	b[14], b[15] = 0, 0
	return netip.AddrFrom16(b), low
}

// join is split's inverse.
func join(block netip.Addr, low uint16) netip.Addr {
	if block.Is4() {
		b := block.As4()
		b[3] = byte(low)
		return netip.AddrFrom4(b)
	}
	b := block.As16()
	b[14], b[15] = byte(low>>8), byte(low)
	return netip.AddrFrom16(b)
}

// add records the services s to last (s alone for a fwmark) as o's,
// unless one of them is already recorded: then it reports the lowest
// such service's address and port and where it was first defined, and
// records only the services below it (as a walk of the addresses that
// stops at the first one defined twice would).
func (x *serviceIndex) add(s Service, last netip.Addr, o owner) (at netip.AddrPort, first owner, dup bool) {
	if x.singles == nil {
		x.singles = map[serviceSlot]owner{}
		x.blocks = map[serviceBlock]*blockSpans{}
	}
	block, lo := split(s.Addr.Addr())
	_, hi := split(last)
	if s.FWMark != 0 {
		hi = lo
	}
	k := serviceBlock{fwmark: s.FWMark, family: s.Family, protocol: s.Protocol, port: s.Addr.Port(), block: block}
	found := false
	var low uint16
	consider := func(c uint16, w owner) {
		if !found || c < low {
			found, low, first = true, c, w
		}
	}
	bs := x.blocks[k]
	if bs == nil {
		bs = &blockSpans{}
		x.blocks[k] = bs
	}
	switch {
	case lo == hi:
		if w, ok := x.singles[serviceSlot{k, lo}]; ok {
			consider(lo, w)
		}
	case int(hi-lo) < len(bs.singles):
		for c := int(lo); c <= int(hi) && !found; c++ {
			if w, ok := x.singles[serviceSlot{k, uint16(c)}]; ok {
				consider(uint16(c), w)
			}
		}
	default:
		for _, sp := range bs.singles {
			if lo <= sp.lo && sp.lo <= hi {
				consider(sp.lo, sp.owner)
			}
		}
	}
	for _, sp := range bs.ranges {
		if sp.lo <= hi && lo <= sp.hi {
			consider(max(lo, sp.lo), sp.owner)
		}
	}
	if found {
		if s.FWMark != 0 {
			return s.Addr, first, true
		}
		if low > lo {
			bs.add(x, k, lo, low-1, o) // the services before it are defined
		}
		return netip.AddrPortFrom(join(block, low), s.Addr.Port()), first, true
	}
	bs.add(x, k, lo, hi, o)
	return netip.AddrPort{}, owner{}, false
}

// forwarding reads lb_kind/lvs_method as keepalived's
// svr_forwarding_handler does: exactly NAT, DR or TUN (case matters); any
// other value is reported and ignored, so the method stays as it was (in
// the end NAT, keepalived's default).
func (b *builder) forwarding(n *Node, what string) (string, bool) {
	s, ok := b.arg(n, 0, "NAT, DR or TUN")
	if !ok {
		return "", false
	}
	switch s {
	case "NAT", "DR", "TUN":
		return s, true
	}
	b.problemf(n.Pos, "%s: unknown routing method %q for the %s server (keepalived: \"PARSER : unknown [%s] routing method\"; NAT, DR and TUN are upper case): ignored", n.Key, s, what, s)
	return "", false
}

// serviceID identifies a virtual_server block: two blocks with the same
// one are the same block written twice (a fwmark's has no protocol).
type serviceID struct {
	addr     netip.AddrPort
	fwmark   uint32
	family   int // fwmark services: IPVS keeps mark 1 IPv4 and mark 1 IPv6 apart
	group    string
	protocol string
}

func serviceOf(vs *VirtualServer) serviceID {
	id := serviceID{addr: vs.Addr, fwmark: vs.FWMark, group: vs.Group, protocol: vs.Protocol}
	if vs.FWMark != 0 {
		id.protocol = ""
		id.family = vs.Family
	}
	return id
}

// granularity reads persistence_granularity as keepalived 2.2.7's
// pgr_handler does: by the service's family so far (its address, an
// ip_family, a real server, an earlier persistence_granularity), or when
// none is known yet by the value (a '.': IPv4), which then fixes the
// family. IPv4: a netmask (getaddrinfo, AF_INET, numeric: inet_aton);
// IPv6: a prefix length 1-128 (read_unsigned). It returns the value as
// kahook stores it: dotted for IPv4, decimal for IPv6.
//
// keepalived reports a value of the wrong form for the family ("Invalid
// IPv6 persistence_granularity specified", "Invalid IPv4 ...") and keeps
// the service as it was (not persistent unless persistence_timeout says
// so, its family unset): kahook refuses it (an invalid value is an error,
// README). inet_aton's other forms ("24" is 0.0.0.24, "255.255.255" is
// 255.255.0.255, "010" is 8, hex) are refused too, as deliberate
// differences naming the netmask keepalived would load.
func (b *builder) granularity(n *Node, vs *VirtualServer) (string, bool) {
	s, ok := b.one(n, "a netmask or IPv6 prefix length")
	if !ok {
		return "", false
	}
	fam := vs.Family
	if fam == 0 {
		fam = 6
		if strings.Contains(s, ".") {
			fam = 4
		}
	}
	if fam == 4 {
		m, ok := inetAton(s)
		if !ok {
			b.errorf(n.Pos, "persistence_granularity: %q is not an IPv4 netmask (keepalived: \"Invalid IPv4 persistence_granularity specified\"; the service is IPv4 by what comes before this line)", s)
			return "", false
		}
		if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
			b.errorf(n.Pos, "persistence_granularity: %q: %v: keepalived (inet_aton) reads it as the netmask %s: write the netmask as four decimal numbers (255.255.255.0)", s, errNumDeliberate, m)
			return "", false
		}
		vs.Family = 4
		return m.String(), true
	}
	v, err := readUnsigned(s)
	if errors.Is(err, errNumDeliberate) {
		b.errorf(n.Pos, "persistence_granularity: %q: %v", s, err)
		return "", false
	}
	if err != nil || v < 1 || v > 128 {
		why := "the service is IPv6 by what comes before this line"
		if vs.Family == 0 {
			why = "a value without '.' is IPv6's"
		}
		b.errorf(n.Pos, "persistence_granularity: %q is not an IPv6 prefix length (1-128) (keepalived: \"Invalid IPv6 persistence_granularity specified\"; %s)", s, why)
		return "", false
	}
	vs.Family = 6
	return strconv.FormatUint(v, 10), true
}

func (b *builder) serverAddr(n *Node) (*RealServer, bool) {
	// keepalived's alloc_rs/alloc_ssvr report a bad address or port and
	// skip the server ("Invalid real server ip address/port - skipping").
	a, aok := inetAddr(n.Arg(0))
	p, perr := serverPort(n.Arg(1))
	if !aok || perr != nil {
		b.problemf(n.Pos, "%s %s: not an IP address and port: keepalived skips it, so does kahook", n.Key, strings.Join(n.Args, " "))
		return nil, false
	}
	b.warnAddrSuffix(n, n.Arg(0), a)
	rs := b.realServers.New(256) // one allocation per 256 (issue 18)
	*rs = RealServer{Pos: n.Pos, Addr: a, Port: p, Weight: unset, LThreshold: 0}
	return rs, true
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
		case "lvs_method":
			if s, ok := b.forwarding(c, "real"); ok {
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
			if v, ok := b.intArg(c, 1, math.MaxUint32, "retry count"); ok {
				inh.retry = v
			}
		case "delay_before_retry":
			if d, ok := b.timer(c, 0, 0); ok {
				inh.delayBeforeRetry = d
			}
		case "connect_timeout":
			if d, ok := b.timer(c, time.Microsecond, MaxConnectTimeout); ok {
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
			// kahook does not run these, but checks the keywords they
			// share with its own checkers as keepalived does.
			other := &Check{Kind: CheckKind(c.Key)}
			for _, cc := range c.Children {
				b.commonCheckKey(cc, other, &connState{})
			}
		case "notify_up", "notify_down":
			b.notifierWarning(c, "real_server "+rs.Endpoint(), "the real server", "kahook_realserver_up")
			b.skip(c, "real_server "+rs.Endpoint())
		case "smtp_alert":
			b.smtpAlert(c, "real_server")
			b.skip(c, "real_server "+rs.Endpoint())
		default:
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

// resolveRealServers applies the virtual server's lb_kind, checks
// address families, drops duplicates and sets the ports keepalived's
// validate_check_config sets: a real or sorry server of an address
// virtual server (not a group) without a port gets the service's; a
// DR/TUN one with another port is reset to the service's; a DR/TUN one of
// a fwmark service loses its port.
func (b *builder) resolveRealServers(vs *VirtualServer, sorryKind string, sorryInhibit bool) {
	// The servers kept so far are the ones seen: a few are searched in
	// place, many through a map (one per virtual server cost three
	// allocations each for 1,000 x 10, issue 18).
	var seen map[netip.AddrPort]Pos
	if len(vs.RealServers) > 32 {
		seen = make(map[netip.AddrPort]Pos, len(vs.RealServers))
	}
	kept := vs.RealServers[:0]
	for _, rs := range vs.RealServers {
		if rs.LBKind == "" {
			rs.LBKind = vs.LBKind
		}
		key := netip.AddrPortFrom(rs.Addr, rs.Port)
		if p, dup := seenAt(seen, kept, key); dup {
			b.problemf(rs.Pos, "real_server %s: duplicate of the one at %s: keepalived removes the second, so does kahook", key, p)
			continue
		}
		if seen != nil {
			seen[key] = rs.Pos
		}
		if rs.LThreshold > rs.UThreshold {
			// ip_vs_ctl.c refuses it (ERANGE); keepalived logs the error
			// and loads the rest, so does kahook (ipvs apply exits 1).
			b.warnf(rs.Pos, "real_server %s: lthreshold %d above uthreshold %d (0: none): the kernel refuses this destination (ERANGE); keepalived and kahook load the rest without it", key, rs.LThreshold, rs.UThreshold)
		}
		kept = append(kept, rs)
	}
	vs.RealServers = kept
	if ss := vs.SorryServer; ss != nil {
		// keepalived's vs_end_handler decides the family with the
		// method the sorry server has at the block's end: the one set
		// at its line or by sorry_server_lvs_method, none ("") when
		// neither was (not TUN, so the family counts). Only then does
		// validate_check_config give a sorry server without a method
		// the service's final lb_kind.
		ss.LBKind = sorryKind
		ss.Weight = 1
		ss.InhibitOnFailure = sorryInhibit
		if !b.checkFamily(vs, ss) {
			vs.SorryServer = nil
		} else if ss.LBKind == "" {
			ss.LBKind = vs.LBKind
		}
	}
	if vs.Group == "" {
		for _, rs := range vs.RealServers {
			b.fixPort(vs, rs)
		}
		if vs.SorryServer != nil {
			b.fixPort(vs, vs.SorryServer)
		}
	}
	if vs.Family == 0 && vs.Group == "" {
		// fwmark service whose family nothing set: every server is
		// tunnelled. keepalived's vs_end_handler takes their family
		// (the sorry server's first), IPv4 when they mix or there are
		// none.
		fam, mixed := 0, false
		if vs.SorryServer != nil {
			fam = family(vs.SorryServer.Addr)
		}
		for _, rs := range vs.RealServers {
			if fam == 0 {
				fam = family(rs.Addr)
			} else if fam != family(rs.Addr) {
				mixed = true
				break
			}
		}
		if mixed || fam == 0 {
			fam = 4
		}
		vs.Family = fam
	}
}

// fixPort is the port part of keepalived's validate_check_config for a
// virtual server that is not a group.
func (b *builder) fixPort(vs *VirtualServer, rs *RealServer) {
	word := serverWord(rs)
	switch {
	case vs.FWMark != 0:
		if rs.LBKind != "NAT" && rs.Port != 0 {
			b.problemf(rs.Pos, "%s %s: a %s server of fwmark virtual server %s has a port: keepalived clears it, so does kahook", word, rs.Endpoint(), rs.LBKind, vs.Name())
			rs.Port = 0
		}
	case rs.Port == 0 && rs.Sorry && rs.LBKind == "NAT":
		// keepalived fixes the port of NAT real servers, not of a NAT
		// sorry server: it stays at port 0 (measured in the VM).
	case rs.Port == 0:
		rs.Port = vs.Addr.Port() // keepalived: no port means the service's, NAT too
	case rs.LBKind != "NAT" && rs.Port != vs.Addr.Port():
		b.problemf(rs.Pos, "%s %s: %s forwarding keeps the service's port %d: keepalived resets the port, so does kahook", word, rs.Endpoint(), rs.LBKind, vs.Addr.Port())
		rs.CheckPort = rs.Port
		rs.Port = vs.Addr.Port()
	}
}

// checkFamily: keepalived skips a real or sorry server whose address
// family differs from the virtual server's (tunnelled ones may differ).
func (b *builder) checkFamily(vs *VirtualServer, rs *RealServer) bool {
	// Tunnelled servers may be of the other family (so keepalived loads
	// a mapped one, as IPv6, in a service of either family: refused
	// below; kahook wrote ::ffff:192.168.200.52 as [c0a8:c834::]).
	if rs.LBKind != "TUN" {
		f := family(rs.Addr)
		switch {
		case vs.Family == 0:
			vs.Family = f
		case vs.Family != f && rs.Sorry:
			// keepalived's vs_end_handler reports it at the virtual
			// server's '}': kahook at the virtual server's first line.
			b.problemf(vs.Pos, "virtual_server %s: sorry_server %s (%s): address family differs: keepalived skips it, so does kahook", vs.Name(), rs.Addr, rs.Pos)
			return false
		case vs.Family != f:
			b.problemf(rs.Pos, "%s %s: address family differs from virtual_server %s: keepalived skips it, so does kahook", serverWord(rs), rs.Addr, vs.Name())
			return false
		}
	}
	if rs.Addr.Is4In6() {
		// Refused, and kept: the config does not load, and the virtual
		// server is not reported as empty besides.
		b.errorf(rs.Pos, "%s %s: %v", serverWord(rs), rs.Addr, mappedError(rs.Addr))
	}
	return true
}

// mappedError is why kahook refuses an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) as a virtual, real or sorry server's or a group
// entry's: keepalived's inet_stosockaddr reads it as IPv6 (it has a ':')
// and loads an IPv6 service or destination with that address, which no
// IPv4 packet reaches; the netlink library kahook writes IPVS with would
// write it as IPv4 besides. A deliberate difference (README): the error
// is errNumDeliberate.
func mappedError(a netip.Addr) error {
	return fmt.Errorf("an IPv4-mapped IPv6 address, which keepalived loads into IPVS as IPv6 (no IPv4 packet reaches it): %w (write %s, in an IPv4 virtual_server)", errNumDeliberate, a.Unmap())
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
	kept := 0 // entries keepalived keeps, fwmark 0 included
	var have [7]bool
	markNoFamily := false
	for _, c := range n.Children {
		e, load, keep := b.groupEntry(c)
		if load {
			g.Entries = append(g.Entries, e)
		}
		if keep {
			kept++
			g.zeroMark = g.zeroMark || (c.Key == "fwmark" && !load)
			if c.Key == "fwmark" {
				markNoFamily = markNoFamily || e.Family == 0
			} else {
				have[family(e.First)] = true
			}
		}
	}
	if kept == 0 {
		b.problemf(n.Pos, "virtual_server_group %s: no entries: keepalived removes it", g.Name)
		return
	}
	if have[4] && have[6] && markNoFamily {
		// keepalived's vsg_handler: such a group's fwmark services would
		// have no family to take.
		b.problemf(n.Pos, "virtual_server_group %s cannot have IPv4, IPv6 and fwmark without family (keepalived: the same, \"- removing\"): keepalived removes it, so does kahook", g.Name)
		return
	}
	b.cfg.Groups[g.Name] = g
}

// groupEntry reads "IP[-LAST] PORT", "IP/LEN PORT" is not keepalived's;
// "fwmark N [inet|inet6]". load: kahook loads e; keep: keepalived keeps
// the entry (fwmark 0 is kept and not loaded; a skipped entry is neither).
func (b *builder) groupEntry(n *Node) (e GroupEntry, load, keep bool) {
	e = GroupEntry{Pos: n.Pos}
	if n.Key == "fwmark" {
		// keepalived's alloc_vsg_entry (check_data.c) reads the mark in
		// [0, UINT32_MAX] and reports and skips a bad mark or family.
		v, err := readUnsigned(n.Arg(0))
		if len(n.Args) == 0 {
			b.problemf(n.Pos, "virtual_server_group fwmark: missing mark: keepalived skips the entry, so does kahook")
			return e, false, false
		}
		if errors.Is(err, errNumDeliberate) {
			b.errorf(n.Pos, "virtual_server_group fwmark %q: %v", n.Arg(0), err)
			return e, false, false
		}
		if err != nil {
			b.problemf(n.Pos, "virtual_server_group fwmark %q must be in [0, %d]: keepalived skips the entry, so does kahook", n.Arg(0), uint64(MaxFWMark))
			return e, false, false
		}
		switch n.Arg(1) {
		case "":
		case "inet":
			e.Family = 4
		case "inet6":
			e.Family = 6
		default:
			b.problemf(n.Pos, "virtual_server_group fwmark %d: unknown family %q (inet or inet6): keepalived skips the entry, so does kahook", v, n.Arg(1))
			return e, false, false
		}
		if v == 0 {
			// keepalived accepts mark 0 without a word; IPVS takes mark 0
			// as "no mark" (the service would be hashed as an address
			// service), so kahook loads nothing for it and says so.
			b.warnf(n.Pos, "virtual_server_group fwmark 0 marks no packets: kahook loads no service for this entry")
			return e, false, true
		}
		e.FWMark = uint32(v)
		return e, true, true
	}
	first, last, err := parseRange(n.Key)
	if errors.Is(err, errNumDeliberate) {
		b.errorf(n.Pos, "virtual_server_group entry: %v", err)
		if !first.IsValid() {
			return e, false, false
		}
		// An IPv4-mapped entry: refused (the config does not load), and
		// kept, so the group is not reported as empty besides.
		err = nil
	}
	if err != nil {
		// keepalived reports a bad entry and skips it.
		b.problemf(n.Pos, "virtual_server_group entry: %v: keepalived skips it, so does kahook", err)
		return e, false, false
	}
	e.First, e.Last = first, last
	p, ok := b.portArg(&Node{Pos: n.Pos, Key: "virtual_server_group entry", Args: n.Args}, 0)
	if !ok {
		return e, false, false
	}
	e.Port = p
	return e, true, true
}

// parseRange reads a virtual_server_group address entry as keepalived's
// alloc_vsg_entry does: "10.0.0.1", "10.0.0.1-10" (the last byte, or the
// last 16-bit group for IPv6, up to the number after '-', which must be
// greater), "10.0.0.250-10.0.1.5" (a whole end address, not below the
// start) and "192.0.2.0/30" (every address of the prefix; the host bits
// must be zero).
func parseRange(s string) (first, last netip.Addr, err error) {
	// IPv6 when the entry holds a ':' (keepalived's inet_stosockaddr and
	// inet_stor read it so): ::ffff:10.0.0.1 is an IPv6 address there.
	six := strings.Contains(s, ":")
	if base, bits, isPrefix := strings.Cut(s, "/"); isPrefix {
		a, aerr := netip.ParseAddr(base)
		if aerr != nil || a.Zone() != "" || a.Is6() != six {
			return first, last, fmt.Errorf("%q is not an IP address or range", s)
		}
		if a.Is4In6() {
			return a, a, fmt.Errorf("%q: %w", s, mappedError(a)) // refused, still an entry
		}
		n, nerr := prefixLen(bits, a.BitLen())
		if errors.Is(nerr, errNumDeliberate) {
			return first, last, fmt.Errorf("%q: %w", s, nerr)
		}
		if nerr != nil {
			return first, last, fmt.Errorf("%q: invalid netmask (keepalived: \"Invalid netmask\")", s)
		}
		p := netip.PrefixFrom(a, n)
		if p.Masked().Addr() != a {
			return first, last, fmt.Errorf("%q: the address has host bits set (keepalived: \"Address mask bits not empty\")", s)
		}
		if a.BitLen()-n > 8 && a.Is4() || a.BitLen()-n > 16 {
			return first, last, fmt.Errorf("%q: %s", s, crossesBlock)
		}
		last = a
		for next := a.Next(); next.IsValid() && p.Contains(next); next = next.Next() {
			last = next
		}
		return a, last, nil
	}
	base, end, isRange := strings.Cut(s, "-")
	first, err = netip.ParseAddr(base)
	if err != nil || first.Zone() != "" || first.Is6() != six {
		return first, last, fmt.Errorf("%q is not an IP address or range", s)
	}
	if first.Is4In6() {
		return first, first, fmt.Errorf("%q: %w", s, mappedError(first)) // refused, still an entry
	}
	if !isRange {
		return first, first, nil
	}
	if (first.Is4() && strings.Contains(end, ".")) || (first.Is6() && strings.Contains(end, ":")) {
		last, err = netip.ParseAddr(end)
		if err != nil || last.Zone() != "" || last.Is4() != first.Is4() || last.Is4In6() {
			return first, last, fmt.Errorf("range %q: invalid range end (keepalived: \"Invalid range end\")", s)
		}
		if last.Less(first) {
			return first, last, fmt.Errorf("range %q: the end is below the start (keepalived: \"Address range end is less than address range start\")", s)
		}
		if !sameBlock(first, last) {
			return first, last, fmt.Errorf("range %q: %s", s, crossesBlock)
		}
		return first, last, nil
	}
	b := first.As16()
	if first.Is4() {
		v, perr := rangeEnd(end, false)
		if perr != nil || byte(v) <= b[15] {
			return first, last, fmt.Errorf("range %q: end must be a number %d-255, above the start (keepalived: \"Address range end is not greater than address range start\")", s, b[15]+1)
		}
		b4 := first.As4()
		b4[3] = byte(v)
		return first, netip.AddrFrom4(b4), nil
	}
	v, perr := rangeEnd(end, true)
	cur := uint64(b[14])<<8 | uint64(b[15])
	if perr != nil || v <= cur {
		return first, last, fmt.Errorf("range %q: end must be a hex group above %x (keepalived: \"Address range end is not greater than address range start\")", s, cur)
	}
	b[14], b[15] = byte(v>>8), byte(v)
	return first, netip.AddrFrom16(b), nil
}

// crossesBlock: keepalived 2.2.7 iterates a group entry over its last
// byte (IPv4) or 16-bit group (IPv6) only: for 10.0.0.254-10.0.1.1 it
// loads 10.0.0.0 to 10.0.0.255 (measured in the VM), evidently not what
// was meant, so kahook refuses such an entry (a deliberate difference).
const crossesBlock = "the range crosses a boundary of its last byte (IPv4) or 16-bit group (IPv6), where keepalived loads other addresses than written; write one entry per block"

// sameBlock: first and last differ in the last byte (IPv4) or 16-bit
// group (IPv6) only.
func sameBlock(first, last netip.Addr) bool {
	a, b := first.As16(), last.As16()
	n := 15
	if first.Is6() {
		n = 14
	}
	return string(a[:n]) == string(b[:n])
}

// resolveGroups checks that every `virtual_server group NAME` names a
// group, and matches the service's family with the group's as
// keepalived 2.2.7's link_vsg_to_vs does: a group with IPv4 and IPv6
// entries (addresses, fwmarks with a family) takes only a service whose
// family nothing set; a group of one family takes a service of that
// family or none (which then gets the group's). keepalived drops any
// other such virtual server with a log line only (`keepalived -t` passes),
// before it validates the block: kahook drops it too, with a warning.
func (b *builder) resolveGroups() {
	kept := b.cfg.VirtualServers[:0]
	for _, vs := range b.cfg.VirtualServers {
		if vs.Group == "" {
			kept = append(kept, vs)
			continue
		}
		g, ok := b.cfg.Groups[vs.Group]
		if !ok {
			b.errorf(vs.Pos, "virtual_server group %s: no virtual_server_group %s is defined", vs.Group, vs.Group)
			kept = append(kept, vs)
			continue
		}
		var have [7]bool // have[4], have[6]
		first := 0
		for _, e := range g.Entries {
			f := e.Family
			if e.FWMark == 0 {
				f = family(e.First)
			}
			have[f] = true
			if first == 0 && e.FWMark == 0 {
				first = f
			}
		}
		if have[4] != have[6] {
			// One family, fwmark entries' included (keepalived's
			// vsg->have_ipv4/have_ipv6): link_vsg_to_vs gives it to the
			// service, so a fwmark entry without a family takes it too
			// (ipvs_group_cmd), where the first address entry's left a
			// group of fwmarks only without one.
			first = 4
			if have[6] {
				first = 6
			}
		}
		switch {
		case have[4] && have[6] && vs.Family != 0,
			have[4] && vs.Family == 6, have[6] && vs.Family == 4:
			b.warnf(vs.Pos, "virtual_server group %s: the group's address family (IPv4 %v, IPv6 %v) does not match the virtual server's (IPv%d, set by its ip_family, persistence_granularity or a server that is not tunnelled): keepalived ignores the virtual server (\"address family doesn't match\", logged only), so does kahook", vs.Group, have[4], have[6], vs.Family)
			continue
		case vs.Family == 0:
			vs.Family = first
		}
		kept = append(kept, vs)
	}
	b.cfg.VirtualServers = kept
}

// seenAt finds key among the real servers kept so far: in seen when there
// is a map, else in kept.
func seenAt(seen map[netip.AddrPort]Pos, kept []*RealServer, key netip.AddrPort) (Pos, bool) {
	if seen != nil {
		p, ok := seen[key]
		return p, ok
	}
	for _, rs := range kept {
		if rs.Addr == key.Addr() && rs.Port == key.Port() {
			return rs.Pos, true
		}
	}
	return Pos{}, false
}

// notifierWarning: keepalived runs a virtual server's quorum_up/down and a
// real server's notify_up/down scripts when that state changes; kahook
// runs no notifier scripts, so the line is read and does nothing. A
// warning, not a problem: keepalived -t accepts the line (README: kahook
// runs no notifier scripts).
func (b *builder) notifierWarning(c *Node, where, what, metric string) {
	b.warnf(c.Pos, "%s: %s %q will not run: kahook runs no notifier scripts; "+
		"for VRRP transitions run it from the vrrp_instance's keepalived notify, for changes of %s "+
		"watch kahook sync's syslog lines (events=, quorum=) or its --textfile metric %s", where, c.Key, strings.Join(c.Args, " "), what, metric)
}
