package notify

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/sysctl"
	"github.com/kahook/kahook/vip"
)

// StepKind names what a step touches.
type StepKind string

const (
	StepIPVSLoad   StepKind = "ipvs-load"
	StepIPVSRemove StepKind = "ipvs-remove"
	StepVIPAdd     StepKind = "vip-add"
	StepVIPDel     StepKind = "vip-del"
	StepSysctl     StepKind = "sysctl"
	StepGARP       StepKind = "garp"
)

// Step is one ordered action of a transition and why it sits where it is.
type Step struct {
	Kind StepKind    `json:"kind"`
	Role config.Role `json:"role,omitempty"`
	// LoOnly limits a VIP step to the VIPs on lo (OnlyOthers: the rest).
	LoOnly     bool `json:"lo_only,omitempty"`
	OnlyOthers bool `json:"only_others,omitempty"`
	// StaleOnly limits a VIP removal to the VIPs an earlier event bound
	// that the config no longer names (a reload's).
	StaleOnly bool `json:"stale_only,omitempty"`
	// AfterSuccess: the step runs only if the one before it succeeded
	// (a real server's VIPs need its ARP sysctls first).
	AfterSuccess bool   `json:"after_success,omitempty"`
	Reason       string `json:"reason"`
}

// RealServerSteps is `realserver up|down` for an LVS-DR/TUN real server
// (the realserver block, or --vip/--interface): up sets the realserver
// ARP sysctls on all, lo and the interface, then binds the VIPs, and only
// if the sysctls succeeded: a VIP on lo with arp_ignore 0 is answered
// (and stolen from the director) the moment it is added. down removes the
// VIPs and leaves the sysctls (harmless without VIPs, and shared with
// other VIPs the node may carry).
func RealServerSteps(up bool) []Step {
	if !up {
		return []Step{{Kind: StepVIPDel, Reason: "the node stops accepting the VIPs' traffic"}}
	}
	return []Step{
		{Kind: StepSysctl, Role: config.RoleRealServer, Reason: "never answer ARP for the VIPs, before they are bound"},
		{Kind: StepVIPAdd, AfterSuccess: true, Reason: "VIPs so the node accepts the director's forwarded traffic"},
	}
}

// Steps is the transition plan for an instance entering state. It is pure:
// the order is the guarantee, whatever the kernel holds now (each step
// then changes only what differs).
//
// MASTER: IPVS first, so that by the time the node answers ARP for a VIP
// the services behind it exist; then the VIPs; then the director sysctls
// that make the node answer ARP for VIPs on lo; then gratuitous ARP.
//
// BACKUP/FAULT/STOP: stop answering ARP first (realserver sysctls), then
// drop the VIPs (or keep them, for a DR real server), and only then the
// IPVS services, so that at every instant a node that answers ARP for a
// VIP also serves it. A STOP killed after any step leaves a consistent
// node.
func Steps(in *config.Instance, st state.VRRP) []Step {
	var steps []Step
	if st == Master {
		a := in.Master
		if a.IPVS == config.IPVSLoad {
			steps = append(steps, Step{Kind: StepIPVSLoad, Reason: "services exist before the node answers ARP for their VIPs"})
		}
		if a.VIP {
			steps = append(steps, Step{Kind: StepVIPAdd, Reason: "VIPs on " + vipDevs(in) + " so the node accepts their traffic"})
		}
		if a.Sysctl != config.RoleNone {
			steps = append(steps, Step{Kind: StepSysctl, Role: a.Sysctl, Reason: "ARP sysctls for the " + string(a.Sysctl) + " role, after the VIPs are served"})
		}
		if a.VIP {
			steps = append(steps, Step{Kind: StepGARP, Reason: "neighbours move the VIPs to this node's MAC now, not when their cache expires"})
		}
		if a.IPVS == config.IPVSRemove {
			steps = append(steps, Step{Kind: StepIPVSRemove, Reason: "master configured to carry no IPVS services"})
		}
		return steps
	}
	a := in.Backup
	if a.Sysctl != config.RoleNone {
		steps = append(steps, Step{Kind: StepSysctl, Role: a.Sysctl, Reason: "stop answering ARP for VIPs before anything else changes"})
	}
	if a.VIP {
		// Only VIPs on lo can stay: ARP is silenced for them by the
		// sysctls, but an address on the announce interface (IPv6 VIPs)
		// would still be answered.
		steps = append(steps,
			Step{Kind: StepVIPAdd, LoOnly: true, Reason: "DR real server while backup: keep the VIPs on lo (ARP already silenced)"},
			Step{Kind: StepVIPDel, OnlyOthers: true, Reason: "VIPs on other interfaces would still be answered: they go"})
	} else {
		steps = append(steps, Step{Kind: StepVIPDel, Reason: "the VIPs leave before their services, so nobody is answered without being served"})
	}
	switch {
	case a.IPVS == config.IPVSLoad && st == Stop && in.BackupKeepsIPVS != "":
		// The services stay on a BACKUP for synchronised state only (the
		// stateful default, not an explicit `backup { ipvs load }`); a node
		// whose keepalived stops receives no more sync messages, and
		// keepalived itself removes its virtual servers when it stops
		// (unless run with --dont-release-ipvs).
		steps = append(steps, Step{Kind: StepIPVSRemove, Reason: "stopping: the services were kept for synchronised state only, and keepalived removes its own when it stops"})
	case a.IPVS == config.IPVSRemove:
		steps = append(steps, Step{Kind: StepIPVSRemove, Reason: "a backup keeping IPVS rules loops packets in two-node DR setups"})
	case a.IPVS == config.IPVSLoad:
		steps = append(steps, Step{Kind: StepIPVSLoad, Reason: "backup configured to keep IPVS services"})
	}
	return steps
}

