package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/sysctl"
)

func keepalived(t *testing.T, text string) *Keepalived {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(p, []byte(text), 0o644)
	tree, _, err := config.ParseTree(p, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ReadKeepalived(p, tree)
}

func kahookConf(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("kahook.conf", []byte(text), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// findings runs the lint and returns "SEVERITY check" for each problem.
func findings(k *Keepalived, kc *config.Config) []string {
	var r Report
	if k != nil {
		LintKeepalived(&r, k, kc)
	}
	if kc != nil {
		LintKahook(&r, kc, k)
	}
	var out []string
	for _, f := range r.Problems() {
		out = append(out, string(f.Severity)+" "+f.Check+": "+f.Msg)
	}
	return out
}

func has(list []string, prefix string) bool {
	for _, l := range list {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

const base = `
global_defs {
    script_user root
    enable_script_security
    %s
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    %s
}
`

// withPH gives every vrrp_instance without virtual_ipaddress the placeholder
// kahook's keepalived.conf carries (README: keepalived's VIP is a
// placeholder), numbered after its VRID.
func withPH(conf string) string {
	re := regexp.MustCompile(`virtual_router_id (\d+)\n`)
	var out []string
	for n, part := range strings.SplitAfter(conf, "vrrp_instance ") {
		if n == 0 {
			out = append(out, part)
			continue
		}
		end, depth := -1, 0
		for i, c := range part {
			if c == '{' {
				depth++
			} else if c == '}' {
				if depth--; depth == 0 {
					end = i
					break
				}
			}
		}
		if end >= 0 && !strings.Contains(part[:end], "virtual_ipaddress") {
			id := "1"
			if m := re.FindStringSubmatch(part[:end]); m != nil {
				id = m[1]
			}
			part = part[:end] + "\nvirtual_ipaddress { 127.255.0." + id + "/32 dev lo }" + part[end:]
		}
		out = append(out, part)
	}
	return strings.Join(out, "")
}

// TestLintFindings: each finding fires on its bad config and stays
// silent once the config is fixed.
func TestLintFindings(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "notify.sh")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	noexec := filepath.Join(t.TempDir(), "noexec.sh")
	os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644)
	many := "virtual_ipaddress {\n"
	for i := 1; i <= 21; i++ {
		many += "10.0.0." + strconv.Itoa(i) + "\n"
	}
	many += "}"
	cases := []struct {
		name, bad, fixed string
		want             string
	}{
		{"strict without VIPs", fmt.Sprintf(base, "vrrp_strict", "accept"), withPH(fmt.Sprintf(base, "", "")), "FAIL strict"},
		{"strict with VIP on lo", fmt.Sprintf(base, "vrrp_strict", "accept\nvirtual_ipaddress { 10.0.0.1/32 dev lo }"), fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.1 }"), "FAIL strict"},
		{"strict with unicast", fmt.Sprintf(base, "vrrp_strict", "accept\nvirtual_ipaddress { 10.0.0.1 }\nunicast_peer { 10.0.0.2 }"), fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.1 }\nunicast_peer { 10.0.0.2 }"), "FAIL strict"},
		{"strict with 21 VIPs", fmt.Sprintf(base, "vrrp_strict", "accept\n"+many), fmt.Sprintf(base, "", many), "FAIL strict"},
		{"strict with auth", fmt.Sprintf(base, "vrrp_strict", "accept\nvirtual_ipaddress { 10.0.0.1 }\nauthentication {\nauth_type PASS\nauth_pass secret\n}"), fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.1 }\nauthentication {\nauth_type PASS\nauth_pass secret\n}"), "FAIL strict"},
		{"strict drops VIP traffic", fmt.Sprintf(base, "vrrp_strict", "virtual_ipaddress { 10.0.0.1 }"), fmt.Sprintf(base, "vrrp_strict", "accept\nvirtual_ipaddress { 10.0.0.1 }"), "WARN strict"},
		{"strict drops VIP traffic, placeholder", fmt.Sprintf(base, "vrrp_strict", "virtual_ipaddress { 10.0.0.1 }"), withPH(fmt.Sprintf(base, "vrrp_strict", "")), "WARN strict"},
		{"strict IPv6 placeholder", fmt.Sprintf(base, "vrrp_strict", "accept\nvirtual_ipaddress { fd00::1/128 dev lo }"), fmt.Sprintf(base, "vrrp_strict", "virtual_ipaddress { fe80::5e:33/128 dev lo }"), "FAIL strict"},
		{"no VIP", fmt.Sprintf(base, "", ""), withPH(fmt.Sprintf(base, "", "")), "FAIL no-vip"},
		{"garp sends nothing (global)", fmt.Sprintf(base, "vrrp_garp_master_repeat 0", ""), withPH(fmt.Sprintf(base, "vrrp_garp_master_repeat 5", "")), "WARN garp"},
		{"garp sends nothing (instance)", fmt.Sprintf(base, "", "garp_master_repeat 0"), withPH(fmt.Sprintf(base, "", "garp_master_repeat 3")), "WARN garp"},
		{"keepalived VIP on lo", fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.1/32 dev lo }"), fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.1/32 }"), "FAIL vip-lo"},
		{"VIP on lo not /32", fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.1/24 dev lo }"), fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.1/24 }"), "FAIL vip-lo: VIP 10.0.0.1/24 on lo is not a host"},
		{"script not absolute", fmt.Sprintf(base, "", "notify_master \"notify.sh master\""), withPH(fmt.Sprintf(base, "", "notify_master \""+exe+" master\"")), "FAIL script"},
		{"script missing", fmt.Sprintf(base, "", "notify_master /nonexistent/notify.sh"), withPH(fmt.Sprintf(base, "", "notify_master "+exe)), "FAIL script"},
		{"script not executable", fmt.Sprintf(base, "", "notify_master "+noexec), withPH(fmt.Sprintf(base, "", "notify_master "+exe)), "FAIL script"},
		{"no script security", strings.Replace(fmt.Sprintf(base, "", "notify_master "+exe), "enable_script_security", "", 1), withPH(fmt.Sprintf(base, "", "notify_master "+exe)), "WARN script-security"},
		{"script_user unknown", strings.Replace(fmt.Sprintf(base, "", "notify_master "+exe), "script_user root", "script_user nosuchuser", 1), withPH(fmt.Sprintf(base, "", "notify_master "+exe)), "FAIL script-user"},
		{"duplicate VRID", fmt.Sprintf(base, "", "") + "vrrp_instance VI_2 {\ninterface eth0\nvirtual_router_id 51\n}\n", withPH(fmt.Sprintf(base, "", "") + "vrrp_instance VI_2 {\ninterface eth0\nvirtual_router_id 52\n}\n"), "FAIL vrid"},
		{"VRID out of range", strings.Replace(fmt.Sprintf(base, "", ""), "virtual_router_id 51", "virtual_router_id 300", 1), withPH(fmt.Sprintf(base, "", "")), "FAIL vrid"},
		{"auth_pass truncated", fmt.Sprintf(base, "", "authentication {\nauth_type PASS\nauth_pass longpassword\n}"), withPH(fmt.Sprintf(base, "", "authentication {\nauth_type PASS\nauth_pass shortpw\n}")), "WARN auth"},
		{"priority 255", strings.Replace(fmt.Sprintf(base, "", ""), "priority 100", "priority 255", 1), withPH(fmt.Sprintf(base, "", "")), "WARN priority"},
		{"nopreempt with MASTER", strings.Replace(fmt.Sprintf(base, "", "nopreempt"), "state BACKUP", "state MASTER", 1), withPH(fmt.Sprintf(base, "", "nopreempt")), "WARN nopreempt"},
		{"virtual server owned by nobody", fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.1 }") + "virtual_server 10.0.0.9 80 {\nreal_server 10.0.1.1 80 {\n}\n}\n", fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.9 }") + "virtual_server 10.0.0.9 80 {\nreal_server 10.0.1.1 80 {\n}\n}\n", "WARN vs-owner"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := findings(keepalived(t, tc.bad), nil)
			if !has(bad, tc.want) {
				t.Errorf("bad config: want %q in %q", tc.want, bad)
			}
			if fixed := findings(keepalived(t, tc.fixed), nil); len(fixed) != 0 {
				t.Errorf("fixed config still reports %q", fixed)
			}
		})
	}
}

