package config

// KeepalivedPriority is vrrp_instance n's base priority as keepalived
// 2.2.7 sets it, and whether a priority line set it: the last such line
// (vrrp_prio_handler), read as its read_unsigned reads it (readUnsigned:
// leading blanks, a '+' and zeros allowed), 100 when that is no number
// in 1-255 (a config error); without one, 255 (the address owner) when a
// state line says MASTER, else 100 (vrrp_complete_instance).
func KeepalivedPriority(n *Node) (prio int, set bool) {
	master := false
	for _, c := range n.Children {
		switch c.Key {
		case "priority":
			if len(c.Args) == 0 {
				continue
			}
			set = true
			v, err := readUnsigned(c.Arg(0))
			prio = 100
			if err == nil && v >= 1 && v <= 255 {
				prio = int(v)
			}
		case "state":
			master = master || c.Arg(0) == "MASTER"
		}
	}
	switch {
	case set:
		return prio, true
	case master:
		return 255, false
	}
	return 100, false
}

// SyncGroupMembers are the instance names a vrrp_sync_group's (first)
// group block lists: every word of it, one a line or several, as
// keepalived's read_value_block reads it.
func SyncGroupMembers(g *Node) []string {
	var members []string
	if gb := g.First("group"); gb != nil {
		for _, c := range gb.Children {
			members = append(append(members, c.Key), c.Args...)
		}
	}
	return members
}

// SyncGroupOf maps each vrrp_instance name a vrrp_sync_group of tree
// lists to that group: the first to list it, as keepalived's
// vrrp_sync_set_group takes it ("cannot exist in more than one sync
// group" for the others).
func SyncGroupOf(tree *Node) map[string]*Node {
	out := map[string]*Node{}
	for _, g := range tree.Find("vrrp_sync_group") {
		for _, name := range SyncGroupMembers(g) {
			if _, seen := out[name]; !seen {
				out[name] = g
			}
		}
	}
	return out
}

// SyncGroupTrackingWeight: keepalived honours its members' tracking
// weights (sync_group_tracking_weight, or the deprecated global_tracking).
func SyncGroupTrackingWeight(g *Node) bool {
	return g.First("sync_group_tracking_weight") != nil || g.First("global_tracking") != nil
}

// TrackWeightDropped says why keepalived 2.2.7 drops a weighted tracked
// script of vrrp_instance n, a member of sync group g (nil: of none), in
// the words of its log line (vrrp_complete_instance: "ignoring tracked
// script X with weights due to SYNC group|address_owner"): "SYNC group"
// in a group without sync_group_tracking_weight, "address_owner" at base
// priority 255 (KeepalivedPriority); "" when it keeps it.
func TrackWeightDropped(n, g *Node) string {
	if g != nil && !SyncGroupTrackingWeight(g) {
		return "SYNC group"
	}
	if p, _ := KeepalivedPriority(n); p == 255 {
		return "address_owner"
	}
	return ""
}
