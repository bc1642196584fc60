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

// TestGoldenImportDeployment: what import carries or flags of a
// production keepalived.conf (issue 19): a sync group and its notify
// lines, virtual_ipaddress_excluded, a fwmark service, a /24 NAT-gateway
// VIP, lvs_sync_daemon; and the keepalived.conf that goes with it.
func TestGoldenImportDeployment(t *testing.T) {
	inTestdata(t)
	code, out, errs := kahook("import", "deploy.keepalived.conf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	code, ka, errs := kahook("import", "--keepalived", "deploy.keepalived.conf")
	if code != 0 {
		t.Fatalf("--keepalived: exit %d: %s", code, errs)
	}
	os.Chdir("..")
	golden(t, "deploy.import.conf", out)
	golden(t, "deploy.import.keepalived.conf", ka)
	for _, want := range []string{
		"global_defs {\n    lvs_sync_daemon eth1 VI_1\n}",
		"NOTE: vrrp_sync_group G1",
		"notify_master /usr/local/bin/announce master",
		"192.0.2.11    # was virtual_ipaddress_excluded",
		"10.0.0.1/24 dev eth1    # NAT gateway",
		"FIXME: virtual_server fwmark 7 (deploy.keepalived.conf:44) belongs to no\n#   instance",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kahook.conf draft lacks %q", want)
		}
	}
	for _, want := range []string{"vrrp_sync_group G1", `notify_master "/usr/local/bin/announce master"`, "lvs_sync_daemon eth1 VI_1", "127.255.0.52/32 dev lo", "kahook_sync_VI_1"} {
		if !strings.Contains(ka, want) {
			t.Errorf("keepalived.conf draft lacks %q", want)
		}
	}
	p := filepath.Join(t.TempDir(), "kahook.conf")
	os.WriteFile(p, []byte(out), 0o644)
	if code, _, errs := kahook("config", "check", p); code != 0 {
		t.Errorf("the imported config does not pass config check: %s", errs)
	}
}