func TestLintInsecureScript(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ownership rule applies to root")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "notify.sh")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o777)
	os.Chmod(exe, 0o777) // group and world writable
	conf := withPH(fmt.Sprintf(base, "", "notify_master "+exe))
	if f := findings(keepalived(t, conf), nil); !has(f, "FAIL script") {
		t.Errorf("world-writable script with enable_script_security: %q", f)
	}
	if f := findings(keepalived(t, strings.Replace(conf, "enable_script_security", "", 1)), nil); !has(f, "WARN script: ") {
		t.Errorf("world-writable script without enable_script_security must warn: %q", f)
	}
	os.Chmod(exe, 0o755)
	if f := findings(keepalived(t, conf), nil); len(f) != 0 {
		t.Errorf("fixed script: %q", f)
	}
}

func TestLintKahookWithKeepalived(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kahook")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	k := keepalived(t, fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.1 }\nnotify \""+bin+" notify\""))
	// No kahook instance for a vrrp_instance that runs kahook.
	kc := kahookConf(t, "instance VI_9 {\n interface eth0\n virtual_ipaddress { 10.0.0.5 }\n}\n")
	f := findings(k, kc)
	if !has(f, "FAIL instance") || !has(f, "WARN instance: instance VI_9") {
		t.Errorf("name mismatch: %q", f)
	}
	// The same VIP bound by both keepalived and kahook.
	kc = kahookConf(t, "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\n")
	if f := findings(k, kc); !has(f, "FAIL vip-owner") {
		t.Errorf("two owners: %q", f)
	}
	// Fixed: keepalived with a placeholder, kahook with the VIP.
	k = keepalived(t, withPH(fmt.Sprintf(base, "", "notify \""+bin+" notify\"")))
	if f := findings(k, kc); len(f) != 0 {
		t.Errorf("fixed: %q", f)
	}
}

