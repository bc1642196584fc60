package pool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/unpriv"
)

// TestSyncNeverRunsUnsafeMiscScript: in a `sync` pass a MISC_CHECK whose
// program others can change is a failed check that says why, and the
// program never runs; the same pass runs a safe one (issue 15 case 1).
func TestSyncNeverRunsUnsafeMiscScript(t *testing.T) {
	dir := unpriv.Dir(t)
	script := func(name string, mode os.FileMode) (string, string) {
		p, marker := filepath.Join(dir, name), filepath.Join(dir, name+".ran")
		if err := os.WriteFile(p, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p, marker
	}
	safe, safeRan := script("safe.sh", 0o755)
	unsafe, unsafeRan := script("unsafe.sh", 0o777)
	unpriv.Run(t, fmt.Sprintf("printf '#!/bin/sh\\ntouch %s\\n' > %s", unsafeRan, unsafe)) // the attack
	cfg, err := config.Parse("kahook.conf", []byte(fmt.Sprintf(`instance VI_1 {
    interface eth0
    virtual_ipaddress { 10.0.0.10 }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    real_server 10.0.1.1 80 { MISC_CHECK { misc_path %q } }
    real_server 10.0.1.2 80 { MISC_CHECK { misc_path %q } }
}
`, safe, unsafe)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Cfg: cfg, Instance: "VI_1"}
	targets, err := o.targets(cfg.ServersOf("VI_1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o.runChecks(ctx, targets)

	cases := []struct {
		name    string
		rs      string
		healthy bool
		reason  string
		marker  string
		ran     bool
	}{
		{"safe script runs", "10.0.1.1:80", true, "checks passed", safeRan, true},
		{"world-writable script is a failed check, never run", "10.0.1.2:80", false,
			fmt.Sprintf("not run: unsafe program: file %q is writable by non-root users (mode 0777", unsafe), unsafeRan, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var obs *Observation
			for _, tg := range targets {
				if tg.rs.Endpoint() == tc.rs {
					o := observation(tg)
					obs = &o
				}
			}
			if obs == nil {
				t.Fatalf("no target %s", tc.rs)
			}
			if !obs.Checked || obs.Healthy != tc.healthy || !strings.Contains(obs.Reason, tc.reason) {
				t.Errorf("observation %+v, want healthy=%v with %q", *obs, tc.healthy, tc.reason)
			}
			if _, err := os.Stat(tc.marker); (err == nil) != tc.ran {
				t.Errorf("ran = %v, want %v", err == nil, tc.ran)
			}
		})
	}
}

// TestMaintenanceDirOthersCanAddTo (issue 15 case 3, F8): a maintenance
// dir any user can add a name to, sticky like /tmp or not, is refused: a
// real uid 65534 drops 10.0.1.1:80 into it and, were it trusted, would
// drain that real server. A root-only dir, or a root-only dir below a
// sticky one, is trusted.
func TestMaintenanceDirOthersCanAddTo(t *testing.T) {
	base := unpriv.Dir(t)
	mk := func(rel string, mode os.FileMode) string { return unpriv.Mkdir(t, base, rel, mode) }
	tmp := mk("tmp", 0o777|os.ModeSticky)
	pub := mk("pub", 0o777)
	under := mk("tmp/maint", 0o755)
	cases := []struct {
		name, dir string
		attack    bool // nobody can add a name
		refused   string
	}{
		{"sticky world-writable like /tmp", tmp, true, "is writable by non-root users (mode 1777"},
		{"world-writable", pub, true, "is writable by non-root users (mode 0777"},
		{"root-only dir below /tmp", under, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.attack {
				unpriv.Run(t, "touch "+filepath.Join(tc.dir, "10.0.1.1:80"))
			}
			err := CheckMaintenanceDir(tc.dir)
			if tc.refused == "" {
				if err != nil {
					t.Fatalf("root-only dir refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.refused) || !strings.Contains(err.Error(), tc.dir) {
				t.Fatalf("CheckMaintenanceDir(%s) = %v, want a refusal containing %q", tc.dir, err, tc.refused)
			}
		})
	}
}

// TestTextfileDirOthersCanAddTo (issue 15, F8): as root, `sync --textfile
// DIR` refuses a DIR any user can add names to (sticky like /tmp or not):
// a real uid 65534 plants kahook_VI_1.prom as a symlink, and nothing is
// written or replaced through it. A root-only dir is written.
func TestTextfileDirOthersCanAddTo(t *testing.T) {
	base := unpriv.Dir(t)
	mk := func(rel string, mode os.FileMode) string { return unpriv.Mkdir(t, base, rel, mode) }
	cases := []struct {
		name    string
		dir     string
		refused bool
	}{
		{"sticky world-writable like /tmp", mk("tmp", 0o777|os.ModeSticky), true},
		{"world-writable", mk("pub", 0o777), true},
		{"root-only", mk("safe", 0o755), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prom := filepath.Join(tc.dir, "kahook_VI_1.prom")
			if tc.refused {
				unpriv.Run(t, "ln -s /nonexistent/planted "+prom)
			}
			err := WriteTextfile(tc.dir, &Report{Instance: "VI_1"}, nil)
			if !tc.refused {
				if err != nil {
					t.Fatalf("root-only dir: %v", err)
				}
				if st, err := os.Lstat(prom); err != nil || !st.Mode().IsRegular() {
					t.Fatalf("no regular %s: %v", prom, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "writable by non-root users") {
				t.Fatalf("WriteTextfile(%s) = %v, want a refusal", tc.dir, err)
			}
			if target, err := os.Readlink(prom); err != nil || target != "/nonexistent/planted" {
				t.Errorf("the planted symlink was touched: %q %v", target, err)
			}
		})
	}
}
