package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestArgvErrorsNeverStopARelease (final hostile review F2): a notify or
// FIFO command line kahook refuses for its words (a flag it does not
// know, a value that does not parse or is missing, a priority that is not
// a number, words around keepalived's) still releases: the VIP bound
// before is gone after, the refusal is logged at error level and the run
// exits 1. The flags that say where (--config, --state-dir) count
// wherever they are on the line. A MASTER is never rescued (notify: exit
// 2 as before; a FIFO MASTER line: refused), nothing bound; a --dry-run
// on the line keeps it a dry run (the VIP stays).
func TestArgvErrorsNeverStopARelease(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "argvrel")
	for _, tc := range []struct {
		name      string
		args      string // CONF and STATE are replaced; FIFO: run as fifo with Lines
		lines     string // written to the FIFO
		bound     bool   // bound before (as MASTER)
		wantBound bool
		wantCode  int
		want      string // in the output
	}{
		{"unknown global flag", "--bogus --config CONF --state-dir STATE notify backup VI_1", "", true, false, 1, "flag provided but not defined: --bogus"},
		{"unknown notify flag", "--config CONF --state-dir STATE notify --bogus backup VI_1", "", true, false, 1, "flag provided but not defined"},
		{"state dir after the arguments", "--config CONF notify backup VI_1 --state-dir STATE", "", true, false, 1, "command line refused"},
		{"config after the arguments", "--state-dir STATE notify backup VI_1 --config=CONF", "", true, false, 1, "got 3 arguments"},
		{"bad boolean", "--json=maybe --config CONF --state-dir STATE notify backup VI_1", "", true, false, 1, `invalid boolean value "maybe" for -json`},
		{"missing value", "--config CONF --state-dir STATE notify backup VI_1 --log-level", "", true, false, 1, "command line refused"},
		{"bad priority", "--config CONF --state-dir STATE notify INSTANCE VI_1 BACKUP 100x", "", true, false, 1, `priority "100x"`},
		{"a word before keepalived's", "--config CONF --state-dir STATE notify extra INSTANCE VI_1 FAULT 100", "", true, false, 1, "got 5 arguments"},
		{"unknown flag with a value", "--config CONF --state-dir STATE notify --timeout 5 INSTANCE VI_1 STOP 0", "", true, false, 1, "flag provided but not defined"},
		{"flag value missing before keepalived's words", "--config CONF --state-dir STATE notify --log-level INSTANCE VI_1 BACKUP 100", "", true, false, 1, "command line refused"},
		{"MASTER then a release", "--config CONF --state-dir STATE notify master VI_1 backup VI_2", "", true, true, 2, `unknown type "master"`},
		{"help", "--bogus --config CONF --state-dir STATE notify --help backup VI_1", "", true, true, 2, "flag provided but not defined"},
		{"fifo: unknown flag", "--bogus --config CONF --state-dir STATE fifo FIFO", "INSTANCE \"VI_1\" STOP 100\n", true, false, 1, "flag provided but not defined"},
		{"fifo: a word after the path", "--config CONF --state-dir STATE fifo FIFO extra", "INSTANCE \"VI_1\" BACKUP 100\n", true, false, 1, `unexpected arguments ["extra"]`},
		{"fifo: a word before the path", "--config CONF --state-dir STATE fifo extra FIFO", "INSTANCE \"VI_1\" FAULT 100\n", true, false, 1, `unexpected arguments`},
		{"dry run kept", "--dry-run --bogus --config CONF --state-dir STATE notify backup VI_1", "", true, true, 1, "command line refused"},
		{"dry run mistyped", "--dryrun --config CONF --state-dir STATE notify backup VI_1", "", true, true, 2, "flag provided but not defined: --dryrun"},
		{"MASTER not rescued", "--bogus --config CONF --state-dir STATE notify master VI_1", "", false, false, 2, "flag provided but not defined"},
		{"typed MASTER not rescued", "--config CONF --state-dir STATE notify INSTANCE backup MASTER 100x", "", false, false, 2, `priority "100x"`},
		{"fifo: MASTER line refused", "--bogus --config CONF --state-dir STATE fifo FIFO", "INSTANCE \"VI_1\" MASTER 100\n", false, false, 1, "refusing MASTER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, conf, stateDir := goodSetup(t, "kahook.conf")
			// A state dir flag the rescue lost would fall back to
			// KAHOOK_STATE_DIR: never the host's /run/kahook.
			fallback := filepath.Join(base, "fallback")
			env := []string{"KAHOOK_STATE_DIR=" + fallback}
			unbind(t, ns)
			defer unbind(t, ns)
			if tc.bound {
				bindAsMaster(t, ns, bin, conf, stateDir)
			}
			args := strings.Fields(strings.NewReplacer("CONF", conf, "STATE", stateDir).Replace(tc.args))
			var out string
			var code int
			if slices.Contains(args, "FIFO") {
				out, code = runFIFOLine(t, ns, bin, env, tc.lines, args)
			} else {
				out, code = runIn(t, ns, bin, env, args...)
			}
			if bound := vipBound(t, ns); bound != tc.wantBound {
				t.Errorf("VIP bound %v after %q, want %v (exit %d):\n%s", bound, tc.args, tc.wantBound, code, out)
			}
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d, output saying %q:\n%s", code, tc.wantCode, tc.want, out)
			}
			if tc.wantCode == 1 && !strings.Contains(out, "level=ERROR") {
				t.Errorf("nothing logged at error level:\n%s", out)
			}
			if _, err := os.Lstat(fallback); err == nil {
				t.Errorf("the run used KAHOOK_STATE_DIR, not the --state-dir on its line:\n%s", out)
			}
		})
	}
}