func TestLintTwoNodeDR(t *testing.T) {
	conf := `
instance VI_1 {
    interface eth0
    virtual_ipaddress { 10.0.0.100 }
%s
}
virtual_server 10.0.0.100 80 {
    protocol TCP
    lb_kind DR
    real_server 10.0.0.1 80 { }
    real_server 10.0.0.2 80 { }
}
`
	local := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): true}
	var r Report
	LintTwoNodeDR(&r, kahookConf(t, fmt.Sprintf(conf, "backup {\n ipvs none\n}")), local)
	if r.Count(Fail) != 2 {
		t.Errorf("director that is a DR real server keeping IPVS and dropping the VIP while backup: %v", r.Findings)
	}
	r = Report{}
	LintTwoNodeDR(&r, kahookConf(t, fmt.Sprintf(conf, "backup {\n vip on\n sysctl realserver\n ipvs remove\n}")), local)
	if r.Count(Fail) != 0 {
		t.Errorf("fixed: %v", r.Findings)
	}
	r = Report{}
	LintTwoNodeDR(&r, kahookConf(t, fmt.Sprintf(conf, "")), map[netip.Addr]bool{})
	if r.Count(Fail) != 0 {
		t.Errorf("a director that is no real server: %v", r.Findings)
	}
}

// fakeNode is a Live over a temp /proc/sys and given addresses.
func fakeNode(t *testing.T, addrs map[string][]netip.Prefix, sys map[string]int, st *state.State) Live {
	root := t.TempDir()
	for k, v := range sys {
		iface, knob, _ := strings.Cut(k, ".")
		d := filepath.Join(root, "net/ipv4/conf", iface)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, knob), []byte(strconv.Itoa(v)+"\n"), 0o644)
	}
	dir := t.TempDir()
	return Live{
		Sysctl:     sysctl.FS{Root: root},
		Addrs:      func() (map[string][]netip.Prefix, error) { return addrs, nil },
		IPVS:       func() (ipvs.Kernel, error) { return nil, ipvs.ErrNoIPVS },
		Procs:      func() []string { return []string{"keepalived"} },
		State:      st,
		DropIn:     filepath.Join(dir, "60-kahook.conf"),
		SysctlConf: filepath.Join(dir, "sysctl.conf"),
	}
}

func live(kc *config.Config, k *Keepalived, lv Live) []string {
	var r Report
	CheckLive(context.Background(), &r, kc, k, lv)
	var out []string
	for _, f := range r.Problems() {
		out = append(out, string(f.Severity)+" "+f.Check+": "+f.Msg)
	}
	return out
}

