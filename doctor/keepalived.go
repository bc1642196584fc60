package doctor

import (
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/vip"
)

// Keepalived is what doctor reads of a keepalived.conf.
type Keepalived struct {
	Path           string
	Strict         bool
	StrictPos      config.Pos
	Security       bool // enable_script_security
	ScriptUser     string
	ScriptUserPos  config.Pos
	GarpRepeat     *config.Node // global vrrp_garp_master_repeat
	Instances      []*VRRPInstance
	Groups         map[string]bool // vrrp_sync_group names
	Scripts        []Script
	VirtualServers []*config.Node
	// VRRPScripts are the vrrp_script blocks keepalived tracks by name (the
	// first of each name that has a script line); Tracked the names a
	// vrrp_instance or vrrp_sync_group tracks (keepalived drops the rest:
	// "Warning - script X is not used"). TrackedEarly: names tracked
	// before their vrrp_script block, which keepalived 2.2.7 ignores
	// ("track script X not found, ignoring...": it resolves track_script
	// while reading), by where they are tracked.
	VRRPScripts  map[string]Script
	Tracked      map[string]bool
	TrackedEarly map[string]config.Pos
	// Dropped: names a vrrp_instance tracks with a weight where keepalived
	// 2.2.7 drops the track ("ignoring tracked script X with weights due
	// to SYNC group|address_owner": config.TrackWeightDropped), and not
	// tracked elsewhere.
	Dropped map[string]DroppedTrack
	// WeightDropped: why keepalived drops every weighted track of a
	// vrrp_instance ("SYNC group" or "address_owner",
	// config.TrackWeightDropped), by instance name; absent where it keeps
	// them.
	WeightDropped map[string]string
	// scriptWeights are the weight lines of the VRRPScripts blocks.
	scriptWeights map[string]int
	// SyncDaemon is global_defs' lvs_sync_daemon (or an instance's older
	// lvs_sync_daemon_interface): IPVS connections are synchronised.
	SyncDaemon *config.Node
}

// DroppedTrack is a track_script line keepalived drops: where, in which
// vrrp_instance, with what weight, and why ("SYNC group" or
// "address_owner").
type DroppedTrack struct {
	Pos      config.Pos
	Instance string
	Weight   int
	Why      string
}

// VRRPInstance is a vrrp_instance block.
type VRRPInstance struct {
	Node      *config.Node
	Name      string
	Interface string
	VRID      int
	VRIDPos   config.Pos
	Priority  int
	PrioPos   config.Pos
	State     string
	Nopreempt *config.Node
	Accept    bool
	AuthPass  *config.Node
	Auth      *config.Node
	Unicast   *config.Node
	VIPs      []KVIP
}

// KVIP is a keepalived virtual_ipaddress line.
type KVIP struct {
	Pos    config.Pos
	Prefix netip.Prefix
	Dev    string
}

// Script is a program keepalived runs.
type Script struct {
	Pos  config.Pos
	Kind string // notify_master, vrrp_script, misc_path...
	Cmd  string
	// User is the word after a notify-like script's command, which
	// keepalived 2.2.7 takes as the user to run it as (notify_script_init:
	// the line's third word), "" when there is none.
	User string
}

var scriptKeys = map[string]bool{
	"notify": true, "notify_master": true, "notify_backup": true, "notify_fault": true, "notify_stop": true,
	"notify_deleted": true, "notify_master_rx_lower_pri": true, "notify_fifo_script": true,
	"vrrp_notify_fifo_script": true, "lvs_notify_fifo_script": true, "misc_path": true,
	"notify_up": true, "notify_down": true, "quorum_up": true, "quorum_down": true,
}