// TestRescueArgv: how a refused command line is read as a release
// (rescueArgv), word by word.
func TestRescueArgv(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "k.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, want string // want "": not rescued
	}{
		{"kahook --bogus notify backup VI_1", "kahook notify backup VI_1"},
		{"kahook -c /k.conf --state-dir /s notify backup VI_1 --zzz", "kahook --config=/k.conf --state-dir=/s notify backup VI_1"},
		{"kahook notify --log-level=bogus --syslog off INSTANCE VI_1 BACKUP 1x", "kahook --log-level=bogus --syslog=off notify INSTANCE VI_1 BACKUP 0"},
		{"kahook notify GROUP G FAULT 100 trailing", ""}, // not keepalived's line: no rescue in doubt
		{"kahook notify --log-level INSTANCE VI_1 BACKUP 100", "kahook notify INSTANCE VI_1 BACKUP 100"},
		{"kahook notify -c INSTANCE VI_1 BACKUP 100", "kahook notify INSTANCE VI_1 BACKUP 100"},
		{"kahook --state-dir INSTANCE VI_1 BACKUP 100", ""}, // no command
		{"kahook notify --state-dir /s INSTANCE 100 STOP 100", "kahook --state-dir=/s notify INSTANCE 100 STOP 100"},
		{"kahook notify x y INSTANCE VI_1 STOP 0", "kahook notify INSTANCE VI_1 STOP 0"},
		{"kahook notify --dry-run=maybe backup VI_1", "kahook --dry-run notify backup VI_1"},
		{"kahook notify --dry-run=false --bogus backup VI_1", "kahook notify backup VI_1"},
		{"kahook -n --bogus notify backup VI_1", "kahook --dry-run notify backup VI_1"},
		{"kahook notify -- backup -VI", "kahook notify -- backup -VI"},
		{"kahook --json --deadline 5 notify DELETED VI_1 --bogus", "kahook notify DELETED VI_1"},
		{"kahook --bogus fifo FIFO", "kahook fifo FIFO"},
		{"kahook fifo --log-level debug extra FIFO more", "kahook --log-level=debug fifo FIFO"},
		// Not releases, or not readable as one.
		{"kahook --bogus notify master VI_1", ""},
		{"kahook notify master VI_1 backup VI_2", ""},
		{"kahook notify master VI_1 --then backup VI_2", ""},
		{"kahook notify backup --peer VI_2 VI_1", ""},
		{"kahook notify INSTANCE VI_2 backup VI_1", ""},
		{"kahook notify master VI_1 INSTANCE VI_2 BACKUP 100", ""},
		{"kahook notify backup INSTANCE VI_1 BACKUP 100", ""},
		{"kahook notify fault backup", ""},
		{"kahook --bogus help notify backup VI_1", ""},
		{"kahook --bogus notify --help backup VI_1", ""},
		{"kahook --bogus notify -h backup VI_1", ""},
		{"kahook --bogus fifo INSTANCE VI_1 BACKUP 100", ""},
		{"kahook notify INSTANCE backup MASTER 1x", ""},
		{"kahook notify INSTANCE VI_1 MASTER 100 --bogus", ""},
		{"kahook --bogus release VI_1", ""},
		{"kahook --bogus check tcp 127.0.0.1 80", ""},
		{"kahook --bogus x check notify backup VI_1", ""},
		{"kahook --bogus notify", ""},
		{"kahook notify backup", ""},
		{"kahook --bogus fifo", ""},
		{"kahook --bogus fifo /nonexistent/k.fifo", ""}, // no FIFO there: not rescued
		// A dry run mistyped is never a real release (hostile review D1).
		{"kahook --dryrun notify backup VI_1", ""},
		{"kahook --DRY-RUN notify backup VI_1", ""},
		{"kahook -N notify backup VI_1", ""},
		{"kahook notify \u2014dry-run backup VI_1", ""},
		{"kahook notify --dry_run=1 INSTANCE VI_1 BACKUP 100", ""},
		{"kahook --bogus fifo --dryrun FIFO", ""},
		{"kahook", ""},
	} {
		in := strings.ReplaceAll(tc.in, "FIFO", fifo)
		want := strings.ReplaceAll(tc.want, "FIFO", fifo)
		got, ok := rescueArgv(strings.Fields(in))
		if g := strings.Join(got, " "); g != want || ok != (want != "") {
			t.Errorf("rescueArgv(%q) = %q, %v; want %q", tc.in, g, ok, tc.want)
		}
	}
}
