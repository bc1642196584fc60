package notify

import (
	"github.com/kahook/kahook/config"
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
	LoOnly     bool   `json:"lo_only,omitempty"`
	OnlyOthers bool   `json:"only_others,omitempty"`
	Reason     string `json:"reason"`
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
func Steps(in *config.Instance, state string) []Step {
	var steps []Step
	if state == Master {
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
	switch a.IPVS {
	case config.IPVSRemove:
		steps = append(steps, Step{Kind: StepIPVSRemove, Reason: "a backup keeping IPVS rules loops packets in two-node DR setups"})
	case config.IPVSLoad:
		steps = append(steps, Step{Kind: StepIPVSLoad, Reason: "backup configured to keep IPVS services"})
	}
	return steps
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
