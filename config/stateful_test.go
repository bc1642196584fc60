package config

import (
	"strings"
	"testing"
)

// TestStatefulBackupDefault: the backup keeps the services loaded by
// default where synchronised state needs them (lvs_sync_daemon or
// persistence) and the backup is no real server; explicit config wins
// (issue 19 item 5).
func TestStatefulBackupDefault(t *testing.T) {
	const vs = `
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo wlc
    lb_kind DR
    %s
    real_server 198.51.100.11 80 {
    }
}
`
	inst := func(backup string) string {
		return "instance VI_1 {\n    interface eth0\n    virtual_ipaddress {\n        192.0.2.10\n    }\n" + backup + "}\n"
	}
	const syncd = "global_defs {\n    lvs_sync_daemon eth1 VI_1 id 7\n}\n"
	for _, tc := range []struct {
		name     string
		conf     string
		want     IPVSAction
		wantWhy  string // substring of BackupKeepsIPVS ("" = empty)
		wantSync []string
	}{
		{name: "plain director removes", conf: inst("") + strings.Replace(vs, "%s", "", 1), want: IPVSRemove},
		{name: "lvs_sync_daemon loads", conf: syncd + inst("") + strings.Replace(vs, "%s", "", 1), want: IPVSLoad, wantWhy: "lvs_sync_daemon eth1 VI_1 id 7", wantSync: []string{"eth1", "VI_1", "id", "7"}},
		{name: "global_defs after the instance", conf: inst("") + strings.Replace(vs, "%s", "", 1) + syncd, want: IPVSLoad, wantWhy: "lvs_sync_daemon", wantSync: []string{"eth1", "VI_1", "id", "7"}},
		{name: "persistence loads", conf: inst("") + strings.Replace(vs, "%s", "persistence_timeout 300", 1), want: IPVSLoad, wantWhy: "persistence_timeout on virtual_server 192.0.2.10:tcp:80"},
		{name: "persistence of another instance's service", conf: inst("") + "instance VI_2 {\n    interface eth0\n    virtual_ipaddress {\n        192.0.2.20\n    }\n}\n" + strings.Replace(strings.Replace(vs, "%s", "persistence_timeout 300", 1), "192.0.2.10", "192.0.2.20", 1), want: IPVSRemove},
		{name: "explicit remove wins", conf: syncd + inst("    backup {\n        ipvs remove\n    }\n") + strings.Replace(vs, "%s", "persistence_timeout 300", 1), want: IPVSRemove, wantSync: []string{"eth1", "VI_1", "id", "7"}},
		{name: "explicit none wins", conf: syncd + inst("    backup {\n        ipvs none\n    }\n") + strings.Replace(vs, "%s", "", 1), want: IPVSNone, wantSync: []string{"eth1", "VI_1", "id", "7"}},
		{name: "two-node DR backup stays remove", conf: syncd + inst("    backup {\n        vip on\n        sysctl realserver\n    }\n") + strings.Replace(vs, "%s", "persistence_timeout 300", 1), want: IPVSRemove, wantSync: []string{"eth1", "VI_1", "id", "7"}},
		{name: "node that is a real server stays remove", conf: syncd + inst("") + "realserver {\n    interface eth0\n    virtual_ipaddress {\n        192.0.2.99\n    }\n}\n" + strings.Replace(vs, "%s", "", 1), want: IPVSRemove, wantSync: []string{"eth1", "VI_1", "id", "7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustLoad(t, tc.conf)
			in := cfg.Instance("VI_1")
			if in.Backup.IPVS != tc.want {
				t.Errorf("backup ipvs = %s, want %s", in.Backup.IPVS, tc.want)
			}
			if (tc.wantWhy == "") != (in.BackupKeepsIPVS == "") || !strings.Contains(in.BackupKeepsIPVS, tc.wantWhy) {
				t.Errorf("BackupKeepsIPVS = %q, want one containing %q", in.BackupKeepsIPVS, tc.wantWhy)
			}
			if strings.Join(cfg.Global.LVSSyncDaemon, " ") != strings.Join(tc.wantSync, " ") {
				t.Errorf("lvs_sync_daemon = %q, want %q", cfg.Global.LVSSyncDaemon, tc.wantSync)
			}
			if in.Master != DefaultMaster {
				t.Errorf("master = %+v, want the default %+v", in.Master, DefaultMaster)
			}
		})
	}
}
