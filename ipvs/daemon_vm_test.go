//go:build vm

package ipvs_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestVMShowDaemonMatchesIpvsadm (issue 17 item 3): `ipvs show --daemon`
// prints what `ipvsadm -Ln --daemon` prints, with no daemon, a master, and
// a master and a backup (all with the kernel's defaults and with explicit
// syncid, maxlen, group, port and ttl).
func TestVMShowDaemonMatchesIpvsadm(t *testing.T) {
	l := newLVS(t)
	conf := filepath.Join(t.TempDir(), "kahook.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l.MustRun("ip", "link", "set", "lo", "up")
	l.MustRun("ip", "link", "add", "d0", "type", "dummy")
	l.MustRun("ip", "link", "set", "d0", "up", "multicast", "on")
	for _, tc := range []struct {
		name    string
		start   []string
		daemons int
	}{
		{"none", nil, 0},
		{"master", []string{"--start-daemon", "master", "--mcast-interface", "d0"}, 1},
		{"master and backup", []string{"--start-daemon", "backup", "--mcast-interface", "d0", "--syncid", "7", "--sync-maxlen", "1000", "--mcast-group", "224.0.0.99", "--mcast-port", "9000", "--mcast-ttl", "3"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.start != nil {
				l.MustRun(append([]string{"ipvsadm"}, tc.start...)...)
			}
			want := l.MustRun("ipvsadm", "-Ln", "--daemon")
			got := l.mustKahook(conf, "ipvs", "show", "--daemon")
			if got != want {
				t.Errorf("ipvs show --daemon differs from ipvsadm -Ln --daemon:\n--- ipvsadm\n%s--- kahook\n%s", want, got)
			}
			var ds []map[string]any
			if err := json.Unmarshal([]byte(l.mustKahook(conf, "--json", "ipvs", "show", "--daemon")), &ds); err != nil || len(ds) != tc.daemons {
				t.Errorf("--json: %d daemons (%v), want %d: %v", len(ds), err, tc.daemons, ds)
			}
		})
	}
}