func TestLiveChecks(t *testing.T) {
	kc := kahookConf(t, "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.100 }\n}\n")
	director := map[string]int{"all.arp_ignore": 0, "all.arp_announce": 2, "lo.arp_ignore": 0, "lo.arp_announce": 2, "eth0.arp_ignore": 0, "eth0.arp_announce": 2}
	vipOnLo := map[string][]netip.Prefix{"lo": {netip.MustParsePrefix("10.0.0.100/32")}, "eth0": {netip.MustParsePrefix("10.0.0.1/24")}}
	noVIP := map[string][]netip.Prefix{"lo": {}, "eth0": {netip.MustParsePrefix("10.0.0.1/24")}}
	st := func(s string, applied bool) *state.State {
		return &state.State{Instances: map[string]*state.InstanceState{"VI_1": {State: state.VRRP(s), Applied: applied, Updated: time.Now()}}}
	}
	if f := live(kc, nil, fakeNode(t, vipOnLo, director, st("MASTER", true))); len(f) != 0 {
		t.Errorf("healthy master: %q", f)
	}
	if f := live(kc, nil, fakeNode(t, noVIP, director, st("MASTER", true))); !has(f, "FAIL vip") {
		t.Errorf("master without its VIP: %q", f)
	}
	if f := live(kc, nil, fakeNode(t, vipOnLo, director, st("BACKUP", true))); !has(f, "FAIL vip") {
		t.Errorf("backup holding the VIP: %q", f)
	}
	if f := live(kc, nil, fakeNode(t, vipOnLo, director, st("MASTER", false))); !has(f, "FAIL state") {
		t.Errorf("half-applied transition: %q", f)
	}
	if f := live(kc, nil, fakeNode(t, vipOnLo, director, nil)); !has(f, "WARN state") {
		t.Errorf("no event ever: %q", f)
	}
	// Director sysctls that make the VIP on lo unanswerable.
	wrong := map[string]int{}
	for k, v := range director {
		wrong[k] = v
	}
	wrong["all.arp_ignore"] = 1
	if f := live(kc, nil, fakeNode(t, vipOnLo, wrong, st("MASTER", true))); !has(f, "FAIL sysctl") {
		t.Errorf("master with all.arp_ignore=1: %q", f)
	}
	// keepalived not running.
	lv := fakeNode(t, vipOnLo, director, st("MASTER", true))
	lv.Procs = func() []string { return nil }
	if f := live(kc, nil, lv); !has(f, "WARN keepalived") {
		t.Errorf("no keepalived: %q", f)
	}
	// A keepalived /32 VIP on the announce interface with arp_ignore 2.
	k := keepalived(t, fmt.Sprintf(base, "", "virtual_ipaddress { 10.0.0.7/32 }"))
	w2 := map[string]int{}
	for key, v := range director {
		w2[key] = v
	}
	w2["eth0.arp_ignore"] = 2
	if f := live(nil, k, fakeNode(t, noVIP, w2, nil)); !has(f, "FAIL vip-32") {
		t.Errorf("/32 VIP with arp_ignore 2: %q", f)
	}
	if f := live(nil, k, fakeNode(t, noVIP, director, nil)); has(f, "FAIL vip-32") {
		t.Errorf("/32 VIP with arp_ignore 0: %q", f)
	}
}

func TestLivePersistence(t *testing.T) {
	kc := kahookConf(t, "realserver {\n interface eth0\n virtual_ipaddress { 10.0.0.100 }\n}\n")
	rsSys := map[string]int{"all.arp_ignore": 1, "all.arp_announce": 2, "lo.arp_ignore": 1, "lo.arp_announce": 2, "eth0.arp_ignore": 1, "eth0.arp_announce": 2}
	addrs := map[string][]netip.Prefix{"lo": {netip.MustParsePrefix("10.0.0.100/32")}, "eth0": {netip.MustParsePrefix("10.0.0.11/24")}}
	lv := fakeNode(t, addrs, rsSys, nil)
	if f := live(kc, nil, lv); !has(f, "WARN persist: the realserver ARP sysctls are not persisted") {
		t.Errorf("nothing persisted: %q", f)
	}
	os.WriteFile(lv.SysctlConf, []byte("net.ipv4.conf.lo.arp_ignore = 1\n"), 0o644)
	if f := live(kc, nil, lv); !has(f, "WARN persist: the ARP sysctls are only in") {
		t.Errorf("only /etc/sysctl.conf: %q", f)
	}
	vals, _ := sysctl.Desired(config.RoleRealServer, "eth0")
	os.WriteFile(lv.DropIn, sysctl.DropIn(config.RoleRealServer, vals), 0o644)
	if f := live(kc, nil, lv); len(f) != 0 {
		t.Errorf("drop-in matching the running values: %q", f)
	}
	os.WriteFile(filepath.Join(lv.Sysctl.Root, "net/ipv4/conf/eth0/arp_ignore"), []byte("0\n"), 0o644)
	if f := live(kc, nil, lv); !has(f, "WARN persist: net.ipv4.conf.eth0.arp_ignore is 0") || has(f, "FAIL sysctl") {
		t.Errorf("eth0 reset, all still 1 (effective 1): only the drift is reported: %q", f)
	}
	os.WriteFile(filepath.Join(lv.Sysctl.Root, "net/ipv4/conf/all/arp_ignore"), []byte("0\n"), 0o644)
	if f := live(kc, nil, lv); !has(f, "FAIL sysctl") {
		t.Errorf("all and eth0 reset: the real server leaks the VIP: %q", f)
	}
}

