package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, text string) *Config {
	t.Helper()
	dir := writeFiles(t, map[string]string{"kahook.conf": text})
	cfg, err := Load(filepath.Join(dir, "kahook.conf"), Options{ConfigID: "node1"})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg
}

func TestSyntaxCommentsBracesQuotes(t *testing.T) {
	cfg := mustLoad(t, `
! a comment
# another
global_defs { state_dir "/run/ka hook" }   # comment after a block
virtual_server 10.0.0.1 80
{
    lb_algo rr   ! trailing comment
    lb_kind DR
    real_server 10.0.0.11 80 { weight 3 }
    real_server 10.0.0.12 80 {
        weight 2
        MISC_CHECK {
            misc_path "/usr/bin/check --name 'a b'"   # quoted with spaces
            misc_dynamic
        }
    }
}
`)
	if cfg.Global.StateDir != "/run/ka hook" {
		t.Errorf("state_dir = %q", cfg.Global.StateDir)
	}
	if len(cfg.VirtualServers) != 1 {
		t.Fatalf("virtual servers = %d", len(cfg.VirtualServers))
	}
	vs := cfg.VirtualServers[0]
	if vs.LBAlgo != "rr" || vs.LBKind != "DR" || vs.Addr != netip.MustParseAddrPort("10.0.0.1:80") {
		t.Errorf("vs = %+v", vs)
	}
	if len(vs.RealServers) != 2 || vs.RealServers[0].Weight != 3 || vs.RealServers[1].Weight != 2 {
		t.Fatalf("real servers = %+v", vs.RealServers)
	}
	m := vs.RealServers[1].Checks[0].Misc
	if m.Path != "/usr/bin/check --name 'a b'" || !m.Dynamic {
		t.Errorf("misc = %+v", m)
	}
	argv, err := SplitCommand(m.Path)
	if err != nil || strings.Join(argv, "|") != "/usr/bin/check|--name|a b" {
		t.Errorf("argv = %q, %v", argv, err)
	}
}

func TestIncludeGlobRelativeToIncludingFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"etc/kahook.conf":   "include conf.d/*.conf\ninclude conf.d/none-*.conf\n",
		"etc/conf.d/a.conf": "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.11 80 {\n }\n}\n",
		"etc/conf.d/b.conf": "include ../common/vs.inc\n",
		"etc/common/vs.inc": "virtual_server 10.0.0.2 443 {\n real_server 10.0.0.12 443 {\n }\n}\n",
	})
	cfg, err := Load(filepath.Join(dir, "etc/kahook.conf"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.VirtualServers) != 2 {
		t.Fatalf("got %d virtual servers, want 2", len(cfg.VirtualServers))
	}
	if got := cfg.VirtualServers[1].Pos; !strings.HasSuffix(got.File, "common/vs.inc") || got.Line != 1 {
		t.Errorf("position of included block = %v", got)
	}
	if len(cfg.Files) != 4 {
		t.Errorf("files read = %v", cfg.Files)
	}
}

func TestDefinitionsAndConditionals(t *testing.T) {
	cfg := mustLoad(t, `
$VIP=192.168.1.10
$PORT= 8080
$RS=real_server 10.1.1.1 ${PORT} { \
  weight 7 \
}
@node1 virtual_server $VIP $PORT {
@^node1  lb_algo sh
@node2   lb_algo lc
@^node2  lb_algo wrr
  $RS
}
@node2 virtual_server 10.9.9.9 1 {
@node2 }
`)
	if len(cfg.VirtualServers) != 1 {
		t.Fatalf("virtual servers = %d, want 1 (the @node2 one is skipped)", len(cfg.VirtualServers))
	}
	vs := cfg.VirtualServers[0]
	if vs.Addr != netip.MustParseAddrPort("192.168.1.10:8080") {
		t.Errorf("addr = %v", vs.Addr)
	}
	if vs.LBAlgo != "wrr" {
		t.Errorf("lb_algo = %s, want wrr (only '@^node2' applies to node1)", vs.LBAlgo)
	}
	if len(vs.RealServers) != 1 || vs.RealServers[0].Port != 8080 || vs.RealServers[0].Weight != 7 {
		t.Errorf("multi-line definition not expanded: %+v", vs.RealServers)
	}
}

