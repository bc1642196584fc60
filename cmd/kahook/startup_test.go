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
// kahook(8) from the command tree.
func TestManPage(t *testing.T) {
	code, out, errs := kahook("man")
	if code != 0 || !strings.Contains(out, ".TH kahook 8") || !strings.Contains(out, "realserver") {
		t.Errorf("man: exit %d\n%s%s", code, out, errs)
	}
}
