package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/unpriv"
)

// TestConfigCheckFilesSecurity: `config check` on symlinked configs and
// on includes that are not regular files (issue 15 cases 4 and 5).
func TestConfigCheckFilesSecurity(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.conf")
	if err := os.WriteFile(conf, []byte("global_defs {\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink("c.conf", link); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "inc-fifo.conf"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifoInc := filepath.Join(dir, "fifo-include.conf")
	os.WriteFile(fifoInc, []byte("global_defs {\n}\ninclude inc-*.conf\n"), 0o644)
	zeroInc := filepath.Join(dir, "zero-include.conf")
	os.WriteFile(zeroInc, []byte("include /dev/zero\n"), 0o644)

	cases := []struct {
		name string
		path string
		exit int
		want string // in stdout (exit 0) or stderr
	}{
		{"root-owned symlink to a safe config", link, 0, link + ": OK"},
		{"glob include matching a FIFO", fifoInc, 2, fmt.Sprintf("%s:3: include %q: %q is a FIFO, not a regular file", fifoInc, "inc-*.conf", filepath.Join(dir, "inc-fifo.conf"))},
		{"include /dev/zero", zeroInc, 2, fmt.Sprintf("%s:1: include %q:", zeroInc, "/dev/zero")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				code     int
				out, err string
			}
			done := make(chan result, 1)
			go func() {
				code, out, errs := kahook("config", "check", tc.path)
				done <- result{code, out, errs}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("config check %s did not return within 5 s", tc.path)
			}
			got := r.err
			if tc.exit == 0 {
				got = r.out
			}
			if r.code != tc.exit || !strings.Contains(got, tc.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", r.code, tc.exit, tc.want, r.out, r.err)
			}
		})
	}
}

// TestUnsafeMiscPathRefused: a world-writable MISC_CHECK program is a
// config error for `config check` (file:line, exit 2), a failed check
// that never runs it for `check misc` (exit 1), and a FAIL with the fix
// for `doctor` (issue 15 case 1). Other commands load the config as
// before.
func TestUnsafeMiscPathRefused(t *testing.T) {
	dir := unpriv.Dir(t)
	marker := filepath.Join(dir, "ran")
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(script, 0o777); err != nil {
		t.Fatal(err)
	}
	unpriv.Run(t, fmt.Sprintf("printf '#!/bin/sh\\ntouch %s\\n' > %s", marker, script)) // any user can rewrite it
	conf := filepath.Join(dir, "kahook.conf")
	os.WriteFile(conf, []byte(`instance VI_1 {
    interface lo
    virtual_ipaddress { 10.0.0.10 }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    real_server 10.0.1.1 80 {
        MISC_CHECK {
            misc_path "`+script+` arg"
        }
    }
}
`), 0o644)
	unsafe := fmt.Sprintf("file %q is writable by non-root users (mode 0777", script)
	cases := []struct {
		name string
		args []string
		exit int
		want string // in stdout+stderr
	}{
		{"config check", []string{"--config", conf, "config", "check"}, 2, fmt.Sprintf("%s:8: MISC_CHECK misc_path %q: unsafe program: %s", conf, script+" arg", unsafe)},
		{"check misc", []string{"check", "misc", "--", script, "arg"}, 1, "not run: unsafe program: " + unsafe},
		{"doctor", []string{"--config", conf, "doctor", "--no-live"}, 1, fmt.Sprintf("FAIL %s:8: MISC_CHECK misc_path %q: unsafe program: %s", conf, script+" arg", unsafe)},
		{"doctor fix", []string{"--json", "--config", conf, "doctor", "--no-live"}, 1, fmt.Sprintf(`"fix": %q`, fmt.Sprintf("chmod go-w %q (root must own the program, every directory above it and every symlink on the way; none writable by others)", script))},
		// On a BACKUP, sync runs the checks (health known before a
		// takeover) without touching IPVS: the refused program counts as
		// down, so the quorum is lost (exit 1), and it never runs.
		{"sync on a backup node checks without running it", []string{"--config", conf, "--state-dir", filepath.Join(dir, "state"), "--json", "sync", "VI_1"}, 1, `"reason": "not run: unsafe program: ` + strings.ReplaceAll(unsafe, `"`, `\"`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := kahook(tc.args...)
			if code != tc.exit || !strings.Contains(out+errs, tc.want) {
				t.Errorf("exit %d, want %d with %s\nstdout: %s\nstderr: %s", code, tc.exit, tc.want, out, errs)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("the world-writable script RAN")
			}
		})
	}
}