func TestInstanceBlockAndOwnership(t *testing.T) {
	cfg := mustLoad(t, `
instance VI_1 {
    interface eth0
    virtual_ipaddress {
        10.0.0.10
        10.0.0.11/32 dev lo label lo:vip
        2001:db8::10
    }
    fwmark 7
    master { ipvs load }
    backup {
        vip on
        sysctl realserver
    }
    garp_master_repeat 3
    garp_master_delay 2.5
    garp_master_refresh 60
}
instance VI_2 {
    interface eth1
    virtual_ipaddress { 10.0.1.10 }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    real_server 10.0.0.21 80 { }
}
virtual_server 10.0.1.10 80 {
    protocol TCP
    real_server 10.0.0.21 80 { }
}
virtual_server fwmark 7 { real_server 10.0.0.21 80 { } }
virtual_server 10.9.9.9 80 {
    protocol TCP
    real_server 10.0.0.21 80 { }
}
`)
	in := cfg.Instance("VI_1")
	if in == nil || in.Interface != "eth0" || len(in.VIPs) != 3 {
		t.Fatalf("instance = %+v", in)
	}
	if v := in.VIPs[1]; v.Dev != "lo" || v.Label != "lo:vip" || v.Prefix.Bits() != 32 {
		t.Errorf("vip = %+v", v)
	}
	if in.VIPs[2].Prefix.Bits() != 128 {
		t.Errorf("IPv6 VIP without length must be /128: %v", in.VIPs[2].Prefix)
	}
	if !in.Backup.VIP || in.Backup.Sysctl != RoleRealServer || in.Backup.IPVS != IPVSRemove {
		t.Errorf("backup actions = %+v", in.Backup)
	}
	if in.Master != DefaultMaster {
		t.Errorf("master actions = %+v", in.Master)
	}
	if in.GARP.Repeat != 3 || in.GARP.Delay != 2500*time.Millisecond || in.GARP.Refresh != time.Minute {
		t.Errorf("garp = %+v", in.GARP)
	}
	owners := []string{}
	for _, vs := range cfg.VirtualServers {
		owners = append(owners, vs.Instance)
	}
	if strings.Join(owners, ",") != "VI_1,VI_2,VI_1," {
		t.Errorf("owners = %q", owners)
	}
	if s := Summarize(cfg); len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "10.9.9.9") {
		t.Errorf("warnings = %q", s.Warnings)
	}
}

func TestKeepalivedInheritanceAndDefaults(t *testing.T) {
	cfg := mustLoad(t, `
virtual_server 10.0.0.1 443 {
    lb_kind TUN
    weight 5
    inhibit_on_failure
    connect_timeout 2
    persistence_granularity 255.255.255.0
    real_server 10.0.0.11 443 {
        lvs_method DR
        HTTP_GET { url { path /h } }
        SSL_GET {
            url {
                path /x
                status_code 200 301-302
            }
            connect_timeout 9
            retry 4
        }
    }
    real_server 10.0.0.12 443 {
        inhibit_on_failure off
        MISC_CHECK { misc_path /bin/true }
        TCP_CHECK { }
    }
    sorry_server 10.0.0.99 443
}
`)
	vs := cfg.VirtualServers[0]
	if vs.PersistenceTimeout != DefaultPersistence {
		t.Errorf("persistence_granularity alone must imply persistence_timeout 360: %v", vs.PersistenceTimeout)
	}
	r1, r2 := vs.RealServers[0], vs.RealServers[1]
	if r1.LBKind != "DR" || r2.LBKind != "TUN" || vs.SorryServer.LBKind != "TUN" {
		t.Errorf("lb kinds: %s %s %s", r1.LBKind, r2.LBKind, vs.SorryServer.LBKind)
	}
	if r1.Weight != 5 || !r1.InhibitOnFailure || r2.InhibitOnFailure {
		t.Errorf("inherit: r1 %+v r2 %+v", r1, r2)
	}
	h, s := r1.Checks[0], r1.Checks[1]
	if h.Retry != 1 || h.DelayBeforeRetry != 3*time.Second || h.Conn.Timeout != 2*time.Second {
		t.Errorf("HTTP_GET defaults: %+v", h)
	}
	if s.Retry != 4 || s.Conn.Timeout != 9*time.Second || s.HTTP.URLs[0].StatusCode != "200 301-302" {
		t.Errorf("SSL_GET: %+v", s)
	}
	m, tc := r2.Checks[0], r2.Checks[1]
	if m.Retry != 0 || m.Misc.Timeout != DefaultDelayLoop {
		t.Errorf("MISC_CHECK defaults: retry %d timeout %v", m.Retry, m.Misc.Timeout)
	}
	if tc.Retry != 1 || tc.DelayBeforeRetry != time.Second {
		t.Errorf("TCP_CHECK defaults: %+v", tc)
	}
}

