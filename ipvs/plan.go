package ipvs

import "fmt"

// Op is what a change does.
type Op string

const (
	AddService    Op = "add-service"
	UpdateService Op = "update-service"
	DelService    Op = "del-service"
	AddDest       Op = "add-dest"
	UpdateDest    Op = "update-dest"
	DelDest       Op = "del-dest"
)

// Change is one typed write, and why.
type Change struct {
	Op      Op      `json:"op"`
	Service Service `json:"service"`
	Dest    *Dest   `json:"dest,omitempty"`
	Reason  string  `json:"reason"`
}

func (c Change) String() string {
	if c.Dest != nil {
		return fmt.Sprintf("%s %s -> %s weight %d (%s)", c.Op, c.Service.Key, c.Dest.Key, c.Dest.Weight, c.Reason)
	}
	return fmt.Sprintf("%s %s %s (%s)", c.Op, c.Service.Key, c.Service.Sched, c.Reason)
}

// Plan returns the ordered changes that make the services of desired
// exist in current exactly as desired, touching nothing else. Services in
// managed (kahook loaded them before) that desired no longer holds are
// deleted. Order: new and changed services and destinations first, then
// removed destinations, then removed services, so capacity is added before
// it is taken away. A service that exists is updated in place, never
// deleted and re-created; a changed weight is one update.
func Plan(desired, current Table, managed []ServiceKey) []Change {
	if inSync(desired, current, managed) {
		return nil // without sorting 1,000s of services and destinations
	}
	var adds, dels []Change
	for _, k := range desired.Keys() {
		want := desired[k]
		have, ok := current[k]
		if !ok {
			adds = append(adds, Change{Op: AddService, Service: want.Service, Reason: "missing"})
			for _, d := range want.SortedDests() {
				adds = append(adds, Change{Op: AddDest, Service: want.Service, Dest: d, Reason: "missing"})
			}
			continue
		}
		if why := serviceDiff(want.Service, have.Service); why != "" {
			adds = append(adds, Change{Op: UpdateService, Service: want.Service, Reason: why})
		}
		for _, d := range want.SortedDests() {
			cur, ok := have.Dests[d.Key]
			if !ok {
				adds = append(adds, Change{Op: AddDest, Service: want.Service, Dest: d, Reason: "missing"})
				continue
			}
			if why := destDiff(*d, *cur); why != "" {
				adds = append(adds, Change{Op: UpdateDest, Service: want.Service, Dest: d, Reason: why})
			}
		}
		for _, d := range have.SortedDests() {
			if _, ok := want.Dests[d.Key]; !ok {
				dels = append(dels, Change{Op: DelDest, Service: have.Service, Dest: d, Reason: "not in the config"})
			}
		}
	}
	for _, k := range managed {
		if _, still := desired[k]; still {
			continue
		}
		if have, ok := current[k]; ok {
			dels = append(dels, Change{Op: DelService, Service: have.Service, Reason: "no longer in the config"})
		}
	}
	return append(adds, dels...)
}

// inSync reports whether Plan has nothing to do: the same comparisons,
// in no order.
func inSync(desired, current Table, managed []ServiceKey) bool {
	for k, want := range desired {
		have, ok := current[k]
		if !ok || serviceDiff(want.Service, have.Service) != "" || len(want.Dests) != len(have.Dests) {
			return false
		}
		for dk, d := range want.Dests {
			cur, ok := have.Dests[dk]
			if !ok || destDiff(*d, *cur) != "" {
				return false
			}
		}
	}
	for _, k := range managed {
		if _, still := desired[k]; !still {
			if _, ok := current[k]; ok {
				return false
			}
		}
	}
	return true
}

// PlanRemove deletes the services of keys that are present.
func PlanRemove(keys []ServiceKey, current Table) []Change {
	var out []Change
	for _, k := range keys {
		if have, ok := current[k]; ok {
			out = append(out, Change{Op: DelService, Service: have.Service, Reason: "removed"})
		}
	}
	return out
}

func serviceDiff(want, have Service) string {
	switch {
	case want.Sched != have.Sched:
		return fmt.Sprintf("scheduler %s -> %s", have.Sched, want.Sched)
	case want.Flags&^FlagHashed != have.Flags&^FlagHashed:
		return fmt.Sprintf("flags %#x -> %#x", have.Flags&^FlagHashed, want.Flags&^FlagHashed)
	case want.Timeout != have.Timeout:
		return fmt.Sprintf("persistence %d -> %d", have.Timeout, want.Timeout)
	case want.Flags&FlagPersistent != 0 && want.Netmask != have.Netmask:
		return "persistence granularity"
	}
	// The persistence engine is not compared: moby/ipvs writes it but
	// never reads it back (its service parser skips IPVS_SVC_ATTR_PE_NAME),
	// so every run would "change" it and fail its own verify. An engine
	// added to or removed from an existing service is applied by deleting
	// the service (ipvs flush) or by `ipvsadm -E`.
	return ""
}

func destDiff(want, have Dest) string {
	switch {
	case want.Weight != have.Weight:
		return fmt.Sprintf("weight %d -> %d", have.Weight, want.Weight)
	case want.Fwd&fwdMask != have.Fwd&fwdMask && have.Fwd&fwdMask != FwdLocalNode:
		// The kernel reports "Local" for a destination that is one of its
		// own addresses, whatever method was asked for: not a change.
		return fmt.Sprintf("forwarding %s -> %s", FwdName(have.Fwd), FwdName(want.Fwd))
	case want.UThreshold != have.UThreshold || want.LThreshold != have.LThreshold:
		return "thresholds"
	}
	return ""
}
