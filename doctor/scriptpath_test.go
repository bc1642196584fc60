package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintScriptPathSearch: a keepalived script given by a bare name is
// run as keepalived 2.2.7 runs it, found by path search ($PATH, else
// /bin:/usr/bin), with "WARNING - script `NAME` resolved by path search to
// `PATH`. Please specify full path." (measured: keepalived -t exits 0 and
// the script runs under enable_script_security). doctor WARNs with the
// resolved path as the fix, and FAILs only where the search finds nothing
// (keepalived then disables the script).
func TestLintScriptPathSearch(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "probe.sh")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	const ka = `global_defs {
    enable_script_security
    script_user root
}
vrrp_script chk {
    script "%s"
    interval 2
}
`
	for _, tc := range []struct {
		name, path, script string
		want               string // "SEVERITY|message part|fix part", "" for no script finding
	}{
		{name: "bare name found by path search", path: dir, script: "probe.sh --quiet",
			want: "WARN|vrrp_script \"probe.sh\": resolved by path search to " + prog + "|give the absolute path: " + prog},
		{name: "bare name not found", path: t.TempDir(), script: "probe.sh",
			want: "FAIL|not found in PATH|give the absolute path of probe.sh"},
		{name: "absolute path", path: dir, script: prog, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			var r Report
			LintKeepalived(&r, keepalived(t, fmt.Sprintf(ka, tc.script)), nil)
			var got []Finding
			for _, f := range r.Findings {
				if f.Check == "script" {
					got = append(got, f)
				}
			}
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("got %v, want no script finding", got)
				}
				return
			}
			w := strings.Split(tc.want, "|")
			if len(got) != 1 || string(got[0].Severity) != w[0] || !strings.Contains(got[0].Msg, w[1]) || !strings.Contains(got[0].Fix, w[2]) {
				t.Fatalf("got %v, want one %s finding with %q, fix %q", got, w[0], w[1], w[2])
			}
		})
	}
}
