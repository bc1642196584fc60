package doctor

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
)

// LintKahook checks a kahook.conf against itself and the keepalived.conf
// that drives it (k may be nil).
func LintKahook(r *Report, kc *config.Config, k *Keepalived) {
	for _, w := range kc.Warnings {
		r.add(Warn, "config", w.Pos, "make it explicit in the config", "%s", w.Msg)
	}
	// What keepalived -t reports as a config error fails config check
	// too (exit 2): the same here.
	for _, p := range kc.Problems {
		r.add(Fail, "config", p.Pos, "fix it as keepalived -t would ask (kahook config check lists every one)", "%s", p.Msg)
	}
	for _, vs := range kc.VirtualServers {
		for _, rs := range vs.RealServers {
			if len(rs.OtherChecks) > 0 {
				r.add(Warn, "checks", rs.Pos, "add a TCP_CHECK/HTTP_GET/MISC_CHECK kahook can run, if kahook sync checks this pool", "real_server %s: %v are keepalived checkers `kahook sync` does not run: it counts the server healthy", rs.Endpoint(), rs.OtherChecks)
			}
		}
	}
	lintUnowned(r, kc)
	lintMiscPaths(r, kc)
	lintStateful(r, kc, k)
	lintTrackFiles(r, kc)
	if k == nil {
		return
	}
	vrrp := map[string]*VRRPInstance{}
	for _, in := range k.Instances {
		vrrp[in.Name] = in
	}
	for _, in := range kc.Instances {
		kin, ok := vrrp[in.Name]
		if !ok && !k.Groups[in.Name] {
			r.add(Warn, "instance", in.Pos, "name the kahook instance after its vrrp_instance (or sync group): keepalived passes that name to notify",
				"instance %s: %s has no vrrp_instance or vrrp_sync_group %s", in.Name, k.Path, in.Name)
			continue
		}
		if kin == nil {
			continue
		}
		if kin.Interface != "" && kin.Interface != in.Interface {
			r.add(Warn, "instance", in.Pos, "use the vrrp_instance's interface", "instance %s: interface %s, but keepalived's vrrp_instance runs VRRP on %s", in.Name, in.Interface, kin.Interface)
		}
		for _, v := range in.VIPs {
			for _, kv := range kin.VIPs {
				if kv.Prefix.Addr() == v.Prefix.Addr() {
					r.add(Fail, "vip-owner", kv.Pos, "replace "+kv.Prefix.String()+" in keepalived's virtual_ipaddress with the placeholder "+PlaceholderFor(kin, kv.Prefix.Addr().Is6()),
						"VIP %s is bound by keepalived (on %s) and by kahook (on %s): keepalived binds and announces it before kahook has loaded IPVS, and vrrp_strict drops its traffic", v.Prefix.Addr(), kv.Dev, v.Dev)
				}
			}
		}
	}
	lintSyncWired(r, kc, k)
	// A vrrp_instance whose notify runs kahook needs its kahook instance.
	for _, in := range k.Instances {
		for _, c := range in.Node.Children {
			if !strings.HasPrefix(c.Key, "notify") || len(c.Args) == 0 {
				continue
			}
			argv, err := config.SplitCommand(strings.Join(c.Args, " "))
			if err != nil || len(argv) == 0 || filepath.Base(argv[0]) != "kahook" {
				continue
			}
			if kc.Instance(in.Name) == nil {
				r.add(Fail, "instance", c.Pos, "add 'instance "+in.Name+" { ... }' to "+kc.Path,
					"vrrp_instance %s runs kahook as %s, but %s has no instance %s: every transition exits 2", in.Name, c.Key, kc.Path, in.Name)
			}
		}
	}
}

