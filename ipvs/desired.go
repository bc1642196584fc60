package ipvs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/chunk"
)

// Member is a destination a virtual server should hold, with its weight.
type Member struct {
	RS     *config.RealServer
	Weight int
}

// MembersFunc decides which servers of a virtual server are in the table
// (health policy lives in package pool; ipvs only maps).
type MembersFunc func(vs *config.VirtualServer) []Member

// StartMembers is the table keepalived loads when it starts, following
// its init_service_rs, update_quorum_state(init) and sorry server steps
// (check/ipwrapper.c, ipvswrapper.c ipvs_cmd):
//   - a real server starts down when one of its checkers has alpha; a
//     real server that is up is added at its weight, one that is down is
//     left out, or added at weight 0 with inhibit_on_failure;
//   - when the weight of the servers that are up is below
//     quorum+hysteresis and there is a sorry server, the servers that are
//     up are taken out (weight 0 with inhibit_on_failure) and the sorry
//     server goes in at its weight;
//   - a sorry server with sorry_server_inhibit that is not in by then is
//     added at weight 0 (unless it is also one of the real servers).
func StartMembers(vs *config.VirtualServer) []Member {
	type state struct {
		m     Member
		set   bool // in the table
		alive bool
	}
	var buf [16]state // on the stack for the usual few servers (issue 18)
	var states []state
	if n := len(vs.RealServers); n <= len(buf) {
		states = buf[:n]
	} else {
		states = make([]state, n)
	}
	sum := 0
	for i, rs := range vs.RealServers {
		down := StartsDown(rs)
		st := state{m: Member{RS: rs, Weight: rs.Weight}}
		if !down {
			st.set, st.alive = true, true
			sum += rs.Weight
		} else if rs.InhibitOnFailure {
			st.set, st.m.Weight = true, 0
		}
		states[i] = st
	}
	ss := vs.SorryServer
	sorrySet := false
	if ss != nil && sum < vs.Quorum+vs.Hysteresis {
		for i := range states {
			if !states[i].alive {
				continue
			}
			if states[i].m.RS.InhibitOnFailure {
				states[i].m.Weight = 0
			} else {
				states[i].set = false
			}
		}
		sorrySet = true
	}
	out := make([]Member, 0, len(states)+1)
	for _, st := range states {
		if st.set {
			out = append(out, st.m)
		}
	}
	if ss != nil && !sorrySet && ss.InhibitOnFailure && !duplicatesRealServer(vs) {
		out = append(out, Member{RS: ss, Weight: 0})
	} else if sorrySet {
		out = append(out, Member{RS: ss, Weight: ss.Weight})
	}
	return out
}

// duplicatesRealServer: the sorry server is also one of the real servers
// (keepalived's s_svr_duplicates_rs).
func duplicatesRealServer(vs *config.VirtualServer) bool {
	for _, rs := range vs.RealServers {
		if rs.Addr == vs.SorryServer.Addr && rs.Port == vs.SorryServer.Port {
			return true
		}
	}
	return false
}

// StartsDown reports whether keepalived starts a real server down: one
// of its checkers has alpha.
func StartsDown(rs *config.RealServer) bool {
	for _, c := range rs.Checks {
		if c.Alpha {
			return true
		}
	}
	return rs.Alpha && len(rs.OtherChecks) > 0
}

// schedFlagBits maps keepalived's scheduler flag keywords.
var schedFlagBits = map[string]uint32{
	"ops":    FlagOnePacket,
	"flag-1": FlagSched1, "flag-2": FlagSched2, "flag-3": FlagSched3,
	"sh-fallback": FlagSched1, "sh-port": FlagSched2,
	"mh-fallback": FlagSched1, "mh-port": FlagSched2,
}

// Desired maps virtual_server blocks to the table keepalived itself would
// load for them (ipvswrapper.c): one service per address, per address of
// a group range and per fwmark; for DR and TUN the destination port is the
// service's (0 for fwmark services), for NAT the real server's.
func Desired(vss []*config.VirtualServer, groups map[string]*config.VirtualServerGroup, members MembersFunc) (Table, error) {
	t := make(Table, len(vss))
	var (
		keys      []ServiceKey
		fromGroup []bool
		entries   chunk.Of[Entry]
		dests     chunk.Of[Dest]
	)
	for _, vs := range vss {
		base, err := baseService(vs)
		if err != nil {
			return nil, err
		}
		keys, fromGroup, err = serviceKeys(vs, groups, keys[:0], fromGroup[:0])
		if err != nil {
			return nil, err
		}
		ms := members(vs)
		if err := checkForwarding(vs, ms); err != nil {
			return nil, err
		}
		for i, k := range keys {
			svc := base
			svc.Key = k
			if fromGroup[i] || svc.Flags&FlagPersistent == 0 {
				// keepalived resets the netmask of every group entry to
				// the default, persistence_granularity or not.
				svc.Netmask = defaultNetmask(k.Family)
			}
			if _, dup := t[k]; dup {
				return nil, fmt.Errorf("%s: service %s is defined twice", vs.Pos, k)
			}
			e := entries.New(64)
			*e = Entry{Service: svc, Dests: make(map[DestKey]*Dest, len(ms))}
			for _, m := range ms {
				d := dests.New(512)
				*d = destFor(k, m)
				if _, dup := e.Dests[d.Key]; !dup {
					e.Dests[d.Key] = d
				}
			}
			t[k] = e
		}
	}
	return t, nil
}

