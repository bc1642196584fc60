package ipvs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	mobyipvs "github.com/moby/ipvs"
	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/internal/netnstest"
)

const managedConf = `
instance VI_1 {
    interface eth0
    virtual_ipaddress {
        10.0.0.1
    }
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.1.1 80 { }
    real_server 10.0.1.2 80 { }
}
`

// rootOnlyDir is a state dir as kahook creates it (0700).
func rootOnlyDir(t *testing.T) string {
	d := t.TempDir()
	if err := os.Chmod(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func bufLogger() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// TestBrokenManagedFileStillLoads (issue 14, case 3): whatever is in
// ipvs-managed.json, a MASTER load installs the configured services, logs
// why the file was not used, and rewrites it from the config.
func TestBrokenManagedFileStillLoads(t *testing.T) {
	netnstest.RequireRoot(t)
	cases := []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, p string) { os.WriteFile(p, []byte("garbage{"), 0o600) }},
		{"wrong types", func(t *testing.T, p string) { os.WriteFile(p, []byte(`{"key":"x"}`), 0o600) }},
		{"empty", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }},
		{"oversized", func(t *testing.T, p string) {
			os.WriteFile(p, []byte("["+strings.Repeat(" ", 17<<20)+"]"), 0o600)
		}},
		{"symlink", func(t *testing.T, p string) { os.Symlink("/etc/passwd", p) }},
		{"fifo", func(t *testing.T, p string) { unix.Mkfifo(p, 0o600) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parse(t, managedConf)
			dir := rootOnlyDir(t)
			path := filepath.Join(dir, managedFile)
			tc.write(t, path)
			log, buf := bufLogger()
			k := newFakeKernel()
			m := &Manager{K: k, Cfg: cfg, StateDir: dir, Log: log}
			n, err := m.Load(context.Background(), cfg.ServersOf("VI_1"))
			if err != nil || n != 3 || len(k.svcs) != 1 || len(k.dests) != 1 {
				t.Fatalf("load: n=%d err=%v services %v", n, err, k.svcs)
			}
			if !strings.Contains(buf.String(), "managed-services file not used") {
				t.Errorf("no log line:\n%s", buf.String())
			}
			data, err := os.ReadFile(path)
			var list []managedEntry
			if fi, _ := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || json.Unmarshal(data, &list) != nil ||
				len(list) != 1 || list[0].Key != key("10.0.0.1", 80) || list[0].Owner != "VI_1" {
				t.Errorf("managed file not rebuilt from the config: %v %.200q\n%s", err, data, buf.String())
			}
		})
	}
}

