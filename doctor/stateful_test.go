package doctor

import (
	"fmt"
	"strings"
	"testing"
)

// TestLintStateful: doctor warns where a backup would lose synchronised
// IPVS state (issue 19 item 5), and is silent where it keeps it.
func TestLintStateful(t *testing.T) {
	const kahook = `%s
instance VI_1 {
    interface eth0
    virtual_ipaddress { 10.0.0.100 }
%s
}
virtual_server 10.0.0.100 80 {
    protocol TCP
    lb_kind DR
    %s
    real_server 10.0.0.11 80 { }
}
`
	const syncd = "global_defs {\n lvs_sync_daemon eth1 VI_1\n}"
	const kaSync = "global_defs {\n lvs_sync_daemon eth1 VI_1\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress { 127.255.0.51/32 dev lo }\n}\n"
	const kaOldSync = "vrrp_instance VI_1 {\n interface eth0\n lvs_sync_daemon_interface eth1\n virtual_router_id 51\n virtual_ipaddress { 127.255.0.51/32 dev lo }\n}\n"
	for _, tc := range []struct {
		name, global, backup, vs, keepalived string
		conf                                 string // the whole kahook.conf, if not the template
		wantWarn                             string // "" = no stateful finding
		wantFix                              string
	}{
		{name: "plain director"},
		{name: "sync daemon, default backup", global: syncd},
		{name: "persistence, default backup", vs: "persistence_timeout 300"},
		{name: "sync daemon, explicit remove", global: syncd, backup: "backup {\n ipvs remove\n}", wantWarn: "lvs_sync_daemon eth1 VI_1", wantFix: "drop 'ipvs remove'"},
		// Without a sync daemon no persistence template reaches the
		// backup: removing its services loses nothing.
		{name: "persistence, no sync daemon, explicit remove", vs: "persistence_timeout 300", backup: "backup {\n ipvs remove\n}"},
		{name: "persistence, no sync daemon, two-node DR", vs: "persistence_timeout 300", backup: "backup {\n vip on\n sysctl realserver\n}"},
		{name: "persistence, sync daemon, two-node DR", global: syncd, vs: "persistence_timeout 300", backup: "backup {\n vip on\n sysctl realserver\n}", wantWarn: "lvs_sync_daemon eth1 VI_1", wantFix: "backup is a real server"},
		{name: "persistence, sync daemon in keepalived.conf, two-node DR", keepalived: kaSync, vs: "persistence_timeout 300", backup: "backup {\n vip on\n sysctl realserver\n}", wantWarn: "lvs_sync_daemon eth1 VI_1 in ", wantFix: "backup is a real server"},
		{name: "sync daemon in keepalived.conf, explicit remove", keepalived: kaSync, backup: "backup {\n ipvs remove\n}", wantWarn: "lvs_sync_daemon eth1 VI_1 in ", wantFix: "drop any 'ipvs remove'"},
		// An instance without virtual servers (a NAT gateway) has no
		// state to lose.
		{name: "no virtual servers, sync daemon, explicit remove", conf: syncd + "\ninstance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n backup {\n  ipvs remove\n }\n}\n"},
		{name: "no virtual servers, sync daemon in keepalived.conf", keepalived: kaSync, conf: "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\n"},
		{name: "sync daemon only in keepalived.conf", keepalived: kaSync, wantWarn: "lvs_sync_daemon eth1 VI_1 in ", wantFix: "'lvs_sync_daemon eth1 VI_1'"},
		{name: "old lvs_sync_daemon_interface in keepalived.conf", keepalived: kaOldSync, wantWarn: "lvs_sync_daemon_interface eth1", wantFix: "'lvs_sync_daemon eth1 VI_1'"},
		{name: "sync daemon in both", global: syncd, keepalived: kaSync},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := fmt.Sprintf(kahook, tc.global, tc.backup, tc.vs)
			if tc.conf != "" {
				text = tc.conf
			}
			kc := kahookConf(t, text)
			var r Report
			if tc.keepalived != "" {
				LintKahook(&r, kc, keepalived(t, tc.keepalived))
			} else {
				LintKahook(&r, kc, nil)
			}
			var got []Finding
			for _, f := range r.Findings {
				if f.Check == "stateful" {
					got = append(got, f)
				}
			}
			if tc.wantWarn == "" {
				if len(got) != 0 {
					t.Fatalf("unexpected: %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != Warn || !strings.Contains(got[0].Msg, tc.wantWarn) || !strings.Contains(got[0].Fix, tc.wantFix) {
				t.Fatalf("got %+v, want one WARN with %q, fix %q", got, tc.wantWarn, tc.wantFix)
			}
		})
	}
}
