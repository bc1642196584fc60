// Package importconf drafts a kahook.conf from a keepalived.conf: one
// `instance` per vrrp_instance (its interface and VIPs, the VIPs made host
// addresses for lo) and the virtual_server blocks as they are.
package importconf

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/kahook/kahook/config"
)

// garpKeys are keepalived's per-instance gratuitous ARP settings kahook
// understands; the global vrrp_garp_* forms are their defaults.
var garpKeys = []string{"garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat", "garp_interval"}

// Draft writes the kahook.conf for tree (read from path): notes (such as
// ConfigIDNotes) as FIXMEs below its header, a FIXME in each instance
// whose vrrp_instance has use_vmac, and before the LVS blocks a FIXME for
// each virtual server no instance owns (Unowned) and each notifier script
// kahook does not run (Fixmes).
func Draft(w io.Writer, path string, tree *config.Node, notes ...string) error {
	head, lvs, err := draft(path, tree, notes...)
	if err != nil {
		return err
	}
	var fix strings.Builder
	for _, u := range append(append(emptySyncGroupNotes(tree), notifierNotes(tree)...), Unowned(path, tree)...) {
		fix.WriteString(comment("# FIXME: ", u))
	}
	if fix.Len() > 0 {
		fix.WriteString("\n")
	}
	_, err = io.WriteString(w, head+fix.String()+lvs)
	return err
}

// Unowned lists, one sentence each, the virtual servers of tree that the
// draft's instances do not own (config's rule: the service address is an
// instance's VIP, or its fwmark an instance's), what kahook does with them
// and what the operator should do. Empty when the file has no
// vrrp_instance (keepalived as a checker only) or the draft does not parse.
func Unowned(path string, tree *config.Node) []string {
	var out []string
	for _, u := range unowned(path, tree) {
		fix := "add its address to the virtual_ipaddress of the vrrp_instance that serves it and import again, or drop the block"
		switch {
		case u.vs.FWMark != 0:
			fix = fmt.Sprintf("add 'fwmark %d' to the instance that owns its traffic", u.vs.FWMark)
		case u.vs.Group != "":
			fix = "add one of the group's addresses to the virtual_ipaddress of the vrrp_instance that serves it and import again, or drop the block"
		}
		out = append(out, fmt.Sprintf("virtual_server %s belongs to no instance: no transition loads or removes it "+
			"(only \"kahook ipvs apply\" loads it) and \"kahook sync\" does not check its real servers; %s", u.where, fix))
	}
	return out
}

type unownedVS struct {
	where string // "10.10.10.2 1358 (file:line)"
	vs    *config.VirtualServer
}

func unowned(path string, tree *config.Node) []unownedVS {
	cfg := draftConfig(path, tree)
	if cfg == nil || len(cfg.Instances) == 0 {
		return nil
	}
	nodes := tree.Find("virtual_server")
	var out []unownedVS
	for i, vs := range cfg.VirtualServers {
		if vs.Instance != "" {
			continue
		}
		where := vs.Name()
		if len(nodes) == len(cfg.VirtualServers) {
			where = fmt.Sprintf("%s (%s)", strings.Join(nodes[i].Args, " "), nodes[i].Pos)
		}
		out = append(out, unownedVS{where, vs})
	}
	return out
}

// comment wraps s into comment lines of about 78 columns, the first
// starting with prefix ("# FIXME: ").
func comment(prefix, s string) string {
	lead := prefix[:1] + "   "
	var b strings.Builder
	line := prefix
	for _, w := range strings.Fields(s) {
		if len(line)+len(w) > 78 && len(line) > len(lead) && line != prefix {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = lead
		}
		line += w + " "
	}
	b.WriteString(strings.TrimRight(line, " ") + "\n")
	return b.String()
}