// Keepalived's own samples that are correct for their purpose give no
// finding; the others give exactly the findings that are true of them on
// this machine (scripts that do not exist here, relative script paths, a
// virtual server outside every VRRP instance).
func TestSamples(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("keepalived samples missing")
		}
		t.Skip("keepalived not installed")
	}
	expected := map[string][]string{
		"keepalived.conf.SSL_GET":         {"WARN vs-owner"},
		"keepalived.conf.sample":          {"WARN vs-owner"},
		"keepalived.conf.misc_check":      {"FAIL script", "WARN script-security", "WARN script-user"},
		"keepalived.conf.misc_check_arg":  {"FAIL script", "WARN script-security", "WARN script-user"},
		"keepalived.conf.quorum":          {"FAIL script", "WARN script-security", "WARN script-user"},
		"keepalived.conf.vrrp.localcheck": {"FAIL script", "WARN script-security", "WARN script-user"},
		"keepalived.conf.vrrp.scripts":    {"FAIL script", "WARN script-security", "WARN script-user"},
		"keepalived.conf.vrrp.sync":       {"FAIL script", "WARN script-security", "WARN script-user"},
	}
	// localcheck runs "killall -0 apache": keepalived finds killall by
	// path search, where it is installed (psmisc).
	if _, err := check.LookPath("killall"); err == nil {
		expected["keepalived.conf.vrrp.localcheck"] = append(expected["keepalived.conf.vrrp.localcheck"], "WARN script")
	}
	silent := 0
	for _, f := range files {
		tree, _, err := config.ParseTree(f, config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := findings(ReadKeepalived(f, tree), nil)
		want := expected[filepath.Base(f)]
		for _, g := range got {
			ok := false
			for _, w := range want {
				ok = ok || strings.HasPrefix(g, w+":")
			}
			if !ok {
				t.Errorf("%s: unexpected finding %q", filepath.Base(f), g)
			}
		}
		for _, w := range want {
			if !has(got, w+":") {
				t.Errorf("%s: expected %s", filepath.Base(f), w)
			}
		}
		if len(want) == 0 {
			silent++
		}
	}
	if silent < 15 {
		t.Errorf("only %d samples silent", silent)
	}
}

