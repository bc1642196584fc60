package importconf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
)

// flat is the draft with comment marks and line breaks folded away, so a
// wrapped FIXME reads as one sentence.
func flat(s string) string {
	s = strings.NewReplacer("#", " ", "!", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

func drafts(t *testing.T, src string, notes ...string) (string, string, string, *config.Node) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, _, err := config.ParseTree(p, config.Options{ConfigID: "lb1"})
	if err != nil {
		t.Fatal(err)
	}
	var kh, ka bytes.Buffer
	if err := Draft(&kh, p, tree, notes...); err != nil {
		t.Fatal(err)
	}
	if err := DraftKeepalived(&ka, p, tree, notes...); err != nil {
		t.Fatal(err)
	}
	return p, kh.String(), ka.String(), tree
}

// TestImportFlagsWhatKahookDropsOrChanges: the drafts say, as a FIXME
// naming the line, that a notifier script (quorum_up/down, notify_up/down)
// will not run and what to use instead, and that use_vmac no longer
// carries the VIPs; the keepalived draft says why it turns script
// security on; Fixmes (import's stderr) lists the same.
func TestImportFlagsWhatKahookDropsOrChanges(t *testing.T) {
	src := `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 50
    use_vmac
    virtual_ipaddress { 192.168.200.11 }
}
virtual_server 192.168.200.11 80 {
    protocol TCP
    quorum_up /etc/ka/up.sh
    quorum_down "/etc/ka/down.sh x"
    real_server 192.168.200.3 80 {
        notify_up /etc/ka/rs-up.sh
        notify_down /etc/ka/rs-down.sh
        TCP_CHECK { connect_timeout 3 }
    }
}
vrrp_sync_group G0 {
    notify_master /etc/ka/g.sh
}
`
	p, kh, ka, tree := drafts(t, src)
	cases := []struct{ name, want string }{
		{"quorum_up", `virtual_server 192.168.200.11 80: quorum_up "/etc/ka/up.sh" (` + p + `:9) will not run: kahook runs no notifier scripts`},
		{"quorum_down", `virtual_server 192.168.200.11 80: quorum_down "/etc/ka/down.sh x" (` + p + `:10) will not run`},
		{"notify_up", `real_server 192.168.200.3 80: notify_up "/etc/ka/rs-up.sh" (` + p + `:12) will not run`},
		{"notify_down", `real_server 192.168.200.3 80: notify_down "/etc/ka/rs-down.sh" (` + p + `:13) will not run`},
		{"instead", "run it from the vrrp_instance's keepalived notify"},
		{"empty sync group", "vrrp_sync_group G0 (" + p + ":17) has no members (no 'group { ... }' naming its vrrp_instances): keepalived removes it"},
		{"use_vmac", "vrrp_instance VI_1 has use_vmac (" + p + ":4): kahook announces and answers for the VIPs with the physical interface's own MAC"},
	}
	fixmes := strings.Join(Fixmes(tree), "\n")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(flat(kh), "FIXME: ") || !strings.Contains(flat(kh), tc.want) {
				t.Errorf("kahook.conf draft lacks %q:\n%s", tc.want, kh)
			}
			if !strings.Contains(flat(ka), tc.want) {
				t.Errorf("keepalived.conf draft lacks %q:\n%s", tc.want, ka)
			}
			if !strings.Contains(fixmes, tc.want) {
				t.Errorf("Fixmes lacks %q: %s", tc.want, fixmes)
			}
		})
	}
	t.Run("script security", func(t *testing.T) {
		if !strings.Contains(flat(ka), "NOTE: this draft sets enable_script_security and script_user root") ||
			!strings.Contains(flat(ka), "disables every script (notify, vrrp_script, MISC_CHECK) that a non-root user can write") {
			t.Errorf("the keepalived draft does not say it turns script security on:\n%s", ka)
		}
		_, _, ka, _ := drafts(t, "global_defs {\n enable_script_security\n script_user root\n}\n"+src)
		if strings.Contains(ka, "NOTE: this draft sets enable_script_security") {
			t.Errorf("the note is printed although the file sets script security itself:\n%s", ka)
		}
	})
	t.Run("nothing to flag", func(t *testing.T) {
		_, kh, _, tree := drafts(t, "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 50\n virtual_ipaddress { 192.168.200.11 }\n}\n")
		if strings.Contains(kh, "FIXME") || len(Fixmes(tree)) != 0 {
			t.Errorf("a plain file is flagged: %q\n%s", Fixmes(tree), kh)
		}
	})
}

// TestImportConfigIDNotes: keepalived's "@id" lines for another node are
// left out of the draft; ConfigIDNotes counts them, names the ids and the
// config id the draft is for, and the drafts carry it as a FIXME.
func TestImportConfigIDNotes(t *testing.T) {
	src := `vrrp_instance VI_1 {
    interface eth0
@lb1    priority 150
@lb2    priority 100
@lb2    state BACKUP
@^lb1   nopreempt
    virtual_router_id 50
    virtual_ipaddress { 192.168.200.11 }
}
`
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(p, []byte(src), 0o644)
	cases := []struct {
		name, id, want string
	}{
		{"lb1", "lb1", `this draft is for config id "lb1" only: keepalived's conditional lines for other nodes were left out (3 lines, first at ` + p + `:4: 2 "@lb2", 1 "@^lb1"); for each other node import again with "kahook --config-id ID import" (ID: lb2)`},
		{"lb2", "lb2", `this draft is for config id "lb2" only: keepalived's conditional lines for other nodes were left out (1 line, first at ` + p + `:3: 1 "@lb1")`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			notes := ConfigIDNotes(p, config.Options{ConfigID: tc.id})
			if len(notes) != 1 || !strings.HasPrefix(notes[0], tc.want) {
				t.Fatalf("notes = %q, want %q", notes, tc.want)
			}
			_, kh, ka, _ := drafts(t, src, notes...)
			if !strings.Contains(flat(kh), "FIXME: "+notes[0]) || !strings.Contains(flat(ka), "FIXME: "+notes[0]) {
				t.Errorf("the drafts lack the note:\n%s\n%s", kh, ka)
			}
		})
	}
	plain := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(plain, []byte("@lb1 global_defs {\n@lb1 }\n"), 0o644)
	if notes := ConfigIDNotes(plain, config.Options{ConfigID: "lb1"}); notes != nil {
		t.Errorf("nothing left out, notes = %q", notes)
	}
}