// draft is the kahook.conf in two parts: everything before the LVS blocks,
// and the LVS blocks.
func draft(path string, tree *config.Node, notes ...string) (string, string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `# kahook.conf drafted by "kahook import %[1]s". Review it before use.
#
# keepalived keeps running VRRP; kahook binds the VIPs (IPv4 on lo, IPv6 on
# the announce interface), sets the ARP sysctls, sends gratuitous ARP and
# loads the IPVS services of the instance that owns their address.
# "kahook import --keepalived %[1]s" prints the keepalived.conf that goes
# with it: each vrrp_instance keeps one placeholder VIP (127.255.0.VRID/32
# dev lo) in place of these, runs "/usr/sbin/kahook notify", and tracks a
# vrrp_script running "kahook sync" (the checks below, on MASTER and BACKUP);
# the virtual_server blocks move here.

`, path)
	for _, n := range notes {
		b.WriteString(comment("# FIXME: ", n))
	}
	if len(notes) > 0 {
		b.WriteString("\n")
	}
	globalGARP := map[string]string{}
	if g := tree.First("global_defs"); g != nil {
		for _, k := range garpKeys {
			if n := g.First("vrrp_" + k); n != nil {
				globalGARP[k] = n.Arg(0)
			}
		}
	}
	seen := map[netip.Addr]string{}
	gateways := natSubnets(tree)
	draftGlobals(&b, tree)
	instances := tree.Find("vrrp_instance")
	fwmarks := fwmarksOf(tree)
	for _, in := range instances {
		var marks []string
		if len(instances) == 1 {
			marks = fwmarks
		}
		draftInstance(&b, in, globalGARP, seen, gateways, marks)
	}
	var rest []*config.Node
	for _, n := range tree.Children {
		if n.Key == "virtual_server_group" || n.Key == "virtual_server" || n.Key == "track_file" || n.Key == "vrrp_track_file" {
			rest = append(rest, n)
		}
	}
	var lvs strings.Builder
	if len(rest) > 0 {
		lvs.WriteString("# The LVS blocks, as keepalived has them.\n")
		if err := config.Render(&lvs, rest, 0); err != nil {
			return "", "", err
		}
	}
	return b.String(), lvs.String(), nil
}

func draftInstance(b *strings.Builder, in *config.Node, globalGARP map[string]string, seen map[netip.Addr]string, gateways []netip.Prefix, fwmarks []string) {
	name := in.Arg(0)
	iface := ""
	if n := in.First("interface"); n != nil {
		iface = n.Arg(0)
	}
	fmt.Fprintf(b, "# from vrrp_instance %s (%s)\ninstance %s {\n", name, in.Pos, quote(name))
	if iface == "" {
		iface = "eth0"
		b.WriteString("    # FIXME: the vrrp_instance names no interface\n")
	}
	fmt.Fprintf(b, "    interface %s\n", iface)
	if v := vmacNote(in); v != "" {
		for _, l := range strings.SplitAfter(strings.TrimSuffix(comment("# FIXME: ", v), "\n"), "\n") {
			b.WriteString("    " + l)
		}
		b.WriteString("\n")
	}
	var vips []string
	for _, block := range []string{"virtual_ipaddress", "virtual_ipaddress_excluded"} {
		vb := in.First(block)
		if vb == nil {
			continue
		}
		was := "was"
		if block == "virtual_ipaddress_excluded" {
			was = "was virtual_ipaddress_excluded"
		}
		for _, l := range vb.Children {
			a, ok := vipAddr(l.Key)
			if !ok {
				fmt.Fprintf(b, "    # skipped %s %q: not an address\n", block, l.Text())
				continue
			}
			if other, dup := seen[a]; dup {
				fmt.Fprintf(b, "    # skipped %s: already a VIP of instance %s\n", a, other)
				continue
			}
			seen[a] = name
			if p, dev, ok := gatewayVIP(l, iface, gateways); ok {
				// A NAT gateway: the real servers route through it, so it
				// keeps its subnet on its interface.
				vips = append(vips, fmt.Sprintf("        %s dev %s    # NAT gateway of real servers in %s (%s: %s)", p, dev, p.Masked(), was, l.Text()))
				continue
			}
			if l.Text() == a.String() && block == "virtual_ipaddress" {
				vips = append(vips, "        "+a.String()) // unchanged: nothing to say
				continue
			}
			vips = append(vips, fmt.Sprintf("        %s    # %s: %s", a, was, l.Text()))
		}
	}
	if len(vips) > 0 {
		b.WriteString("    virtual_ipaddress {\n" + strings.Join(vips, "\n") + "\n    }\n")
	} else {
		b.WriteString("    # no VIPs: kahook only loads and removes the IPVS services\n    master {\n        vip off\n    }\n")
	}
	if len(fwmarks) > 0 {
		fmt.Fprintf(b, "    fwmark %s    # keepalived's fwmark virtual servers (the only instance)\n", strings.Join(fwmarks, " "))
	}
	for _, k := range garpKeys {
		v := globalGARP[k]
		if n := in.First(k); n != nil {
			v = n.Arg(0)
		}
		if v != "" {
			fmt.Fprintf(b, "    %s %s\n", k, v)
		}
	}
	b.WriteString("}\n\n")
}

