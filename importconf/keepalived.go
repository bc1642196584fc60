package importconf

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kahook/kahook/config"
)

// KahookPath is where the packages install kahook; the keepalived.conf
// draft runs it from there.
const KahookPath = "/usr/sbin/kahook"

// DraftKeepalived writes the keepalived.conf that goes with Draft's
// kahook.conf: the same file with, in each vrrp_instance, the VIPs
// replaced by one placeholder (README: keepalived's VIP is a placeholder),
// kahook as the notify, and a tracked vrrp_script running `kahook sync`
// where the instance has checked real servers; the virtual_server blocks
// move to kahook.conf. What it cannot carry it flags with "! FIXME".
// A vrrp_instance's lvs_sync_daemon_interface (deprecated: keepalived -t
// reports it) becomes global_defs' lvs_sync_daemon IFACE INSTANCE.
// notes (such as ConfigIDNotes) are FIXMEs in the header.
// keepalived -t accepts the draft wherever it accepts the original.
func DraftKeepalived(w io.Writer, path string, tree *config.Node, notes ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "! keepalived.conf drafted by \"kahook import --keepalived %s\". Review it before use.\n", path)
	b.WriteString("! keepalived runs VRRP; kahook (kahook.conf, drafted by \"kahook import\") binds the VIPs,\n")
	b.WriteString("! loads IPVS and health-checks the pool (kahook sync, on MASTER and BACKUP).\n")
	g := tree.First("global_defs")
	if g == nil || g.First("enable_script_security") == nil || g.First("script_user") == nil {
		b.WriteString(comment("! NOTE: ", "this draft sets enable_script_security and script_user root in global_defs: "+
			"kahook's notify and vrrp_script run as root, and without script security keepalived reports a SECURITY VIOLATION (keepalived -t fails). "+
			"With it on, keepalived disables every script (notify, vrrp_script, MISC_CHECK) that a non-root user can write, "+
			"directly or through a directory on its path: check your existing scripts before use."))
	}
	for _, n := range append(append(notes, emptySyncGroupNotes(tree)...), notifierNotes(tree)...) {
		b.WriteString(comment("! FIXME: ", n))
	}
	syncd := syncDaemon(tree)
	cfg := draftConfig(path, tree)
	groupOf := config.SyncGroupOf(tree)
	var body strings.Builder
	moved := 0
	if g == nil {
		if err := config.Render(&body, []*config.Node{secureGlobals(&config.Node{Key: "global_defs", Block: true}, syncd)}, 0); err != nil {
			return err
		}
	}
	for _, n := range tree.Children {
		switch n.Key {
		case "global_defs":
			if n == g {
				n = secureGlobals(n, syncd)
			}
		case "virtual_server", "virtual_server_group":
			moved++
			continue // kahook.conf has them
		case "vrrp_instance":
			name := n.Arg(0)
			script := ""
			if cfg != nil && instanceChecked(cfg, name) {
				script = "kahook_sync_" + quote(name)
				why := noWeight(n, groupOf[name])
				if why != "" {
					b.WriteString(comment("! NOTE: ", "vrrp_instance "+name+" "+why+": "+
						"its kahook sync script is tracked with fall 2 and rise 2: two failed passes (lost quorum) put it in FAULT, so a pool down for both directors puts both in FAULT and the VIP is on neither"))
				}
				b.WriteString(scriptBlock(script, name, why == ""))
			}
			in, fixme := rewriteInstance(n, script)
			if fixme != "" {
				body.WriteString("! FIXME: " + fixme + "\n")
			}
			if v := vmacNote(n); v != "" {
				body.WriteString(comment("! FIXME: ", v))
			}
			if err := config.Render(&body, []*config.Node{in}, 0); err != nil {
				return err
			}
			continue
		}
		if err := config.Render(&body, []*config.Node{n}, 0); err != nil {
			return err
		}
	}
	if moved > 0 {
		fmt.Fprintf(&b, "! %d virtual_server/virtual_server_group blocks moved to kahook.conf.\n", moved)
	}
	for _, u := range unowned(path, tree) {
		if checked(u.vs) {
			b.WriteString(comment("! FIXME: ", "no vrrp_script runs \"kahook sync\" for virtual_server "+u.where+
				": its real servers have checkers, but it belongs to no vrrp_instance and kahook sync checks an instance's services; "+
				"once an instance owns it (the kahook.conf draft says how), track a vrrp_script running \""+KahookPath+" sync --deadline 8s INSTANCE\" in that vrrp_instance, as drafted for the others"))
		}
	}
	b.WriteString(body.String())
	_, err := io.WriteString(w, b.String())
	return err
}

// syncDaemon is the global_defs lvs_sync_daemon line the keepalived draft
// adds for a vrrp_instance's deprecated lvs_sync_daemon_interface IFACE
// (keepalived 2.2's vrrp_lvs_syncd_handler: "Please use global
// lvs_sync_daemon"), in lvs_syncd_handler's "IFACE INSTANCE" form; nil
// when global_defs has one already (keepalived then ignores the
// instances' lines) or no instance has one. Only the first instance's
// counts, as in keepalived.
func syncDaemon(tree *config.Node) *config.Node {
	if g := tree.First("global_defs"); g != nil && g.First("lvs_sync_daemon") != nil {
		return nil
	}
	for _, in := range tree.Find("vrrp_instance") {
		if n := in.First("lvs_sync_daemon_interface"); n != nil && len(n.Args) > 0 {
			return &config.Node{Pos: n.Pos, Key: "lvs_sync_daemon", Args: []string{n.Arg(0), in.Arg(0)}}
		}
	}
	return nil
}

