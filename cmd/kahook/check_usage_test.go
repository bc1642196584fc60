package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCheckUsageErrorsUnderDynamic: a usage error of a check exits 2
// without --dynamic and 1 (down) with it, wherever --dynamic stands in
// argv (after a flag-parse error too): keepalived's misc_dynamic reads 2
// as up at weight 0, which would keep a never-checked server in service.
func TestCheckUsageErrorsUnderDynamic(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string // --dynamic is added at the place marked "DYN"
		msg  string   // the usage error's words on stderr
	}{
		{"port 0", []string{"check", "tcp", "DYN", "127.0.0.1:0"}, "port 0"},
		{"bad target", []string{"check", "tcp", "DYN", "not-an-address"}, "is not IP:PORT"},
		{"unspecified", []string{"check", "agent", "DYN", "0.0.0.0:80"}, "unspecified address"},
		{"no target", []string{"check", "agent", "DYN"}, "expected the server"},
		{"unknown flag before", []string{"check", "tcp", "--no-such-flag", "DYN", "127.0.0.1:1"}, "flag provided but not defined"},
		{"bad value before", []string{"check", "tcp", "--connect-timeout", "soon", "DYN", "127.0.0.1:1"}, "connect-timeout"},
		{"bad int value", []string{"check", "agent", "DYN", "--max-weight", "lots", "127.0.0.1:1"}, "max-weight"},
		{"too many arguments", []string{"check", "tcp", "DYN", "127.0.0.1:1", "127.0.0.1:2"}, "unexpected arguments"},
		{"bad global flag", []string{"--log-level", "chatty", "check", "tcp", "DYN", "127.0.0.1:1"}, "log-level"},
		{"misc without program", []string{"check", "misc", "DYN"}, "expected a program"},
		{"track-file without path", []string{"check", "track-file", "DYN"}, "expected the file's path"},
		{"http bad url", []string{"check", "http", "DYN", "ftp://127.0.0.1/"}, "not an http"},
		{"help", []string{"check", "tcp", "DYN", "--help"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var plain, dyn []string
			for _, a := range tc.args {
				if a == "DYN" {
					dyn = append(dyn, "--dynamic")
					continue
				}
				plain = append(plain, a)
				dyn = append(dyn, a)
			}
			wantPlain := 2
			if tc.name == "help" {
				wantPlain = 0
			}
			code, _, errs := kahook(plain...)
			if code != wantPlain || !strings.Contains(errs, tc.msg) {
				t.Errorf("%q: exit %d, want %d, with %q on stderr:\n%s", plain, code, wantPlain, tc.msg, errs)
			}
			code, _, errs = kahook(dyn...)
			if code != 1 || !strings.Contains(errs, tc.msg) || !strings.Contains(errs, "exit 1 (down)") {
				t.Errorf("%q: exit %d, want 1 (down) with %q and why on stderr:\n%s", dyn, code, tc.msg, errs)
			}
		})
	}
	// A check that ran keeps its own exit code under --dynamic: misc
	// passes 2 (weight 0) on, and --dynamic=false is no --dynamic.
	if code, _, _ := kahook("check", "misc", "--dynamic", "--", "sh", "-c", "exit 2"); code != 2 {
		t.Errorf("misc --dynamic exit 2: got %d", code)
	}
	if code, _, _ := kahook("check", "tcp", "--dynamic=false", "127.0.0.1:0"); code != 2 {
		t.Errorf("--dynamic=false with port 0: got %d, want 2", code)
	}
	// After "--" a word belongs to the misc check's program.
	if !dynamicArgv([]string{"kahook", "check", "misc", "--dynamic", "--", "x"}) || dynamicArgv([]string{"kahook", "check", "misc", "--", "x", "--dynamic"}) {
		t.Error("dynamicArgv: --dynamic before/after --")
	}
}