// ReadKeepalived extracts what doctor checks from a parsed tree.
func ReadKeepalived(path string, tree *config.Node) *Keepalived {
	k := &Keepalived{Path: path, Groups: map[string]bool{}, VRRPScripts: map[string]Script{}, Tracked: map[string]bool{}, TrackedEarly: map[string]config.Pos{},
		Dropped: map[string]DroppedTrack{}, WeightDropped: map[string]string{}, scriptWeights: map[string]int{}}
	groupOf := config.SyncGroupOf(tree)
	var walkScripts func(n *config.Node, in string)
	walkScripts = func(n *config.Node, in string) {
		for _, c := range n.Children {
			if scriptKeys[c.Key] && len(c.Args) > 0 {
				s := Script{Pos: c.Pos, Kind: c.Key, Cmd: strings.Join(c.Args, " ")}
				if c.Key != "misc_path" && len(c.Args) > 1 {
					s.User = c.Args[1]
				}
				k.Scripts = append(k.Scripts, s)
			}
			if c.Key == "script" && in == "vrrp_script" && len(c.Args) > 0 {
				k.Scripts = append(k.Scripts, Script{Pos: c.Pos, Kind: "vrrp_script", Cmd: strings.Join(c.Args, " ")})
			}
			walkScripts(c, c.Key)
		}
	}
	walkScripts(tree, "")
	for _, n := range tree.Children {
		switch n.Key {
		case "global_defs":
			for _, c := range n.Children {
				switch c.Key {
				case "vrrp_strict":
					k.Strict, k.StrictPos = true, c.Pos
				case "enable_script_security":
					k.Security = true
				case "script_user":
					k.ScriptUser, k.ScriptUserPos = c.Arg(0), c.Pos
				case "vrrp_garp_master_repeat":
					k.GarpRepeat = c
				case "lvs_sync_daemon":
					k.SyncDaemon = c
				}
			}
		case "vrrp_instance":
			k.Instances = append(k.Instances, readInstance(n))
			why := config.TrackWeightDropped(n, groupOf[n.Arg(0)])
			if why != "" {
				k.WeightDropped[n.Arg(0)] = why
			}
			readTracked(k, n, why)
			if c := n.First("lvs_sync_daemon_interface"); c != nil && k.SyncDaemon == nil {
				k.SyncDaemon = c
			}
		case "vrrp_sync_group":
			k.Groups[n.Arg(0)] = true
			readTracked(k, n, "")
		case "vrrp_script":
			// A track resolves to the first block of its name that has a
			// script (find_script_by_name; one without is removed): a
			// later block changes nothing and never runs (keepalived
			// 2.2.7 logs "script NAME is not used" when it starts; -t
			// says nothing).
			if _, seen := k.VRRPScripts[n.Arg(0)]; seen {
				break
			}
			if c := n.First("script"); c != nil && len(c.Args) > 0 {
				// Its value only: keepalived runs the line's first word
				// (set_script_params_array: slot 1), so an unquoted
				// "script /usr/sbin/kahook sync VI_1" runs kahook alone.
				k.VRRPScripts[n.Arg(0)] = Script{Pos: c.Pos, Kind: "vrrp_script", Cmd: c.Args[0]}
				k.scriptWeights[n.Arg(0)] = 0
				for _, w := range n.Find("weight") {
					k.scriptWeights[n.Arg(0)], _ = strconv.Atoi(w.Arg(0))
				}
			}
		case "virtual_server":
			k.VirtualServers = append(k.VirtualServers, n)
		}
	}
	return k
}

// readTracked records the scripts a vrrp_instance or vrrp_sync_group's
// track_script block names (its lines: NAME [weight N]), in keepalived's
// order: a script not defined above is not tracked. dropWeighted (a
// vrrp_instance's config.TrackWeightDropped) says why keepalived drops
// the instance's weighted tracks ("": it keeps them).
func readTracked(k *Keepalived, n *config.Node, dropWeighted string) {
	for _, ts := range n.Find("track_script") {
		for _, c := range ts.Children {
			if _, defined := k.VRRPScripts[c.Key]; !defined {
				if _, seen := k.TrackedEarly[c.Key]; !seen {
					k.TrackedEarly[c.Key] = c.Pos
				}
				continue
			}
			w := k.scriptWeights[c.Key]
			if c.Arg(0) == "weight" {
				w, _ = strconv.Atoi(c.Arg(1))
			}
			if dropWeighted != "" && w != 0 {
				if !k.Tracked[c.Key] {
					k.Dropped[c.Key] = DroppedTrack{Pos: c.Pos, Instance: n.Arg(0), Weight: w, Why: dropWeighted}
				}
				continue
			}
			k.Tracked[c.Key] = true
			delete(k.Dropped, c.Key)
		}
	}
}

// Placeholder reports whether a keepalived VIP is a placeholder rather than
// a service address: a host address on lo that is loopback (127/8) or
// link-local, which the kernel never answers for on the wire (README:
// keepalived's VIP is a placeholder).
func (v KVIP) Placeholder() bool {
	a := v.Prefix.Addr()
	return v.Dev == "lo" && v.Prefix.IsSingleIP() && (a.IsLoopback() || a.IsLinkLocalUnicast())
}

