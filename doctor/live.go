package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/pool"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/sysctl"
)

// Live is how doctor looks at the running node; the command wires the
// real ones, tests may replace any.
type Live struct {
	Sysctl sysctl.FS
	// Addrs lists the addresses of every interface.
	Addrs func() (map[string][]netip.Prefix, error)
	// IPVS opens the kernel's IPVS (detection included).
	IPVS func() (ipvs.Kernel, error)
	// Procs lists the command names of running processes.
	Procs func() []string
	State *state.State
	// DropIn is kahook's sysctl.d file; SysctlConf the classic file.
	DropIn, SysctlConf string
	// Probe asks who answers ARP for ips on an interface (nil: no probe).
	Probe func(iface string, ips []netip.Addr) (map[netip.Addr][]string, error)
}

// CheckLive runs the live checks for a kahook.conf (and keepalived.conf).
func CheckLive(ctx context.Context, r *Report, kc *config.Config, k *Keepalived, lv Live) {
	addrs, err := lv.Addrs()
	if err != nil {
		r.add(Fail, "live", config.Pos{}, "", "cannot list addresses: %v", err)
		return
	}
	local := map[netip.Addr]bool{}
	for _, ps := range addrs {
		for _, p := range ps {
			local[p.Addr()] = true
		}
	}
	if kc != nil {
		LintTwoNodeDR(r, kc, local)
	}
	if (kc != nil && len(kc.Instances) > 0) || (k != nil && len(k.Instances) > 0) {
		running := false
		for _, p := range lv.Procs() {
			running = running || p == "keepalived"
		}
		if running {
			r.ok("keepalived", "keepalived is running")
		} else {
			r.add(Warn, "keepalived", config.Pos{}, "systemctl start keepalived", "keepalived is not running: no transition will run kahook")
		}
	}
	if k != nil {
		checkKeepalivedVIPs(r, k, addrs, lv.Sysctl)
	}
	if kc == nil {
		return
	}
	persist := false
	for _, in := range kc.Instances {
		if in.Backup.Sysctl == config.RoleRealServer {
			persist = true
		}
		checkInstance(ctx, r, kc, in, addrs, lv)
	}
	if rs := kc.RealServer; rs != nil {
		persist = true
		checkRealServerNode(r, rs, addrs, lv)
	}
	if persist {
		checkPersisted(r, kc, lv)
	}
}