// TestLintChecksWired: kahook.conf's checkers run only when keepalived
// runs `kahook sync` for their instance as a tracked vrrp_script.
func TestLintChecksWired(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kahook")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	kc := kahookConf(t, `instance VI_1 {
 interface eth0
 virtual_ipaddress { 10.0.0.1 }
}
virtual_server 10.0.0.1 80 {
 protocol TCP
 lb_algo rr
 lb_kind NAT
 real_server 10.0.1.1 80 {
  TCP_CHECK {
   connect_timeout 2
  }
 }
}
`)
	unchecked := kahookConf(t, "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 10.0.1.1 80 {\n }\n}\n")
	script := func(cmd string) string {
		return "vrrp_script kahook_sync {\n script \"" + bin + " " + cmd + "\"\n interval 10\n}\n"
	}
	notify := "virtual_ipaddress { 127.255.0.51/32 dev lo }\nnotify \"" + bin + " notify\""
	tracked := notify + "\ntrack_script {\n kahook_sync\n}"
	weighted := strings.Replace(script("sync VI_1"), " interval 10\n", " interval 10\n weight -60\n", 1)
	group := "vrrp_sync_group G {\n group {\n VI_1 VI_2\n }\n}\n"
	cases := []struct {
		name string
		ka   string
		kc   *config.Config
		want string // "" for no finding
	}{
		{"notify only", fmt.Sprintf(base, "", notify), kc, "FAIL checks-wired: instance VI_1: 1 checkers"},
		{"script not tracked", script("sync VI_1") + fmt.Sprintf(base, "", notify), kc, "FAIL checks-wired: instance VI_1: vrrp_script kahook_sync runs kahook sync but no vrrp_instance tracks it"},
		{"script for another instance", script("sync VI_2") + fmt.Sprintf(base, "", tracked), kc, "FAIL checks-wired"},
		{"tracked", script("sync --deadline 8s VI_1") + fmt.Sprintf(base, "", tracked), kc, ""},
		// keepalived 2.2.7 -t: "(VI_1) track script kahook_sync not found, ignoring..."
		{"script defined after the instance tracking it", fmt.Sprintf(base, "", tracked) + script("sync --deadline 8s VI_1"), kc, "FAIL checks-wired: instance VI_1: vrrp_script kahook_sync is tracked at"},
		{"flag after the instance: exit 2", script("sync VI_1 --deadline 8s") + fmt.Sprintf(base, "", tracked), kc, "FAIL checks-wired"},
		{"tracked, flags first", script("--syslog off sync --deadline 8s VI_1") + fmt.Sprintf(base, "", tracked), kc, ""},
		{"tracked, only instance implied", script("sync") + fmt.Sprintf(base, "", tracked), kc, ""},
		{"tracked by a sync group", script("sync VI_1") + fmt.Sprintf(base, "", notify) + "vrrp_sync_group G {\n group {\n VI_1\n }\n track_script {\n kahook_sync\n }\n}\n", kc, ""},
		{"no checkers", fmt.Sprintf(base, "", notify), unchecked, ""},
		// keepalived 2.2.7 drops a weighted track of a sync group's member
		// or of the address owner ("ignoring tracked script kahook_sync
		// with weights due to SYNC group|address_owner"), so never runs it.
		{"weighted, in a sync group", weighted + fmt.Sprintf(base, "", tracked) + group, kc, "FAIL checks-wired: instance VI_1: vrrp_instance VI_1 tracks vrrp_script kahook_sync with weight -60, and keepalived drops"},
		{"weighted, owner", weighted + strings.Replace(fmt.Sprintf(base, "", tracked), "priority 100", "priority 255", 1), kc, "FAIL checks-wired: instance VI_1: vrrp_instance VI_1 tracks vrrp_script kahook_sync with weight -60"},
		{"weighted, state MASTER without priority", weighted + strings.Replace(strings.Replace(fmt.Sprintf(base, "", tracked), "priority 100", "", 1), "BACKUP", "MASTER", 1), kc, "FAIL checks-wired: instance VI_1: vrrp_instance VI_1 tracks vrrp_script kahook_sync with weight -60"},
		{"weighted, in a sync group with sync_group_tracking_weight", weighted + fmt.Sprintf(base, "", tracked) + strings.Replace(group, "}\n}\n", "}\n sync_group_tracking_weight\n}\n", 1), kc, ""},
		{"weighted, in a sync group, the track's weight 0", weighted + fmt.Sprintf(base, "", strings.Replace(tracked, "kahook_sync\n", "kahook_sync weight 0\n", 1)) + group, kc, ""},
		// keepalived 2.2.7 -t: a track resolves to the first block of its
		// name, whatever a later one says.
		{"weighted, then a block without weight", weighted + script("sync VI_1") + fmt.Sprintf(base, "", tracked) + group, kc, "FAIL checks-wired: instance VI_1: vrrp_instance VI_1 tracks vrrp_script kahook_sync with weight -60"},
		{"a block without weight, then a weighted one", script("sync VI_1") + weighted + fmt.Sprintf(base, "", tracked) + group, kc, ""},
		// ... and so does its command: keepalived runs the first block
		// (find_script_by_name), and a later one is never run (only
		// keepalived's start logs "script kahook_sync is not used").
		{"another command, then a kahook sync block of the same name", "vrrp_script kahook_sync {\n script \"/bin/true\"\n interval 10\n}\n" + script("sync VI_1") + fmt.Sprintf(base, "", tracked), kc, "FAIL checks-wired: instance VI_1: 1 checkers"},
		{"a kahook sync block, then another command of the same name", script("sync VI_1") + "vrrp_script kahook_sync {\n script \"/bin/true\"\n interval 10\n}\n" + fmt.Sprintf(base, "", tracked), kc, ""},
		// keepalived runs the script line's first word only (its value,
		// quoted when it has arguments): unquoted, kahook with no
		// arguments, which prints its help and exits 0 (keepalived 2.2.7
		// run: no argument passed).
		{"unquoted script line", "vrrp_script kahook_sync {\n script " + bin + " sync VI_1\n interval 10\n}\n" + fmt.Sprintf(base, "", tracked), kc, "FAIL checks-wired: instance VI_1: 1 checkers"},
		{"weighted, in a sync group that tracks it too", weighted + fmt.Sprintf(base, "", tracked) + strings.Replace(group, "}\n}\n", "}\n track_script {\n kahook_sync\n }\n}\n", 1), kc, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := findings(keepalived(t, tc.ka), tc.kc)
			if tc.want == "" {
				if len(f) != 0 {
					t.Errorf("want no finding, got %q", f)
				}
				return
			}
			if !has(f, tc.want) {
				t.Errorf("want %q in %q", tc.want, f)
			}
		})
	}
}

// TestChecksWiredFixIsQuickStart: the vrrp_script doctor suggests for
// unwired checkers is the one the README's Quick start and the director
// example use (with --deadline), and doctor accepts it once applied.
func TestChecksWiredFixIsQuickStart(t *testing.T) {
	kc := kahookConf(t, "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 10.0.1.1 80 {\n  TCP_CHECK {\n   connect_timeout 2\n  }\n }\n}\n")
	notify := "virtual_ipaddress { 127.255.0.51/32 dev lo }\nnotify \"/usr/sbin/kahook notify\""
	var r Report
	k := keepalived(t, fmt.Sprintf(base, "", notify))
	LintKahook(&r, kc, k)
	fix := ""
	for _, f := range r.Problems() {
		if f.Check == "checks-wired" {
			fix = f.Fix
		}
	}
	m := regexp.MustCompile(`script "([^"]*)"`).FindStringSubmatch(fix)
	if m == nil {
		t.Fatalf("no script line in the fix %q", fix)
	}
	// The test's kahook.conf is not the default path: the fix names it
	// (TestChecksWiredFixKeepsTheConfig); the docs use the default.
	m[1] = regexp.MustCompile(` --config \S+`).ReplaceAllString(m[1], "")
	for _, doc := range []string{"../README.md", "../packaging/examples/director/keepalived.conf"} {
		t.Run(filepath.Base(filepath.Dir(doc))+"/"+filepath.Base(doc), func(t *testing.T) {
			b, err := os.ReadFile(doc)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `script "`+m[1]+`"`) {
				t.Errorf("doctor suggests %q, which %s does not use", m[1], doc)
			}
		})
	}
	if !SyncRuns(m[1], "VI_1", 1) {
		t.Errorf("doctor does not accept its own suggestion %q", m[1])
	}
}

