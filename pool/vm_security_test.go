//go:build vm

package pool_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/unpriv"
)

// TestVMSyncNeverRunsUnsafeMiscScript: a real `kahook sync` on a MASTER
// never runs a MISC_CHECK program that another user can rewrite: the
// check fails with the reason and the server leaves the IPVS table, while
// the safe program beside it runs and keeps its server in (issue 15
// case 1).
func TestVMSyncNeverRunsUnsafeMiscScript(t *testing.T) {
	l := newLab(t, 2)
	dir := unpriv.Dir(t)
	script := func(name string, mode os.FileMode) (string, string) {
		p, marker := filepath.Join(dir, name), filepath.Join(dir, name+".ran")
		if err := os.WriteFile(p, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p, marker
	}
	safe, safeRan := script("safe.sh", 0o755)
	unsafe, unsafeRan := script("unsafe.sh", 0o777)
	unpriv.Run(t, fmt.Sprintf("printf '#!/bin/sh\\ntouch %s\\n' > %s", unsafeRan, unsafe)) // the attack
	l.write(fmt.Sprintf(`
virtual_server 10.9.0.100 82 {
    protocol TCP
    lb_algo wrr
    lb_kind NAT
    real_server 10.9.1.1 8082 { MISC_CHECK { misc_path %q } }
    real_server 10.9.1.2 8082 { MISC_CHECK { misc_path %q } }
}
`, safe, unsafe))
	if out, code := l.kahook("config", "check"); code != 2 || !strings.Contains(out, "unsafe program") {
		t.Errorf("config check: exit %d, want 2 naming the unsafe program\n%s", code, out)
	}
	if out, code := l.kahook("notify", "master", "VI_1"); code != 0 {
		t.Fatalf("notify master: %s", out)
	}
	rep, _ := l.pass("--drain-timeout", "0")
	if _, err := os.Stat(unsafeRan); err == nil {
		t.Fatal("sync RAN the world-writable script")
	}
	if _, err := os.Stat(safeRan); err != nil {
		t.Errorf("sync did not run the safe script: %v", err)
	}
	for _, s := range rep.Servers {
		switch s.RealServer {
		case "10.9.1.1:8082":
			if !s.Up {
				t.Errorf("safe server down: %+v", s)
			}
		case "10.9.1.2:8082":
			if s.Up || len(s.Checks) != 1 || !strings.Contains(s.Checks[0].Reason, fmt.Sprintf("not run: unsafe program: file %q is writable by non-root users", unsafe)) {
				t.Errorf("unsafe server: %+v", s)
			}
		}
	}
	if w := l.weightOf("10.9.0.100:82", "10.9.1.1:8082"); w != "1" {
		t.Errorf("safe server weight %s, want 1", w)
	}
	if w := l.weightOf("10.9.0.100:82", "10.9.1.2:8082"); w != "absent" {
		t.Errorf("server of the refused script: weight %s, want out of the table\n%s", w, l.rules())
	}
}