// TestCheckTargetUnspecified: the unspecified address in any spelling
// (IPv4-mapped, with a zone) is refused at once, exit 2, by every check
// and genhash, never connected to (it reaches this node).
func TestCheckTargetUnspecified(t *testing.T) {
	for _, args := range [][]string{
		{"check", "tcp", "0.0.0.0:8080"},
		{"check", "tcp", "[::ffff:0.0.0.0]:8080"},
		{"check", "tcp", "--connect-ip", "::ffff:0.0.0.0", "--connect-port", "8080"},
		{"check", "tcp", "[::%lo]:8080"},
		{"check", "tcp", "--connect-ip", "::%lo", "--connect-port", "8080"},
		{"check", "http", "http://[::ffff:0.0.0.0]:8080/"},
		{"check", "http", "http://[::%25lo]:8080/"},
		{"check", "ssl", "https://[::ffff:0.0.0.0]/"},
		{"check", "http", "--connect-ip", "::ffff:0.0.0.0", "--connect-port", "8080", "--path", "/"},
		{"check", "smtp", "[::ffff:0.0.0.0]:25"},
		{"check", "dns", "[::ffff:0.0.0.0]:53"},
		{"check", "udp", "[::ffff:0.0.0.0]:53"},
		{"check", "agent", "[::%lo]:8080"},
		{"check", "ping", "::ffff:0.0.0.0"},
		{"check", "ping", "::%lo"},
		{"check", "ping", "--connect-ip", "::ffff:0.0.0.0"},
		{"genhash", "-s", "::ffff:0.0.0.0", "-p", "80", "-u", "/"},
		{"genhash", "-s", "::%lo", "-p", "80", "-u", "/"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			start := time.Now()
			code, _, errs := kahook(args...)
			if code != 2 || !strings.Contains(errs, "unspecified address") {
				t.Errorf("exit %d, want 2 (usage) naming the unspecified address:\n%s", code, errs)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v: refused only after trying", d)
			}
		})
	}
}

// TestCheckMissingTarget: a check without its server says what it needs
// (IP:PORT, a URL, an IP, or --connect-ip and --connect-port), not that
// "" is not an address.
func TestCheckMissingTarget(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "tcp"}, "check tcp: expected the server: IP:PORT, or --connect-ip IP and --connect-port PORT"},
		{[]string{"check", "smtp"}, "check smtp: expected the server: IP:PORT"},
		{[]string{"check", "udp"}, "check udp: expected the server: IP:PORT"},
		{[]string{"check", "dns"}, "check dns: expected the server: IP:PORT"},
		{[]string{"check", "agent"}, "check agent: expected the server: IP:PORT"},
		{[]string{"check", "http", "--path", "/"}, "check http: expected the server: a URL, or --connect-ip IP and --connect-port PORT"},
		{[]string{"check", "ssl", "--path", "/"}, "check ssl: expected the server: a URL"},
		{[]string{"check", "ping"}, "check ping: expected the server's IP (or --connect-ip IP)"},
		{[]string{"check", "tcp", "--connect-port", "80"}, "--connect-port without --connect-ip"},
		{[]string{"check", "tcp", "--connect-ip", "127.0.0.1"}, "--connect-ip needs --connect-port 1-65535"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errs := kahook(tc.args...)
			if code != 2 || !strings.Contains(errs, tc.want) || strings.Contains(errs, `""`) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tc.want, errs)
			}
		})
	}
	// ping takes --connect-ip without a port (ICMP has none).
	if code, _, errs := kahook("check", "ping", "--connect-ip", "127.0.0.1", "--connect-timeout", "0.01"); code == 2 {
		t.Errorf("check ping --connect-ip: usage error %s", errs)
	}
}

// TestDryRunFIFOSaysPlanned: `kahook --dry-run fifo` reports the events it
// handled as planned, not applied (it applied nothing).
func TestDryRunFIFOSaysPlanned(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "kahook.conf")
	os.WriteFile(conf, []byte("instance VI_1 {\n    interface lo\n    virtual_ipaddress { 192.0.2.77/32 dev lo }\n}\n"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			f.WriteString("INSTANCE \"VI_1\" MASTER 100\n")
			f.Close()
		}
	}()
	code, _, errs := kahook("--dry-run", "--config", conf, "--state-dir", filepath.Join(dir, "state"), "fifo", fifo)
	if code != 0 || !strings.Contains(errs, `msg="FIFO reader stopped (dry run: nothing applied)"`) || !strings.Contains(errs, "planned=1") || strings.Contains(errs, "applied=1") {
		t.Errorf("exit %d; want the FIFO reader's last line to say planned=1, nothing applied:\n%s", code, errs)
	}
}
