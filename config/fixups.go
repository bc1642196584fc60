package config

import (
	"fmt"
	"slices"
)

func (b *builder) warnf(pos Pos, format string, args ...any) {
	b.cfg.Warnings = append(b.cfg.Warnings, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// keepalivedFixups applies the corrections keepalived 2.2 makes to a
// virtual server when it validates its config (check_data.c), so that
// kahook loads the table keepalived would load for the same block. Each
// correction is a problem, as `keepalived -t` reports each one (and exits
// non-zero). It reports false when
// keepalived ignores the virtual server altogether.
func (b *builder) keepalivedFixups(vs *VirtualServer) bool {
	if len(vs.RealServers) == 0 {
		b.problemf(vs.Pos, "virtual_server %s has no real servers: keepalived ignores it, so does kahook", vs.Name())
		return false
	}
	byAddress := vs.FWMark == 0 && (vs.Group == "" || b.groupHasAddresses(vs.Group))
	// keepalived's validate_check_config asks "has fwmarks" of a group's
	// fwmark list, where "fwmark 0" entries are too.
	marks := vs.FWMark != 0 || (vs.Group != "" && b.groupHasMarks(vs.Group))
	if vs.HASuspend && marks {
		b.problemf(vs.Pos, "virtual_server %s: ha_suspend cannot be used with fwmarks: cleared", vs.Name())
		vs.HASuspend = false
	}
	if byAddress {
		if vs.Protocol == "" {
			vs.Protocol = DefaultProtocol
			b.problemf(vs.Pos, "virtual_server %s: no protocol set: keepalived defaults to UDP (write 'protocol TCP' for TCP)", vs.Name())
		}
		if vs.Protocol != "UDP" && slices.Contains(vs.SchedFlags, "ops") {
			b.problemf(vs.Pos, "virtual_server %s: one-packet scheduling (ops) needs UDP: dropped", vs.Name())
			vs.SchedFlags = slices.DeleteFunc(vs.SchedFlags, func(f string) bool { return f == "ops" })
		}
		if vs.PersistenceTimeout == 0 && vs.Group == "" && vs.Addr.Port() == 0 {
			b.problemf(vs.Pos, "virtual_server %s: port 0 is only valid for persistent services: persistence_timeout %d set", vs.Name(), int(DefaultPersistence.Seconds()))
			vs.PersistenceTimeout = DefaultPersistence
		}
	} else if vs.Protocol != "" && marks {
		// a group of fwmark entries only, fwmark 0 included
		b.problemf(vs.Pos, "virtual_server %s: protocol is ignored for fwmark services (keepalived: \"protocol specified for fwmark\")", vs.Name())
		vs.Protocol = ""
	}
	if vs.PersistenceTimeout == 0 && vs.Group != "" {
		if g := b.cfg.Groups[vs.Group]; g != nil {
			for _, e := range g.Entries {
				if e.FWMark == 0 && e.Port == 0 {
					b.problemf(vs.Pos, "virtual_server %s: a group entry has port 0, only valid for persistent services: persistence_timeout %d set", vs.Name(), int(DefaultPersistence.Seconds()))
					vs.PersistenceTimeout = DefaultPersistence
					break
				}
			}
		}
	}
	if g := b.cfg.Groups[vs.Group]; g != nil && vs.Group != "" {
		b.groupPorts(vs, g)
	}
	sum := 0
	for _, rs := range vs.RealServers {
		sum += rs.Weight
	}
	if vs.Quorum > sum {
		b.problemf(vs.Pos, "virtual_server %s: quorum %d exceeds the total weight of its real servers %d: reduced to %d", vs.Name(), vs.Quorum, sum, sum)
		vs.Quorum = sum
	}
	if vs.Hysteresis >= vs.Quorum && (vs.Hysteresis > 0 || vs.Quorum == 0) {
		// keepalived sets quorum-1 in an unsigned: with quorum 0 (every
		// real server has weight 0) that is 4294967295, so the quorum is
		// never reached and a sorry server takes over. kahook does the same.
		h := vs.Quorum - 1
		if vs.Quorum == 0 {
			h = 1<<32 - 1
		}
		b.problemf(vs.Pos, "virtual_server %s: hysteresis %d >= quorum %d: set to %d", vs.Name(), vs.Hysteresis, vs.Quorum, h)
		vs.Hysteresis = h
	}
	return true
}

// groupHasMarks: the group has fwmark entries, "fwmark 0" included
// (keepalived's non-empty vsg->vfwmark). An undefined group has none.
func (b *builder) groupHasMarks(name string) bool {
	g := b.cfg.Groups[name]
	if g == nil {
		return false
	}
	return g.zeroMark || slices.ContainsFunc(g.Entries, func(e GroupEntry) bool { return e.FWMark != 0 })
}

func (b *builder) groupHasAddresses(name string) bool {
	g := b.cfg.Groups[name]
	if g == nil {
		return true
	}
	for _, e := range g.Entries {
		if e.FWMark == 0 {
			return true
		}
	}
	return false
}

// groupPorts reports what keepalived's validate_check_config reports
// about the ports of a group's DR/TUN servers (it changes nothing: the
// kernel uses the service's port for them anyway).
func (b *builder) groupPorts(vs *VirtualServer, g *VirtualServerGroup) {
	servers := vs.RealServers
	if vs.SorryServer != nil {
		servers = append(servers[:len(servers):len(servers)], vs.SorryServer)
	}
	hasFWMark := b.groupHasMarks(vs.Group)
	for _, rs := range servers {
		if rs.LBKind == "NAT" || rs.Port == 0 {
			continue
		}
		if hasFWMark {
			b.problemf(rs.Pos, "%s %s: a %s server of group %s, which has fwmark entries, has a port: keepalived ignores it (and reports it), so does kahook", serverWord(rs), rs.Endpoint(), rs.LBKind, vs.Group)
			continue
		}
		for _, e := range g.Entries {
			if e.FWMark == 0 && e.Port != rs.Port {
				b.problemf(rs.Pos, "%s %s: a %s server keeps the port of group %s's entry %s (%d): keepalived reports the mismatch", serverWord(rs), rs.Endpoint(), rs.LBKind, vs.Group, e.First, e.Port)
				break
			}
		}
	}
}
