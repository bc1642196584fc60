package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
			[]string{":1: virtual_server 192.0.2.10:tcp:80: no lb_kind set", ":4: lb_kind: unknown routing method", ":5: Unknown keyword 'wieght'", ": 3 problem(s) keepalived reports too"}},
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
