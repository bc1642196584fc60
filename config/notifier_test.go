package config

import (
	"strings"
	"testing"
)

// TestNotifierScriptsWarned: a virtual server's quorum_up/quorum_down and
// a real server's notify_up/notify_down (scripts keepalived runs, kahook
// does not) are each a warning naming the line, the script and what to
// use instead, not a problem (keepalived -t accepts them); a line kahook
// does not use otherwise (smtp_alert) stays a debug-level skip.
func TestNotifierScriptsWarned(t *testing.T) {
	src := `virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo rr
    lb_kind DR
    quorum_up "/etc/ka/up.sh vs"
    quorum_down /etc/ka/down.sh
    real_server 198.51.100.1 80 {
        notify_up /etc/ka/rs-up.sh
        notify_down "/etc/ka/rs-down.sh x"
        smtp_alert
    }
}
`
	c, err := Parse("n.conf", []byte(src), Options{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Problems) != 0 {
		t.Errorf("problems = %v, want none (keepalived -t accepts notifier scripts)", c.Problems)
	}
	cases := []struct {
		name   string
		line   int
		script string
		metric string
	}{
		{"quorum_up", 5, `quorum_up "/etc/ka/up.sh vs"`, "kahook_pool_quorum_up"},
		{"quorum_down", 6, `quorum_down "/etc/ka/down.sh"`, "kahook_pool_quorum_up"},
		{"notify_up", 8, `notify_up "/etc/ka/rs-up.sh"`, "kahook_realserver_up"},
		{"notify_down", 9, `notify_down "/etc/ka/rs-down.sh x"`, "kahook_realserver_up"},
	}
	if len(c.Warnings) != len(cases) {
		t.Fatalf("warnings = %v, want %d", c.Warnings, len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := c.Warnings[i]
			if w.Pos.Line != tc.line || !strings.Contains(w.Msg, tc.script+" will not run: kahook runs no notifier scripts") ||
				!strings.Contains(w.Msg, "keepalived notify") || !strings.Contains(w.Msg, tc.metric) {
				t.Errorf("warning = %s, want line %d: %s will not run ... keepalived notify ... %s", w, tc.line, tc.script, tc.metric)
			}
		})
	}
}
