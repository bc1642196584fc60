//go:build vm

package lab_test

import (
	"testing"

	"github.com/kahook/kahook/internal/lab"
)

// TestVMStatefulFailoverSurvivors (issue 19 item 5): two directors with
// keepalived's lvs_sync_daemon and a persistent LVS-DR service; 20
// long-lived connections and 8 persistence sessions (8 client addresses)
// through the master, which then fails as a whole node (keepalived
// SIGKILLed, link down). Counted on the new master: with kahook's default
// (the backup keeps the services loaded, so the kernel binds what the
// sync daemon sends) every connection and every session survives and the
// new master counts the 20 connections as active, exactly as keepalived's
// own virtual_server handling (run first, as the oracle). The control,
// kahook with `backup { ipvs remove }` (the old default), must lose
// state: the test's assertions fail without the default.
func TestVMStatefulFailoverSurvivors(t *testing.T) {
	const conns = 20
	base := lab.Options{SyncDaemon: true, Persistence: 300}
	var oracle lab.Survivors
	for _, tc := range []struct {
		name      string
		keepalive bool
		backup    string
		keepsAll  bool
	}{
		{name: "keepalived virtual_server", keepalive: true, keepsAll: true},
		{name: "kahook default", keepsAll: true},
		{name: "kahook backup ipvs remove", backup: "remove", keepsAll: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.KeepalivedVS, o.BackupIPVS = tc.keepalive, tc.backup
			x := build(t, o)
			s, err := x.MeasureSurvivors(conns)
			t.Logf("%s: %s", tc.name, s)
			if err != nil {
				t.Fatalf("%v\nbackup's ipvsadm -Lnc before the failover:\n%s", err, s.BackupEntries)
			}
			defer func() {
				if t.Failed() {
					t.Logf("backup's ipvsadm -Lnc before the failover:\n%s", s.BackupEntries)
				}
			}()
			all := s.Conns == conns && s.Sessions == len(lab.SessionAddrs) && s.ActiveConns == conns
			if tc.keepsAll && !all {
				t.Errorf("want every connection and session kept and %d active connections on the new master, got %s", conns, s)
			}
			if !tc.keepsAll && all {
				t.Errorf("the control lost nothing (%s): the test cannot tell the default from ipvs remove", s)
			}
			if tc.keepalive {
				oracle = s
				return
			}
			if tc.keepsAll && oracle.ConnsTotal > 0 &&
				(s.Conns != oracle.Conns || s.Sessions != oracle.Sessions || s.ActiveConns != oracle.ActiveConns) {
				t.Errorf("kahook %s differs from keepalived's own %s", s, oracle)
			}
		})
	}
}
