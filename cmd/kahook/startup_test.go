package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/testbin"
)

// TestShippedBuildHasNoManGenerator: keepalived starts kahook for every
// check interval, so the shipped binary must not link the markdown and
// roff libraries that only the man page generator needs (their package
// initialisation ran on every start; cmd/kahook/man.go).
func TestShippedBuildHasNoManGenerator(t *testing.T) {
	bin := testbin.Kahook(t)
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	info := string(out)
	for _, mod := range []string{"github.com/cpuguy83/go-md2man", "github.com/russross/blackfriday"} {
		if strings.Contains(info, mod) {
			t.Errorf("the shipped kahook links %s:\n%s", mod, info)
		}
	}
	if !strings.Contains(info, "-tags=urfave_cli_no_docs") {
		t.Errorf("the shipped kahook is not built with -tags urfave_cli_no_docs:\n%s", info)
	}
	code := 0
	cmd := exec.Command(bin, "--syslog", "off", "man")
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	if code != exitUsage {
		t.Errorf("kahook man in the shipped build: exit %d, want %d (no generator)", code, exitUsage)
	}
}

// TestManPage: a development build (no tag: this test binary) prints
// kahook(8) from the command tree and kahook.conf(5) from the README's
// configuration reference.
func TestManPage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"kahook.8", []string{"man", "8"}, []string{".TH kahook 8", ".SH COMMANDS", "realserver", ".SH EXIT STATUS", ".SH FILES", ".SH EXAMPLES", ".SH SEE ALSO"}},
		{"kahook.conf.5", []string{"man", "--readme", "../../README.md", "5"}, []string{".TH kahook.conf 5", "global_defs", "garp_master_repeat", "virtual_server_group", ".SH SEE ALSO"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := kahook(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q", w)
				}
			}
		})
	}
	if code, _, _ := kahook("man", "--readme", "no-such-README.md", "5"); code != exitFailed {
		t.Errorf("man 5 without a README: exit %d, want %d", code, exitFailed)
	}
}
