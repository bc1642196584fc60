package pool

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/kahook/kahook/config"
)

// TestInMaintenance: a file named IP:PORT or IP in maintenance_dir takes
// the real server out (ldirectord's maintenancedir), whether the pass
// lists the dir once (issue 18: one getdents, not two stat calls per
// server) or could not list it and stats each name; a dangling symlink
// and a missing dir take nothing out.
func TestInMaintenance(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"10.0.0.1:80", "10.0.0.2", "[2001:db8::1]:80", "2001:db8::2"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "10.0.0.3")); err != nil {
		t.Fatal(err)
	}
	rs := func(s string) *config.RealServer {
		ap := netip.MustParseAddrPort(s)
		return &config.RealServer{Addr: ap.Addr(), Port: ap.Port()}
	}
	for _, tc := range []struct {
		name   string
		dir    string
		server string
		want   bool
	}{
		{"ip:port file", dir, "10.0.0.1:80", true},
		{"ip:port file, other port", dir, "10.0.0.1:81", false},
		{"ip file, any port", dir, "10.0.0.2:8080", true},
		{"ipv6 [ip]:port file", dir, "[2001:db8::1]:80", true},
		{"ipv6 ip file", dir, "[2001:db8::2]:443", true},
		{"dangling symlink", dir, "10.0.0.3:80", false},
		{"no file", dir, "10.0.0.4:80", false},
		{"missing dir", filepath.Join(dir, "missing"), "10.0.0.1:80", false},
		{"no dir configured", "", "10.0.0.1:80", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{MaintenanceDir: tc.dir}
			if got := o.inMaintenance(rs(tc.server), o.maintenanceNames()); got != tc.want {
				t.Errorf("listed once: inMaintenance(%s) = %v, want %v", tc.server, got, tc.want)
			}
			if got := o.inMaintenance(rs(tc.server), nil); got != tc.want {
				t.Errorf("stat per name: inMaintenance(%s) = %v, want %v", tc.server, got, tc.want)
			}
		})
	}
}
