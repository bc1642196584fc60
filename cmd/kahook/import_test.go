package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/kaconftest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestImportDraftsPassKeepalived: for each of keepalived's samples (all
// pass keepalived -t), the keepalived.conf `import --keepalived` drafts
// passes keepalived -t too, also with vrrp_strict and VRRPv3 where the
// original does, and doctor finds every checked instance wired to kahook
// sync and no instance without a VIP.
func TestImportDraftsPassKeepalived(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("keepalived samples missing")
		}
		t.Skip("keepalived not installed")
	}
	kc := kaconftest.New(t, testbin.Kahook(t))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			orig, _ := os.ReadFile(f)
			code, ka, errs := kahook("import", "--keepalived", f)
			if code != 0 {
				t.Fatalf("import --keepalived: exit %d: %s", code, errs)
			}
			code, kh, errs := kahook("import", f)
			if code != 0 {
				t.Fatalf("import: exit %d: %s", code, errs)
			}
			for _, v := range kaconftest.Variants {
				if kc.Check(kaconftest.WithGlobal(string(orig), v.GlobalDefs)).Code != 0 {
					continue // keepalived refuses the sample itself in this mode
				}
				if r := kc.Check(kaconftest.WithGlobal(ka, v.GlobalDefs)); r.Code != 0 {
					t.Errorf("%s: keepalived -t exit %d on the draft:\n%s\n--- draft:\n%s", v.Name, r.Code, r.Output, ka)
				}
			}
			for _, p := range doctorOnDrafts(t, ka, kh) {
				if p.Check == "checks-wired" || p.Check == "no-vip" || p.Check == "vip-owner" {
					t.Errorf("doctor on the drafts: %s", p)
				}
			}
			if regexp.MustCompile(`(?m)^\s*virtual_server `).MatchString(ka) {
				t.Errorf("the keepalived draft still loads virtual servers itself")
			}
		})
	}
}

// TestImportWarnsUnowned: import says on stderr (as well as in the draft)
// that keepalived's sample's virtual_server 10.10.10.2:1358 belongs to no
// instance; a file without such a service prints no warning.
func TestImportWarnsUnowned(t *testing.T) {
	src := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 50\n virtual_ipaddress { 192.168.200.11 }\n}\n" +
		"virtual_server 10.10.10.2 1358 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 192.168.200.2 1358 { TCP_CHECK { connect_timeout 3 } }\n}\n"
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(p, []byte(src), 0o644)
	for _, args := range [][]string{{"import", p}, {"import", "--keepalived", p}, {"--json", "import", p}} {
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			code, _, errs := kahook(args...)
			if code != 0 || !strings.Contains(errs, "kahook: warning: virtual_server 10.10.10.2 1358 ("+p+":6) belongs to no instance") {
				t.Errorf("exit %d, stderr %q", code, errs)
			}
		})
	}
	owned := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(owned, []byte(strings.Replace(src, "10.10.10.2", "192.168.200.11", 1)), 0o644)
	if code, _, errs := kahook("import", owned); code != 0 || errs != "" {
		t.Errorf("owned service: exit %d, stderr %q", code, errs)
	}
}

