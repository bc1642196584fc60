package pool

import (
	"net/netip"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// MembersAt is Members of the state recorded in stateDir, for a table
// built outside a pass and outside a transition (`ipvs apply`); when the
// state cannot be read, keepalived's start state (ipvs.StartMembers).
func MembersAt(stateDir string) ipvs.MembersFunc {
	st, err := (&state.Store{Dir: stateDir}).Load()
	if err != nil {
		return ipvs.StartMembers
	}
	return Members(st)
}

// Members is the membership `sync` last decided, for tables built outside
// a pass (a MASTER re-run of notify, `ipvs apply`): re-applying them must
// not undo a drain or bring back a failed server. Virtual servers whose
// instance has no pool yet get keepalived's start state.
func Members(st *state.State) ipvs.MembersFunc {
	return func(vs *config.VirtualServer) []ipvs.Member {
		ps := st.Pools[vs.Instance]
		if ps == nil || len(ps.Servers) == 0 {
			return ipvs.StartMembers(vs)
		}
		if up, ok := ps.QuorumUp[vs.Name()]; ok && !up && vs.SorryServer != nil {
			return []ipvs.Member{{RS: vs.SorryServer, Weight: vs.SorryServer.Weight}}
		}
		// ServerKey's text, built in one buffer with the virtual server
		// named once: a map lookup by string(key) does not copy it
		// (1,000 x 10 named each virtual server ten times, issue 18).
		name := vs.Name()
		key := make([]byte, 0, len(name)+48)
		out := make([]ipvs.Member, 0, len(vs.RealServers))
		for _, rs := range vs.RealServers {
			key = append(append(key[:0], name...), ' ')
			if rs.Addr.IsValid() {
				key = netip.AddrPortFrom(rs.Addr, rs.Port).AppendTo(key) // rs.Endpoint()
			} else {
				key = append(key, rs.Endpoint()...) // AppendTo writes nothing for it
			}
			s := ps.Servers[string(key)]
			switch {
			case s == nil:
				if !ipvs.StartsDown(rs) {
					out = append(out, ipvs.Member{RS: rs, Weight: rs.Weight})
				}
			case Serving(s):
				out = append(out, ipvs.Member{RS: rs, Weight: EffectiveWeight(s, rs)})
			case rs.InhibitOnFailure && !s.Maintenance, !s.DrainSince.IsZero():
				out = append(out, ipvs.Member{RS: rs, Weight: 0})
			}
		}
		return out
	}
}

// ReloadServers is what a reload applies (`kahook reload`, run by
// keepalived's ExecReload): the virtual servers of the instances this node
// is MASTER for according to kahook's state, and those instances' names.
// A BACKUP holds no table to update (its services are loaded by the MASTER
// transition, from the config as it is then). holds, when not nil, must
// also say the node still holds the instance (notify.Engine.Holds: a
// release that could not record itself left a MASTER record behind).
func ReloadServers(cfg *config.Config, st *state.State, holds func(*config.Instance, *state.InstanceState) bool) ([]*config.VirtualServer, []string) {
	var vss []*config.VirtualServer
	var masters []string
	for _, in := range cfg.Instances {
		if isMaster(st, in.Name) && (holds == nil || holds(in, st.Instances[in.Name])) {
			masters = append(masters, in.Name)
			vss = append(vss, cfg.ServersOf(in.Name)...)
		}
	}
	return vss, masters
}