func checkInstance(ctx context.Context, r *Report, kc *config.Config, in *config.Instance, addrs map[string][]netip.Prefix, lv Live) {
	var st *state.InstanceState
	if lv.State != nil {
		st = lv.State.Instances[in.Name]
	}
	if st == nil {
		r.add(Warn, "state", in.Pos, "point keepalived's notify (or notify_fifo_script) at kahook", "instance %s: kahook never received an event for it", in.Name)
		// A node switching from hand-written scripts: with no event to
		// judge by, say where the VIPs are and, with --probe, who
		// answers ARP for them (this node holds a VIP bound on an
		// interface other than lo).
		holding := false
		for _, v := range in.VIPs {
			on := devsOf(addrs, v.Prefix.Addr())
			slices.Sort(on)
			if len(on) == 0 {
				r.ok("vip", "VIP %s: not bound on this node (no kahook event yet)", v.Prefix.Addr())
				continue
			}
			r.ok("vip", "VIP %s: bound on %s (no kahook event yet: bound by keepalived or another script)", v.Prefix.Addr(), strings.Join(on, ", "))
			holding = holding || slices.ContainsFunc(on, func(d string) bool { return d != "lo" })
		}
		if lv.Probe != nil {
			probeVIPs(r, in.Interface, vipsOf(in.VIPs), holding, lv)
		}
		return
	}
	master := st.State == state.Master
	acts := in.Backup
	if master {
		acts = in.Master
	}
	r.ok("state", "instance %s: %s since %s (applied: %v)", in.Name, st.State, st.Updated.Format(time.RFC3339), st.Applied)
	if !st.Applied {
		r.add(Fail, "state", in.Pos, "kahook notify "+strings.ToLower(st.State.String())+" "+in.Name, "instance %s: the last transition (%s) did not complete: the node may be half-applied", in.Name, st.State)
	}
	// ARP sysctls for the role this node plays now.
	if acts.Sysctl != config.RoleNone {
		if effs, err := lv.Sysctl.Show(in.Interface); err != nil {
			r.add(Fail, "sysctl", in.Pos, "", "instance %s: %v", in.Name, err)
		} else {
			clean := true
			for _, e := range effs {
				if e.Iface == "all" || e.Iface == "lo" {
					continue
				}
				for _, f := range sysctl.Judge(acts.Sysctl, e) {
					clean = false
					r.add(Fail, "sysctl", in.Pos, f.Fix, "instance %s (%s, role %s): %s", in.Name, st.State, acts.Sysctl, f.Problem)
				}
			}
			if clean {
				r.ok("sysctl", "instance %s: %s sysctls in force on %s", in.Name, acts.Sysctl, in.Interface)
			}
		}
	}
	// VIPs where they should be and nowhere else.
	for _, v := range in.VIPs {
		want := (master && in.Master.VIP) || (!master && in.Backup.VIP && v.Dev == "lo")
		on := []string{}
		for dev, ps := range addrs {
			for _, p := range ps {
				if p.Addr() == v.Prefix.Addr() {
					on = append(on, dev)
				}
			}
		}
		switch {
		case want && !slices.Contains(on, v.Dev):
			r.add(Fail, "vip", v.Pos, "kahook notify "+strings.ToLower(st.State.String())+" "+in.Name, "VIP %s should be on %s (%s) but is not", v.Prefix.Addr(), v.Dev, st.State)
		case !want && len(on) > 0:
			r.add(Fail, "vip", v.Pos, "kahook notify "+strings.ToLower(st.State.String())+" "+in.Name+" (or remove it from keepalived's virtual_ipaddress)", "VIP %s is bound on %v while %s: this node answers for a VIP it should not", v.Prefix.Addr(), on, st.State)
		case want && len(on) > 1:
			r.add(Warn, "vip", v.Pos, "let one of keepalived or kahook own it", "VIP %s is bound on %v: more than one interface", v.Prefix.Addr(), on)
		default:
			r.ok("vip", "VIP %s: %s", v.Prefix.Addr(), map[bool]string{true: "bound on " + v.Dev, false: "not bound"}[want])
		}
	}
	checkIPVS(ctx, r, kc, in, master, acts, lv)
	if lv.Probe != nil {
		probeVIPs(r, in.Interface, vipsOf(in.VIPs), master && in.Master.VIP, lv)
	}
}