// vipAddr reads the address of a keepalived VIP ("10.0.0.1/24" and the
// like): on lo kahook binds host addresses only.
func vipAddr(s string) (netip.Addr, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}

func quote(s string) string {
	if strings.ContainsAny(s, " \t!#{}\"") {
		return `"` + s + `"`
	}
	return s
}

// draftGlobals carries lvs_sync_daemon (into global_defs) and flags what
// keepalived keeps doing beside kahook: sync
// groups (and their notify scripts, which keepalived still runs) and IPVS
// connection synchronisation.
func draftGlobals(b *strings.Builder, tree *config.Node) {
	var notes []string
	var syncd []string
	var syncdPos string
	if g := tree.First("global_defs"); g != nil {
		if n := g.First("lvs_sync_daemon"); n != nil && len(n.Args) > 0 {
			syncd, syncdPos = n.Args, n.Pos.String()
		}
	}
	for _, in := range tree.Find("vrrp_instance") {
		if n := in.First("lvs_sync_daemon_interface"); n != nil && len(n.Args) > 0 && syncd == nil {
			syncd, syncdPos = []string{n.Arg(0), in.Arg(0)}, n.Pos.String()
		}
	}
	if syncd != nil {
		words := make([]string, len(syncd))
		for i, w := range syncd {
			words[i] = quote(w)
		}
		fmt.Fprintf(b, "# keepalived runs the IPVS sync daemon (%s) and keeps running it. The line\n"+
			"# tells kahook that connections are synchronised: each instance's backup\n"+
			"# then keeps its IPVS services loaded (unless its backup block says\n"+
			"# otherwise), since the kernel binds a synchronised connection or\n"+
			"# persistence template only to a service the backup has.\n"+
			"global_defs {\n    lvs_sync_daemon %s\n}\n\n", syncdPos, strings.Join(words, " "))
	}
	for _, g := range tree.Find("vrrp_sync_group") {
		members := config.SyncGroupMembers(g)
		if len(members) == 0 {
			continue // a FIXME (emptySyncGroupNotes)
		}
		note := fmt.Sprintf("vrrp_sync_group %s (%s) moves %s together; keepalived keeps it, and each member's own kahook instance follows", g.Arg(0), g.Pos, strings.Join(members, ", "))
		var scripts []string
		for _, c := range g.Children {
			if strings.HasPrefix(c.Key, "notify") && len(c.Args) > 0 {
				scripts = append(scripts, c.Key+" "+strings.Join(c.Args, " "))
			}
		}
		if len(scripts) > 0 {
			note += "; its scripts stay in keepalived.conf and keep running: " + strings.Join(scripts, "; ")
		}
		notes = append(notes, note)
	}
	for _, n := range notes {
		b.WriteString("# NOTE: " + n + "\n")
	}
	if len(notes) > 0 {
		b.WriteString("\n")
	}
}

// fwmarksOf lists the fwmark numbers of the fwmark virtual servers.
func fwmarksOf(tree *config.Node) []string {
	var out []string
	for _, vs := range tree.Find("virtual_server") {
		if vs.Arg(0) == "fwmark" && vs.Arg(1) != "" {
			out = append(out, vs.Arg(1))
		}
	}
	return out
}