// PlaceholderFor is the placeholder kahook suggests for an instance: one
// per VRID, the same on both directors.
func PlaceholderFor(in *VRRPInstance, v6 bool) string {
	id := max(in.VRID, 1)
	if v6 {
		return fmt.Sprintf("fe80::5e:%x/128 dev lo", id)
	}
	return fmt.Sprintf("127.255.0.%d/32 dev lo", id)
}

// serviceVIPs are a vrrp_instance's VIPs that are not placeholders.
func (in *VRRPInstance) serviceVIPs() []KVIP {
	var out []KVIP
	for _, v := range in.VIPs {
		if !v.Placeholder() {
			out = append(out, v)
		}
	}
	return out
}

func readInstance(n *config.Node) *VRRPInstance {
	in := &VRRPInstance{Node: n, Name: n.Arg(0), VRID: -1, Priority: -1}
	for _, c := range n.Children {
		switch c.Key {
		case "interface":
			in.Interface = c.Arg(0)
		case "virtual_router_id":
			in.VRID, _ = strconv.Atoi(c.Arg(0))
			in.VRIDPos = c.Pos
		case "priority":
			in.Priority, _ = strconv.Atoi(c.Arg(0))
			in.PrioPos = c.Pos
		case "state":
			in.State = strings.ToUpper(c.Arg(0))
		case "nopreempt":
			in.Nopreempt = c
		case "accept":
			in.Accept = true
		case "authentication":
			in.Auth = c
			in.AuthPass = c.First("auth_pass")
		case "unicast_peer":
			in.Unicast = c
		case "virtual_ipaddress":
			for _, l := range c.Children {
				if v, ok := parseKVIP(l, in.Interface); ok {
					in.VIPs = append(in.VIPs, v)
				}
			}
		}
	}
	// interface may come after virtual_ipaddress.
	for i := range in.VIPs {
		if in.VIPs[i].Dev == "" {
			in.VIPs[i].Dev = in.Interface
		}
	}
	return in
}