func TestStatusCodes(t *testing.T) {
	set, ok := ParseStatusCodes("200-204 301 418")
	if !ok {
		t.Fatal("valid spec rejected")
	}
	for code, want := range map[int]bool{199: false, 200: true, 204: true, 205: false, 301: true, 418: true, 500: false} {
		if set.Has(code) != want {
			t.Errorf("Has(%d) = %v", code, !want)
		}
	}
	for _, bad := range []string{"", "99", "600", "300-200", "2xx", "200-"} {
		if _, ok := ParseStatusCodes(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// samples is what Debian's keepalived ships; counts are virtual servers
// and real servers as `config check` must report them.
var sampleCounts = map[string][2]int{
	"keepalived.conf.SSL_GET":              {2, 2},
	"keepalived.conf.SMTP_CHECK":           {1, 3},
	"keepalived.conf.quorum":               {1, 10},
	"keepalived.conf.fwmark":               {1, 2},
	"keepalived.conf.virtual_server_group": {1, 2},
	"keepalived.conf.vrrp.sync":            {0, 0},
	"keepalived.conf.misc_check_arg":       {1, 1},
	"keepalived.conf.IPv6":                 {1, 1},
}

const samplesDir = "/usr/share/doc/keepalived/samples"

func TestKeepalivedSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "keepalived.conf.*"))
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("keepalived samples missing: .ci/run installs the keepalived package")
		}
		t.Skip("keepalived package not installed")
	}
	for _, f := range files {
		cfg, err := Load(f, Options{})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		want, ok := sampleCounts[filepath.Base(f)]
		if !ok {
			continue
		}
		s := Summarize(cfg)
		if s.VirtualServers != want[0] || s.RealServers != want[1] {
			t.Errorf("%s: %d virtual / %d real servers, want %d / %d", filepath.Base(f), s.VirtualServers, s.RealServers, want[0], want[1])
		}
	}
	for name := range sampleCounts {
		if _, err := os.Stat(filepath.Join(samplesDir, name)); err != nil {
			t.Errorf("sample %s missing: %v", name, err)
		}
	}
}

// classicConfig is the two-instance director of the keepalived docs with
// SSL_GET and HTTP_GET services and a sorry server.
const classicConfig = `
global_defs {
   notification_email { admin@example.com }
   router_id LVS_MAIN
}
vrrp_sync_group VG1 {
   group { VI_1
           VI_2 }
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication { auth_type PASS
                     auth_pass k3l1ve1 }
    virtual_ipaddress { 192.168.200.10 }
}
vrrp_instance VI_2 {
    state MASTER
    interface eth1
    virtual_router_id 52
    priority 150
    virtual_ipaddress { 10.20.40.1 }
}
virtual_server 192.168.200.10 443 {
    delay_loop 6
    lb_algo wlc
    lb_kind NAT
    persistence_timeout 600
    protocol TCP
    sorry_server 10.20.40.200 443
    real_server 10.20.40.10 443 {
        weight 1
        SSL_GET {
            url {
                path /health
                digest 4f53cda18c2baa0c0354bb5f9a3ecbe5
            }
            connect_timeout 3
        }
    }
    real_server 10.20.40.11 443 {
        weight 2
        SSL_GET {
            url { path /health }
            connect_timeout 3
        }
    }
}
virtual_server 192.168.200.10 80 {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    sorry_server 10.20.40.200 80
    real_server 10.20.40.10 80 {
        HTTP_GET {
            url { path / }
            url {
                path /status
                status_code 200-299
            }
        }
    }
    real_server 10.20.40.11 80 {
        HTTP_GET { url { path / } }
    }
    real_server 10.20.40.12 80 {
        HTTP_GET { url { path / } }
    }
}
`