// natSubnets are the subnets of NAT real servers: a VIP with a prefix
// that holds one is their gateway.
func natSubnets(tree *config.Node) []netip.Prefix {
	var out []netip.Prefix
	for _, vs := range tree.Find("virtual_server") {
		kind := ""
		if n := vs.First("lb_kind"); n != nil {
			kind = strings.ToUpper(n.Arg(0))
		}
		for _, rs := range vs.Find("real_server") {
			k := kind
			if n := rs.First("lvs_method"); n != nil {
				k = strings.ToUpper(n.Arg(0))
			}
			if k != "NAT" {
				continue
			}
			if a, err := netip.ParseAddr(rs.Arg(0)); err == nil {
				out = append(out, netip.PrefixFrom(a.Unmap(), a.BitLen()))
			}
		}
	}
	return out
}

// gatewayVIP: a VIP with a subnet prefix (not a host address) that holds
// a NAT real server keeps its prefix on its interface.
func gatewayVIP(l *config.Node, iface string, rss []netip.Prefix) (netip.Prefix, string, bool) {
	p, err := netip.ParsePrefix(l.Key)
	if err != nil || p.IsSingleIP() {
		return netip.Prefix{}, "", false
	}
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
	dev := iface
	for i := 0; i+1 < len(l.Args); i++ {
		if l.Args[i] == "dev" {
			dev = l.Args[i+1]
		}
	}
	for _, rs := range rss {
		if p.Contains(rs.Addr()) {
			return p, dev, true
		}
	}
	return netip.Prefix{}, "", false
}

// ConfigIDNotes says, in one sentence, which keepalived "@id" lines of
// path (and its includes) the config id in opts (keepalived's -i; by
// default the short host name) left out of the draft: keepalived applies
// an "@id" line only on the node whose config id is id ("@^id": all but
// that node), so a file shared by two nodes drafts one node's config.
// Empty when no line was left out or the file cannot be read.
func ConfigIDNotes(path string, opts config.Options) []string {
	id, dropped, err := config.Conditionals(path, opts)
	if err != nil || len(dropped) == 0 {
		return nil
	}
	count := map[string]int{}
	var ids, others []string
	for _, d := range dropped {
		if count[d.ID] == 0 {
			ids = append(ids, d.ID)
			if !strings.HasPrefix(d.ID, "^") {
				others = append(others, d.ID)
			}
		}
		count[d.ID]++
	}
	var parts []string
	for _, i := range ids {
		parts = append(parts, fmt.Sprintf("%d \"@%s\"", count[i], i))
	}
	lines := "lines"
	if len(dropped) == 1 {
		lines = "line"
	}
	again := "for each other node import again with \"kahook --config-id ID import\" (ID: its config id)"
	if len(others) > 0 {
		again = "for each other node import again with \"kahook --config-id ID import\" (ID: " + strings.Join(others, ", ") + ")"
	}
	return []string{fmt.Sprintf("this draft is for config id %q only: keepalived's conditional lines for other nodes were left out (%d %s, first at %s: %s); %s",
		id, len(dropped), lines, dropped[0].Pos, strings.Join(parts, ", "), again)}
}

// ProblemNotes lists, one sentence each, the problems of path that
// keepalived reports and reads past (config.Config.Problems: a keyword it
// ignores, a checker it skips, a value it falls back from): the draft
// carries those lines as they are, and `kahook config check` on it fails
// as `keepalived -t` fails on the original, so each is a FIXME to fix
// before use. When path does not load as a kahook config (an error kahook
// refuses where keepalived goes on, such as a service defined twice
// through a virtual_server_group), each error is one: the draft carries
// the line and `config check` refuses it. Empty when there is none.
func ProblemNotes(path string, opts config.Options) []string {
	cfg, err := config.Load(path, opts)
	if err != nil {
		var list config.ErrorList
		if !errors.As(err, &list) {
			return []string{fmt.Sprintf("%v (kahook cannot load the original; config check of the draft will say what to fix)", err)}
		}
		var out []string
		for _, e := range list {
			out = append(out, fmt.Sprintf("%s: %s (kahook refuses this line of the original; the draft carries it: fix it, or config check fails)", e.Pos, e.Msg))
		}
		return out
	}
	var out []string
	for _, p := range cfg.Problems {
		out = append(out, fmt.Sprintf("%s: %s (keepalived -t reports it in the original too; the draft carries the line: fix it, or config check fails)", p.Pos, p.Msg))
	}
	if n := cfg.ProblemCount(); n > len(out) {
		out = append(out, fmt.Sprintf("%d more problems in %s (kahook config check %s lists them)", n-len(out), path, path))
	}
	return out
}