func parseKVIP(l *config.Node, iface string) (KVIP, bool) {
	v := KVIP{Pos: l.Pos}
	p, err := netip.ParsePrefix(l.Key)
	if err != nil {
		a, aerr := netip.ParseAddr(l.Key)
		if aerr != nil {
			return v, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	v.Prefix = p
	for i := 0; i+1 < len(l.Args); i++ {
		if l.Args[i] == "dev" {
			v.Dev = l.Args[i+1]
		}
	}
	return v, true
}

// LintKeepalived checks a keepalived.conf (with the kahook.conf that goes
// with it, if any): the combinations that leave a VIP unanswered, scripts
// keepalived will refuse or run unsafely, and VRRP mistakes.
func LintKeepalived(r *Report, k *Keepalived, kc *config.Config) {
	lintStrict(r, k)
	lintInstances(r, k)
	lintScripts(r, k)
	lintServers(r, k, kc)
}

func lintStrict(r *Report, k *Keepalived) {
	if k.GarpRepeat != nil && k.GarpRepeat.Arg(0) == "0" {
		r.add(Warn, "garp", k.GarpRepeat.Pos, "vrrp_garp_master_repeat 5 (keepalived's default)", "vrrp_garp_master_repeat 0: a new master sends no gratuitous ARP and neighbours keep the old MAC")
	}
	for _, in := range k.Instances {
		if g := in.Node.First("garp_master_repeat"); g != nil && g.Arg(0) == "0" {
			r.add(Warn, "garp", g.Pos, "garp_master_repeat 5", "vrrp_instance %s: garp_master_repeat 0: no gratuitous ARP on becoming master", in.Name)
		}
	}
	if !k.Strict {
		return
	}
	fix := "remove vrrp_strict from global_defs (it only enforces RFC 3768 and blocks these)"
	for _, in := range k.Instances {
		if len(in.VIPs) == 0 {
			r.add(Fail, "strict", in.Node.Pos, "add a placeholder: virtual_ipaddress { "+PlaceholderFor(in, false)+" }", "vrrp_strict with vrrp_instance %s and no virtual_ipaddress: keepalived refuses the instance in strict mode", in.Name)
		}
		for _, v := range in.serviceVIPs() {
			if v.Dev == "lo" {
				r.add(Fail, "strict", v.Pos, fix, "vrrp_strict with VIP %s on lo: strict mode's firewall DROP rule and ARP handling leave it unanswered", v.Prefix)
			}
		}
		if in.Unicast != nil {
			r.add(Fail, "strict", in.Unicast.Pos, fix, "vrrp_strict with unicast_peer in %s: strict mode forbids unicast VRRP", in.Name)
		}
		if len(in.VIPs) > 20 {
			r.add(Fail, "strict", in.Node.Pos, fix+" or split the VIPs over instances", "vrrp_strict with %d VIPs in %s: strict mode allows 20", len(in.VIPs), in.Name)
		}
		if in.Auth != nil {
			r.add(Fail, "strict", in.Auth.Pos, fix+" or drop authentication", "vrrp_strict with authentication in %s: strict mode forbids it", in.Name)
		}
		if !in.Accept && len(in.serviceVIPs()) > 0 {
			r.add(Warn, "strict", k.StrictPos, "add 'accept' to vrrp_instance "+in.Name+" or remove vrrp_strict", "vrrp_strict without 'accept' in %s: keepalived installs a firewall rule dropping all traffic to its VIPs (\"VIP up, no traffic\")", in.Name)
		}
	}
}

func lintInstances(r *Report, k *Keepalived) {
	byIfVRID := map[string]*VRRPInstance{}
	for _, in := range k.Instances {
		if in.VRID != -1 {
			if in.VRID < 1 || in.VRID > 255 {
				r.add(Fail, "vrid", in.VRIDPos, "use a virtual_router_id in 1-255, unique on the segment", "vrrp_instance %s: virtual_router_id %d is out of range 1-255", in.Name, in.VRID)
			}
			key := in.Interface + "/" + strconv.Itoa(in.VRID)
			if prev, dup := byIfVRID[key]; dup {
				r.add(Fail, "vrid", in.VRIDPos, "give each vrrp_instance on one interface its own virtual_router_id", "vrrp_instance %s and %s (%s) both use virtual_router_id %d on %s: they fight as one router", in.Name, prev.Name, prev.VRIDPos, in.VRID, in.Interface)
			}
			byIfVRID[key] = in
		}
		if in.AuthPass != nil && len(in.AuthPass.Arg(0)) > 8 {
			r.add(Warn, "auth", in.AuthPass.Pos, "use at most 8 characters (both nodes compare only the first 8)", "vrrp_instance %s: auth_pass %q is longer than 8 characters: keepalived silently truncates it", in.Name, in.AuthPass.Arg(0))
		}
		if in.Priority == 255 {
			r.add(Warn, "priority", in.PrioPos, "use 254 or lower unless the VIPs are this node's own addresses", "vrrp_instance %s: priority 255 is reserved for the owner of the addresses; a non-owner with 255 always preempts", in.Name)
		}
		if in.Nopreempt != nil && in.State == state.Master.String() {
			r.add(Warn, "nopreempt", in.Nopreempt.Pos, "set 'state BACKUP' with nopreempt", "vrrp_instance %s: nopreempt with state MASTER: keepalived ignores nopreempt unless the initial state is BACKUP", in.Name)
		}
		if len(in.VIPs) == 0 {
			r.add(Fail, "no-vip", in.Node.Pos, "add a placeholder: virtual_ipaddress { "+PlaceholderFor(in, false)+" } (the same on both directors; kahook binds the service VIPs)",
				"vrrp_instance %s has no virtual_ipaddress: keepalived -t exits 5 (\"No VIP specified\") and VRRPv3 refuses the instance", in.Name)
		}
		for _, v := range in.serviceVIPs() {
			if v.Dev == "lo" {
				if (vip.Addr{Prefix: v.Prefix, Dev: "lo"}).Check() != nil {
					r.add(Fail, "vip-lo", v.Pos, "use "+v.Prefix.Addr().String()+"/32 on lo", "VIP %s on lo is not a host address: the whole subnet becomes local to this node", v.Prefix)
				}
				r.add(Fail, "vip-lo", v.Pos, "take it out of keepalived's virtual_ipaddress and let kahook bind it on lo (instance "+in.Name+" in kahook.conf) and announce it on "+in.Interface,
					"keepalived VIP %s on dev lo: keepalived sends its gratuitous ARP out of lo (nobody hears it) and the VIP is answered on %s only with arp_ignore 0", v.Prefix, in.Interface)
			}
		}
	}
}

func lintScripts(r *Report, k *Keepalived) {
	if len(k.Scripts) == 0 {
		return
	}
	if !k.Security {
		r.add(Warn, "script-security", config.Pos{File: k.Path}, "add enable_script_security to global_defs", "keepalived runs %d scripts without enable_script_security: a script another user can write runs as root", len(k.Scripts))
	}
	switch {
	case k.ScriptUser != "":
		if _, err := user.Lookup(k.ScriptUser); err != nil {
			r.add(Fail, "script-user", k.ScriptUserPos, "create the user or fix script_user", "script_user %s does not exist: keepalived cannot run its scripts", k.ScriptUser)
		}
	default:
		if _, err := user.Lookup("keepalived_script"); err != nil {
			r.add(Warn, "script-user", config.Pos{File: k.Path}, "set 'script_user root' in global_defs (or create keepalived_script)", "no script_user and no keepalived_script user: keepalived runs scripts as root and logs a warning each start")
		}
	}
	for _, s := range k.Scripts {
		if s.User != "" {
			if _, err := user.Lookup(s.User); err != nil {
				r.add(Fail, "script", s.Pos, "quote the whole command, its arguments included: "+s.Kind+" \""+s.Cmd+"\"",
					"%s %s: keepalived takes the word after the command, %q, as the user to run it as, and there is no such user, so it ignores the script (\"Invalid user/group for notify script\"; keepalived -t does not say)", s.Kind, s.Cmd, s.User)
				continue
			}
		}
		argv, err := config.SplitCommand(s.Cmd)
		if err != nil || len(argv) == 0 {
			r.add(Fail, "script", s.Pos, "quote the command as keepalived expects", "%s %q: %v", s.Kind, s.Cmd, err)
			continue
		}
		prog := argv[0]
		if !strings.Contains(prog, "/") {
			// keepalived 2.2.7 (find_path, lib/notify.c) runs a bare name
			// found by path search, with "WARNING - script `NAME` resolved
			// by path search to `PATH`. Please specify full path.", and
			// disables it when the search finds nothing. Its PATH (the
			// service's) may differ from doctor's.
			found, err := check.LookPath(prog)
			if err != nil {
				r.add(Fail, "script", s.Pos, "give the absolute path of "+prog, "%s %q: %v: keepalived disables the script", s.Kind, prog, err)
				continue
			}
			r.add(Warn, "script", s.Pos, "give the absolute path: "+found, "%s %q: resolved by path search to %s, as keepalived resolves it, warning \"Please specify full path\" (keepalived's PATH, the service's, may differ from doctor's)", s.Kind, prog, found)
			prog = found
		} else if !filepath.IsAbs(prog) {
			r.add(Fail, "script", s.Pos, "give the absolute path of "+prog, "%s %q: not an absolute path (keepalived runs it relative to its working directory, /)", s.Kind, prog)
			continue
		}
		st, err := os.Stat(prog)
		if err != nil {
			r.add(Fail, "script", s.Pos, "install "+prog+" or fix the path", "%s %s: %v", s.Kind, prog, err)
			continue
		}
		if st.Mode()&0o111 == 0 || st.IsDir() {
			r.add(Fail, "script", s.Pos, "chmod 755 "+prog, "%s %s is not executable", s.Kind, prog)
			continue
		}
		if err := config.CheckSecure(prog); err != nil {
			sev := Warn
			if k.Security {
				sev = Fail
			}
			r.add(sev, "script", s.Pos, "chown root and chmod go-w the script and every directory above it", "%s: %v", s.Kind, err)
		}
	}
}

// lintServers: virtual_server addresses no instance owns. A config with
// no VRRP instance at all (keepalived as a checker only) owns none and
// is not warned about.
func lintServers(r *Report, k *Keepalived, kc *config.Config) {
	if len(k.Instances) == 0 && (kc == nil || len(kc.Instances) == 0) {
		return
	}
	owned := map[netip.Addr]bool{}
	for _, in := range k.Instances {
		for _, v := range in.VIPs {
			owned[v.Prefix.Addr()] = true
		}
	}
	if kc != nil {
		for _, in := range kc.Instances {
			for _, v := range in.VIPs {
				owned[v.Prefix.Addr()] = true
			}
		}
	}
	for _, vs := range k.VirtualServers {
		a, err := netip.ParseAddr(vs.Arg(0))
		if err != nil {
			continue // fwmark / group
		}
		if !owned[a.Unmap()] {
			r.add(Warn, "vs-owner", vs.Pos, "add "+a.String()+" to the virtual_ipaddress of the instance that serves it",
				"virtual_server %s %s: no vrrp_instance (nor kahook instance) holds %s: nothing moves it on failover", vs.Arg(0), vs.Arg(1), a)
		}
	}
}
