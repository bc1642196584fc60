package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/netnstest"
)

// TestCheckDirs (issue 15, "must show"): doctor reports a state dir or a
// maintenance dir that a non-root user can change as FAIL, naming the
// path and the fix; root-only dirs (and a missing maintenance dir) pass.
func TestCheckDirs(t *testing.T) {
	netnstest.RequireRoot(t)
	mk := func(t *testing.T, mode os.FileMode, uid int) string {
		d := filepath.Join(t.TempDir(), "d")
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Dir(d), 0o755)
		os.Chmod(d, mode)
		os.Chown(d, uid, uid)
		return d
	}
	cases := []struct {
		name          string
		state, maint  func(t *testing.T) string
		failState     bool
		failMaint     bool
		stateFixWords string
		stateFix      string // "": chmod 0700 DIR
	}{
		{"root-only", func(t *testing.T) string { return mk(t, 0o700, 0) }, func(t *testing.T) string { return mk(t, 0o755, 0) }, false, false, "", ""},
		{"missing maintenance dir", func(t *testing.T) string { return mk(t, 0o750, 0) }, func(t *testing.T) string { return filepath.Join(t.TempDir(), "none") }, false, false, "", ""},
		{"state dir others can enter", func(t *testing.T) string { return mk(t, 0o755, 0) }, func(t *testing.T) string { return mk(t, 0o755, 0) }, true, false, "lets users other than root in", ""},
		{"state dir world-writable", func(t *testing.T) string { return mk(t, 0o777, 0) }, func(t *testing.T) string { return mk(t, 0o755, 0) }, true, false, "writable by non-root users", ""},
		{"state dir owned by uid 65534", func(t *testing.T) string { return mk(t, 0o700, 65534) }, func(t *testing.T) string { return mk(t, 0o755, 0) }, true, false, "owned by uid 65534", ""},
		// Hostile review F7a, F1: no chown/chmod advice that cannot help.
		{"state dir is a regular file", func(t *testing.T) string {
			p := filepath.Join(mk(t, 0o755, 0), "file")
			os.WriteFile(p, nil, 0o600)
			return p
		}, func(t *testing.T) string { return mk(t, 0o755, 0) }, true, false, "a regular file is there", "give state_dir (or --state-dir) the path of a directory"},
		{"state dir with ..", func(t *testing.T) string { return mk(t, 0o700, 0) + "/../d" }, func(t *testing.T) string { return mk(t, 0o755, 0) }, true, false, `has a ".." component`, `without ".."`},
		{"maintenance dir world-writable", func(t *testing.T) string { return mk(t, 0o700, 0) }, func(t *testing.T) string { return mk(t, 0o777, 0) }, false, true, "", ""},
		{"maintenance dir sticky and world-writable (like /tmp)", func(t *testing.T) string { return mk(t, 0o700, 0) }, func(t *testing.T) string { return mk(t, 0o777|os.ModeSticky, 0) }, false, true, "", ""},
		{"maintenance dir owned by uid 65534", func(t *testing.T) string { return mk(t, 0o700, 0) }, func(t *testing.T) string { return mk(t, 0o755, 65534) }, false, true, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sd, md := tc.state(t), tc.maint(t)
			var r Report
			CheckDirs(&r, sd, md)
			for _, f := range r.Findings {
				switch f.Check {
				case "state-dir":
					if (f.Severity == Fail) != tc.failState {
						t.Errorf("state dir finding %s", f)
					}
					fix := tc.stateFix
					if fix == "" {
						fix = "chmod 0700 " + sd
					}
					if f.Severity == Fail && (!strings.Contains(f.Msg, sd) || !strings.Contains(f.Msg, tc.stateFixWords) || !strings.Contains(f.Fix, fix) || (tc.stateFix != "" && strings.Contains(f.Fix, "chown"))) {
						t.Errorf("state dir finding lacks the path, reason or fix: %s (fix %q)", f, f.Fix)
					}
				case "maintenance-dir":
					if !tc.failMaint || f.Severity != Fail || !strings.Contains(f.Msg, md) || !strings.Contains(f.Fix, md) {
						t.Errorf("maintenance dir finding %s (fix %q)", f, f.Fix)
					}
				}
			}
			if tc.failMaint && r.Count(Fail) == 0 {
				t.Errorf("no FAIL for the maintenance dir: %v", r.Findings)
			}
			if !tc.failState && !tc.failMaint && r.Failed() {
				t.Errorf("unexpected FAIL: %v", r.Findings)
			}
		})
	}
}