// Fixmes lists, one sentence each, what the drafts flag beside Unowned:
// each vrrp_instance with use_vmac (vmacNote) and each notifier script
// kahook does not run (a virtual server's quorum_up/quorum_down, a real
// server's notify_up/notify_down).
func Fixmes(tree *config.Node) []string {
	var out []string
	for _, in := range tree.Find("vrrp_instance") {
		if v := vmacNote(in); v != "" {
			out = append(out, v)
		}
	}
	out = append(out, emptySyncGroupNotes(tree)...)
	return append(out, notifierNotes(tree)...)
}

// emptySyncGroupNotes: a vrrp_sync_group without members (no group block,
// or an empty one), which keepalived 2.2.7 drops ("Sync group G1 has no
// virtual router(s). removing"), so its notify scripts never run.
func emptySyncGroupNotes(tree *config.Node) []string {
	var out []string
	for _, g := range tree.Find("vrrp_sync_group") {
		if len(config.SyncGroupMembers(g)) > 0 {
			continue
		}
		out = append(out, fmt.Sprintf("vrrp_sync_group %s (%s) has no members (no 'group { ... }' naming its vrrp_instances): "+
			"keepalived removes it (\"Sync group %s has no virtual router(s). removing\") and runs none of its scripts; "+
			"name its instances in a group block, or drop it", g.Arg(0), g.Pos, g.Arg(0)))
	}
	return out
}

// vmacNote: kahook binds the VIPs and answers ARP for them with the
// interface's own MAC (gratuitous ARP included), so keepalived's use_vmac
// (a VRRP virtual MAC, RFC 5798 section 7.3) no longer carries the VIPs.
func vmacNote(in *config.Node) string {
	n := in.First("use_vmac")
	if n == nil {
		return ""
	}
	return fmt.Sprintf("vrrp_instance %s has use_vmac (%s): kahook announces and answers for the VIPs with the physical "+
		"interface's own MAC, not the VRRP virtual MAC, so use_vmac no longer keeps neighbours' ARP entries valid across a "+
		"takeover (kahook's gratuitous ARP updates them); drop use_vmac from keepalived.conf unless something else needs the virtual MAC",
		in.Arg(0), n.Pos)
}

// notifierNotes: the virtual servers' quorum_up/quorum_down and the real
// servers' notify_up/notify_down scripts, which keepalived runs on those
// changes; kahook runs none (config check warns too), and keepalived no
// longer loads the virtual servers.
func notifierNotes(tree *config.Node) []string {
	var out []string
	note := func(where string, c *config.Node, what, metric string) {
		out = append(out, fmt.Sprintf("%s: %s %q (%s) will not run: kahook runs no notifier scripts and keepalived no longer "+
			"loads the virtual server; for VRRP transitions run it from the vrrp_instance's keepalived notify, for changes of %s "+
			"watch kahook sync's syslog lines (events=, quorum=) or its --textfile metric %s",
			where, c.Key, strings.Join(c.Args, " "), c.Pos, what, metric))
	}
	for _, vs := range tree.Find("virtual_server") {
		where := "virtual_server " + strings.Join(vs.Args, " ")
		for _, c := range vs.Children {
			switch c.Key {
			case "quorum_up", "quorum_down":
				note(where, c, "its quorum", "kahook_pool_quorum_up")
			case "real_server":
				for _, rc := range c.Children {
					if rc.Key == "notify_up" || rc.Key == "notify_down" {
						note(where+" real_server "+strings.Join(c.Args, " "), rc, "the real server", "kahook_realserver_up")
					}
				}
			}
		}
	}
	return out
}