// lintUnowned warns about each virtual server no instance owns (config's
// ownership rule: its address is an instance's VIP, its fwmark one an
// instance lists, or its group holds such an address; vs.Instance ""):
// no transition loads or removes it and `kahook sync` does not check its
// real servers; only `kahook ipvs apply` loads it. With no instance at all
// (keepalived "as LVS checker only", imported) that holds for every one.
// A WARN, not a FAIL: `ipvs apply` still loads them, and no VIP depends on
// them.
func lintUnowned(r *Report, kc *config.Config) {
	for _, vs := range kc.VirtualServers {
		if vs.Instance != "" {
			continue
		}
		what := "belongs to no instance"
		fix := ownHint(vs, "the instance that serves it", "the virtual_ipaddress of the instance that serves it") + ", or drop the block"
		if len(kc.Instances) == 0 {
			what = "belongs to no instance (" + kc.Path + " has none)"
			fix = "add an 'instance' block for the vrrp_instance that serves it and " + ownHint(vs, "it", "its virtual_ipaddress") +
				"; if keepalived runs it without VRRP (as LVS checker only), leave the virtual_server in keepalived.conf and drop it from " + kc.Path
		}
		r.add(Warn, "unowned-virtual-server", vs.Pos, fix,
			"virtual_server %s %s: no transition loads or removes it (only `kahook ipvs apply` loads it) and `kahook sync` does not check its real servers", vs.Name(), what)
	}
}

// ownHint says how an instance comes to own vs (config's ownership rule);
// in names the instance, vips its virtual_ipaddress.
func ownHint(vs *config.VirtualServer, in, vips string) string {
	switch {
	case vs.Group != "":
		return "add one of virtual_server_group " + vs.Group + "'s addresses to " + vips + " (for a fwmark entry: 'fwmark N' to " + in + ")"
	case vs.FWMark != 0:
		return fmt.Sprintf("add 'fwmark %d' to %s", vs.FWMark, in)
	default:
		return "add " + vs.Addr.Addr().String() + " to " + vips
	}
}

// LintTwoNodeDR: a director that is also an LVS-DR/TUN real server of
// its own pool must, while backup, keep the VIP on lo with realserver
// sysctls and no IPVS rules (the other director sends it traffic for
// the VIP; with IPVS rules it would send it back: a loop).
func LintTwoNodeDR(r *Report, kc *config.Config, local map[netip.Addr]bool) {
	for _, in := range kc.Instances {
		for _, vs := range kc.ServersOf(in.Name) {
			for _, rs := range vs.RealServers {
				if (rs.LBKind != "DR" && rs.LBKind != "TUN") || !local[rs.Addr] {
					continue
				}
				if in.Backup.IPVS != config.IPVSRemove {
					r.add(Fail, "two-node-dr", in.Pos, "backup { ipvs remove } in instance "+in.Name,
						"this node is a %s real server (%s) of %s and keeps IPVS rules while backup: packets loop between the two directors", rs.LBKind, rs.Endpoint(), vs.Name())
				}
				if !in.Backup.VIP || in.Backup.Sysctl != config.RoleRealServer {
					r.add(Fail, "two-node-dr", in.Pos, "backup { vip on\n sysctl realserver } in instance "+in.Name,
						"this node is a %s real server (%s) of %s: while backup it must keep the VIP on lo with realserver sysctls to serve what the master sends it", rs.LBKind, rs.Endpoint(), vs.Name())
				}
			}
		}
	}
}

// lintMiscPaths: a MISC_CHECK program that `sync` would refuse to run
// (keepalived's script-security rule) or cannot find is a FAIL: its real
// servers would be drained.
func lintMiscPaths(r *Report, kc *config.Config) {
	for _, p := range check.ScriptProblems(kc) {
		fix := "install the program or fix misc_path (an absolute path)"
		var ie *config.InsecureError
		if errors.As(p.Err, &ie) {
			fix = ie.Fix() + " (root must own the program, every directory above it and every symlink on the way; none writable by others)"
		}
		r.add(Fail, "misc-path", p.Pos, fix, "MISC_CHECK misc_path %q: %v: kahook sync will not run it and counts the check failed", p.MiscPath, p.Err)
	}
}