func TestClassicTwoInstanceConfig(t *testing.T) {
	cfg := mustLoad(t, classicConfig)
	s := Summarize(cfg)
	if s.VirtualServers != 2 || s.RealServers != 5 || s.SorryServers != 2 || s.Checks != 5 {
		t.Errorf("summary = %+v", s)
	}
	if cfg.Tree.First("vrrp_instance") == nil || len(cfg.Tree.Find("vrrp_instance")) != 2 {
		t.Error("vrrp_instance blocks must stay in the tree for doctor/import")
	}
}

func TestMalformed(t *testing.T) {
	cases := []struct {
		name, text string
		line       int
		want       string
	}{
		{"unclosed block", "virtual_server 10.0.0.1 80 {\n lb_algo rr\n", 1, "not closed"},
		{"missing include", "\n\ninclude nope.conf\n", 3, "no such file"},
		{"quoted include", "\ninclude \"kahook.conf\"\n", 2, "quotes as part of the file name"},
		{"unknown lb_algo", "virtual_server 10.0.0.1 80 {\n lb_algo fastest\n}\n", 2, "unknown value"},
		{"negative weight", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  weight -1\n }\n}\n", 3, "weight"},
		{"digest not 32 hex", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n    path /\n    digest abc\n   }\n  }\n }\n}\n", 6, "32 hexadecimal"},
		{"digest not hex", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n    path /\n    digest zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n   }\n  }\n }\n}\n", 6, "32 hexadecimal"},
		{"status code range", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n    path /\n    status_code 700\n   }\n  }\n }\n}\n", 6, "100-599"},
		{"url without path", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n    digest 4f53cda18c2baa0c0354bb5f9a3ecbe5\n   }\n  }\n }\n}\n", 4, "missing path"},
		{"http without url", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n  }\n }\n}\n", 3, "no url"},
		{"misc without path", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  MISC_CHECK {\n   misc_dynamic\n  }\n }\n}\n", 3, "missing misc_path"},
		{"protocol", "virtual_server 10.0.0.1 80 {\n protocol ICMP\n}\n", 2, "unknown value"},
		{"fwmark zero", "virtual_server fwmark 0 {\n}\n", 1, "fwmark"},
		{"unknown group", "virtual_server group NOPE {\n}\n", 1, "no virtual_server_group NOPE"},
		{"duplicate virtual server", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n }\n}\nvirtual_server 10.0.0.1 80 {\n real_server 10.0.0.3 80 {\n }\n}\n", 5, "already defined"},
		{"virtual server without block", "virtual_server 10.0.0.1 80\n", 1, "expected '{'"},
		{"connect_timeout text", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  TCP_CHECK {\n   connect_timeout soon\n  }\n }\n}\n", 4, "time in seconds"},
		{"connect_ip bad", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  TCP_CHECK {\n   connect_ip 1.2.3\n  }\n }\n}\n", 4, "not a valid IP"},
		{"quorum zero", "virtual_server 10.0.0.1 80 {\n quorum 0\n}\n", 2, "quorum"},
		{"instance without interface", "instance VI_1 {\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n", 1, "missing 'interface"},
		{"instance bad vip", "instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  10.0.0.256\n }\n}\n", 4, "not an IP address"},
		{"vip on lo not host", "instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  10.0.0.1/24\n }\n}\n", 4, "must be /32"},
		{"vip bad label", "instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  10.0.0.1 label eth0:1\n }\n}\n", 4, "label"},
		{"unknown action", "instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  10.0.0.1\n }\n master {\n  ipvs reload\n }\n}\n", 7, "unknown value"},
		{"duplicate instance", "instance A {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\ninstance A {\n interface eth0\n virtual_ipaddress { 10.0.0.2 }\n}\n", 5, "already defined"},
		{"unterminated quote", "global_defs {\n state_dir \"/run\n}\n", 2, "unterminated quote"},
		{"persistence timeout", "virtual_server 10.0.0.1 80 {\n persistence_timeout 99999999\n}\n", 2, "persistence timeout"},
		{"granularity", "virtual_server 10.0.0.1 80 {\n persistence_granularity 300\n}\n", 2, "reads it as the netmask 0.0.1.44"},
		{"two keywords on one line", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n    path / status_code 200\n   }\n  }\n }\n}\n", 5, "each keyword on its own line"},
		{"backup keeps vip without realserver", "instance A {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n backup {\n  vip on\n }\n}\n", 1, "would answer ARP"},
		{"two owners", "instance A {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\ninstance B {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\nvirtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n }\n}\n", 9, "several instances"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"kahook.conf": tc.text})
			path := filepath.Join(dir, "kahook.conf")
			_, err := Load(path, Options{})
			if err == nil {
				t.Fatal("accepted")
			}
			if !IsConfigError(err) {
				t.Fatalf("not a config error: %T %v", err, err)
			}
			var first *Error
			if !errors.As(err, &first) {
				t.Fatalf("no positioned error in %v", err)
			}
			// Errors come with keepalived's problems, in line order: one
			// of them is this case's.
			wantPrefix := path + ":" + strconv.Itoa(tc.line) + ":"
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, wantPrefix) && strings.Contains(line, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("error %q has no line starting with %q that says %q", err, wantPrefix, tc.want)
			}
		})
	}
}

