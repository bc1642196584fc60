package importconf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
)

// TestImportSamples: every keepalived sample imports to a kahook.conf
// that `config check` accepts, with one instance per vrrp_instance and
// the same virtual servers keepalived's own file has.
func TestImportSamples(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("keepalived samples missing")
		}
		t.Skip("keepalived not installed")
	}
	for _, f := range files {
		tree, _, err := config.ParseTree(f, config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Draft(&out, f, tree, ProblemNotes(f, config.Options{})...); err != nil {
			t.Fatal(err)
		}
		draft := filepath.Join(t.TempDir(), "kahook.conf")
		os.WriteFile(draft, out.Bytes(), 0o644)
		cfg, err := config.Load(draft, config.Options{})
		if err != nil {
			t.Errorf("%s: the draft does not pass config check: %v\n%s", filepath.Base(f), err, out.String())
			continue
		}
		// Every problem config check finds in the draft is a FIXME in it.
		fixmes := commentText(out.String())
		for _, p := range cfg.Problems {
			if !strings.Contains(fixmes, strings.Join(strings.Fields(p.Msg), " ")) {
				t.Errorf("%s: config check of the draft reports %q, which the draft does not flag:\n%s", filepath.Base(f), p, out.String())
			}
		}
		orig, _ := config.Load(f, config.Options{})
		if got, want := len(cfg.Instances), len(tree.Find("vrrp_instance")); got != want {
			t.Errorf("%s: %d instances, want %d", filepath.Base(f), got, want)
		}
		if got, want := len(cfg.VirtualServers), len(orig.VirtualServers); got != want {
			t.Errorf("%s: %d virtual servers, want %d", filepath.Base(f), got, want)
		}
	}
}

func TestImportVIPs(t *testing.T) {
	src := `
global_defs { vrrp_garp_master_delay 2 }
vrrp_instance VI_1 {
    interface eth1
    virtual_ipaddress {
        192.168.1.10/24 dev eth1 label eth1:vip
        2001:db8::10/64
    }
    garp_master_repeat 3
}
vrrp_instance VI_2 {
    interface eth1
    virtual_ipaddress { 192.168.1.10 }
}
`
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(p, []byte(src), 0o644)
	tree, _, _ := config.ParseTree(p, config.Options{})
	var out bytes.Buffer
	Draft(&out, p, tree)
	cfg, err := config.Parse("draft", out.Bytes(), config.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	in := cfg.Instance("VI_1")
	if in == nil || in.Interface != "eth1" || len(in.VIPs) != 2 {
		t.Fatalf("VI_1 = %+v\n%s", in, out.String())
	}
	if v := in.VIPs[0]; v.Prefix.String() != "192.168.1.10/32" || v.Dev != "lo" || v.Label != "" {
		t.Errorf("IPv4 VIP must become a host address on lo: %+v", v)
	}
	if v := in.VIPs[1]; v.Prefix.String() != "2001:db8::10/128" || v.Dev != "eth1" {
		t.Errorf("IPv6 VIP goes on the announce interface: %+v", v)
	}
	if in.GARP.Repeat != 3 || in.GARP.Delay.Seconds() != 2 {
		t.Errorf("garp settings not carried over: %+v", in.GARP)
	}
	vi2 := cfg.Instance("VI_2")
	if vi2 == nil || len(vi2.VIPs) != 0 || vi2.Master.VIP || !strings.Contains(out.String(), "already a VIP of instance VI_1") {
		t.Errorf("a VIP of two instances goes to the first only: %+v\n%s", vi2, out.String())
	}
}

// TestImportUnowned (issue 19): a virtual_server whose address no
// vrrp_instance holds (keepalived's own sample has 10.10.10.2:1358) is
// flagged in the kahook.conf draft with what happens to it and what to
// do, and the keepalived.conf draft says why no vrrp_script checks it;
// an owned one is not flagged.
func TestImportUnowned(t *testing.T) {
	src := `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 50
    virtual_ipaddress { 192.168.200.11 }
}
virtual_server 10.10.10.2 1358 {
    protocol TCP
    real_server 192.168.200.2 1358 { TCP_CHECK { connect_timeout 3 } }
}
virtual_server 192.168.200.11 80 {
    protocol TCP
    real_server 192.168.200.3 80 { TCP_CHECK { connect_timeout 3 } }
}
`
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(p, []byte(src), 0o644)
	tree, _, err := config.ParseTree(p, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := Unowned(p, tree)
	if len(u) != 1 || !strings.HasPrefix(u[0], "virtual_server 10.10.10.2 1358 ("+p+":7) belongs to no instance") ||
		!strings.Contains(u[0], "add its address to the virtual_ipaddress") {
		t.Errorf("Unowned = %q", u)
	}
	var kh, ka bytes.Buffer
	Draft(&kh, p, tree)
	if got := strings.Join(strings.Fields(strings.ReplaceAll(kh.String(), "#", "")), " "); !strings.Contains(got, "FIXME: "+u[0]) {
		t.Errorf("the kahook.conf draft does not flag the unowned service:\n%s", kh.String())
	}
	if strings.Contains(kh.String(), "192.168.200.11 80 (") {
		t.Errorf("an owned service is flagged:\n%s", kh.String())
	}
	DraftKeepalived(&ka, p, tree)
	if !strings.Contains(ka.String(), `! FIXME: no vrrp_script runs "kahook sync" for virtual_server 10.10.10.2 1358`) {
		t.Errorf("the keepalived.conf draft does not say why the unowned service goes unchecked:\n%s", ka.String())
	}
	if !strings.Contains(ka.String(), "kahook_sync_VI_1") {
		t.Errorf("the owned service's checks are not wired:\n%s", ka.String())
	}
}

// TestImportWasOnlyWhenChanged: the draft's "# was:" comment marks a VIP
// import changed (prefix, dev, label dropped), not one it copied as is.
func TestImportWasOnlyWhenChanged(t *testing.T) {
	src := `
vrrp_instance VI_1 {
    interface eth0
    virtual_ipaddress {
        192.168.200.11
        192.168.200.12/24 dev eth0
        2001:db8::1
    }
}
`
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(p, []byte(src), 0o644)
	tree, _, _ := config.ParseTree(p, config.Options{})
	var out bytes.Buffer
	Draft(&out, p, tree)
	for _, tc := range []struct{ line, want string }{
		{"192.168.200.11", "        192.168.200.11\n"},
		{"192.168.200.12", "        192.168.200.12    # was: 192.168.200.12/24 dev eth0\n"},
		{"2001:db8::1", "        2001:db8::1\n"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("want %q in\n%s", tc.want, out.String())
			}
		})
	}
}

// commentText is the text of a draft's comment lines, joined and with
// runs of blanks as one space (comment() wraps long notes).
func commentText(draft string) string {
	var b strings.Builder
	for _, l := range strings.Split(draft, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "#") {
			b.WriteString(strings.TrimLeft(t, "# ") + " ")
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