// TestForgedManagedEntryNotDeleted (issue 15, case 3): an entry in
// ipvs-managed.json naming a service kahook never loaded (another
// program's) is only acted on when the file is kahook's own: a root-only
// state dir and a root-owned file. Planted by uid 65534 (in a dir it owns,
// or as a file it owns), the service survives a BACKUP's removal.
func TestForgedManagedEntryNotDeleted(t *testing.T) {
	netnstest.RequireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed")
	}
	forged, _ := json.Marshal([]managedEntry{{Key: key("10.0.0.9", 443), Owner: "VI_1"}})
	nobody := func(t *testing.T, args ...string) {
		t.Helper()
		cmd := exec.Command("setpriv", append([]string{"--reuid", "65534", "--regid", "65534", "--clear-groups", "--"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("as uid 65534: %v: %v\n%s", args, err, out)
		}
	}
	stickyDir := func(t *testing.T) string {
		d := t.TempDir()
		os.Chmod(filepath.Dir(d), 0o755)
		os.Chmod(d, os.ModeSticky|0o777)
		return d
	}
	cases := []struct {
		name    string
		dir     func(t *testing.T) string
		removed bool
	}{
		{"dir made by another user", func(t *testing.T) string {
			d := filepath.Join(stickyDir(t), "state")
			nobody(t, "mkdir", "-m", "0755", d)
			nobody(t, "sh", "-c", "cat > "+filepath.Join(d, managedFile)+" <<'EOF'\n"+string(forged)+"\nEOF")
			return d
		}, false},
		{"file owned by another user", func(t *testing.T) string {
			d := filepath.Join(stickyDir(t), "state")
			os.Mkdir(d, 0o700)
			os.Chmod(d, 0o711) // let uid 65534 reach its own file
			f := filepath.Join(stickyDir(t), "planted")
			nobody(t, "sh", "-c", "cat > "+f+" <<'EOF'\n"+string(forged)+"\nEOF")
			if err := os.Rename(f, filepath.Join(d, managedFile)); err != nil {
				t.Fatal(err)
			}
			os.Chmod(d, 0o700)
			return d
		}, false},
		// Control: kahook's own record in a root-only dir is honoured (a
		// service it loaded for VI_1 that left the config goes).
		{"kahook's own record", func(t *testing.T) string {
			d := rootOnlyDir(t)
			os.WriteFile(filepath.Join(d, managedFile), forged, 0o600)
			return d
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parse(t, managedConf)
			k := newFakeKernel()
			other := &mobyipvs.Service{AddressFamily: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Address: key("10.0.0.9", 443).Addr.AsSlice(), Port: 443, SchedName: "wlc", Netmask: 0xffffffff}
			k.NewService(other)
			log, buf := bufLogger()
			m := &Manager{K: k, Cfg: cfg, StateDir: tc.dir(t), Log: log}
			if _, err := m.Remove(context.Background(), cfg.ServersOf("VI_1")); err != nil {
				t.Fatal(err)
			}
			if _, still := k.svcs[skey(other)]; still == tc.removed {
				t.Errorf("foreign service 10.0.0.9:443 present after BACKUP: %v, want %v\n%s", still, !tc.removed, buf.String())
			}
			if !tc.removed && !strings.Contains(buf.String(), "managed-services file not used") {
				t.Errorf("no log line:\n%s", buf.String())
			}
		})
	}
}

// TestUnchangedLoadNeedsNoManagedFile (issue 18, unchanged re-apply): the
// managed-services file only adds services to remove, so a load that finds
// the kernel holding the config's services and no other, exactly as the
// config says, does not read it (nor write it); any other table still
// reads it, and a service it records that left the config is removed.
func TestUnchangedLoadNeedsNoManagedFile(t *testing.T) {
	netnstest.RequireRoot(t) // the state dir's owner checks want root
	twoServices := managedConf + `
virtual_server 10.0.0.1 443 {
    protocol TCP
    real_server 10.0.1.1 443 { }
}
`
	cases := []struct {
		name string
		// first is loaded; then, with garbage, the file is replaced by
		// garbage (read, it is logged as not used); then second is loaded.
		first, second string
		garbage       bool
		changes       int
	}{
		{"unchanged", managedConf, managedConf, true, 0},
		{"a destination changed", managedConf, strings.Replace(managedConf, "real_server 10.0.1.2 80 { }", "real_server 10.0.1.2 80 { weight 7 }", 1), true, 1},
		{"a service left the config", twoServices, managedConf, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := rootOnlyDir(t)
			path := filepath.Join(dir, managedFile)
			k := newFakeKernel()
			log, buf := bufLogger()
			cfg := parse(t, tc.first)
			m := &Manager{K: k, Cfg: cfg, StateDir: dir, Log: log}
			if _, err := m.Load(context.Background(), cfg.ServersOf("VI_1")); err != nil {
				t.Fatal(err)
			}
			if tc.garbage {
				if err := os.WriteFile(path, []byte("garbage{"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(path)
			buf.Reset()
			cfg = parse(t, tc.second)
			m = &Manager{K: k, Cfg: cfg, StateDir: dir, Log: log}
			n, err := m.Load(context.Background(), cfg.ServersOf("VI_1"))
			if err != nil || n != tc.changes {
				t.Fatalf("second load: %d changes, err %v; want %d\n%s", n, err, tc.changes, buf.String())
			}
			if read := strings.Contains(buf.String(), "managed-services file not used"); tc.garbage && read != (tc.changes > 0) {
				t.Errorf("managed-services file read: %v, want %v\n%s", read, tc.changes > 0, buf.String())
			}
			after, _ := os.ReadFile(path)
			if rewritten := string(after) != string(before); rewritten != (tc.changes > 0) {
				t.Errorf("managed-services file rewritten: %v, want %v (%q)", rewritten, tc.changes > 0, after)
			}
			if len(k.svcs) != 1 {
				t.Errorf("kernel services %v, want only 10.0.0.1:80", k.svcs)
			}
		})
	}
}