// lintTrackFiles: a FILE_CHECK track file that `sync` would refuse to
// read (check.SecureTrackFile: its directory others can add names to, or
// the file others can write) is a FAIL: its real servers would be down.
func lintTrackFiles(r *Report, kc *config.Config) {
	for _, vs := range kc.VirtualServers {
		for _, rs := range vs.RealServers {
			for _, c := range rs.Checks {
				if c.File == nil {
					continue
				}
				if err := check.SecureTrackFile(c.File.Path); err != nil {
					fix := "keep track files in a directory only root can write (chown root; chmod go-w)"
					var ie *config.InsecureError
					if errors.As(err, &ie) {
						fix = ie.Fix() + " (" + fix + ")"
					}
					r.add(Fail, "track-file", c.Pos, fix, "FILE_CHECK track file %q: %v: kahook sync will not read it and counts the check failed", c.File.Path, err)
				}
			}
		}
	}
}

// lintSyncWired: kahook.conf's checkers run only in `kahook sync`, which
// keepalived runs only as a vrrp_script that some vrrp_instance or
// vrrp_sync_group tracks (keepalived drops untracked scripts). Without it
// every real server stays in the table whatever its health.
func lintSyncWired(r *Report, kc *config.Config, k *Keepalived) {
	for _, in := range kc.Instances {
		checked := 0
		for _, vs := range kc.ServersOf(in.Name) {
			for _, rs := range vs.RealServers {
				checked += len(rs.Checks)
			}
		}
		if checked == 0 {
			continue
		}
		wired, untracked, dropped := false, "", ""
		for name, s := range k.VRRPScripts {
			if !SyncRuns(s.Cmd, in.Name, len(kc.Instances)) {
				continue
			}
			switch _, drop := k.Dropped[name]; {
			case k.Tracked[name]:
				wired = true
			case drop:
				dropped = name
			default:
				untracked = name
			}
		}
		switch {
		case wired:
		case dropped != "":
			d := k.Dropped[dropped]
			r.add(Fail, "checks-wired", d.Pos, "replace the weight of vrrp_script "+dropped+" with 'fall 2' and 'rise 2' (FAULT after two failed passes), or track it from an instance keepalived lets weight it",
				"instance %s: vrrp_instance %s tracks vrrp_script %s with weight %d, and keepalived drops a weighted tracked script of an instance in a vrrp_sync_group (without sync_group_tracking_weight) or of the address owner (priority 255, or state MASTER without a priority) (\"ignoring tracked script %s with weights due to %s\"): it never runs it, and the %d checkers of its real servers never run",
				in.Name, d.Instance, dropped, d.Weight, dropped, d.Why, checked)
		case untracked != "" && k.TrackedEarly[untracked].Line != 0:
			at := k.TrackedEarly[untracked]
			r.add(Fail, "checks-wired", in.Pos, "move vrrp_script "+untracked+" above the vrrp_instance that tracks it ("+at.String()+")",
				"instance %s: vrrp_script %s is tracked at %s, before it is defined: keepalived resolves track_script as it reads (\"track script %s not found, ignoring\") and never runs it: the %d checkers of its real servers never run", in.Name, untracked, at, untracked, checked)
		case untracked != "":
			r.add(Fail, "checks-wired", in.Pos, "add 'track_script { "+untracked+" }' to vrrp_instance "+in.Name,
				"instance %s: vrrp_script %s runs kahook sync but no vrrp_instance tracks it, so keepalived never runs it: the %d checkers of its real servers never run", in.Name, untracked, checked)
		default:
			// One vrrp_script per instance where there are several (a second
			// block of the same name replaces the first), named as import
			// names them.
			name := "kahook_sync"
			if len(kc.Instances) > 1 {
				name += "_" + in.Name
			}
			move := ""
			if a, err := filepath.Abs(kc.Path); err == nil && unpassable(a) {
				move = "move " + kc.Path + " to a path without quotes or backslashes, which a keepalived script line cannot pass to kahook (the script below reads the default, " + config.DefaultPath + "); then "
			}
			why := k.WeightDropped[in.Name]
			note := " (in a vrrp_sync_group or for priority 255 keepalived refuses a weight: use 'fall 2' and 'rise 2' instead of 'weight -60')"
			if why != "" {
				note = " ('fall 2' and 'rise 2', not a weight, which keepalived drops here, due to " + why + ": two failed passes put the instance in FAULT)"
			}
			r.add(Fail, "checks-wired", in.Pos, move+"add at the top level of "+k.Path+", above vrrp_instance "+in.Name+" (keepalived reads one keyword per line, and a vrrp_script only once it is defined):\n"+SyncScript(name, in.Name, kc.Path, why != "")+
				"\n       and 'track_script { "+name+" }' inside vrrp_instance "+in.Name+note,
				"instance %s: %d checkers in %s, but no vrrp_script of %s runs kahook sync for it: they never run and dead real servers stay in the table", in.Name, checked, kc.Path, k.Path)
		}
	}
}