// secureGlobals adds what keepalived needs to run kahook as root:
// enable_script_security (kahook's files are root's only) and script_user
// root where none is set, and syncd (syncDaemon) unless nil.
func secureGlobals(g *config.Node, syncd *config.Node) *config.Node {
	cp := *g
	cp.Children = append([]*config.Node(nil), g.Children...)
	if syncd != nil {
		cp.Children = append(cp.Children, syncd)
	}
	if g.First("enable_script_security") == nil {
		cp.Children = append(cp.Children, &config.Node{Key: "enable_script_security"})
	}
	if g.First("script_user") == nil {
		cp.Children = append(cp.Children, &config.Node{Key: "script_user", Args: []string{"root"}})
	}
	return &cp
}

// draftConfig parses the kahook.conf draft, to know which instances own
// checked real servers.
func draftConfig(path string, tree *config.Node) *config.Config {
	head, lvs, err := draft(path, tree)
	if err != nil {
		return nil
	}
	cfg, err := config.Parse("draft", []byte(head+lvs), config.Options{})
	if err != nil {
		return nil
	}
	return cfg
}

func instanceChecked(cfg *config.Config, name string) bool {
	for _, vs := range cfg.ServersOf(name) {
		if checked(vs) {
			return true
		}
	}
	return false
}

// checked: a real server of vs has a checker kahook sync runs.
func checked(vs *config.VirtualServer) bool {
	for _, rs := range vs.RealServers {
		if len(rs.Checks) > 0 {
			return true
		}
	}
	return false
}

// scriptBlock runs kahook sync for one instance every 10 s. Weighted (as
// the README's Quick start wires it), a failed pass (lost quorum, on
// MASTER and BACKUP alike) lowers the priority by 60, so a pool down for
// both directors leaves the VIP where it is, as keepalived's own checker
// (which never changes a VRRP state) would; unweighted (where noWeight
// says why), two failed passes put the instance in FAULT.
func scriptBlock(script, instance string, weighted bool) string {
	track := "    fall 2\n    rise 2\n"
	if weighted {
		track = "    weight -60\n"
	}
	return fmt.Sprintf(`vrrp_script %s {
    script "%s sync --deadline 8s %s"
    interval 10
    timeout 12
%s}
`, script, KahookPath, quote(instance), track)
}

// noWeight says why vrrp_instance n's kahook sync script is drafted
// without a weight ("": it is weighted), n being a member of sync group g
// (nil: of none): keepalived would drop the weighted script
// (config.TrackWeightDropped: a sync group without
// sync_group_tracking_weight, the address owner); a group with
// sync_group_tracking_weight allows it, but keepalived.conf(5) says
// weights differing between the group's members "probably WON'T WORK",
// and the draft tracks each checked instance alone (README: `sync`).
func noWeight(n, g *config.Node) string {
	const refused = ", where keepalived refuses a tracked script's weight"
	switch config.TrackWeightDropped(n, g) {
	case "SYNC group":
		return "is in a vrrp_sync_group (" + g.Arg(0) + ")" + refused
	case "address_owner":
		if _, set := config.KeepalivedPriority(n); set {
			return "has priority 255 (the address owner)" + refused
		}
		return "has state MASTER and no priority, so priority 255 (the address owner)" + refused
	}
	if g != nil {
		return "is in a vrrp_sync_group with sync_group_tracking_weight (" + g.Arg(0) +
			"), where keepalived.conf(5) says weights differing between members probably will not work, and a weight here would be on this instance alone"
	}
	return ""
}

func rewriteInstance(n *config.Node, script string) (*config.Node, string) {
	in := &config.Node{Pos: n.Pos, Key: n.Key, Args: n.Args, Block: true}
	v6 := false
	hasNotify := false
	var tracked *config.Node
	for _, c := range n.Children {
		switch c.Key {
		case "virtual_ipaddress", "virtual_ipaddress_excluded":
			if c.Key == "virtual_ipaddress" && len(c.Children) > 0 {
				if a, ok := vipAddr(c.Children[0].Key); ok && a.Is6() {
					v6 = true
				}
			}
			continue // kahook.conf has them
		case "notify":
			hasNotify = true
		case "lvs_sync_daemon_interface":
			continue // global_defs' lvs_sync_daemon (syncDaemon)
		case "track_script":
			cp := *c
			cp.Children = append([]*config.Node(nil), c.Children...)
			tracked = &cp
			in.Children = append(in.Children, tracked)
			continue
		}
		in.Children = append(in.Children, c)
	}
	vrid := 1
	if c := n.First("virtual_router_id"); c != nil {
		if v, err := strconv.Atoi(c.Arg(0)); err == nil && v >= 1 && v <= 255 {
			vrid = v
		}
	}
	ph := netip.MustParseAddr(fmt.Sprintf("127.255.0.%d", vrid)).String() + "/32"
	if v6 {
		ph = fmt.Sprintf("fe80::5e:%x/128", vrid)
	}
	in.Children = append(in.Children, &config.Node{Key: "virtual_ipaddress", Block: true, Children: []*config.Node{
		{Key: ph, Args: []string{"dev", "lo"}},
	}})
	if script != "" {
		if tracked == nil {
			tracked = &config.Node{Key: "track_script", Block: true}
			in.Children = append(in.Children, tracked)
		}
		tracked.Children = append(tracked.Children, &config.Node{Key: script})
	}
	if hasNotify {
		return in, "vrrp_instance " + n.Arg(0) + " already has a notify script: run \"" + KahookPath + " notify\" with the same four arguments from it"
	}
	in.Children = append(in.Children, &config.Node{Key: "notify", Args: []string{KahookPath + " notify"}})
	return in, ""
}
