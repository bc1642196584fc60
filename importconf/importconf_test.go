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
		if err := Draft(&out, f, tree); err != nil {
			t.Fatal(err)
		}
		draft := filepath.Join(t.TempDir(), "kahook.conf")
		os.WriteFile(draft, out.Bytes(), 0o644)
		cfg, err := config.Load(draft, config.Options{})
		if err != nil {
			t.Errorf("%s: the draft does not pass config check: %v\n%s", filepath.Base(f), err, out.String())
			continue
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
