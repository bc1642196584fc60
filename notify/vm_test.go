//go:build vm

package notify_test

import (
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/netnstest"
)

// TestVMNotifyLoadsAndRemovesIPVS: MASTER loads the instance's services
// before binding the VIP; BACKUP removes them; re-running MASTER changes
// nothing in the table.
func TestVMNotifyLoadsAndRemovesIPVS(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf("")+withService)
	out := a.mustKahook("notify", "master", "VI_1")
	rules := a.MustRun("ipvsadm", "-Sn")
	for _, want := range []string{"-A -t 10.9.0.100:80 -s rr", "-a -t 10.9.0.100:80 -r 10.9.0.21:80 -g -w 1", "-a -t 10.9.0.100:80 -r 10.9.0.22:80 -g -w 1"} {
		if !strings.Contains(rules, want) {
			t.Errorf("after master, table lacks %q:\n%s\n%s", want, rules, out)
		}
	}
	if i, j := strings.Index(out, "IPVS changed"), strings.Index(out, "VIP added"); i < 0 || j < 0 || i > j {
		t.Errorf("IPVS must be loaded before the VIP is bound:\n%s", out)
	}
	if out := a.mustKahook("notify", "master", "VI_1"); len(infoLines(out)) != 0 {
		t.Errorf("second master logged changes: %q", infoLines(out))
	}
	out = a.mustKahook("notify", "backup", "VI_1")
	if rules := strings.TrimSpace(a.MustRun("ipvsadm", "-Sn")); rules != "" {
		t.Errorf("after backup the table still holds:\n%s", rules)
	}
	if i, j := strings.Index(out, "VIP removed"), strings.Index(out, "IPVS changed"); i < 0 || j < 0 || i > j {
		t.Errorf("the VIP must go before the services:\n%s", out)
	}
}
