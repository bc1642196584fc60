package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintUnowned: doctor warns, with file:line and the fix, about each
// virtual server no instance owns (no transition loads it, sync does not
// check it), also when kahook.conf has no instance at all (keepalived "as
// LVS checker only", imported); a fwmark service's fix names its mark, not
// an address.
func TestLintUnowned(t *testing.T) {
	const inst = "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.100 }\n}\n"
	for _, tc := range []struct {
		name, conf string
		want       []string // per finding: "line|message part|fix part"
	}{
		{name: "owned address", conf: inst + "virtual_server 10.0.0.100 80 {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\n"},
		{name: "owned fwmark", conf: "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.100 }\n fwmark 7\n}\nvirtual_server fwmark 7 {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\n"},
		{name: "unowned address", conf: inst + "virtual_server 10.0.0.200 80 {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\n",
			want: []string{"kahook.conf:5|virtual_server 10.0.0.200:tcp:80 belongs to no instance: no transition|add 10.0.0.200 to the virtual_ipaddress of the instance that serves it, or drop the block"}},
		// With one instance a fwmark service is that instance's; with two
		// it needs a 'fwmark N' line.
		{name: "unowned fwmark", conf: inst + "instance VI_2 {\n interface eth0\n virtual_ipaddress { 10.0.0.101 }\n fwmark 8\n}\nvirtual_server fwmark 7 {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\n",
			want: []string{"kahook.conf:10|virtual_server fwmark 7 belongs to no instance|add 'fwmark 7' to the instance that serves it, or drop the block"}},
		{name: "unowned group", conf: inst + "virtual_server_group G {\n 10.0.0.200 80\n}\nvirtual_server group G {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\n",
			want: []string{"kahook.conf:8|virtual_server group G belongs to no instance|virtual_server_group G's addresses"}},
		{name: "no instance at all", conf: "virtual_server 10.0.0.200 80 {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\nvirtual_server fwmark 7 {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\n",
			want: []string{
				"kahook.conf:1|virtual_server 10.0.0.200:tcp:80 belongs to no instance (kahook.conf has none)|add an 'instance' block for the vrrp_instance that serves it and add 10.0.0.200 to its virtual_ipaddress; if keepalived runs it without VRRP",
				"kahook.conf:5|virtual_server fwmark 7 belongs to no instance (kahook.conf has none)|add 'fwmark 7' to it",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Report
			LintKahook(&r, kahookConf(t, tc.conf), nil)
			var got []Finding
			for _, f := range r.Findings {
				if f.Check == "unowned-virtual-server" {
					got = append(got, f)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %d findings", got, len(tc.want))
			}
			for i, w := range tc.want {
				p := strings.Split(w, "|")
				f := got[i]
				if f.Severity != Warn || f.Pos.String() != p[0] || !strings.Contains(f.Msg, p[1]) || !strings.Contains(f.Fix, p[2]) {
					t.Errorf("got %s (fix %q), want WARN %s: %q, fix %q", f, f.Fix, p[0], p[1], p[2])
				}
				if strings.Contains(f.Fix+f.Msg, "fwmark") && strings.Contains(f.Fix+f.Msg, "address") && !strings.Contains(f.Msg, "group") {
					t.Errorf("a fwmark service has no address: %s, fix %q", f, f.Fix)
				}
			}
		})
	}
}

// TestLintKahookConfMissing: without a kahook.conf, each keepalived.conf
// line running a kahook command that reads it is a FAIL naming the line
// and the path (the line's own --config, else the default).
func TestLintKahookConfMissing(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "present.conf")
	os.WriteFile(present, []byte("\n"), 0o644)
	missing := filepath.Join(dir, "missing.conf")
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	const ka = `vrrp_script kahook_sync {
    script "/usr/sbin/kahook sync --deadline 8s VI_1"
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress { 127.255.0.51/32 dev lo }
    track_script { kahook_sync }
    %s
}
`
	for _, tc := range []struct {
		name, line string
		want       []string // "line|message part"
	}{
		{name: "notify and sync script", line: `notify "/usr/sbin/kahook notify"`,
			want: []string{"keepalived.conf:2|vrrp_script runs `kahook sync`, but " + missing, "keepalived.conf:9|notify runs `kahook notify`, but " + missing}},
		{name: "global flags before the command", line: `notify_master "/usr/sbin/kahook --log-level debug notify"`,
			want: []string{"keepalived.conf:2|", "keepalived.conf:9|notify_master runs `kahook notify`"}},
		{name: "fifo script", line: `notify_fifo_script "/usr/sbin/kahook fifo"`,
			want: []string{"keepalived.conf:2|", "keepalived.conf:9|notify_fifo_script runs `kahook fifo`"}},
		{name: "own config present", line: `notify "/usr/sbin/kahook --config ` + present + ` notify"`,
			want: []string{"keepalived.conf:2|"}},
		{name: "own config missing", line: `notify "/usr/sbin/kahook --config=` + dir + `/other.conf notify"`,
			want: []string{"keepalived.conf:2|", "keepalived.conf:9|notify runs `kahook notify`, but " + dir + "/other.conf does not exist"}},
		{name: "own config after the command", line: `notify "/usr/sbin/kahook notify -c ` + present + `"`,
			want: []string{"keepalived.conf:2|"}},
		{name: "own --config after the command, missing", line: `notify "/usr/sbin/kahook notify --config ` + dir + `/after.conf"`,
			want: []string{"keepalived.conf:2|", "keepalived.conf:9|notify runs `kahook notify`, but " + dir + "/after.conf does not exist"}},
		{name: "not kahook", line: `notify "/usr/local/bin/notify.sh"`,
			want: []string{"keepalived.conf:2|"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Report
			LintKahookConfMissing(&r, keepalived(t, fmt.Sprintf(ka, tc.line)), missing, "", exists)
			if len(r.Findings) != len(tc.want) {
				t.Fatalf("got %v, want %d findings", r.Findings, len(tc.want))
			}
			for i, w := range tc.want {
				p := strings.Split(w, "|")
				f := r.Findings[i]
				if f.Severity != Fail || f.Check != "kahook-conf" || filepath.Base(f.Pos.File)+":"+fmt.Sprint(f.Pos.Line) != p[0] || !strings.Contains(f.Msg, p[1]) {
					t.Errorf("got %s, want FAIL %s: %q", f, p[0], p[1])
				}
			}
		})
	}
	t.Run("config present", func(t *testing.T) {
		var r Report
		LintKahookConfMissing(&r, keepalived(t, fmt.Sprintf(ka, `notify "/usr/sbin/kahook notify"`)), present, "", exists)
		if len(r.Findings) != 0 {
			t.Fatalf("unexpected: %v", r.Findings)
		}
	})
}
