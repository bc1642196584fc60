package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestVirtualServerSwitches: keepalived 2.2.7 turns a virtual_server's
// inhibit_on_failure, alpha, omega and ha_suspend on whatever follows the
// keyword (their handlers take no argument), and `keepalived -t` passes:
// kahook loads the switch on too, warns about the argument, and loads the
// table keepalived loads (inhibit_on_failure reaches the real servers).
// A real_server's inhibit_on_failure and alpha still read on/off.
func TestVirtualServerSwitches(t *testing.T) {
	_, kaErr := exec.LookPath("keepalived")
	for _, key := range []string{"inhibit_on_failure", "alpha", "omega", "ha_suspend"} {
		for _, arg := range []string{"", " off", " no", " 0", " abc"} {
			t.Run(key+arg, func(t *testing.T) {
				text := "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n " + key + arg + "\n real_server 198.51.100.1 80 {\n  weight 1\n }\n}\n"
				c, path, err := loadDiffText(t, text)
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(c.Problems) > 0 {
					t.Errorf("problems %v", c.Problems)
				}
				vs := c.VirtualServers[0]
				on := map[string]bool{"inhibit_on_failure": vs.InhibitOnFailure, "alpha": vs.Alpha, "omega": vs.Omega, "ha_suspend": vs.HASuspend}[key]
				if !on {
					t.Errorf("%s%s loaded off; keepalived turns it on", key, arg)
				}
				if key == "inhibit_on_failure" && !vs.RealServers[0].InhibitOnFailure {
					t.Error("the real server does not inherit inhibit_on_failure")
				}
				warned := len(c.Warnings) > 0 && strings.Contains(c.Warnings[0].Msg, "takes no argument")
				if warned != (arg != "") {
					t.Errorf("warning given %v, want %v: %v", warned, arg != "", c.Warnings)
				}
				if kaErr == nil {
					keepalivedAgrees(t, path, true, "")
				}
			})
		}
	}
}