func TestIncludeLoop(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.conf": "# a\ninclude b.conf\n",
		"b.conf": "\n\ninclude a.conf\n",
	})
	_, err := Load(filepath.Join(dir, "a.conf"), Options{})
	if err == nil || !strings.Contains(err.Error(), "include loop") {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasPrefix(err.Error(), filepath.Join(dir, "b.conf")+":3:") {
		t.Errorf("loop must be reported where it closes: %v", err)
	}
}

func TestSecureRefusesWritableConfig(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ownership rule applies to root")
	}
	dir := writeFiles(t, map[string]string{"kahook.conf": "global_defs {\n}\n"})
	p := filepath.Join(dir, "kahook.conf")
	if err := CheckSecure(p); err != nil {
		t.Fatalf("root-owned 0644 file in a 0700 dir refused: %v", err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := CheckSecure(p); err == nil || !strings.Contains(err.Error(), "writable by non-root") {
		t.Errorf("world-writable config accepted: %v", err)
	}
	os.Chmod(p, 0o644)
	if err := os.Chown(p, 65534, 0); err != nil {
		t.Fatal(err)
	}
	if err := CheckSecure(p); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("config owned by nobody accepted: %v", err)
	}
}

// TestSummaryUnownedWording: config check's warning about a virtual
// server no instance owns says why in the service's own terms: a fwmark
// or group service has no address of its own.
func TestSummaryUnownedWording(t *testing.T) {
	const insts = "instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\ninstance VI_2 {\n interface eth0\n virtual_ipaddress { 10.0.0.2 }\n}\n"
	for _, tc := range []struct{ name, vs, want string }{
		{"address", "virtual_server 10.0.0.9 80 {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\n", "virtual_server 10.0.0.9:tcp:80 belongs to no instance (its address is no instance's VIP)"},
		{"fwmark", "virtual_server fwmark 7 {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\n", "virtual_server fwmark 7 belongs to no instance (no instance lists 'fwmark 7')"},
		{"group", "virtual_server_group G {\n 10.0.0.9 80\n}\nvirtual_server group G {\n protocol TCP\n real_server 10.0.0.11 80 { }\n}\n", "virtual_server group G belongs to no instance (no instance's VIP or fwmark is in the group)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize(mustLoad(t, insts+tc.vs))
			if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], tc.want) {
				t.Errorf("summary %+v, want one warning with %q", s, tc.want)
			}
		})
	}
}
