package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// flagrelVIP is statedirConf's VIP.
const flagrelVIP = "192.0.2.10/32"

// vipBound says whether flagrelVIP is on ns's lo.
func vipBound(t *testing.T, ns *netnstest.NS) bool {
	t.Helper()
	out, err := ns.Run("ip", "-o", "addr", "show", "dev", "lo")
	if err != nil {
		t.Fatalf("ip addr show: %v: %s", err, out)
	}
	return strings.Contains(out, flagrelVIP)
}

// bindAsMaster binds the VIP the way keepalived's MASTER notify does
// (recorded in stateDir, with kahook's marker), so that a release
// without the config finds it too. Its gratuitous ARP fails (lo has no
// Ethernet address): exit 1 with the VIP bound.
func bindAsMaster(t *testing.T, ns *netnstest.NS, bin, conf, stateDir string) {
	t.Helper()
	if out, code := runIn(t, ns, bin, nil, "--config", conf, "--state-dir", stateDir, "notify", "master", "VI_1"); code > 1 || !vipBound(t, ns) {
		t.Fatalf("notify master: exit %d, bound %v:\n%s", code, vipBound(t, ns), out)
	}
}

// unbind removes the VIP whatever bound it.
func unbind(t *testing.T, ns *netnstest.NS) {
	t.Helper()
	ns.Run("ip", "addr", "del", flagrelVIP, "dev", "lo")
	if vipBound(t, ns) {
		t.Fatal("VIP still bound after ip addr del")
	}
}

// runFIFO runs `kahook ARGS... fifo PATH` in ns, writing lines into the
// FIFO as keepalived does (open, write, close), and returns its output
// and exit code. A reader that never opens the FIFO (refused at start)
// does not leave the writer blocked.
func runFIFO(t *testing.T, ns *netnstest.NS, bin string, env []string, lines string, args ...string) (string, int) {
	t.Helper()
	return runFIFOLine(t, ns, bin, env, lines, append(slices.Clip(args), "fifo", "FIFO"))
}

// runFIFOLine is runFIFO with the whole command line: `kahook ARGV...`,
// the word FIFO in argv replaced by the FIFO's path.
func runFIFOLine(t *testing.T, ns *netnstest.NS, bin string, env []string, lines string, argv []string) (string, int) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "notify.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			_, err = f.WriteString(lines)
			f.Close()
		}
		wrote <- err
	}()
	args := slices.Clone(argv)
	for i, w := range args {
		if w == "FIFO" {
			args[i] = fifo
		}
	}
	out, code := runIn(t, ns, bin, env, args...)
	select {
	case err := <-wrote:
		if err != nil {
			t.Errorf("write the FIFO: %v", err)
		}
	case <-time.After(time.Second):
		// Unblock the writer: kahook never opened the FIFO.
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-wrote
			r.Close()
		}
		out += "\n(test: kahook never opened the FIFO)"
	}
	return out, code
}

// goodSetup writes statedirConf as base/NAME in a new temp dir base and
// returns base, the config's path and base/state (not created).
func goodSetup(t *testing.T, name string) (base, conf, stateDir string) {
	t.Helper()
	base = t.TempDir()
	conf = filepath.Join(base, name)
	if err := os.WriteFile(conf, []byte(statedirConf), 0o644); err != nil {
		t.Fatal(err)
	}
	return base, conf, filepath.Join(base, "state")
}

