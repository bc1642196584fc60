package config

import (
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKahookBlockUnknownKeywords: a keyword kahook does not know in its
// own blocks (instance, realserver, master/backup) or in global_defs (one
// keepalived does not know either) is reported at its line with a "did
// you mean" hint, and changes nothing.
func TestKahookBlockUnknownKeywords(t *testing.T) {
	const inst = "instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  192.0.2.10\n }\n"
	cases := []struct {
		name  string
		text  string
		line  int
		want  string
		check func(t *testing.T, c *Config)
	}{
		{"state_dir misspelt", "global_defs {\n state_dri /x\n}\n", 2, "Unknown keyword 'state_dri' (did you mean 'state_dir'?)",
			func(t *testing.T, c *Config) {
				if c.Global.StateDir != DefaultStateDir {
					t.Errorf("state_dir = %s, want the default", c.Global.StateDir)
				}
			}},
		{"maintenance_dir misspelt", "global_defs {\n maintenance_dri /x\n}\n", 2, "(did you mean 'maintenance_dir'?)", nil},
		{"keepalived keyword misspelt in global_defs", "global_defs {\n router_di x\n}\n", 2, "(did you mean 'router_id'?)", nil},
		{"garp_master_delay misspelt", inst + " garp_master_dealy 3\n}\n", 6, "Unknown keyword 'garp_master_dealy' (did you mean 'garp_master_delay'?) in kahook's block 'instance VI_1'",
			func(t *testing.T, c *Config) {
				if d := c.Instances[0].GARP.Delay; d != DefaultGARPDelay {
					t.Errorf("garp delay = %v, want the default", d)
				}
			}},
		{"garp_master_refresh misspelt", inst + " garp_master_refesh 3\n}\n", 6, "(did you mean 'garp_master_refresh'?)",
			func(t *testing.T, c *Config) {
				if d := c.Instances[0].GARP.Refresh; d != 0 {
					t.Errorf("garp refresh = %v, want off", d)
				}
			}},
		{"unknown block in an instance", inst + " mastr {\n  vip off\n }\n}\n", 6, "(did you mean 'master'?)",
			func(t *testing.T, c *Config) {
				// its block is skipped whole, the instance goes on.
				if in := c.Instances[0]; !in.Master.VIP || in.Interface != "eth0" {
					t.Errorf("instance = %+v", in)
				}
			}},
		{"vrrp_instance keyword in an instance", inst + " priority 100\n}\n", 6, "Unknown keyword 'priority' in kahook's block 'instance VI_1'", nil},
		{"interface misspelt in realserver", "realserver {\n interfac eth0\n virtual_ipaddress {\n  192.0.2.10\n }\n}\n", 2, "Unknown keyword 'interfac' (did you mean 'interface'?) in kahook's block 'realserver'",
			func(t *testing.T, c *Config) {
				if c.RealServer.Interface != "" {
					t.Errorf("interface = %q", c.RealServer.Interface)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("k.conf", []byte(tc.text), Options{ConfigID: "x"})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			var got []string
			found := false
			for _, p := range c.Problems {
				got = append(got, p.String())
				found = found || p.Pos.Line == tc.line && strings.Contains(p.Msg, tc.want)
			}
			if !found || len(c.Problems) != 1 {
				t.Errorf("want one problem, at line %d saying %q; problems:\n%s", tc.line, tc.want, strings.Join(got, "\n"))
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestActionKeywordHint: a misspelt keyword in master { } or backup { } is
// an error with a "did you mean" hint.
func TestActionKeywordHint(t *testing.T) {
	_, err := Parse("k.conf", []byte("instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  192.0.2.10\n }\n backup {\n  sysctrl realserver\n }\n}\n"), Options{ConfigID: "x"})
	if err == nil || !strings.Contains(err.Error(), "k.conf:7:") || !strings.Contains(err.Error(), "(did you mean 'sysctl'?)") {
		t.Errorf("err = %v, want k.conf:7 with a hint for sysctl", err)
	}
}

// TestKeepalivedGlobalDefsAccepted: every keyword of keepalived 2.2.7's
// global_defs passes silently (notification_email with its block of
// addresses), with kahook's own.
func TestKeepalivedGlobalDefsAccepted(t *testing.T) {
	c, err := Parse("k.conf", []byte(globalDefsText(words(keepalivedGlobalDefs+" "+kahookGlobalDefs))), Options{ConfigID: "x"})
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if len(c.Problems) > 0 {
		t.Errorf("problems: %v", c.Problems)
	}
}

// globalDefsText is a global_defs block with each keyword on its own line
// (value "1", kahook's directories an absolute path, notification_email
// a block) and a valid virtual server.
func globalDefsText(keys []string) string {
	var b strings.Builder
	b.WriteString("global_defs {\n")
	for _, k := range keys {
		switch k {
		case "notification_email":
			b.WriteString(" notification_email {\n  root@example.com\n }\n")
		case "state_dir", "maintenance_dir":
			b.WriteString(" " + k + " /run/x\n")
		case "smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "checker_log_all_failures":
			b.WriteString(" " + k + " yes\n") // check_true_false's word (TestGlobalSwitches)
		default:
			b.WriteString(" " + k + " 1\n")
		}
	}
	b.WriteString("}\nvirtual_server 192.0.2.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 {\n }\n}\n")
	return b.String()
}

// notBuiltGlobalDefs are global_defs keywords of keepalived 2.2.7 that
// Debian's build leaves out (vrrp_ipsets needs libipset): its keepalived
// -t reports them unknown, kahook accepts them.
var notBuiltGlobalDefs = []string{"vrrp_ipsets"}

var unknownKeywordRE = regexp.MustCompile(`Line (\d+)\) Unknown keyword '([^']*)'`)

// TestGlobalDefsMatchKeepalived: in global_defs, kahook names as unknown
// exactly the lines `keepalived -t` names as unknown: every keyword of
// keepalived's list spelt right, then each misspelt twice (a letter
// dropped, two letters swapped) and kahook's own misspelt.
func TestGlobalDefsMatchKeepalived(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed")
	}
	known := words(keepalivedGlobalDefs)
	var typos []string
	for _, k := range append(slices.Clone(known), words(kahookGlobalDefs)...) {
		m := len(k) / 2
		typos = append(typos, k[:m]+k[m+1:], k[:m-1]+string(k[m])+string(k[m-1])+k[m+1:])
	}
	for _, tc := range []struct {
		name string
		keys []string
	}{{"keywords", known}, {"misspelt", typos}} {
		t.Run(tc.name, func(t *testing.T) {
			text := globalDefsText(tc.keys)
			c, path, err := loadDiffText(t, text)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			start := time.Now()
			out, _ := exec.Command("keepalived", "-t", "-f", path, "-l", "-n", "-i", diffConfigID).CombinedOutput()
			t.Logf("keepalived -t: %v", time.Since(start))
			var ka, kh []string
			for _, m := range unknownKeywordRE.FindAllStringSubmatch(string(out), -1) {
				if !slices.Contains(notBuiltGlobalDefs, m[2]) {
					ka = append(ka, m[1])
				}
			}
			for _, p := range c.Problems {
				if strings.Contains(p.Msg, "Unknown keyword") {
					kh = append(kh, strconv.Itoa(p.Pos.Line))
				}
			}
			slices.Sort(ka)
			ka = slices.Compact(ka)
			slices.Sort(kh)
			if !slices.Equal(ka, kh) {
				t.Errorf("unknown keyword lines: keepalived %v, kahook %v\n--- keepalived\n%s", ka, kh, out)
			}
			if tc.name == "misspelt" && len(kh) < len(typos)*3/4 {
				t.Errorf("only %d of %d misspellings are unknown", len(kh), len(typos))
			}
		})
	}
}