// SyncScript is the vrrp_script name that runs `kahook sync` for instance, as
// the README's Quick start and packaging/examples wire it: every 10 s, the
// pass bounded at 8 s (--deadline) inside keepalived's 12 s timeout, a
// failed pass (lost quorum) lowering the priority by 60. One keyword per
// line, indented for a finding's fix: keepalived drops every word after a
// keyword's value, so the block on one line would keep only the script.
//
// configPath is the kahook.conf doctor read: any other than
// config.DefaultPath is passed with --config (the script would read the
// default one), made absolute (keepalived runs scripts from /) and
// single-quoted where keepalived would split it (config.SplitCommand's
// rules). A path holding a quote or backslash (unpassable) cannot be
// passed: the script reads the default then. noWeight: the instance is
// one whose weighted tracks keepalived drops (Keepalived.WeightDropped),
// so the script is tracked with fall 2 and rise 2 instead, as `kahook
// import --keepalived` drafts it.
func SyncScript(name, instance, configPath string, noWeight bool) string {
	kahook := "/usr/sbin/kahook"
	if a, err := filepath.Abs(configPath); err == nil && configPath != "" {
		configPath = a // keepalived runs scripts from /
	}
	if configPath != "" && configPath != config.DefaultPath && !unpassable(configPath) {
		kahook += " --config " + scriptWord(configPath)
	}
	track := "             weight -60\n"
	if noWeight {
		track = "             fall 2\n             rise 2\n"
	}
	return "         vrrp_script " + name + " {\n" +
		"             script \"" + kahook + " sync --deadline 8s " + instance + "\"\n" +
		"             interval 10\n" +
		"             timeout 12\n" +
		track +
		"         }"
}