func baseService(vs *config.VirtualServer) (Service, error) {
	s := Service{Sched: vs.LBAlgo}
	for _, f := range vs.SchedFlags {
		s.Flags |= schedFlagBits[f]
	}
	s.Flags &^= FlagHashed
	if vs.PersistenceTimeout > 0 {
		s.Flags |= FlagPersistent
		s.Timeout = uint32(vs.PersistenceTimeout / time.Second)
		// keepalived's ipvs_set_srule sets the engine of persistent
		// services only.
		s.PEName = vs.PersistenceEngine
		if g := vs.PersistenceGranularity; g != "" {
			if a, err := netip.ParseAddr(g); err == nil && a.Is4() {
				b := a.As4()
				// The kernel holds an IPv4 mask in network byte order.
				s.Netmask = binary.NativeEndian.Uint32(b[:])
			} else if n, err := strconv.Atoi(g); err == nil {
				s.Netmask = uint32(n)
			} else {
				return s, fmt.Errorf("%s: persistence_granularity %q", vs.Pos, g)
			}
		} else {
			s.Netmask = defaultNetmask(vs.Family)
		}
	}
	return s, nil
}

func defaultNetmask(family int) uint32 {
	if family == 6 {
		return 128
	}
	return 0xffffffff
}

// serviceKeys appends the kernel services of vs to keys, and to fromGroup
// whether each comes from a virtual_server_group.
func serviceKeys(vs *config.VirtualServer, groups map[string]*config.VirtualServerGroup, keys []ServiceKey, fromGroup []bool) ([]ServiceKey, []bool, error) {
	if vs.Group != "" && groups[vs.Group] == nil {
		return nil, nil, fmt.Errorf("%s: no virtual_server_group %s", vs.Pos, vs.Group)
	}
	// The protocol only for address services: a fwmark service, or a
	// group of fwmark entries only, has none (keepalived ignores it).
	var proto Protocol
	var protoErr error
	for s := range vs.Services(groups) {
		if s.FWMark != 0 {
			keys = append(keys, ServiceKey{FWMark: s.FWMark, Family: s.Family})
		} else {
			if proto == 0 && protoErr == nil {
				proto, protoErr = ParseProtocol(vs.Protocol)
			}
			if protoErr != nil {
				return nil, nil, protoErr
			}
			keys = append(keys, ServiceKey{Family: s.Family, Protocol: proto, Addr: s.Addr.Addr(), Port: s.Addr.Port()})
		}
		fromGroup = append(fromGroup, s.FromGroup())
	}
	return keys, fromGroup, nil
}

func destFor(k ServiceKey, m Member) Dest {
	rs := m.RS
	return Dest{
		Key:        DestKeyFor(k, rs),
		Weight:     m.Weight,
		Fwd:        fwdOf(rs.LBKind),
		UThreshold: rs.UThreshold,
		LThreshold: rs.LThreshold,
	}
}

// DestKeyFor is the destination a real server becomes in service k: DR
// and TUN keep the packet's destination port, the service's (0 for fwmark
// services), whatever the real_server line says; NAT uses the real
// server's port.
func DestKeyFor(k ServiceKey, rs *config.RealServer) DestKey {
	if fwdOf(rs.LBKind) != FwdMasq {
		return DestKey{Addr: rs.Addr, Port: k.Port}
	}
	return DestKey{Addr: rs.Addr, Port: rs.Port}
}

// ServiceKeys lists the kernel services of a virtual server.
func ServiceKeys(vs *config.VirtualServer, groups map[string]*config.VirtualServerGroup) ([]ServiceKey, error) {
	keys, _, err := serviceKeys(vs, groups, nil, nil)
	return keys, err
}

// fwdOf is the method of an lb_kind Desired has checked.
func fwdOf(kind string) Forward {
	f, _ := ParseForward(kind)
	return f
}