// TestChecksWiredFixNamesOneScriptPerInstance: with two instances to wire,
// doctor suggests two vrrp_scripts of different names (two blocks of one
// name: the second replaces the first, and one instance stays unchecked),
// named as import names them.
func TestChecksWiredFixNamesOneScriptPerInstance(t *testing.T) {
	inst := func(n, vip string) string {
		return "instance " + n + " {\n interface eth0\n virtual_ipaddress { " + vip + " }\n}\nvirtual_server " + vip + " 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 10.0.1.1 80 {\n  TCP_CHECK {\n   connect_timeout 2\n  }\n }\n}\n"
	}
	kc := kahookConf(t, inst("VI_1", "10.0.0.1")+inst("VI_2", "10.0.0.2"))
	var r Report
	LintKahook(&r, kc, keepalived(t, fmt.Sprintf(base, "", "virtual_ipaddress { 127.255.0.51/32 dev lo }\nnotify \"/usr/sbin/kahook notify\"")))
	fixes := map[string]string{}
	for _, f := range r.Problems() {
		if f.Check == "checks-wired" {
			fixes[f.Msg[:len("instance VI_1")]] = f.Fix
		}
	}
	for _, n := range []string{"VI_1", "VI_2"} {
		fix := fixes["instance "+n]
		if !strings.Contains(fix, "vrrp_script kahook_sync_"+n+" {") || !strings.Contains(fix, "track_script { kahook_sync_"+n+" }") || !strings.Contains(fix, "sync --deadline 8s "+n+`"`) {
			t.Errorf("fix for %s: %q", n, fix)
		}
	}
}

// TestLiveBeforeTheFirstEvent (last round's review): before kahook's
// first event for an instance (a node switching from hand-written
// scripts), doctor still says where the instance's VIPs are bound and,
// with --probe, who answers ARP for them: a VIP bound here on the
// instance's interface that another node also answers is a FAIL (that
// node leaks it), a VIP nobody answers a WARN. Before, doctor said only
// "never received an event" and probed nothing.
func TestLiveBeforeTheFirstEvent(t *testing.T) {
	kc := kahookConf(t, "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.100 }\n}\n")
	director := map[string]int{"all.arp_ignore": 0, "all.arp_announce": 2, "lo.arp_ignore": 0, "lo.arp_announce": 2, "eth0.arp_ignore": 0, "eth0.arp_announce": 2}
	vip := netip.MustParseAddr("10.0.0.100")
	held := map[string][]netip.Prefix{"eth0": {netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("10.0.0.100/32")}}
	onLo := map[string][]netip.Prefix{"lo": {netip.MustParsePrefix("10.0.0.100/32")}, "eth0": {netip.MustParsePrefix("10.0.0.1/24")}}
	none := map[string][]netip.Prefix{"eth0": {netip.MustParsePrefix("10.0.0.1/24")}}
	for _, tc := range []struct {
		name    string
		addrs   map[string][]netip.Prefix
		answers []string // MACs answering ARP for the VIP
		want    string   // a finding; "" none but the state's WARN
		ok      string   // in the OK lines
	}{
		{"held here and leaked by another node", held, []string{"02:00:00:00:00:02"}, "FAIL probe", "bound on eth0"},
		{"held here only", held, nil, "", "bound on eth0"},
		{"on lo, answered by the active director", onLo, []string{"02:00:00:00:00:02"}, "", "bound on lo"},
		{"nowhere, answered by nobody", none, nil, "WARN probe", "not bound on this node"},
		{"nowhere, answered twice", none, []string{"02:00:00:00:00:02", "02:00:00:00:00:03"}, "FAIL probe", "not bound on this node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lv := fakeNode(t, tc.addrs, director, nil)
			probed := false
			lv.Probe = func(iface string, ips []netip.Addr) (map[netip.Addr][]string, error) {
				probed = iface == "eth0" && len(ips) == 1 && ips[0] == vip
				return map[netip.Addr][]string{vip: tc.answers}, nil
			}
			var r Report
			CheckLive(context.Background(), &r, kc, nil, lv)
			var found []string
			for _, f := range r.Problems() {
				found = append(found, string(f.Severity)+" "+f.Check+": "+f.Msg)
			}
			if !probed || !has(found, "WARN state") || (tc.want != "") != (len(found) > 1) || tc.want != "" && !has(found, tc.want) {
				t.Errorf("probed %v, findings %q; want the state's WARN and %q", probed, found, tc.want)
			}
			var oks []string
			for _, f := range r.Findings {
				if f.Severity == OK {
					oks = append(oks, f.Msg)
				}
			}
			if !slices.ContainsFunc(oks, func(m string) bool { return strings.Contains(m, tc.ok) }) {
				t.Errorf("OK lines %q, want one saying %q", oks, tc.ok)
			}
		})
	}
}