// TestImportWeightsTheSyncScriptWhereKeepalivedAllows: import --keepalived
// drafts each checked instance's `kahook sync` script with `weight -60`
// (a pool down for both directors leaves the VIP where it is) except
// where keepalived refuses a tracked script's weight, an instance in a
// vrrp_sync_group and the address owner (priority 255): there `fall 2`
// and `rise 2`, with a NOTE saying what that does. keepalived -t is the
// oracle: it passes the draft, and fails it once every script is weighted.
// A sync group with sync_group_tracking_weight is drafted the same (the
// draft tracks one member, and keepalived wants the same weights on every
// member), and its NOTE must not say keepalived refuses the weight there:
// keepalived -t passes it weighted.
func TestImportWeightsTheSyncScriptWhereKeepalivedAllows(t *testing.T) {
	kc := kaconftest.New(t, testbin.Kahook(t))
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id t\n}\nvrrp_sync_group G1 {\n    group {\n        VI_SG\n        VI_SG2\n    }\n}\n")
	b.WriteString("vrrp_sync_group G2 {\n    group {\n        VI_SGW\n        VI_SGW2\n    }\n    sync_group_tracking_weight\n}\n")
	for i, in := range []struct{ name, prio string }{{"VI_PLAIN", "100"}, {"VI_SG", "100"}, {"VI_SG2", "100"}, {"VI_OWNER", "255"}, {"VI_SGW", "100"}, {"VI_SGW2", "100"}} {
		vip := "192.168.200." + string(rune('1'+i)) + "0"
		b.WriteString("vrrp_instance " + in.name + " {\n    state BACKUP\n    interface eth0\n    virtual_router_id " + string(rune('1'+i)) + "1\n    priority " + in.prio +
			"\n    virtual_ipaddress {\n        " + vip + "\n    }\n}\n")
		b.WriteString("virtual_server " + vip + " 80 {\n    delay_loop 6\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    real_server 10.0.0." + string(rune('1'+i)) +
			" 80 {\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n}\n")
	}
	src := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := kc.Check(b.String()); r.Code != 0 {
		t.Fatalf("keepalived -t refuses the original: %s", r.Output)
	}
	code, ka, errs := kahook("import", "--keepalived", src)
	if code != 0 {
		t.Fatalf("import --keepalived: exit %d: %s", code, errs)
	}
	scripts := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)vrrp_script kahook_sync_(\w+) \{(.*?)\n\}`).FindAllStringSubmatch(ka, -1) {
		scripts[m[1]] = m[2]
	}
	for name, weighted := range map[string]bool{"VI_PLAIN": true, "VI_SG": false, "VI_SG2": false, "VI_OWNER": false, "VI_SGW": false, "VI_SGW2": false} {
		s, ok := scripts[name]
		switch {
		case !ok:
			t.Errorf("no kahook sync script drafted for %s:\n%s", name, ka)
		case weighted && (!strings.Contains(s, "weight -60") || strings.Contains(s, "fall")):
			t.Errorf("%s's script is not weighted -60:%s", name, s)
		case !weighted && (strings.Contains(s, "weight") || !strings.Contains(s, "fall 2")):
			t.Errorf("%s's script is weighted where keepalived refuses it, or lacks fall 2:%s", name, s)
		case !weighted && !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(ka, "!", "")), " "), "vrrp_instance "+name+map[bool]string{true: " has priority 255", false: " is in a vrrp_sync_group"}[name == "VI_OWNER"]):
			t.Errorf("no NOTE for %s's unweighted script:\n%s", name, ka)
		}
	}
	flatKa := strings.Join(strings.Fields(strings.ReplaceAll(ka, "!", "")), " ")
	if want := "vrrp_instance VI_SGW is in a vrrp_sync_group with sync_group_tracking_weight"; !strings.Contains(flatKa, want) {
		t.Errorf("VI_SGW's NOTE does not say %q:\n%s", want, ka)
	}
	if strings.Contains(flatKa, "vrrp_instance VI_SGW is in a vrrp_sync_group, where keepalived refuses") {
		t.Errorf("VI_SGW's NOTE says keepalived refuses the weight in a group with sync_group_tracking_weight:\n%s", ka)
	}
	if r := kc.Check(ka); r.Code != 0 {
		t.Errorf("keepalived -t exit %d on the draft:\n%s\n--- draft:\n%s", r.Code, r.Output, ka)
	}
	for _, name := range []string{"VI_SG", "VI_OWNER"} {
		script := regexp.MustCompile(`(vrrp_script kahook_sync_` + name + ` \{[^}]*?)fall 2\n\s*rise 2\n`)
		weighted := script.ReplaceAllString(ka, "${1}weight -60\n")
		if weighted == ka {
			t.Fatalf("could not weight %s's script in the draft", name)
		}
		if r := kc.Check(weighted); r.Code == 0 {
			t.Errorf("keepalived -t passes a weighted script for %s: the rule the draft follows is not keepalived's\n%s", name, weighted)
		}
	}
	sgw := regexp.MustCompile(`(vrrp_script kahook_sync_VI_SGW \{[^}]*?)fall 2\n\s*rise 2\n`).ReplaceAllString(ka, "${1}weight -60\n")
	if r := kc.Check(sgw); sgw == ka || r.Code != 0 {
		t.Errorf("keepalived -t exit %d with VI_SGW's script weighted (sync_group_tracking_weight allows it):\n%s", r.Code, r.Output)
	}
}

// TestImportFlagsWhatKahookRefuses: a keepalived.conf that keepalived runs
// but kahook refuses (one service reached by a virtual_server_group and by
// a virtual_server of its own: IPVS holds one service for both) is drafted
// with a FIXME and a warning naming the refused line; before, the draft
// said nothing and only `config check` of it failed.
func TestImportFlagsWhatKahookRefuses(t *testing.T) {
	src := filepath.Join(t.TempDir(), "keepalived.conf")
	vs := func(head, rs string) string {
		return head + " {\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    real_server " + rs + " 80 {\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n}\n"
	}
	text := "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n" +
		"virtual_server_group G {\n    10.0.0.1 80\n}\n" + vs("virtual_server group G", "10.0.1.1") + vs("virtual_server 10.0.0.1 80", "10.0.1.2")
	if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	const refusal = "service TCP 10.0.0.1:80 already defined at"
	code, draft, errs := kahook("import", src)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "warning: "+src+":") || !strings.Contains(errs, refusal) {
		t.Errorf("import warns %q, want the refused line of %s", errs, src)
	}
	flat := strings.Join(strings.Fields(strings.ReplaceAll(draft, "#", "")), " ")
	if !strings.Contains(flat, "FIXME: "+src+":") || !strings.Contains(flat, refusal) {
		t.Errorf("the draft does not flag the refused line:\n%s", draft)
	}
	p := filepath.Join(t.TempDir(), "kahook.conf")
	if err := os.WriteFile(p, []byte(draft), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := kahook("config", "check", p); code != 2 || !strings.Contains(errs, refusal) {
		t.Errorf("config check of the draft: exit %d %q, want 2 and the refusal the FIXME names", code, errs)
	}
}
