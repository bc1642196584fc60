package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/doctor"
)

// TestConfigErrorsOnePerLine: a config with several errors or problems
// gets one stderr line each, "kahook: file:line: ...", not one line with
// escaped "\n" between them (the escaping stays per line: see
// TestNoForgedLogLines).
func TestConfigErrorsOnePerLine(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, conf string
		want       []string
	}{
		{"errors", "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 { weight x }\n real_server 198.51.100.2 80 { weight y }\n}\n",
			[]string{":5: weight: \"x\"", ":6: weight: \"y\""}},
		{"problems", "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind dr\n real_server 198.51.100.1 80 { wieght 2 }\n}\n",
			[]string{":1: virtual_server 192.0.2.10:tcp:80: no lb_kind set", ":4: lb_kind: unknown routing method", ":5: Unknown keyword 'wieght'", ": 3 problem(s) (keepalived reports those of its own blocks too"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := filepath.Join(dir, tc.name+".conf")
			os.WriteFile(conf, []byte(tc.conf), 0o600)
			code, _, errs := kahook("--log-level", "error", "config", "check", conf)
			if code != 2 {
				t.Fatalf("exit %d, want 2: %s", code, errs)
			}
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			if len(lines) != len(tc.want) || strings.Contains(errs, `\n`) {
				t.Fatalf("want %d lines, got:\n%s", len(tc.want), errs)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], "kahook: "+conf) || !strings.Contains(lines[i], w) {
					t.Errorf("line %d %q, want kahook: %s...%s", i+1, lines[i], conf, w)
				}
			}
		})
	}
}

// TestConfigProblemsOnce: `config check` and `doctor`, which list a
// config's problems themselves, print each once at the default log level
// (no WARN log line from loading the config beside it); a command that
// only reads the config still logs it.
func TestConfigProblemsOnce(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "kahook.conf")
	os.WriteFile(conf, []byte("virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 { wieght 2 }\n}\n"), 0o600)
	ka := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(ka, []byte("global_defs {\n router_id a\n}\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"config check", []string{"config", "check", conf}, 1},
		{"doctor", []string{"--config", conf, "doctor", "--no-live", "--keepalived-conf", ka}, 1},
		{"sync logs it", []string{"--config", conf, "sync"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out, errs := kahook(tc.args...)
			if n := strings.Count(out+errs, "Unknown keyword 'wieght'"); n != tc.want {
				t.Errorf("the problem printed %d times, want %d:\n%s%s", n, tc.want, out, errs)
			}
		})
	}
}

// TestDoctorSummary: doctor's first line says what each count counts,
// and does not give an OK count when no live check ran.
func TestDoctorSummary(t *testing.T) {
	f := func(sev ...doctor.Severity) *doctor.Report {
		var r doctor.Report
		for _, s := range sev {
			r.Findings = append(r.Findings, doctor.Finding{Severity: s})
		}
		return &r
	}
	for _, tc := range []struct {
		name string
		r    *doctor.Report
		live bool
		want string
	}{
		{"typical", f(doctor.Fail, doctor.Fail, doctor.Warn, doctor.OK), true, "kahook doctor: 2 FAIL (must fix), 1 WARN (should fix), 1 OK (checks passed)"},
		{"clean", f(doctor.OK, doctor.OK), true, "kahook doctor: no FAIL (must fix), no WARN (should fix), 2 OK (checks passed)"},
		{"no-live", f(doctor.Warn), false, "kahook doctor: no FAIL (must fix), 1 WARN (should fix); live checks not run (--no-live)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summaryLine(tc.r, tc.live); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
