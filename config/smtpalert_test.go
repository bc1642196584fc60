package config

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestSMTPAlertAndHashed: two keywords kahook does not use but keepalived
// checks (last round's review): smtp_alert's argument, in a virtual or
// real server, is check_true_false's (true, on, yes, false, off, no, as
// written) and any other is reported at its line ("Invalid
// virtual_server smtp_alert parameter abc"); `hashed` sets no flag in
// keepalived 2.2.7 (the kernel marks every service hashed) and is
// reported unless the scheduler set before it is sh or mh. Before, kahook
// accepted every smtp_alert silently and loaded hashed as a flag without
// a word. Each case is compared with keepalived -t.
func TestSMTPAlertAndHashed(t *testing.T) {
	for _, tc := range []struct {
		name, vs, rs string
		problem      string // at the line of the case's keyword; "": none
	}{
		{"smtp_alert bare", " smtp_alert\n", "", ""},
		{"smtp_alert yes", " smtp_alert yes\n", "", ""},
		{"smtp_alert off", "", "  smtp_alert off\n", ""},
		{"smtp_alert abc", " smtp_alert abc\n", "", "Invalid virtual_server smtp_alert parameter abc"},
		{"smtp_alert YES", "", "  smtp_alert YES\n", "Invalid real_server smtp_alert parameter YES"},
		{"smtp_alert 0", "", "  smtp_alert 0\n", "Invalid real_server smtp_alert parameter 0"},
		{"hashed under rr", " hashed\n", "", "hashed only applies to lb_algo sh"},
		{"hashed with an argument", " hashed 1\n", "", "hashed only applies to lb_algo sh"},
		{"hashed under sh", " lb_algo sh\n hashed\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" + tc.vs + " real_server 10.0.0.2 80 {\n" + tc.rs + " }\n}\n"
			c, path, err := loadDiffText(t, text)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			key := "smtp_alert"
			if strings.Contains(tc.name, "hashed") {
				key = "hashed"
			}
			line := strings.Count(text[:strings.Index(text, key)], "\n") + 1
			var got string
			for _, p := range c.Problems {
				if p.Pos.Line == line {
					got = p.Msg
				}
			}
			if (tc.problem == "") != (got == "") || !strings.Contains(got, tc.problem) {
				t.Errorf("problem at line %d %q, want %q (all: %v)", line, got, tc.problem, c.Problems)
			}
			if flags := c.VirtualServers[0].SchedFlags; len(flags) != 0 {
				t.Errorf("scheduler flags %v, want none", flags)
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			says := ""
			if tc.problem != "" {
				says = "(" + path + ": Line " + strconv.Itoa(line) + ")"
			}
			keepalivedAgrees(t, path, tc.problem == "", says)
		})
	}
}

// TestGlobalSwitches (hostile review B1): global_defs' smtp_alert,
// smtp_alert_vrrp, smtp_alert_checker and checker_log_all_failures take
// check_true_false's words, and any other is reported at its line, as
// keepalived's global handlers report it. Each case against keepalived -t.
func TestGlobalSwitches(t *testing.T) {
	for _, tc := range []struct {
		line, problem string
	}{
		{"smtp_alert", ""},
		{"smtp_alert no", ""},
		{"smtp_alert abc", "Invalid value 'abc' for global smtp_alert specified"},
		{"smtp_alert_vrrp zz", "Invalid value 'zz' for global smtp_alert_vrrp specified"},
		{"smtp_alert_checker 1", "Invalid value '1' for global smtp_alert_checker specified"},
		{"smtp_alert_checker on", ""},
		{"checker_log_all_failures maybe", "Invalid value for checker_log_all_failures specified"},
		{"checker_log_all_failures true", ""},
	} {
		t.Run(tc.line, func(t *testing.T) {
			c, path, err := loadDiffText(t, "global_defs {\n "+tc.line+"\n}\n")
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, p := range c.Problems {
				if p.Pos.Line == 2 {
					got = p.Msg
				}
			}
			if (tc.problem == "") != (got == "") || !strings.Contains(got, tc.problem) {
				t.Errorf("problem %q, want %q", got, tc.problem)
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			// keepalived says these in its first pass, without the file's
			// name: its exit code is compared.
			keepalivedAgrees(t, path, tc.problem == "", "")
		})
	}
}
