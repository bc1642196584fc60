package sysctl

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKnobFilesMustBeRegular (issue 15, F9): a knob file is read and
// written only when it is a regular file (every /proc/sys entry is one):
// a FIFO is refused without blocking, a symlink is never followed (its
// target keeps its content), and an interface name that is a path is
// refused before any file is touched.
func TestKnobFilesMustBeRegular(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "net", "ipv4", "conf")
	for _, d := range []string{"eth0", "fifo0", "link0"} {
		if err := os.MkdirAll(filepath.Join(conf, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(root, "target")
	if err := os.WriteFile(target, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "eth0", ArpIgnore), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(conf, "fifo0", ArpIgnore), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(conf, "link0", ArpIgnore)); err != nil {
		t.Fatal(err)
	}
	fs := FS{Root: root}
	for _, tc := range []struct {
		name, iface string
		want        string // "" = works
	}{
		{"regular file", "eth0", ""},
		{"FIFO", "fifo0", "not a regular file"},
		{"symlink", "link0", "not a regular file"},
		{"traversal", "../../../../", "contains '/'"},
		{"dot-dot", "..", "not a valid Linux interface name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 2)
			go func() {
				_, err := fs.Get(tc.iface, ArpIgnore)
				done <- err
				done <- fs.Set(tc.iface, ArpIgnore, 2)
			}()
			for _, op := range []string{"get", "set"} {
				select {
				case err := <-done:
					if tc.want == "" && err != nil {
						t.Errorf("%s: %v", op, err)
					}
					if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
						t.Errorf("%s: %v, want an error containing %q", op, err, tc.want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s blocked", op)
				}
			}
			if data, _ := os.ReadFile(target); string(data) != "0\n" {
				t.Errorf("the symlink's target was written: %q", data)
			}
		})
	}
	if v, err := fs.Get("eth0", ArpIgnore); err != nil || v != 2 {
		t.Errorf("eth0 arp_ignore = %d, %v; want 2", v, err)
	}
}
