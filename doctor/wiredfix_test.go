package doctor

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestChecksWiredFixWhereWeightIsDropped: for an instance whose weighted
// track keepalived 2.2.7 drops ("ignoring tracked script ... with weights
// due to SYNC group|address_owner": a vrrp_sync_group member, priority
// 255, state MASTER without a priority), the vrrp_script doctor suggests
// is tracked with fall 2 and rise 2, as import drafts it, not with a
// weight keepalived would drop; pasted as told, doctor accepts it.
func TestChecksWiredFixWhereWeightIsDropped(t *testing.T) {
	kc := kahookConf(t, "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 10.0.1.1 80 {\n  TCP_CHECK {\n   connect_timeout 2\n  }\n }\n}\n")
	notify := "virtual_ipaddress { 127.255.0.51/32 dev lo }\nnotify \"/usr/sbin/kahook notify\""
	group := "vrrp_sync_group G {\n group {\n VI_1\n }\n}\n"
	plain := fmt.Sprintf(base, "", notify)
	for _, tc := range []struct {
		name, ka string
		weight   bool // the fix keeps weight -60
	}{
		{"not dropped", plain, true},
		{"in a sync group", plain + group, false},
		{"priority 255", strings.Replace(plain, "priority 100", "priority 255", 1), false},
		{"state MASTER without a priority", strings.Replace(strings.Replace(plain, "priority 100", "", 1), "BACKUP", "MASTER", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Report
			LintKahook(&r, kc, keepalived(t, tc.ka))
			fix := ""
			for _, f := range r.Problems() {
				if f.Check == "checks-wired" {
					fix = f.Fix
				}
			}
			block := regexp.MustCompile(`(?s)vrrp_script kahook_sync \{.*?\n\s*\}`).FindString(fix)
			if block == "" {
				t.Fatalf("no vrrp_script block in the fix %q", fix)
			}
			hasWeight := strings.Contains(block, "weight -60")
			hasFall := strings.Contains(block, "fall 2") && strings.Contains(block, "rise 2")
			if hasWeight != tc.weight || hasFall == tc.weight {
				t.Fatalf("fix block %q: weight %v, fall/rise %v; want weight %v", block, hasWeight, hasFall, tc.weight)
			}
			// Pasted as the fix says: the block above the vrrp_instance,
			// the track inside it.
			pasted := strings.Replace(tc.ka, "vrrp_instance VI_1 {", block+"\nvrrp_instance VI_1 {\n    track_script { kahook_sync }", 1)
			var again Report
			LintKahook(&again, kc, keepalived(t, pasted))
			for _, f := range again.Problems() {
				if f.Check == "checks-wired" {
					t.Errorf("after the fix: %s", f)
				}
			}
		})
	}
}

// TestKahookConfOfferOnlyWherePassable: the kahook-conf fix offers the
// notify line with --config naming the kahook.conf doctor checked only
// where a keepalived script line can pass that path (unpassable: a quote
// or backslash, which keepalived refuses or changes); a path with a blank
// is offered single-quoted.
func TestKahookConfOfferOnlyWherePassable(t *testing.T) {
	k := keepalived(t, "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress { 127.255.0.51/32 dev lo }\n notify \"/usr/sbin/kahook notify\"\n}\n")
	for _, tc := range []struct {
		checked, want string // want "": no offer
	}{
		{"/etc/kahook/lb2.conf", "--config /etc/kahook/lb2.conf notify"},
		{"/etc/kahook/lb 2.conf", "--config '/etc/kahook/lb 2.conf' notify"},
		{"/etc/kahook/it's.conf", ""},
		{`/etc/kahook/a\b.conf`, ""},
	} {
		var r Report
		LintKahookConfMissing(&r, k, "/nonexistent/kahook.conf", tc.checked, func(p string) bool { return p == tc.checked })
		fix := ""
		for _, f := range r.Problems() {
			if f.Check == "kahook-conf" {
				fix = f.Fix
			}
		}
		if fix == "" {
			t.Fatalf("%s: no kahook-conf finding", tc.checked)
		}
		if tc.want == "" && strings.Contains(fix, "--config") || tc.want != "" && !strings.Contains(fix, tc.want) {
			t.Errorf("checked %q: fix %q, want offer %q", tc.checked, fix, tc.want)
		}
	}
}