// TestChecksWiredFixKeepsTheConfig: doctor run on a kahook.conf other than
// the default suggests a sync script that reads that file (--config, made
// absolute, quoted where keepalived would split the path), which keepalived's
// word splitting (config.SplitCommand) gives back whole and doctor then
// accepts; for the default path the script names none.
func TestChecksWiredFixKeepsTheConfig(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ given, path string }{
		{config.DefaultPath, config.DefaultPath},
		{"/etc/kahook/lb2.conf", "/etc/kahook/lb2.conf"},
		{"/etc/kahook/my dir/k.conf", "/etc/kahook/my dir/k.conf"},
		// keepalived splits a script line twice (the line, then its
		// command), so no quoting passes a quote or backslash through to
		// kahook as doctor reads it: '\'' made keepalived 2.2.7 remove the
		// vrrp_script ("missing terminating '"). The suggestion reads the
		// default config, and the finding says to move it.
		{"/etc/kahook/it's.conf", config.DefaultPath},
		{`/etc/kahook/a"b.conf`, config.DefaultPath},
		{`/etc/kahook/a\b.conf`, config.DefaultPath},
		{"testdata/k.conf", filepath.Join(wd, "testdata/k.conf")}, // keepalived runs scripts from /
	} {
		path := tc.path
		t.Run(tc.given, func(t *testing.T) {
			fix := SyncScript("kahook_sync", "VI_1", tc.given, false)
			m := regexp.MustCompile(`script "([^"]*)"`).FindStringSubmatch(fix)
			if m == nil {
				t.Fatalf("no script line in %q", fix)
			}
			argv, err := config.SplitCommand(m[1])
			if err != nil {
				t.Fatalf("%q: %v", m[1], err)
			}
			i := slices.Index(argv, "--config")
			switch {
			case path == config.DefaultPath && i >= 0:
				t.Errorf("the default config is passed: %q", argv)
			case path != config.DefaultPath && (i < 0 || i+1 >= len(argv) || argv[i+1] != path):
				t.Errorf("script %q reads %q, want --config %q", m[1], argv, path)
			}
			if !SyncRuns(m[1], "VI_1", 1) {
				t.Errorf("doctor does not accept its own suggestion %q", m[1])
			}
			// The finding says to move a config the script cannot name.
			kc := kahookConf(t, "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 10.0.1.1 80 {\n  TCP_CHECK {\n   connect_timeout 2\n  }\n }\n}\n")
			kc.Path = tc.given
			var r Report
			LintKahook(&r, kc, keepalived(t, fmt.Sprintf(base, "", "virtual_ipaddress { 127.255.0.51/32 dev lo }")))
			moved := false
			for _, f := range r.Problems() {
				moved = moved || (f.Check == "checks-wired" && strings.HasPrefix(f.Fix, "move "+tc.given+" to a path without quotes or backslashes"))
			}
			if want := tc.given != config.DefaultPath && path == config.DefaultPath; moved != want {
				t.Errorf("the finding says to move %s: %v, want %v", tc.given, moved, want)
			}
		})
	}
}

// TestLintScriptUserWord: keepalived 2.2.7 runs a notify script's first
// word only and takes the next as the user to run it as; an unquoted
// "notify /usr/sbin/kahook notify" names user "notify", which does not
// exist, and keepalived ignores the script ("Invalid user/group for notify
// script ... - ignoring" when it starts; keepalived -t passes it), so
// kahook notify never runs. A quoted command followed by a real user is
// keepalived's own form.
func TestLintScriptUserWord(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kahook")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	for _, tc := range []struct{ name, line, want string }{
		{"unquoted command", "notify " + bin + " notify", "FAIL script: notify " + bin + " notify: keepalived takes the word after the command, \"notify\""},
		{"quoted command, then user root", "notify \"" + bin + " notify\" root", ""},
		{"quoted command", "notify \"" + bin + " notify\"", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := findings(keepalived(t, "global_defs {\n enable_script_security\n script_user root\n}\n"+fmt.Sprintf(base, "", "virtual_ipaddress { 127.255.0.51/32 dev lo }\n"+tc.line)), nil)
			var scripts []string
			for _, l := range f {
				if strings.HasPrefix(l, "FAIL script:") {
					scripts = append(scripts, l)
				}
			}
			switch {
			case tc.want == "" && len(scripts) > 0:
				t.Errorf("want no script finding, got %q", scripts)
			case tc.want != "" && !has(scripts, tc.want):
				t.Errorf("want %q in %q", tc.want, f)
			}
		})
	}
}
