package config

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestCheckerFWMark: a checker's fwmark (keepalived's co_fwmark_handler,
// 0 to UINT_MAX) is kept on the check's connection, in every checker with
// connection options and in SMTP_CHECK's host blocks; a value keepalived
// refuses ("Invalid fwmark connection value") is a problem at its line,
// read past, as keepalived reads past it. Before, kahook skipped fwmark
// silently, whatever its value. Each case is compared with keepalived -t.
func TestCheckerFWMark(t *testing.T) {
	conf := func(block string) string {
		return "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 10.0.0.2 80 {\n" + block + " }\n}\n"
	}
	for _, tc := range []struct {
		name, block string
		want        int64 // the mark kept; -1: a problem, none kept; -2: an error (README: extra words after a single value; a missing value)
		smtpHost    bool  // the mark is on SMTP_CHECK's second checker (its host block)
	}{
		{"TCP_CHECK", "  TCP_CHECK {\n   fwmark 7\n  }\n", 7, false},
		{"largest", "  TCP_CHECK {\n   fwmark 4294967295\n  }\n", 4294967295, false},
		{"zero", "  TCP_CHECK {\n   fwmark 0\n  }\n", 0, false},
		{"plus sign", "  TCP_CHECK {\n   fwmark +7\n  }\n", 7, false},
		{"HTTP_GET", "  HTTP_GET {\n   url {\n    path /\n    status_code 200\n   }\n   fwmark 9\n  }\n", 9, false},
		{"SMTP_CHECK host", "  SMTP_CHECK {\n   host {\n    connect_ip 10.0.0.3\n    fwmark 11\n   }\n  }\n", 11, true},
		{"too large", "  TCP_CHECK {\n   fwmark 4294967296\n  }\n", -1, false},
		{"negative", "  TCP_CHECK {\n   fwmark -1\n  }\n", -1, false},
		{"not a number", "  TCP_CHECK {\n   fwmark abc\n  }\n", -1, false},
		{"hex", "  TCP_CHECK {\n   fwmark 0x10\n  }\n", -1, false},
		{"two values", "  TCP_CHECK {\n   fwmark 7 8\n  }\n", -2, false},
		{"no value", "  TCP_CHECK {\n   fwmark\n  }\n", -2, false},
		{"SMTP_CHECK host, not a number", "  SMTP_CHECK {\n   host {\n    connect_ip 10.0.0.3\n    fwmark zz\n   }\n  }\n", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := conf(tc.block)
			c, path, err := loadDiffText(t, text)
			line := strings.Count(text[:strings.Index(text, "fwmark")], "\n") + 1
			if tc.want == -2 {
				if err == nil || !strings.Contains(err.Error(), ":"+strconv.Itoa(line)+": fwmark") {
					t.Errorf("error %v, want one at line %d", err, line)
				}
				if _, lerr := exec.LookPath("keepalived"); lerr == nil {
					keepalivedAgrees(t, path, strings.Contains(tc.block, "7 8"), "")
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			var problem bool
			for _, p := range c.Problems {
				if p.Pos.Line == line && strings.Contains(p.Msg, "Invalid fwmark connection value") {
					problem = true
				}
			}
			checks := c.VirtualServers[0].RealServers[0].Checks
			if len(checks) != 1 {
				t.Fatalf("%d checkers, want 1", len(checks))
			}
			got := int64(checks[0].Conn.FWMark)
			if tc.smtpHost {
				hosts := checks[0].SMTP.Hosts
				if len(hosts) != 1 {
					t.Fatalf("SMTP_CHECK hosts %+v, want its host block only", hosts)
				}
				got = int64(hosts[0].FWMark)
			}
			if problem != (tc.want < 0) || (tc.want >= 0 && got != tc.want) || (tc.want < 0 && got != 0) {
				t.Errorf("fwmark %d, problem at line %d %v (problems %v); want %d", got, line, problem, c.Problems, tc.want)
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			says := ""
			if tc.want < 0 {
				says = "(" + path + ": Line " + strconv.Itoa(line) + ") Invalid fwmark connection value"
			}
			keepalivedAgrees(t, path, tc.want >= 0, says)
		})
	}
}
