//go:build vm

package pool_test

import (
	"os"
	"strings"
	"testing"
)

// Real IPVS under TCG is slow: every pass gets a generous deadline, and a
// failed server leaves at once (no drain wait).
var passFlags = []string{"--deadline", "30s", "--drain-timeout", "0"}

const twoServers = `
virtual_server 10.9.0.100 80 {
    protocol TCP
    lb_algo wrr
    lb_kind NAT
    real_server 10.9.1.1 8080 { weight %s
        TCP_CHECK { connect_timeout 2 } }
    real_server 10.9.1.2 8080 { weight %s
        TCP_CHECK { connect_timeout 2 } }
}
`

// broken is a virtual server kahook.conf cannot hold: a weight that is no
// number (keepalived -t rejects it too; kahook refuses the whole config,
// a documented deliberate difference). An unknown lb_kind would not do:
// keepalived reports it and loads NAT, and so does kahook.
const broken = `
virtual_server 10.9.0.100 81 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 10.9.1.1 8081 {
        weight heavy
    }
}
`

func (l *lab) writeTwo(weight string) {
	l.write(strings.ReplaceAll(twoServers, "%s", weight))
}

// TestVMNewMasterLoadsOnlyLiveServers: a BACKUP's sync passes record that
// 10.9.1.2 is dead (no IPVS written there); the MASTER transition that
// follows loads only the live 10.9.1.1, as keepalived's always-running
// checker does. The control (no pass recorded) loads both, keepalived's
// start state, so the test shows the recorded health at work (issue 19
// item 1).
func TestVMNewMasterLoadsOnlyLiveServers(t *testing.T) {
	l := newLab(t, 2)
	l.writeTwo("2")
	l.web("10.9.1.1:8080")

	t.Run("control: no pass recorded", func(t *testing.T) {
		if out, code := l.kahook("notify", "master", "VI_1"); code != 0 {
			t.Fatalf("notify master: exit %d: %s", code, out)
		}
		for _, rs := range []string{"10.9.1.1:8080", "10.9.1.2:8080"} {
			if w := l.weightOf("10.9.0.100:80", rs); w != "2" {
				t.Errorf("%s: weight %s, want 2 (keepalived's start state: up)\n%s", rs, w, l.rules())
			}
		}
		if out, code := l.kahook("notify", "backup", "VI_1"); code != 0 {
			t.Fatalf("notify backup: exit %d: %s", code, out)
		}
		if r := strings.TrimSpace(l.rules()); r != "" {
			t.Fatalf("backup left IPVS rules:\n%s", r)
		}
		os.RemoveAll(l.stateDir)
	})

	t.Run("backup passes, then master", func(t *testing.T) {
		if out, code := l.kahook("notify", "backup", "VI_1"); code != 0 {
			t.Fatalf("notify backup: exit %d: %s", code, out)
		}
		for i := 0; i < 2; i++ {
			rep, code := l.pass(passFlags...)
			if code != 0 || rep.Master {
				t.Fatalf("backup pass %d: exit %d, %+v", i, code, rep)
			}
		}
		if r := strings.TrimSpace(l.rules()); r != "" {
			t.Fatalf("a BACKUP's sync pass wrote IPVS:\n%s", r)
		}
		if out, code := l.kahook("notify", "master", "VI_1"); code != 0 {
			t.Fatalf("notify master: exit %d: %s", code, out)
		}
		if w := l.weightOf("10.9.0.100:80", "10.9.1.1:8080"); w != "2" {
			t.Errorf("live server: weight %s, want 2\n%s", w, l.rules())
		}
		if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "absent" {
			t.Errorf("dead server loaded by the new MASTER: weight %s\n%s", w, l.rules())
		}
	})
}

// TestVMReload: `kahook reload` (keepalived's ExecReload) applies a changed
// weight on a MASTER, keeps the pool's decision on a dead server, and
// refuses a broken config (exit 2) without touching the table (issue 19
// item 2).
func TestVMReload(t *testing.T) {
	l := newLab(t, 2)
	l.writeTwo("2")
	l.web("10.9.1.1:8080")
	if out, code := l.kahook("notify", "master", "VI_1"); code != 0 {
		t.Fatalf("notify master: exit %d: %s", code, out)
	}
	if rep, code := l.pass(passFlags...); code != 0 {
		t.Fatalf("master pass: exit %d, %+v", code, rep)
	}
	if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "absent" {
		t.Fatalf("dead server still in after a pass: weight %s\n%s", w, l.rules())
	}

	l.writeTwo("7")
	if out, code := l.kahook("reload"); code != 0 {
		t.Fatalf("reload: exit %d: %s", code, out)
	}
	if w := l.weightOf("10.9.0.100:80", "10.9.1.1:8080"); w != "7" {
		t.Errorf("reload did not apply the changed weight: %s, want 7\n%s", w, l.rules())
	}
	if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "absent" {
		t.Errorf("reload loaded the dead server: weight %s", w)
	}

	before := l.rules()
	// The weight changes too, so a reload that ignored the error would show.
	l.write(strings.ReplaceAll(twoServers, "%s", "3") + broken)
	out, code := l.kahook("reload")
	if code != 2 {
		t.Errorf("reload of a broken config: exit %d, want 2: %s", code, out)
	}
	if !strings.Contains(out, "kahook.conf:") {
		t.Errorf("reload of a broken config does not name file:line: %s", out)
	}
	if after := l.rules(); after != before {
		t.Errorf("a refused reload changed the table:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// TestVMBackupKeepsSynchronisedServices: with keepalived's lvs_sync_daemon
// line in global_defs, a BACKUP transition keeps the services loaded (so
// the kernel binds synchronised connections to them); without it the
// backup removes them (issue 19 item 5).
func TestVMBackupKeepsSynchronisedServices(t *testing.T) {
	for _, tc := range []struct {
		name, global string
		keeps        bool
	}{
		{name: "lvs_sync_daemon", global: "global_defs {\n    lvs_sync_daemon eth0 VI_1\n}\n", keeps: true},
		{name: "no sync daemon", keeps: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, 2)
			l.write(tc.global + strings.ReplaceAll(twoServers, "%s", "2"))
			if out, code := l.kahook("notify", "master", "VI_1"); code != 0 {
				t.Fatalf("notify master: exit %d: %s", code, out)
			}
			if out, code := l.kahook("notify", "backup", "VI_1"); code != 0 {
				t.Fatalf("notify backup: exit %d: %s", code, out)
			}
			loaded := l.weightOf("10.9.0.100:80", "10.9.1.1:8080") == "2"
			if loaded != tc.keeps {
				t.Errorf("backup: services loaded = %v, want %v\n%s", loaded, tc.keeps, l.rules())
			}
			if vips := l.director.MustRun("ip", "-br", "addr", "show", "dev", "lo"); strings.Contains(vips, "10.9.0.100") {
				t.Errorf("backup kept the VIP: %s", vips)
			}
		})
	}
}