func checkIPVS(ctx context.Context, r *Report, kc *config.Config, in *config.Instance, master bool, acts config.Actions, lv Live) {
	vss := kc.ServersOf(in.Name)
	if len(vss) == 0 {
		return
	}
	k, err := lv.IPVS()
	if err != nil {
		r.add(Fail, "ipvs", in.Pos, "load ip_vs (modprobe ip_vs) or use a kernel with CONFIG_IP_VS", "instance %s has %s: %v", in.Name, plural(len(vss), "virtual server"), err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m := &ipvs.Manager{K: k, Cfg: kc, Members: ipvs.StartMembers}
	if lv.State != nil {
		m.Members = pool.Members(lv.State) // what sync decided, if it runs
	}
	if acts.IPVS == config.IPVSLoad {
		plan, err := m.PlanLoad(ctx, vss, false)
		switch {
		case err != nil:
			r.add(Fail, "ipvs", in.Pos, "", "read IPVS: %v", err)
		case len(plan.Changes) > 0:
			r.add(Warn, "ipvs", in.Pos, "kahook ipvs diff "+in.Name+"; kahook ipvs apply "+in.Name, "instance %s (%v): the IPVS table differs from the config by %d changes, first: %s", in.Name, map[bool]state.VRRP{true: state.Master, false: state.Backup}[master], len(plan.Changes), plan.Changes[0])
		default:
			r.ok("ipvs", "instance %s: IPVS table matches the config (%d virtual servers)", in.Name, len(vss))
		}
		return
	}
	if acts.IPVS == config.IPVSRemove {
		cur, err := ipvs.Read(ctx, k)
		if err != nil {
			r.add(Fail, "ipvs", in.Pos, "", "read IPVS: %v", err)
			return
		}
		keys := 0
		for _, vs := range vss {
			ks, _ := ipvs.ServiceKeys(vs, kc.Groups)
			for _, key := range ks {
				if cur[key] != nil {
					keys++
				}
			}
		}
		if keys > 0 {
			r.add(Fail, "ipvs", in.Pos, "kahook notify backup "+in.Name, "instance %s is not MASTER but holds %d of its IPVS services (two-node DR setups loop packets)", in.Name, keys)
		} else {
			r.ok("ipvs", "instance %s: no IPVS services while not MASTER", in.Name)
		}
	}
}

func checkKeepalivedVIPs(r *Report, k *Keepalived, addrs map[string][]netip.Prefix, fs sysctl.FS) {
	for _, in := range k.Instances {
		for _, v := range in.VIPs {
			if v.Dev == "lo" || v.Prefix.Bits() != 32 || v.Dev != in.Interface {
				continue
			}
			effs, err := fs.Show(v.Dev)
			if err != nil {
				continue
			}
			for _, e := range effs {
				if e.Iface == v.Dev && e.ArpIgnore >= 2 {
					r.add(Fail, "vip-32", v.Pos, "use the interface's prefix length for the VIP, or arp_ignore 0/1 on "+v.Dev,
						"VIP %s is a /32 on %s with effective arp_ignore %d: ARP requests from neighbours are never in its subnet, so none is answered", v.Prefix, v.Dev, e.ArpIgnore)
				}
			}
		}
	}
}

func checkRealServerNode(r *Report, rs *config.RealServerNode, addrs map[string][]netip.Prefix, lv Live) {
	if rs.Interface != "" {
		if effs, err := lv.Sysctl.Show(rs.Interface); err == nil {
			clean := true
			for _, e := range effs {
				if e.Iface != "all" && e.Iface != "lo" {
					for _, f := range sysctl.Judge(config.RoleRealServer, e) {
						clean = false
						r.add(Fail, "sysctl", rs.Pos, f.Fix, "real server: %s", f.Problem)
					}
				}
			}
			if clean {
				r.ok("sysctl", "real server: realserver sysctls in force on %s", rs.Interface)
			}
		}
	}
	for _, v := range rs.VIPs {
		if !slices.Contains(devsOf(addrs, v.Prefix.Addr()), v.Dev) {
			r.add(Fail, "vip", v.Pos, "kahook realserver up", "real server VIP %s is not on %s: DR traffic for it is dropped", v.Prefix.Addr(), v.Dev)
		}
	}
	if lv.Probe != nil && rs.Interface != "" {
		probeVIPs(r, rs.Interface, vipsOf(rs.VIPs), false, lv)
	}
}

// checkPersisted compares kahook's sysctl.d drop-in with the running
// values, and warns when only /etc/sysctl.conf holds them.
func checkPersisted(r *Report, kc *config.Config, lv Live) {
	vals, err := readSysctlFile(lv.DropIn)
	if err != nil {
		classic, _ := readSysctlFile(lv.SysctlConf)
		hasARP := false
		for k := range classic {
			hasARP = hasARP || strings.Contains(k, "arp_ignore") || strings.Contains(k, "arp_announce")
		}
		if hasARP {
			r.add(Warn, "persist", config.Pos{File: lv.SysctlConf}, "kahook sysctl apply --role realserver --interface IF --persist, and enable kahook-realserver.service",
				"the ARP sysctls are only in %s: values set on lo or an interface are lost when networkd/NetworkManager recreates it after boot", lv.SysctlConf)
		} else {
			r.add(Warn, "persist", config.Pos{}, "kahook sysctl apply --role realserver --interface IF --persist", "the realserver ARP sysctls are not persisted (%s missing): a reboot undoes them", lv.DropIn)
		}
		return
	}
	for key, want := range vals {
		parts := strings.Split(strings.ReplaceAll(key, "/", "."), ".")
		if len(parts) != 5 {
			continue
		}
		got, err := lv.Sysctl.Get(parts[3], parts[4])
		if err != nil {
			r.add(Warn, "persist", config.Pos{File: lv.DropIn}, "", "%s: %v", key, err)
			continue
		}
		if strconv.Itoa(got) != want {
			r.add(Warn, "persist", config.Pos{File: lv.DropIn}, "sysctl --system (or kahook sysctl apply)", "%s is %d, the drop-in says %s", key, got, want)
		}
	}
	r.ok("persist", "sysctl drop-in %s present", lv.DropIn)
}

func readSysctlFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out, sc.Err()
}

// probeVIPs asks who answers ARP for the VIPs. holding: this node holds
// them (its own kernel does not answer its own probe, so any answer is
// another node); otherwise exactly one node should answer.
func probeVIPs(r *Report, iface string, ips []netip.Addr, holding bool, lv Live) {
	var v4 []netip.Addr
	for _, ip := range ips {
		if ip.Is4() {
			v4 = append(v4, ip)
		}
	}
	if len(v4) == 0 {
		return
	}
	res, err := lv.Probe(iface, v4)
	if err != nil {
		r.add(Fail, "probe", config.Pos{}, "", "ARP probe on %s: %v", iface, err)
		return
	}
	for _, ip := range v4 {
		macs := res[ip]
		switch {
		case holding && len(macs) > 0:
			r.add(Fail, "probe", config.Pos{}, "kahook realserver up on that node (arp_ignore=1 and arp_announce=2 on all, lo and its interface)",
				"VIP %s is held here but also answered by %s: that node leaks the VIP and steals its traffic", ip, strings.Join(macs, ", "))
		case !holding && len(macs) > 1:
			r.add(Fail, "probe", config.Pos{}, "kahook realserver up on the nodes that should not answer",
				"VIP %s is answered by %d MACs (%s): only the active director should answer", ip, len(macs), strings.Join(macs, ", "))
		case !holding && len(macs) == 0:
			r.add(Warn, "probe", config.Pos{}, "check the active director (kahook doctor there)", "nobody answers ARP for VIP %s on %s", ip, iface)
		case holding:
			r.ok("probe", "VIP %s: held here and answered by no other node", ip)
		default:
			r.ok("probe", "VIP %s: answered by %s only", ip, strings.Join(macs, ", "))
		}
	}
}

func vipsOf(vs []config.VIP) []netip.Addr {
	out := make([]netip.Addr, len(vs))
	for i, v := range vs {
		out[i] = v.Prefix.Addr()
	}
	return out
}

func devsOf(addrs map[string][]netip.Prefix, a netip.Addr) []string {
	var out []string
	for dev, ps := range addrs {
		for _, p := range ps {
			if p.Addr() == a {
				out = append(out, dev)
			}
		}
	}
	return out
}

// CheckDirs reports the state dir and the maintenance dir as FAIL when a
// non-root user can change them (state.CheckDir, pool.CheckMaintenanceDir),
// and the state dir when kahook refuses it as written (not a directory, a
// ".." component), each with its fix (state.UnsafeError.Fix): kahook then
// refuses MASTER transitions (state dir) or ignores the maintenance files. A missing dir is fine: kahook creates the state dir
// 0700 on first use.
func CheckDirs(r *Report, stateDir, maintenanceDir string) {
	if err := state.CheckDir(stateDir); err != nil {
		var unsafe *state.UnsafeError
		if errors.As(err, &unsafe) {
			r.add(Fail, "state-dir", config.Pos{}, unsafe.Fix(),
				"state dir %s: %v: kahook refuses MASTER transitions (releases still run, unrecorded)", stateDir, unsafe.Err)
		}
	} else {
		r.ok("state-dir", "state dir %s: owned by root, not writable by others", stateDir)
	}
	if err := pool.CheckMaintenanceDir(maintenanceDir); err != nil {
		r.add(Fail, "maintenance-dir", config.Pos{}, "chown root:root "+maintenanceDir+"; chmod go-w "+maintenanceDir,
			"%v: kahook ignores its files (no real server is drained by them)", err)
	}
}

// plural is "1 NOUN" or "N NOUNs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
