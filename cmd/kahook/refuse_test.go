package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/testbin"
)

// TestRefusedInputCreatesNothing runs the real binary on input that must
// be refused (issue 15 case 8): exit 2, a message on stderr naming the
// problem, nothing on stdout, and nothing created (no state dir, no file
// in the working directory).
func TestRefusedInputCreatesNothing(t *testing.T) {
	bin := testbin.Kahook(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"check without subcommand", []string{"check"}, "check: expected a subcommand (one of: tcp, http"},
		{"ipvs without subcommand", []string{"ipvs"}, "ipvs: expected a subcommand (one of: show, diff, apply, flush)"},
		{"vip without subcommand", []string{"vip"}, "vip: expected a subcommand"},
		{"sysctl without subcommand", []string{"sysctl"}, "sysctl: expected a subcommand"},
		{"realserver without subcommand", []string{"realserver"}, "realserver: expected a subcommand"},
		{"config without subcommand", []string{"config"}, "config: expected a subcommand (one of: check)"},
		{"arp without subcommand", []string{"arp"}, "arp: expected a subcommand (one of: probe)"},
		{"check unknown subcommand", []string{"check", "tpc", "127.0.0.1:80"}, `check: unknown subcommand "tpc"`},
		{"ipvs unknown subcommand", []string{"ipvs", "list"}, `ipvs: unknown subcommand "list"`},
		{"vip unknown subcommand", []string{"vip", "show"}, `vip: unknown subcommand "show"`},
		{"sysctl unknown subcommand", []string{"sysctl", "set"}, `sysctl: unknown subcommand "set"`},
		{"realserver unknown subcommand", []string{"realserver", "start"}, `realserver: unknown subcommand "start"`},
		{"unknown command", []string{"stauts"}, `unknown command "stauts"`},
		{"version extra", []string{"version", "extra"}, `version: takes no arguments, got ["extra"]`},
		{"ipvs show extra", []string{"ipvs", "show", "extra"}, `ipvs show: takes no arguments, got ["extra"]`},
		{"ipvs show rules of one service", []string{"ipvs", "show", "--rules", "-t", "10.0.0.1:80"}, "ipvs show: -t/-u/-f select a service of the list"},
		{"ipvs show two views", []string{"ipvs", "show", "--stats", "--rate"}, "ipvs show: --stats and --rate exclude each other"},
		{"ipvs show bad service", []string{"ipvs", "show", "-t", "10.0.0.1"}, `ipvs show: --tcp-service: "10.0.0.1" is not VIP:PORT`},
		{"ipvs flush extra", []string{"ipvs", "flush", "extra"}, `ipvs flush: takes no arguments`},
		{"ipvs apply two instances", []string{"ipvs", "apply", "VI_1", "VI_2"}, `ipvs apply: unexpected arguments ["VI_2"]`},
		{"ipvs diff two instances", []string{"ipvs", "diff", "VI_1", "VI_2"}, `ipvs diff: unexpected arguments ["VI_2"]`},
		{"vip list extra", []string{"vip", "list", "lo"}, `vip list: takes no arguments`},
		{"sysctl show extra", []string{"sysctl", "show", "-i", "lo", "eth0"}, `sysctl show: takes no arguments`},
		{"realserver up extra", []string{"realserver", "up", "10.0.0.10"}, `realserver up: takes no arguments`},
		{"realserver down extra", []string{"realserver", "down", "10.0.0.10"}, `realserver down: takes no arguments`},
		{"vip add without an address", []string{"vip", "add"}, "vip: expected at least one IP"},
		{"vip del with a bad address", []string{"vip", "del", "10.0.0.300"}, `vip: "10.0.0.300" is not an IP address`},
		// (--dry-run and an interface no host has: without the refusal
		// these must still change nothing here, in the host's namespace.)
		{"vip add with a mapped address", []string{"--dry-run", "vip", "add", "--force", "--dev", "khnone0", "::ffff:10.0.0.1"}, `vip: "::ffff:10.0.0.1" is an IPv4-mapped IPv6 address: write 10.0.0.1`},
		{"vip del with a mapped prefix", []string{"--dry-run", "vip", "del", "--force", "--dev", "khnone0", "::ffff:10.0.0.1/128"}, `vip: "::ffff:10.0.0.1/128" is an IPv4-mapped IPv6 address: write 10.0.0.1`},
		{"realserver up with a mapped VIP", []string{"--dry-run", "realserver", "up", "--vip", "::ffff:10.0.0.1", "--interface", "khnone0"}, `realserver: "::ffff:10.0.0.1" is an IPv4-mapped IPv6 address: write 10.0.0.1`},
		{"sysctl apply with an unknown role", []string{"sysctl", "apply", "--role", "router", "-i", "lo"}, "--role must be director or realserver"},
		{"check ssl extra", []string{"check", "ssl", "https://127.0.0.1/", "extra"}, `check ssl: unexpected arguments ["extra"]`},
		{"check file extra", []string{"check", "file", "--absent", "x", "y"}, `check file: takes no arguments`},
		{"man in the shipped build", []string{"man", "8"}, `man: this build has no man page generator; the packages ship kahook(8) and kahook.conf(5), or run in kahook's source tree: go run ./cmd/kahook man 8|5`},
		{"man extra", []string{"man", "8", "5"}, `man: unexpected arguments ["5"]`},
		{"doctor extra", []string{"doctor", "--no-live", "keepalived.conf"}, `doctor: takes no arguments`},
		{"config check two files", []string{"config", "check", "a.conf", "b.conf"}, `config check: unexpected arguments ["b.conf"]`},
		{"import two files", []string{"import", "a.conf", "b.conf"}, `import: unexpected arguments ["b.conf"]`},
		{"sync two instances", []string{"sync", "VI_1", "VI_2"}, `sync: unexpected arguments ["VI_2"]`},
		{"completion extra", []string{"completion", "bash", "zsh"}, `completion: unexpected arguments ["zsh"]`},
		{"fifo two paths", []string{"fifo", "a", "b"}, `fifo: unexpected arguments ["b"]`},
		{"release with a flag after the names", []string{"release", "VI_1", "--dry-run"}, `release: "--dry-run" after the instance names: flags go before them`},
		{"flag after the argument", []string{"check", "tcp", "127.0.0.1:80", "--retry", "2"}, `check tcp: unexpected arguments ["--retry" "2"]`},
		{"unknown flag after the command", []string{"config", "check", "--jsn"}, "config check: flag provided but not defined: --jsn"},
		{"negative connect timeout", []string{"check", "tcp", "--connect-timeout", "-1", "127.0.0.1:80"}, "--connect-timeout: must not be negative, got -1"},
		{"negative connect timeout with a URL", []string{"check", "http", "--connect-timeout", "-1", "http://127.0.0.1/"}, "--connect-timeout: must not be negative"},
		{"zero connect timeout", []string{"check", "agent", "--connect-timeout", "0", "127.0.0.1:80"}, "--connect-timeout: must be above 0"},
		{"negative misc timeout", []string{"check", "misc", "--misc-timeout", "-3", "true"}, "--misc-timeout: must not be negative, got -3"},
		{"zero misc timeout", []string{"check", "misc", "--misc-timeout", "0", "true"}, "--misc-timeout: must be above 0"},
		{"negative retry", []string{"check", "tcp", "--retry", "-1", "127.0.0.1:80"}, "--retry: must not be negative"},
		{"negative delay before retry", []string{"check", "smtp", "--delay-before-retry", "-1", "127.0.0.1:25"}, "--delay-before-retry: must not be negative"},
		{"zero max weight", []string{"check", "agent", "--max-weight", "0", "127.0.0.1:80"}, "--max-weight: must be above 0"},
		{"negative genhash timeout", []string{"genhash", "-s", "127.0.0.1", "-p", "80", "-u", "/", "-t", "-1"}, "--timeout: must not be negative"},
		{"negative sync deadline", []string{"sync", "--deadline", "-1s", "VI_1"}, "--deadline: must not be negative"},
		{"zero sync workers", []string{"sync", "--workers", "0", "VI_1"}, "--workers: must be above 0"},
		{"negative drain timeout", []string{"sync", "--drain-timeout", "-5s", "VI_1"}, "--drain-timeout: must not be negative"},
		{"negative garp interval", []string{"garp", "-i", "lo", "--interval", "-1s", "127.0.0.1"}, "--interval: must not be negative"},
		{"zero arp tries", []string{"arp", "probe", "-i", "lo", "--tries", "0", "127.0.0.1"}, "--tries: must be above 0"},
		{"bad log level after the command", []string{"version", "--log-level", "chatty"}, `log level "chatty"`},
		{"bad syslog mode", []string{"--syslog", "maybe", "version"}, `--syslog: expected auto, on or off, got "maybe"`},
		{"notify unknown instance", []string{"notify", "master", "NOPE"}, `instance "NOPE": no 'instance NOPE { ... }' block`},
		{"notify generic unknown instance", []string{"notify", "INSTANCE", "NOPE", "MASTER", "100"}, `instance "NOPE"`},
		{"notify generic unknown group", []string{"notify", "GROUP", "G_NOPE", "BACKUP", "0"}, `sync group "G_NOPE"`},
		{"notify unknown state", []string{"notify", "primary", "VI_1"}, `unknown state "primary"`},
		{"notify bad priority", []string{"notify", "INSTANCE", "VI_1", "MASTER", "300"}, `priority "300": expected 0-255`},
		{"notify without instance", []string{"notify", "master"}, "got 1 arguments"},
		{"notify instance on a missing interface", []string{"notify", "master", "VI_BADIF"}, "interface kh-no-such0"},
		{"ipvs apply unknown instance", []string{"ipvs", "apply", "NOPE"}, `ipvs: no instance "NOPE"`},
		{"ipvs diff unknown instance", []string{"ipvs", "diff", "NOPE"}, `ipvs: no instance "NOPE"`},
		{"sync unknown instance", []string{"sync", "NOPE"}, `sync: no instance "NOPE"`},
		{"fifo missing", []string{"fifo", "no-such-fifo"}, "fifo: stat no-such-fifo: no such file or directory"},
		// issue 15 F9: interface names that are paths
		{"sysctl apply interface traversal", []string{"sysctl", "apply", "--dry-run", "--proc-sys", "/nonexistent/kahook-proc", "--role", "director", "--interface", "../../../tmp/s"}, `--interface: interface name "../../../tmp/s" contains '/'`},
		{"sysctl show interface dot-dot", []string{"sysctl", "show", "--proc-sys", "/nonexistent/kahook-proc", "--role", "director", "-i", ".."}, `--interface: interface name ".." is not a valid Linux interface name`},
		{"realserver up interface with a space", []string{"realserver", "up", "--dry-run", "--proc-sys", "/nonexistent/kahook-proc", "--vip", "192.0.2.99", "-i", "eth 0"}, `--interface: interface name "eth 0" contains whitespace`},
		{"garp interface of 16 bytes", []string{"garp", "-i", "abcdefghijklmnop", "127.0.0.1"}, "is 16 bytes: Linux allows at most 15"},
		{"arp probe empty interface", []string{"arp", "probe", "-i", "", "127.0.0.1"}, "--interface: interface name is empty"},
		{"vip add dev traversal", []string{"vip", "add", "--dry-run", "--dev", "../lo", "192.0.2.99"}, `--dev: interface name "../lo" contains '/'`},
		// issue 15 F11: bounds and control characters
		{"sync workers unbounded", []string{"sync", "--workers", "100000000", "NOPE"}, "--workers: at most 10000, got 1e+08"},
		{"check tcp retry unbounded", []string{"check", "tcp", "--retry", "1000000000", "127.0.0.1:80"}, "--retry: at most 100"},
		{"check misc timeout overflow", []string{"check", "misc", "--misc-timeout", "99999999999", "true"}, "--misc-timeout: at most 3600 seconds, got 9.9999999999e+10 seconds"},
		{"sync fall 0", []string{"sync", "--fall", "0", "NOPE"}, "--fall: must be above 0"},
		{"sync rise 0", []string{"sync", "--rise", "0", "NOPE"}, "--rise: must be above 0"},
		{"check smtp helo CRLF injection", []string{"check", "smtp", "--helo-name", "x\r\nMAIL FROM:<a>", "127.0.0.1:25"}, `--helo-name: "x\r\nMAIL FROM:<a>" contains a control character`},
		{"check http virtualhost with a newline", []string{"check", "http", "--virtualhost", "a\nX-Evil: 1", "http://127.0.0.1/"}, "--virtualhost: "},
		// Bad targets are usage errors before any check runs (exit 2, not
		// a failed check's 1; with --dynamic exit 1, down:
		// TestCheckUsageErrorsUnderDynamic, README "Exit codes").
		{"check tcp port 0", []string{"check", "tcp", "127.0.0.1:0"}, `check tcp: "127.0.0.1:0": port 0`},
		{"check tcp unspecified address", []string{"check", "tcp", "0.0.0.0:80"}, `"0.0.0.0:80": 0.0.0.0 is not a server's address`},
		{"check tcp unspecified IPv6", []string{"check", "tcp", "[::]:80"}, `:: is not a server's address`},
		{"check tcp connect-ip unspecified", []string{"check", "tcp", "--connect-ip", "0.0.0.0", "--connect-port", "80"}, `0.0.0.0 is not a server's address`},
		{"check tcp port too big", []string{"check", "tcp", "127.0.0.1:65536"}, `"127.0.0.1:65536" is not IP:PORT`},
		{"check smtp port 0", []string{"check", "smtp", "127.0.0.1:0"}, `check smtp: "127.0.0.1:0": port 0`},
		{"check udp port 0", []string{"check", "udp", "127.0.0.1:0"}, `check udp: "127.0.0.1:0": port 0`},
		{"check dns port 0", []string{"check", "dns", "127.0.0.1:0"}, `check dns: "127.0.0.1:0": port 0`},
		{"check agent port 0", []string{"check", "agent", "127.0.0.1:0"}, `check agent: "127.0.0.1:0": port 0`},
		{"check http URL port 0", []string{"check", "http", "http://127.0.0.1:0/"}, `check http: "http://127.0.0.1:0/": port 0`},
		{"check http URL port too big", []string{"check", "http", "http://127.0.0.1:65617/"}, `port "65617" is not a number within 1-65535`},
		{"check ssl URL port 0", []string{"check", "ssl", "https://127.0.0.1:0/"}, `check ssl: "https://127.0.0.1:0/": port 0`},
		{"check http unspecified address", []string{"check", "http", "http://0.0.0.0/"}, `0.0.0.0 is not a server's address`},
		{"check ping unspecified address", []string{"check", "ping", "0.0.0.0"}, `check ping: "0.0.0.0": 0.0.0.0 is not a server's address`},
		{"relative state dir", []string{"config", "check", "--state-dir", "rel/dir"}, `--state-dir: "rel/dir" is not an absolute path`},
		{"empty state dir", []string{"config", "check", "--state-dir", ""}, "--state-dir: empty path"},
		{"config id with a newline", []string{"--config-id", "a\nb", "config", "check"}, `--config-id: "a\nb" contains a control character`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "kahook.conf")
			if err := os.WriteFile(conf, []byte(refuseConf), 0o644); err != nil {
				t.Fatal(err)
			}
			stateDir := filepath.Join(dir, "state")
			cmd := exec.Command(bin, append([]string{"--syslog", "off", "--config", conf, "--state-dir", stateDir}, tc.args...)...)
			cmd.Dir = dir
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "KAHOOK_") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("exit %v, want 2\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("a refused command printed on stdout (help text belongs nowhere near a pipe):\n%s", stdout.String())
			}
			entries, _ := os.ReadDir(dir)
			for _, en := range entries {
				if en.Name() != "kahook.conf" {
					t.Errorf("a refused command created %s", filepath.Join(dir, en.Name()))
				}
			}
		})
	}
}

const refuseConf = `
instance VI_1 {
    interface lo
    virtual_ipaddress { 192.0.2.10 }
}
instance VI_BADIF {
    interface kh-no-such0
    virtual_ipaddress { 192.0.2.11 }
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    real_server 198.51.100.11 80 { TCP_CHECK { } }
}
`