// ReloadSteps is what a reload re-applies for an instance that stays
// MASTER, once its IPVS services are applied (`kahook reload`; keepalived
// runs no notify for it): the VIPs the config names now are bound, the
// MASTER's ARP sysctls set, the VIPs announced if any was bound, and only
// then the VIPs an earlier config bound and this one no longer names are
// removed (a VIP moved from .100 to .101 is answered at every instant).
func ReloadSteps(in *config.Instance) []Step {
	a := in.Master
	if !a.VIP {
		return []Step{{Kind: StepVIPDel, StaleOnly: true, Reason: "VIPs an earlier config bound and the reloaded one no longer names"}}
	}
	var steps []Step
	steps = append(steps, Step{Kind: StepVIPAdd, Reason: "VIPs the reloaded config names, on " + vipDevs(in)})
	if a.Sysctl != config.RoleNone {
		steps = append(steps, Step{Kind: StepSysctl, Role: a.Sysctl, Reason: "ARP sysctls for the " + string(a.Sysctl) + " role, after the VIPs are served"})
	}
	return append(steps,
		Step{Kind: StepGARP, Reason: "neighbours learn a newly bound VIP now"},
		Step{Kind: StepVIPDel, StaleOnly: true, Reason: "VIPs an earlier config bound and the reloaded one no longer names, once the new ones are announced"})
}

func vipDevs(in *config.Instance) string {
	seen := map[string]bool{}
	out := ""
	for _, v := range in.VIPs {
		if !seen[v.Dev] {
			seen[v.Dev] = true
			if out != "" {
				out += ","
			}
			out += v.Dev
		}
	}
	if out == "" {
		return "lo"
	}
	return out
}

// Change is one typed change of a transition; exactly one field is set.
type Change struct {
	VIP    *vip.Change    `json:"vip,omitempty"`
	Sysctl *sysctl.Change `json:"sysctl,omitempty"`
	IPVS   *ipvs.Change   `json:"ipvs,omitempty"`
	GARP   *GARP          `json:"garp,omitempty"`
}

// GARP is the gratuitous ARP (IPv6: unsolicited neighbour
// advertisement) round sent for the VIPs of an instance that became
// MASTER; the rest of keepalived's schedule follows in the background.
type GARP struct {
	Interface string       `json:"interface"`
	Addrs     []netip.Addr `json:"addrs"`
	// Frames is the number sent in the first round (a real run only).
	Frames int `json:"frames,omitempty"`
}

// String is the change as kahook prints it in every plan: one line, what
// and where, the same line `vip`, `sysctl apply` and `ipvs diff` print
// for it (vip.Change, sysctl.Change and ipvs.Change String).
func (c Change) String() string {
	switch {
	case c.VIP != nil:
		return c.VIP.String()
	case c.Sysctl != nil:
		return c.Sysctl.String()
	case c.IPVS != nil:
		return c.IPVS.String()
	case c.GARP != nil:
		addrs := make([]string, len(c.GARP.Addrs))
		for i, a := range c.GARP.Addrs {
			addrs[i] = a.String()
		}
		s := fmt.Sprintf("garp on %s for %s", c.GARP.Interface, strings.Join(addrs, " "))
		if c.GARP.Frames > 0 {
			s += fmt.Sprintf(" (%d frames)", c.GARP.Frames)
		}
		return s
	}
	return "nothing"
}

// WritePlan prints a transition's steps and their changes, the text form
// of every kahook command that plans (notify, fifo, realserver, vip):
//
//	TITLE:
//	  KIND          REASON
//	      CHANGE
//	      error: ERROR
func WritePlan(w io.Writer, title string, steps []StepResult) {
	fmt.Fprintf(w, "%s:\n", title)
	for _, s := range steps {
		fmt.Fprintf(w, "  %-12s %s\n", s.Step.Kind, s.Step.Reason)
		for _, ch := range s.Changes {
			fmt.Fprintf(w, "      %s\n", ch)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "      error: %s\n", s.Error)
		}
	}
}