// unpassable: path holds a quote or backslash, which no script line
// passes to kahook as keepalived 2.2.7 runs it and doctor reads it alike:
// keepalived splits a script line twice (alloc_strvec_quoted_escaped on
// the line, then on its command, undoing a backslash or quote once more
// than config.SplitCommand does): a single-quoted path with a quote
// escaped in it, shell-style, is "missing terminating '", and the
// vrrp_script is removed.
func unpassable(path string) bool { return strings.ContainsAny(path, `'"\`) }

// scriptWord single-quotes a word of a keepalived script line that holds
// blanks (a word that is not unpassable).
func scriptWord(w string) string {
	if strings.ContainsAny(w, " \t") {
		return "'" + w + "'"
	}
	return w
}

// syncValueFlags are `kahook sync`'s flags that take a separate value.
var syncValueFlags = map[string]bool{"rise": true, "fall": true, "deadline": true, "drain-timeout": true, "workers": true, "textfile": true}

// SyncRuns reports whether a keepalived script command runs `kahook sync`
// for the instance (with no instance argument: the config's only one) and
// would parse (nothing after the instance name).
func SyncRuns(cmd, instance string, instances int) bool {
	argv, err := config.SplitCommand(cmd)
	if err != nil || len(argv) < 2 || filepath.Base(argv[0]) != "kahook" {
		return false
	}
	i := 1
	for i < len(argv) && argv[i] != "sync" {
		i++
	}
	if i == len(argv) {
		return false
	}
	for j := i + 1; j < len(argv); j++ {
		a := argv[j]
		if !strings.HasPrefix(a, "-") {
			// Flags after the instance make kahook exit 2 (urfave/cli:
			// flags go before the arguments).
			return a == instance && j == len(argv)-1
		}
		if syncValueFlags[strings.TrimLeft(a, "-")] {
			j++ // its value
		}
	}
	return instances == 1
}

// configCommands are the kahook commands keepalived runs that read
// kahook.conf (without it they exit 2).
var configCommands = map[string]bool{"notify": true, "fifo": true, "sync": true, "release": true, "reload": true, "ipvs": true}

// globalValueFlags are kahook's global flags that take a separate value.
var globalValueFlags = map[string]bool{"config": true, "c": true, "log-level": true, "syslog": true, "syslog-addr": true, "state-dir": true, "config-id": true}

// kahookRun parses a keepalived script command that runs kahook: the
// command (notify, sync...) and the --config it passes ("" if none),
// before or after the command (kahook takes its global flags after the
// command too; `ipvs show -c` is ipvsadm's connection listing, so after
// the ipvs command only --config counts). ok is false when the program is
// not kahook.
func kahookRun(cmd string) (command, configPath string, ok bool) {
	argv, err := config.SplitCommand(cmd)
	if err != nil || len(argv) == 0 || filepath.Base(argv[0]) != "kahook" {
		return "", "", false
	}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") {
			if command == "" {
				command = a
			}
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if command == "ipvs" && name == "c" {
			continue
		}
		if !hasVal && globalValueFlags[name] && i+1 < len(argv) {
			i++
			val = argv[i]
		}
		if name == "config" || name == "c" {
			configPath = val
		}
	}
	return command, configPath, true
}

// LintKahookConfMissing: every line of keepalived.conf that runs a kahook
// command reading a kahook.conf that does not exist (notify, the FIFO
// script, the sync vrrp_script...) makes kahook exit 2 on each run: no
// VIP, sysctl or IPVS service is set up and no check pass runs. A FAIL
// per line, naming the config path the line reads (its own --config, else
// defaultPath). checked is the kahook.conf doctor read ("" if none): where
// it is another, existing file, the fix also offers the line with
// --config naming it. exists reports whether a path exists (os.Stat).
func LintKahookConfMissing(r *Report, k *Keepalived, defaultPath, checked string, exists func(string) bool) {
	if a, err := filepath.Abs(checked); err == nil && checked != "" {
		checked = a // keepalived runs scripts from /
	}
	for _, s := range k.Scripts {
		command, path, ok := kahookRun(s.Cmd)
		if !ok || !configCommands[command] {
			continue
		}
		own := path != ""
		if !own {
			path = defaultPath
		}
		if exists(path) {
			continue
		}
		also := ""
		if argv, err := config.SplitCommand(s.Cmd); !own && checked != "" && checked != path && !unpassable(checked) && exists(checked) && err == nil && strings.HasPrefix(s.Cmd, argv[0]+" ") {
			also = ", or have it read the kahook.conf doctor checked: \"" + argv[0] + " --config " + scriptWord(checked) + s.Cmd[len(argv[0]):] + "\""
		}
		effect := "nothing is changed"
		switch command {
		case "notify", "fifo":
			effect = "no transition binds or releases a VIP, sets the sysctls or loads the IPVS services"
		case "sync":
			effect = "no check pass runs and the vrrp_script fails every interval"
		}
		r.add(Fail, "kahook-conf", s.Pos, "install the kahook.conf that goes with this keepalived.conf at "+path+" (the one 'kahook import' drafted from the original keepalived.conf)"+also+", or take kahook out of this line",
			"%s runs `kahook %s`, but %s does not exist: kahook exits 2 on every run (%s)", s.Kind, command, path, effect)
	}
}
