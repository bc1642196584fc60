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
