package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadValidatesFirst: a broken kahook.conf is refused with exit 2
// and file:line; a valid one on a node MASTER for nothing only validates
// (IPVS is not opened: this host has none, so opening it would exit 1).
func TestReloadValidatesFirst(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "kahook.conf")
	good := "instance VI_1 {\n    interface eth0\n    virtual_ipaddress { 10.0.0.10 }\n}\nvirtual_server 10.0.0.10 80 {\n    protocol TCP\n    real_server 10.0.1.1 80 { weight 3 }\n}\n"
	for _, tc := range []struct {
		name, conf string
		code       int
		msg        string
	}{
		{"broken", strings.Replace(good, "weight 3", "weight x", 1), 2, "kahook.conf:7"},
		{"valid, not MASTER", good, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(conf, []byte(tc.conf), 0o644)
			code, _, errs := kahook("--config", conf, "--state-dir", filepath.Join(dir, "state"), "reload")
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Errorf("exit %d (%q), want %d with %q", code, errs, tc.code, tc.msg)
			}
		})
	}
}

// TestNoDryRunRefused: the commands that act and have no dry run (sync,
// reload, garp, check misc) refuse --dry-run with exit 2, naming what to use instead,
// before anything is created or sent; they do not run for real.
func TestNoDryRunRefused(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "kahook.conf")
	os.WriteFile(conf, []byte("instance VI_1 {\n    interface eth0\n    virtual_ipaddress { 10.0.0.10 }\n}\n"), 0o644)
	st := filepath.Join(dir, "state")
	made := filepath.Join(dir, "made")
	for _, args := range [][]string{{"reload"}, {"sync", "VI_1"}, {"garp", "-i", "kh-none0", "127.0.0.9"},
		{"check", "misc", "/usr/bin/touch " + made}, {"check", "misc", "--", "/usr/bin/touch", made}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, errs := kahook(append([]string{"--dry-run", "--config", conf, "--state-dir", st}, args...)...)
			if code != 2 || !strings.Contains(errs, "no --dry-run") {
				t.Errorf("exit %d (%q), want 2 saying there is no dry run", code, errs)
			}
			if _, err := os.Stat(st); err == nil {
				t.Error("the refused dry run created the state dir")
			}
			if _, err := os.Stat(made); err == nil {
				t.Error("the refused dry run ran the misc check's program")
			}
		})
	}
}

// TestRealServerNamesTheMissingFlag: without a realserver block, the
// usage error names the flag that is missing, not the one given.
func TestRealServerNamesTheMissingFlag(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "kahook.conf")
	os.WriteFile(conf, []byte("instance VI_1 {\n    interface eth0\n    virtual_ipaddress { 10.0.0.10 }\n}\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--vip", "192.0.2.10"}, "no --interface"},
		{[]string{"--interface", "kh-none0"}, "no --vip given"},
	} {
		code, _, errs := kahook(append([]string{"--dry-run", "--config", conf, "realserver", "up"}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d %q, want 2 with %q", tc.args, code, errs, tc.want)
		}
	}
}
