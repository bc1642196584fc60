package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/unpriv"
)

// TestLintTrackFiles (issue 15, F8): doctor reports as FAIL, with the
// config position and the fix, a FILE_CHECK track file that sync would
// refuse to read: one in a directory any user can add names to (sticky
// like /tmp or not), or one others can write. A root-only one passes.
func TestLintTrackFiles(t *testing.T) {
	base := unpriv.Dir(t)
	mk := func(rel string, mode os.FileMode) string { return unpriv.Mkdir(t, base, rel, mode) }
	sticky := mk("tmp", 0o777|os.ModeSticky)
	safe := mk("safe", 0o755)
	open := filepath.Join(safe, "open")
	os.WriteFile(open, []byte("0\n"), 0o644)
	os.Chmod(open, 0o666)
	cases := []struct {
		name, file, want string // want "" = no finding
	}{
		{"in a sticky dir like /tmp", filepath.Join(sticky, "track"), "unsafe track file directory"},
		{"writable by others", open, "unsafe track file: file"},
		{"root-only", filepath.Join(safe, "track"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kc := kahookConf(t, fmt.Sprintf(`track_file t {
    file %s
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.1.1 80 {
        FILE_CHECK {
            track_file t
        }
    }
}
`, tc.file))
			var r Report
			lintTrackFiles(&r, kc)
			if tc.want == "" {
				if len(r.Findings) != 0 {
					t.Fatalf("want no finding, got %v", r.Findings)
				}
				return
			}
			if len(r.Findings) != 1 {
				t.Fatalf("want one finding, got %v", r.Findings)
			}
			f := r.Findings[0]
			if f.Severity != Fail || f.Check != "track-file" || !strings.Contains(f.Msg, tc.want) || !strings.Contains(f.Msg, tc.file) || f.Fix == "" || f.Pos.Line == 0 {
				t.Errorf("finding %s (fix %q, pos %v)", f, f.Fix, f.Pos)
			}
		})
	}
}
