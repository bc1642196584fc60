package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

// The files are named relative to testdata so the output does not depend
// on where the repository lives.
func inTestdata(t *testing.T) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir("testdata"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
}

func TestGoldenConfigCheckJSON(t *testing.T) {
	inTestdata(t)
	code, out, errs := kahook("--json", "config", "check", "director.conf")
	// director.conf has no protocol on purpose: keepalived -t reports
	// that (and defaults to UDP), so config check exits 2, model printed.
	if code != 2 || !strings.Contains(errs, "no protocol set") {
		t.Fatalf("exit %d, want 2 for the missing protocol: %s", code, errs)
	}
	os.Chdir("..")
	golden(t, "director.json", out)
}

func TestGoldenImport(t *testing.T) {
	inTestdata(t)
	code, out, errs := kahook("import", "keepalived.conf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	os.Chdir("..")
	golden(t, "keepalived.import.conf", out)
	// The draft is a valid kahook.conf.
	p := filepath.Join(t.TempDir(), "kahook.conf")
	os.WriteFile(p, []byte(out), 0o644)
	if code, _, errs := kahook("config", "check", p); code != 0 {
		t.Errorf("the imported config does not pass config check: %s", errs)
	}
}