// TestFlagProblemsNeverStopARelease (hostile review F2): a flag kahook
// cannot use (a bad --log-level or --syslog, a control character in
// --state-dir, KAHOOK_STATE_DIR, --config, KAHOOK_CONFIG or --config-id)
// never stops a release by `notify backup`, `release --all` or a FIFO
// STOP line: the VIP bound before is gone after, the problem is logged at
// error level and the run exits 1. The same flags refuse a MASTER
// transition (`notify master`: exit 2; a FIFO MASTER line: refused, exit
// 1) and nothing is bound.
func TestFlagProblemsNeverStopARelease(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "flagrel")
	for _, in := range []struct {
		name  string
		flags []string
		env   []string
		want  string // in the output
	}{
		{"log-level bogus", []string{"--log-level", "bogus"}, nil, "--log-level"},
		{"syslog bogus", []string{"--syslog", "bogus"}, nil, "--syslog"},
		{"state-dir newline", []string{"--state-dir", "/tmp/a\nb"}, nil, "contains a control character"},
		{"KAHOOK_STATE_DIR tab", nil, []string{"KAHOOK_STATE_DIR=/tmp/a\tb"}, "contains a control character"},
		{"KAHOOK_CONFIG tab", nil, []string{"KAHOOK_CONFIG=/tmp/a\tb"}, "contains a control character"},
		{"config DEL", []string{"--config", "/tmp/a\x7fb"}, nil, "contains a control character"},
		{"config C1", []string{"--config", "/tmp/\xc2\x85"}, nil, "contains a control character"},
		{"config-id newline", []string{"--config-id", "a\nb"}, nil, "contains a control character"},
	} {
		// The run's flags: the case's, else a good config and state dir.
		setsConfig := strings.Contains(strings.Join(append(in.flags, in.env...), " "), "CONFIG=") || (len(in.flags) > 0 && in.flags[0] == "--config")
		setsState := strings.Contains(strings.Join(append(in.flags, in.env...), " "), "STATE_DIR=") || (len(in.flags) > 0 && in.flags[0] == "--state-dir")
		args := func(conf, stateDir string) []string {
			var a []string
			if !setsConfig {
				a = append(a, "--config", conf)
			}
			if !setsState {
				a = append(a, "--state-dir", stateDir)
			}
			return append(a, in.flags...)
		}
		for _, cmd := range []string{"notify backup VI_1", "release --all", "fifo STOP", "notify master VI_1", "fifo MASTER"} {
			t.Run(fmt.Sprintf("%s/%s", in.name, cmd), func(t *testing.T) {
				_, conf, stateDir := goodSetup(t, "kahook.conf")
				master := strings.Contains(strings.ToLower(cmd), "master")
				unbind(t, ns)
				if !master {
					bindAsMaster(t, ns, bin, conf, stateDir)
				}
				var out string
				var code int
				switch cmd {
				case "fifo STOP":
					out, code = runFIFO(t, ns, bin, in.env, "INSTANCE \"VI_1\" STOP 100\n", args(conf, stateDir)...)
				case "fifo MASTER":
					out, code = runFIFO(t, ns, bin, in.env, "INSTANCE \"VI_1\" MASTER 100\n", args(conf, stateDir)...)
				default:
					out, code = runIn(t, ns, bin, in.env, append(args(conf, stateDir), strings.Fields(cmd)...)...)
				}
				defer unbind(t, ns)
				wantCode := 1
				if cmd == "notify master VI_1" {
					wantCode = 2
				}
				if bound := vipBound(t, ns); bound {
					t.Errorf("VIP bound after %s (exit %d):\n%s", cmd, code, out)
				}
				if code != wantCode || !strings.Contains(out, in.want) || !strings.Contains(out, "level=ERROR") {
					t.Errorf("exit %d, want %d, an error logged saying %q:\n%s", code, wantCode, in.want, out)
				}
				if _, err := os.Lstat("/tmp/a\nb"); err == nil {
					t.Errorf("created /tmp/a\\nb")
				}
				if _, err := os.Lstat("/tmp/a\tb"); err == nil {
					t.Errorf("created /tmp/a\\tb")
				}
			})
		}
	}
}

