package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/testbin"
	"github.com/kahook/kahook/internal/unpriv"
)

// TestSysctlPersistFileIsSafe (issue 15, F10): `sysctl apply --persist
// --persist-file P` as root refuses (exit 2, before any sysctl is
// written) a P whose directory others can add names to (sticky like /tmp
// or not: a real uid 65534 plants P there), a P that is a FIFO (it never
// blocks on it) and a P whose directory does not exist (it is not
// created). A root-only directory gets the drop-in. The sysctls are a fake
// /proc/sys tree, so nothing on the host changes.
func TestSysctlPersistFileIsSafe(t *testing.T) {
	base := unpriv.Dir(t)
	bin := testbin.Kahook(t)
	mk := func(rel string, mode os.FileMode) string { return unpriv.Mkdir(t, base, rel, mode) }
	sticky := mk("tmp", 0o777|os.ModeSticky)
	pub := mk("pub", 0o777)
	safe := mk("safe", 0o755)
	fifoDir := mk("fifodir", 0o755)
	if err := syscall.Mkfifo(filepath.Join(fifoDir, "60-kahook.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	unpriv.Run(t, "echo 'net.ipv4.conf.all.arp_ignore = 8' > "+filepath.Join(sticky, "60-kahook.conf"))
	unpriv.Run(t, "ln -s /etc/passwd "+filepath.Join(pub, "60-kahook.conf"))
	cases := []struct {
		name, file string
		want       string // "" = written
	}{
		{"sticky dir like /tmp, planted file", filepath.Join(sticky, "60-kahook.conf"), "is writable by non-root users (mode 1777"},
		{"world-writable dir, planted symlink", filepath.Join(pub, "60-kahook.conf"), "is writable by non-root users (mode 0777"},
		{"FIFO", filepath.Join(fifoDir, "60-kahook.conf"), "is a FIFO, not a regular file"},
		{"missing dir", filepath.Join(base, "none", "60-kahook.conf"), "no such file or directory"},
		{"root-only dir", filepath.Join(safe, "60-kahook.conf"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proc := t.TempDir()
			for _, ifc := range []string{"all", "lo", "eth0"} {
				d := filepath.Join(proc, "net", "ipv4", "conf", ifc)
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"arp_ignore", "arp_announce"} {
					if err := os.WriteFile(filepath.Join(d, k), []byte("0\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--syslog", "off", "--config", "/nonexistent/kahook.conf", "sysctl", "apply",
				"--proc-sys", proc, "--role", "realserver", "-i", "eth0", "--persist", "--persist-file", tc.file)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("blocked on %s", tc.file)
			}
			ignore, _ := os.ReadFile(filepath.Join(proc, "net/ipv4/conf/all/arp_ignore"))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("root-only dir: %v\n%s", err, stderr.String())
				}
				data, err := os.ReadFile(tc.file)
				if err != nil || !strings.Contains(string(data), "net.ipv4.conf.eth0.arp_ignore = 1") {
					t.Errorf("drop-in: %q %v", data, err)
				}
				return
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %v, want 2 with %q:\n%s", err, tc.want, stderr.String())
			}
			if string(ignore) != "0\n" {
				t.Errorf("a refused run changed a sysctl first: all.arp_ignore = %q", ignore)
			}
			if _, err := os.Stat(filepath.Join(base, "none")); err == nil {
				t.Error("the drop-in's directory was created")
			}
		})
	}
	if data, _ := os.ReadFile("/etc/passwd"); !strings.HasPrefix(string(data), "root:") {
		t.Error("/etc/passwd was replaced")
	}
	if data, _ := os.ReadFile(filepath.Join(sticky, "60-kahook.conf")); !strings.Contains(string(data), "= 8") {
		t.Errorf("the planted file was replaced: %q", data)
	}
}
