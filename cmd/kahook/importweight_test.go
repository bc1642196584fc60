package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/doctor"
	"github.com/kahook/kahook/internal/kaconftest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestImportWeightRuleIsKeepalivedsOwn: on generated instances (sync
// group with or without sync_group_tracking_weight, its members on one
// line or one per line; priority absent, 100, 255, written 0255 or +255,
// given twice, with a comment; state MASTER or BACKUP), import
// --keepalived weights the kahook sync script exactly where keepalived
// 2.2.7 honours a weight: keepalived -t passes every draft whose original
// it passes, and fails each unweighted draft once its script is weighted
// -60. keepalived's rule (vrrp_complete_instance): no weight in a sync
// group without sync_group_tracking_weight, or at base priority 255,
// which is the last priority line read as strtoul reads it, or, without
// one, what state MASTER implies. In a sync group with
// sync_group_tracking_weight the draft weights nothing all the same
// (README: `sync`). The NOTE above an unweighted script says keepalived
// refuses the weight exactly where keepalived -t fails it weighted; and
// doctor, on the drafts with the script weighted, fails checks-wired
// exactly where keepalived drops the weighted script.
func TestImportWeightRuleIsKeepalivedsOwn(t *testing.T) {
	kc := kaconftest.New(t, testbin.Kahook(t))
	groups := []struct{ name, text string }{
		{"no group", ""},
		{"group", "vrrp_sync_group G {\n    group {\n        VI_P\n        VI_X\n    }\n}\n"},
		{"group on one line", "vrrp_sync_group G {\n    group {\n        VI_P VI_X\n    }\n}\n"},
		{"group with sync_group_tracking_weight", "vrrp_sync_group G {\n    group {\n        VI_P\n        VI_X\n    }\n    sync_group_tracking_weight\n}\n"},
	}
	prios := []struct{ name, lines string }{
		{"no priority", ""},
		{"priority 100", "    priority 100\n"},
		{"priority 255", "    priority 255\n"},
		{"priority 0255", "    priority 0255\n"},
		{"priority +255", "    priority +255\n"},
		{"priority 100 then 255", "    priority 100\n    priority 255\n"},
		{"priority 255 then 100", "    priority 255\n    priority 100\n"},
		{"priority 255 with a comment", "    priority 255 # the owner\n"},
	}
	instance := func(name, state, prio, vip string, vrid int) string {
		return fmt.Sprintf("vrrp_instance %s {\n    state %s\n    interface eth0\n    virtual_router_id %d\n%s    virtual_ipaddress {\n        %s\n    }\n}\n", name, state, vrid, prio, vip)
	}
	script := regexp.MustCompile(`(vrrp_script kahook_sync_VI_X \{[^}]*?)fall 2\n\s*rise 2\n`)
	for _, g := range groups {
		for _, p := range prios {
			for _, state := range []string{"BACKUP", "MASTER"} {
				t.Run(g.name+"/"+p.name+"/"+state, func(t *testing.T) {
					// The partner has the same state and priority, so that
					// the sync group is not one of owners and non-owners.
					orig := "global_defs {\n    router_id t\n}\n" + g.text +
						instance("VI_P", state, p.lines, "192.168.200.20", 21) +
						instance("VI_X", state, p.lines, "192.168.200.10", 11) +
						"virtual_server 192.168.200.10 80 {\n    delay_loop 6\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n" +
						"    real_server 10.0.0.1 80 {\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n}\n"
					if r := kc.Check(orig); r.Code != 0 {
						t.Skipf("keepalived -t refuses the original (exit %d): %s", r.Code, r.Output)
					}
					src := filepath.Join(t.TempDir(), "keepalived.conf")
					if err := os.WriteFile(src, []byte(orig), 0o644); err != nil {
						t.Fatal(err)
					}
					code, ka, errs := kahook("import", "--keepalived", src)
					if code != 0 {
						t.Fatalf("import --keepalived: exit %d: %s", code, errs)
					}
					if r := kc.Check(ka); r.Code != 0 {
						t.Fatalf("keepalived -t exit %d on the draft:\n%s\n--- draft:\n%s", r.Code, r.Output, ka)
					}
					weighted := script.ReplaceAllString(ka, "${1}weight -60\n")
					if weighted == ka && !strings.Contains(ka, "weight -60") {
						t.Fatalf("VI_X's kahook sync script neither weighted nor fall/rise 2:\n%s", ka)
					}
					// doctor on the drafts, VI_X's script weighted: its
					// checks-wired fails exactly where keepalived drops
					// the weighted script (and so never runs kahook sync).
					r := kc.Check(weighted)
					dropped := strings.Contains(r.Output, "ignoring tracked script kahook_sync_VI_X with weights")
					if doctorFails := doctorChecksWired(t, weighted, src); doctorFails != dropped {
						t.Errorf("doctor's checks-wired fails: %v; keepalived drops VI_X's weighted script: %v\n%s\n--- keepalived.conf:\n%s", doctorFails, dropped, r.Output, weighted)
					}
					if weighted == ka {
						return // weighted, and keepalived -t passed it
					}
					note := strings.Join(strings.Fields(strings.ReplaceAll(ka, "!", "")), " ")
					saysRefused := regexp.MustCompile(`NOTE: vrrp_instance VI_X [^:]*, where keepalived refuses a tracked script's weight:`).MatchString(note)
					refused := r.Code != 0
					switch {
					case refused && !saysRefused:
						t.Errorf("keepalived refuses VI_X's script weighted, but the draft's NOTE does not say so:\n%s", ka)
					case !refused && saysRefused:
						t.Errorf("the draft's NOTE says keepalived refuses VI_X's script weighted, but keepalived -t passes it:\n%s", ka)
					case !refused && !strings.Contains(g.text, "sync_group_tracking_weight"):
						t.Errorf("the draft leaves VI_X's script unweighted (fall/rise 2) where keepalived honours weight -60:\n%s", ka)
					}
				})
			}
		}
	}
}

// doctorChecksWired lints keepalived.conf text ka beside the kahook.conf
// `kahook import` drafts from the original at src, and reports whether
// doctor found an instance's checkers not wired to kahook sync.
func doctorChecksWired(t *testing.T, ka, src string) bool {
	t.Helper()
	code, kh, errs := kahook("import", src)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	for _, p := range doctorOnDrafts(t, ka, kh) {
		if p.Check == "checks-wired" {
			return true
		}
	}
	return false
}

// doctorOnDrafts is `doctor --no-live` on the drafted keepalived.conf
// text ka beside the drafted kahook.conf text kh: its problems.
func doctorOnDrafts(t *testing.T, ka, kh string) []doctor.Finding {
	t.Helper()
	dir := t.TempDir()
	kaPath, khPath := filepath.Join(dir, "keepalived.conf"), filepath.Join(dir, "kahook.conf")
	if err := os.WriteFile(kaPath, []byte(ka), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(khPath, []byte(kh), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, _, err := config.ParseTree(kaPath, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(khPath, config.Options{})
	if err != nil {
		t.Fatalf("kahook.conf draft: %v", err)
	}
	var r doctor.Report
	k := doctor.ReadKeepalived(kaPath, tree)
	doctor.LintKeepalived(&r, k, cfg)
	doctor.LintKahook(&r, cfg, k)
	return r.Problems()
}