// TestFIFOWithoutConfig (hostile review F3): a FIFO reader whose config
// does not load (broken, or missing) starts anyway: a BACKUP line
// releases the VIP without the config, as `notify backup` does, and a
// MASTER line is refused (logged at error level, nothing bound); the
// reader goes on to the next line and exits 1.
func TestFIFOWithoutConfig(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "fifonc")
	const broken = `
instance VI_1 {
    interface lo
    garp_master_repeat abc
    virtual_ipaddress { 192.0.2.10 }
}
`
	for _, conf := range []string{"broken", "missing"} {
		for _, tc := range []struct {
			name  string
			bound bool   // bound before (as MASTER)
			lines string // written to the FIFO
		}{
			{"BACKUP releases", true, "INSTANCE \"VI_1\" BACKUP 100\n"},
			{"MASTER refused, then BACKUP releases", true, "INSTANCE \"VI_1\" MASTER 100\nINSTANCE \"VI_1\" BACKUP 100\n"},
			{"MASTER refused", false, "INSTANCE \"VI_1\" MASTER 100\n"},
		} {
			t.Run(conf+"/"+tc.name, func(t *testing.T) {
				base, good, stateDir := goodSetup(t, "good.conf")
				unbind(t, ns)
				defer unbind(t, ns)
				if tc.bound {
					bindAsMaster(t, ns, bin, good, stateDir)
				}
				path := filepath.Join(base, "kahook.conf")
				if conf == "broken" {
					if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				out, code := runFIFO(t, ns, bin, nil, tc.lines, "--config", path, "--state-dir", stateDir)
				if vipBound(t, ns) {
					t.Errorf("VIP bound after the FIFO lines (exit %d):\n%s", code, out)
				}
				if code != 1 || strings.Contains(out, "never opened the FIFO") {
					t.Errorf("exit %d, want 1 after reading the FIFO:\n%s", code, out)
				}
				if strings.Contains(tc.lines, "MASTER") && !strings.Contains(out, "FIFO MASTER line refused") {
					t.Errorf("MASTER line not refused at error level:\n%s", out)
				}
				if strings.Contains(tc.lines, "BACKUP") && !strings.Contains(out, "releasing kahook's VIPs without it") {
					t.Errorf("BACKUP line not released without the config:\n%s", out)
				}
			})
		}
	}
}

// TestConfiglessReleaseKeepsAnotherMaster (final hostile review F1): with
// the config broken, a release for a name the state does not know (an
// instance keepalived's FIFO carries but kahook does not manage) removes
// no VIP the state records for an instance it holds as MASTER; a release
// for the recorded instance itself, for a group name (known to the state,
// or not: its members may be kahook's), or for an unknown name with no
// state to tell, still removes it.
func TestConfiglessReleaseKeepsAnotherMaster(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "nckeep")
	const broken = "instance VI_1 {\n    interface lo\n    garp_master_repeat abc\n    virtual_ipaddress { 192.0.2.10 }\n}\n"
	for _, tc := range []struct {
		name      string
		fifo      string   // FIFO lines (else notify args)
		notify    []string // notify arguments
		noState   bool     // the state dir is gone (nothing to tell)
		wantBound bool
	}{
		{"FIFO: another instance's FAULT", "INSTANCE \"VI_OTHER\" FAULT 100\n", nil, false, true},
		{"notify backup of another instance", "", []string{"backup", "VI_OTHER"}, false, true},
		{"FIFO: the instance's own BACKUP", "INSTANCE \"VI_1\" BACKUP 100\n", nil, false, false},
		{"FIFO: a group line the state knows", "GROUP \"VI_1\" BACKUP 100\n", nil, false, false},
		{"notify backup of another instance, no state", "", []string{"backup", "VI_OTHER"}, true, false},
		{"notify of a group the state does not know", "", []string{"GROUP", "VI_G", "BACKUP", "100"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, good, stateDir := goodSetup(t, "good.conf")
			unbind(t, ns)
			defer unbind(t, ns)
			bindAsMaster(t, ns, bin, good, stateDir)
			if tc.noState {
				if err := os.RemoveAll(stateDir); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(base, "kahook.conf")
			if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
				t.Fatal(err)
			}
			var out string
			var code int
			if tc.fifo != "" {
				out, code = runFIFO(t, ns, bin, nil, tc.fifo, "--config", path, "--state-dir", stateDir)
			} else {
				out, code = runIn(t, ns, bin, nil, append([]string{"--config", path, "--state-dir", stateDir, "notify"}, tc.notify...)...)
			}
			if got := vipBound(t, ns); got != tc.wantBound {
				t.Errorf("VIP bound %v, want %v (exit %d):\n%s", got, tc.wantBound, code, out)
			}
			if code != 1 {
				t.Errorf("exit %d, want 1:\n%s", code, out)
			}
		})
	}
}
