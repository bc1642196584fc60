package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFWMarkServicesOfBothFamilies (new-operator review): IPVS keeps
// fwmark 1 IPv4 and fwmark 1 IPv6 apart, and so does keepalived: two
// virtual_server fwmark 1 blocks of different families are two services
// (kahook refused the second as already defined, so a dual-stack fwmark
// setup did not load at all); two of one family are still the deliberate
// "already defined" error. Each case against keepalived -t.
func TestFWMarkServicesOfBothFamilies(t *testing.T) {
	block := func(fam, rs string) string {
		return "virtual_server fwmark 1 {\n ip_family " + fam + "\n lb_algo rr\n lb_kind DR\n real_server " + rs + " 0 {\n }\n}\n"
	}
	for _, tc := range []struct {
		name, text string
		services   int // loaded; 0: refused as already defined
	}{
		{"IPv4 and IPv6", block("inet", "10.0.0.2") + block("inet6", "2001:db8::2"), 2},
		{"IPv4 twice", block("inet", "10.0.0.2") + block("inet", "10.0.0.3"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			if tc.services == 0 {
				if err == nil || !strings.Contains(err.Error(), "already defined") {
					t.Errorf("error %v, want already defined", err)
				}
			} else if err != nil || len(c.VirtualServers) != tc.services {
				t.Errorf("error %v, want %d services loaded", err, tc.services)
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			keepalivedAgrees(t, path, true, "")
		})
	}
}
