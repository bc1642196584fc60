package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
