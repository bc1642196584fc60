package config

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// famConf is a virtual server of rs's family whose first real server,
// rs (line 5), carries checker (from line 6); a second real server keeps
// the virtual server when keepalived drops the first's checker.
func famConf(rs, checker string) string {
	vs, other := "192.0.2.10 80", "198.51.100.200 80"
	if strings.Contains(rs, ":") {
		vs, other = "2001:db8::10 80", "2001:db8::200 80"
	}
	return "virtual_server " + vs + " {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n" +
		" real_server " + rs + " {\n" + checker + "\n }\n" +
		" real_server " + other + " {\n }\n}\n"
}

// TestCheckerAddressFamilies: a checker's bindto and connect_ip (or the
// real server's address, connect_ip's default) of different address
// families, and a link-local destination without bind_if, as keepalived
// 2.2.7's check_api.c and check_smtp.c read them. ka is the verdict of
// `keepalived -t` (measured; re-measured where keepalived is installed,
// with kaSays in its output), line the line kahook names (0: none), and
// conn the connection kahook keeps: the bindto keepalived drops is
// dropped, so the check runs without a source address instead of failing
// every time ("no suitable address found").
func TestCheckerAddressFamilies(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		ka      bool
		kaSays  string
		want    string // "load", "problem", "warning"
		line    int
		checks  int    // checkers kahook keeps on the first real server
		conn    string // its first checker's (or SMTP host's) connect_ip/bindto/bind_port/bind_if
		wantMsg string
	}{
		{"TCP_CHECK bindto IPv6, real server IPv4", famConf("198.51.100.1 80", "  TCP_CHECK {\n   bindto 2001:db8::1\n  }"),
			false, "bindto address 2001:db8::1 does not match address family of connect_ip - skipping", "problem", 7, 1, "ip= bind= port=0 if=", "real server 198.51.100.1"},
		{"TCP_CHECK bindto link-local IPv6, real server IPv4", famConf("198.51.100.1 80", "  TCP_CHECK {\n   bindto fe80::1\n  }"),
			false, "bindto address fe80::1 does not match", "problem", 7, 1, "ip= bind= port=0 if=", "bindto fe80::1"},
		{"HTTP_GET bindto IPv4, real server IPv6", famConf("2001:db8::1 80", "  HTTP_GET {\n   url {\n    path /\n   }\n   bindto 192.0.2.1\n  }"),
			false, "bindto address 192.0.2.1 does not match", "problem", 10, 1, "ip= bind= port=0 if=", "real server 2001:db8::1"},
		{"SSL_GET bindto IPv4, real server IPv6", famConf("2001:db8::1 443", "  SSL_GET {\n   bindto 192.0.2.1\n   url {\n    path /\n   }\n  }"),
			false, "bindto address 192.0.2.1 does not match", "problem", 7, 1, "ip= bind= port=0 if=", ""},
		{"UDP_CHECK bindto IPv4, real server IPv6", famConf("2001:db8::1 53", "  UDP_CHECK {\n   bindto 192.0.2.1\n  }"),
			false, "bindto address 192.0.2.1 does not match", "problem", 7, 1, "ip= bind= port=0 if=", ""},
		{"DNS_CHECK bindto IPv4, real server IPv6", famConf("2001:db8::1 53", "  DNS_CHECK {\n   bindto 192.0.2.1\n  }"),
			false, "bindto address 192.0.2.1 does not match", "problem", 7, 1, "ip= bind= port=0 if=", ""},
		{"PING_CHECK bindto IPv4, real server IPv6", famConf("2001:db8::1 80", "  PING_CHECK {\n   bindto 192.0.2.1\n  }"),
			false, "bindto address 192.0.2.1 does not match", "problem", 7, 1, "ip= bind= port=0 if=", ""},
		{"bindto IPv6 after connect_ip IPv4, real server IPv6", famConf("2001:db8::1 80", "  TCP_CHECK {\n   connect_ip 192.0.2.5\n   bindto 2001:db8::2\n  }"),
			false, "bindto address 2001:db8::2 does not match", "problem", 8, 1, "ip=192.0.2.5 bind= port=0 if=", "connect_ip 192.0.2.5"},
		{"connect_ip IPv6 and bindto IPv6, real server IPv4", famConf("198.51.100.1 80", "  TCP_CHECK {\n   connect_ip 2001:db8::5\n   bindto 2001:db8::2\n  }"),
			true, "", "load", 0, 1, "ip=2001:db8::5 bind=2001:db8::2 port=0 if=", ""},
		{"bindto before a connect_ip of its family, real server of the other", famConf("198.51.100.1 80", "  TCP_CHECK {\n   bindto 2001:db8::2\n   connect_ip 2001:db8::5\n  }"),
			false, "bindto address 2001:db8::2 does not match", "problem", 7, 1, "ip=2001:db8::5 bind= port=0 if=", ""},
		{"connect_ip IPv4 after bindto IPv6 is ignored", famConf("2001:db8::1 80", "  TCP_CHECK {\n   bindto 2001:db8::2\n   connect_ip 192.0.2.5\n  }"),
			false, "connect_ip address 192.0.2.5 does not match address family of bindto - skipping", "problem", 8, 1, "ip= bind=2001:db8::2 port=0 if=", "the check connects to real server 2001:db8::1"},
		{"a mismatched bindto drops an earlier one", famConf("198.51.100.1 80", "  TCP_CHECK {\n   bindto 192.0.2.1\n   bindto 2001:db8::2\n  }"),
			false, "bindto address 2001:db8::2 does not match", "problem", 8, 1, "ip= bind= port=0 if=", ""},
		{"bind_port stays when its bindto is dropped", famConf("2001:db8::1 80", "  TCP_CHECK {\n   bind_port 1234\n   bindto 192.0.2.1\n  }"),
			false, "bindto address 192.0.2.1 does not match", "problem", 8, 1, "ip= bind= port=1234 if=", ""},
		{"connect_ip ::ffff:a.b.c.d is IPv6 to keepalived", famConf("2001:db8::1 80", "  TCP_CHECK {\n   connect_ip ::ffff:192.0.2.5\n   bindto 192.0.2.1\n  }"),
			false, "bindto address 192.0.2.1 does not match", "problem", 8, 1, "ip=::ffff:192.0.2.5 bind= port=0 if=", "connect_ip ::ffff:192.0.2.5"},
		{"same family", famConf("2001:db8::1 80", "  TCP_CHECK {\n   bindto 2001:db8::2\n  }"),
			true, "", "load", 0, 1, "ip= bind=2001:db8::2 port=0 if=", ""},
		{"SMTP_CHECK connect_ip IPv6 then bindto IPv4", famConf("198.51.100.1 25", "  SMTP_CHECK {\n   connect_ip 2001:db8::5\n   bindto 192.0.2.1\n  }"),
			false, "bindto address 192.0.2.1 does not match", "problem", 8, 1, "ip=2001:db8::5 bind= port=0 if=", ""},
		{"SMTP_CHECK host bindto IPv4, real server IPv6", famConf("2001:db8::1 25", "  SMTP_CHECK {\n   host {\n    bindto 192.0.2.1\n   }\n  }"),
			false, "bindto address 192.0.2.1 does not match", "problem", 8, 1, "host ip= bind= port=0 if=", ""},
		// keepalived -t passes this one, and its check then never runs
		// (the bind fails): kahook warns and drops the bindto (README).
		{"SMTP_CHECK bindto IPv4 without connect_ip, real server IPv6", famConf("2001:db8::1 25", "  SMTP_CHECK {\n   bindto 192.0.2.1\n  }"),
			true, "", "warning", 6, 1, "ip= bind= port=0 if=", "SMTP_CHECK: bindto 192.0.2.1 does not match the address family of real server 2001:db8::1"},
		{"SMTP_CHECK bindto of the real server's family", famConf("2001:db8::1 25", "  SMTP_CHECK {\n   bindto 2001:db8::2\n  }"),
			true, "", "load", 0, 1, "ip= bind=2001:db8::2 port=0 if=", ""},
		{"link-local connect_ip without bind_if", famConf("2001:db8::1 80", "  TCP_CHECK {\n   connect_ip fe80::5\n  }"),
			false, "Checker link local address fe80::5 requires a bind_if", "problem", 6, 0, "", "keepalived drops the checker"},
		{"link-local real server without bind_if", famConf("fe80::1 80", "  HTTP_GET {\n   url {\n    path /\n   }\n  }"),
			false, "Checker link local address fe80::1 requires a bind_if", "problem", 6, 0, "", ""},
		{"link-local connect_ip with bind_if", famConf("2001:db8::1 80", "  TCP_CHECK {\n   connect_ip fe80::5\n   bind_if eth0\n  }"),
			true, "", "load", 0, 1, "ip=fe80::5 bind= port=0 if=eth0", ""},
		{"SMTP_CHECK host link-local without bind_if", famConf("2001:db8::1 25", "  SMTP_CHECK {\n   host {\n    connect_ip fe80::5\n   }\n  }"),
			false, "Checker link local address fe80::5 requires a bind_if", "problem", 7, 1, "no hosts", ""},
		{"bind_if too long", famConf("2001:db8::1 80", "  TCP_CHECK {\n   bind_if abcdefghijklmnop\n  }"),
			false, "Interface name abcdefghijklmnop is too long - ignoring", "problem", 7, 1, "ip= bind= port=0 if=", ""},
	}
	_, kaErr := exec.LookPath("keepalived")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			var reported []Warning
			switch tc.want {
			case "load":
				if len(c.Problems) > 0 || len(c.Warnings) > 0 {
					t.Fatalf("want loaded cleanly, got problems %v warnings %v", c.Problems, c.Warnings)
				}
			case "problem":
				if len(c.Problems) != 1 || len(c.Warnings) > 0 {
					t.Fatalf("want one problem, got problems %v warnings %v", c.Problems, c.Warnings)
				}
				reported = c.Problems
			case "warning":
				if len(c.Problems) > 0 || len(c.Warnings) != 1 {
					t.Fatalf("want one warning, got problems %v warnings %v", c.Problems, c.Warnings)
				}
				reported = c.Warnings
			}
			for _, w := range reported {
				if w.Pos.Line != tc.line || !strings.Contains(w.Msg, tc.wantMsg) {
					t.Errorf("reported %s, want line %d saying %q", w, tc.line, tc.wantMsg)
				}
			}
			rs := c.VirtualServers[0].RealServers[0]
			if len(rs.Checks) != tc.checks {
				t.Fatalf("checkers = %d, want %d", len(rs.Checks), tc.checks)
			}
			if tc.checks > 0 {
				ck := rs.Checks[0]
				cn, pre := ck.Conn, ""
				if ck.SMTP != nil && strings.HasPrefix(tc.conn, "host ") {
					pre = "host "
					cn = ck.SMTP.Hosts[0]
				}
				got := pre + "ip=" + addrOrEmpty(cn.IP.String()) + " bind=" + addrOrEmpty(cn.BindTo.String()) + " port=" + strconv.Itoa(int(cn.BindPort)) + " if=" + cn.BindIf
				if tc.conn == "no hosts" {
					got = "hosts: " + strconv.Itoa(len(ck.SMTP.Hosts))
					tc.conn = "hosts: 0"
				}
				if got != tc.conn {
					t.Errorf("connection %q, want %q", got, tc.conn)
				}
			}
			if kaErr != nil {
				return
			}
			keepalivedAgrees(t, path, tc.ka, tc.kaSays)
		})
	}
}

func addrOrEmpty(s string) string {
	if s == "invalid IP" {
		return ""
	}
	return s
}

// TestServerAddressFamilies: the virtual server's own family rules
// (keepalived 2.2.7's check_parser.c): an ip_family that conflicts with
// the address is reported and ignored (the address's family stays, so
// the real servers of that family load), and a sorry server of the other
// family is reported at the virtual server (keepalived: at its '}') and
// skipped. ka is the verdict of `keepalived -t`.
func TestServerAddressFamilies(t *testing.T) {
	for _, tc := range []struct {
		name, text, kaSays string
		line               int
		servers, sorry     int
	}{
		{"ip_family conflicting with the address",
			"virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n ip_family inet6\n real_server 198.51.100.1 80 {\n }\n}\n",
			"Virtual server specified family inet6 conflicts with server family", 5, 1, 0},
		{"sorry server of the other family",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind NAT\n sorry_server 2001:db8::9 80\n real_server 198.51.100.1 80 {\n }\n}\n",
			"Address family of virtual server and sorry server 2001:db8::9 don't match - skipping sorry server.", 1, 1, 0},
		// The family is fixed in file order: by the first real server
		// that is not tunnelled (at its '}'), an ip_family or a
		// persistence_granularity, whichever comes first.
		{"ip_family after a real server of the other family",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 {\n }\n ip_family inet6\n}\n",
			"Virtual server specified family inet6 conflicts with server family", 6, 1, 0},
		{"ip_family before a real server of the other family",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind NAT\n ip_family inet6\n real_server 198.51.100.1 80 {\n }\n real_server 2001:db8::1 80 {\n }\n}\n",
			"Address family of virtual server and real server 198.51.100.1 don't match - skipping real server.", 5, 1, 0},
		{"persistence_granularity before a real server of the other family",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind NAT\n persistence_granularity 255.255.255.0\n real_server 2001:db8::1 80 {\n }\n real_server 198.51.100.1 80 {\n }\n}\n",
			"Address family of virtual server and real server 2001:db8::1 don't match - skipping real server.", 5, 1, 0},
		{"lb_kind TUN after a real server of the other family",
			"virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n real_server 2001:db8::1 80 {\n }\n lb_kind TUN\n real_server 198.51.100.1 80 {\n }\n}\n",
			"Address family of virtual server and real server 2001:db8::1 don't match - skipping real server.", 4, 1, 0},
		// alloc_ssvr gives the sorry server the forwarding method set so
		// far (none: not TUN), and vs_end_handler compares its family
		// with that method; the later lb_kind TUN comes too late.
		{"sorry server before lb_kind TUN",
			"virtual_server 10.0.0.1 80 {\n lb_algo rr\n protocol TCP\n sorry_server 2001:db8::1 80\n lb_kind TUN\n real_server 10.0.0.2 80 {\n }\n}\n",
			"Address family of virtual server and sorry server 2001:db8::1 don't match - skipping sorry server.", 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(c.Problems) != 1 || c.Problems[0].Pos.Line != tc.line {
				t.Errorf("problems %v, want one at line %d", c.Problems, tc.line)
			}
			if len(c.VirtualServers) != 1 {
				t.Fatalf("virtual servers %d, want 1", len(c.VirtualServers))
			}
			vs := c.VirtualServers[0]
			sorry := 0
			if vs.SorryServer != nil {
				sorry = 1
			}
			if len(vs.RealServers) != tc.servers || sorry != tc.sorry {
				t.Errorf("real servers %d sorry %d, want %d and %d", len(vs.RealServers), sorry, tc.servers, tc.sorry)
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			out, kerr := exec.Command("keepalived", "-t", "-f", path, "-l", "-n", "-i", diffConfigID).CombinedOutput()
			pass := checkerPass(out)
			if kerr == nil || !slices.ContainsFunc(pass, func(l string) bool { return strings.Contains(l, tc.kaSays) }) {
				t.Errorf("keepalived -t (err %v) does not say %q:\n%s", kerr, tc.kaSays, strings.Join(pass, "\n"))
			}
			if why := compareWithKeepalived(path); why != "" {
				t.Errorf("differs from keepalived: %s", why)
			}
		})
	}
}

// TestServerFamilyOrder: what a virtual server and its real servers load
// when the family is fixed by what comes first (keepalived 2.2.7's
// rs_end_handler, ip_family_handler, pgr_handler, vs_end_handler): the
// service's family, and each real server's forwarding method, which is
// the one set before its line (alloc_rs) unless it sets its own.
func TestServerFamilyOrder(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		family     int
		servers    []string // address and forwarding method of each (the sorry server last)
	}{
		{"ip_family after a real server keeps the server's family",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 {\n }\n ip_family inet6\n}\n",
			4, []string{"198.51.100.1 NAT"}},
		{"tunnelled IPv6 servers only",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind TUN\n real_server 2001:db8::1 {\n }\n real_server 2001:db8::2 {\n }\n}\n",
			6, []string{"2001:db8::1 TUN", "2001:db8::2 TUN"}},
		{"tunnelled servers of both families",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind TUN\n real_server 2001:db8::1 {\n }\n real_server 198.51.100.1 {\n }\n}\n",
			4, []string{"2001:db8::1 TUN", "198.51.100.1 TUN"}},
		{"tunnelled server before ip_family",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind TUN\n real_server 2001:db8::1 {\n }\n ip_family inet\n real_server 198.51.100.1 {\n }\n}\n",
			4, []string{"2001:db8::1 TUN", "198.51.100.1 TUN"}},
		{"lb_kind changed after a real server",
			"virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind DR\n real_server 198.51.100.1 80 {\n }\n lb_kind NAT\n real_server 198.51.100.2 80 {\n }\n}\n",
			4, []string{"198.51.100.1 DR", "198.51.100.2 NAT"}},
		{"lb_kind changed after a sorry server",
			"virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind DR\n sorry_server 198.51.100.9 80\n lb_kind NAT\n real_server 198.51.100.2 80 {\n }\n}\n",
			4, []string{"198.51.100.2 NAT", "sorry 198.51.100.9 DR"}},
		{"sorry_server_lvs_method after lb_kind",
			"virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind DR\n sorry_server 198.51.100.9 80\n sorry_server_lvs_method NAT\n real_server 198.51.100.2 80 {\n }\n}\n",
			4, []string{"198.51.100.2 DR", "sorry 198.51.100.9 NAT"}},
		{"tunnelled sorry server of the other family",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind TUN\n sorry_server 2001:db8::9\n lb_kind NAT\n real_server 198.51.100.2 {\n }\n}\n",
			4, []string{"198.51.100.2 NAT", "sorry 2001:db8::9 TUN"}},
		// The sorry server has no method at its line, so vs_end_handler
		// takes the family from it; validate_check_config then gives it
		// the service's lb_kind TUN.
		{"sorry server before lb_kind TUN fixes a fwmark's family",
			"virtual_server fwmark 5 {\n lb_algo rr\n sorry_server 2001:db8::9 0\n lb_kind TUN\n real_server 10.0.0.2 0 {\n }\n}\n",
			6, []string{"10.0.0.2 TUN", "sorry 2001:db8::9 TUN"}},
		{"sorry server after lb_kind TUN leaves a fwmark's family to the real servers",
			"virtual_server fwmark 5 {\n lb_algo rr\n lb_kind TUN\n sorry_server 2001:db8::9 0\n lb_kind NAT\n real_server 10.0.0.2 0 {\n }\n}\n",
			4, []string{"10.0.0.2 NAT", "sorry 2001:db8::9 TUN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(c.VirtualServers) != 1 {
				t.Fatalf("virtual servers %d, want 1; problems %v", len(c.VirtualServers), c.Problems)
			}
			vs := c.VirtualServers[0]
			var got []string
			for _, rs := range vs.RealServers {
				got = append(got, rs.Addr.String()+" "+rs.LBKind)
			}
			if ss := vs.SorryServer; ss != nil {
				got = append(got, "sorry "+ss.Addr.String()+" "+ss.LBKind)
			}
			if vs.Family != tc.family || !slices.Equal(got, tc.servers) {
				t.Errorf("family %d servers %q, want %d %q", vs.Family, got, tc.family, tc.servers)
			}
			if _, err := exec.LookPath("keepalived"); err == nil {
				if why := compareWithKeepalived(path); why != "" {
					t.Errorf("differs from keepalived: %s", why)
				}
			}
		})
	}
}

// TestSMTPCheckOwnBlock: keepalived 2.2.7's smtp_check_end_handler
// checks an SMTP_CHECK's own connection (to the real server unless it
// says otherwise) besides its host blocks when the block sets any
// connection option itself; then a link-local real server without
// bind_if drops the whole checker, hosts too ("Checker link local
// address fe80::1 requires a bind_if"). Without such an option the
// hosts alone are checked. hosts lists the connections kahook checks
// (its connect_ip, "rs" for the real server's address, and bind_if).
func TestSMTPCheckOwnBlock(t *testing.T) {
	const host = "   host {\n    connect_ip 2001:db8::5\n   }\n"
	smtp := func(rs, own string) string {
		return famConf(rs, "  SMTP_CHECK {\n"+own+host+"  }")
	}
	for _, tc := range []struct {
		name, text string
		ka         bool     // keepalived -t passes
		hosts      []string // nil: no checker
	}{
		{"connect_timeout", smtp("fe80::1 25", "   connect_timeout 3\n"), false, nil},
		{"connect_port", smtp("fe80::1 25", "   connect_port 26\n"), false, nil},
		{"bindto", smtp("fe80::1 25", "   bindto 2001:db8::2\n"), false, nil},
		{"bind_port", smtp("fe80::1 25", "   bind_port 1234\n"), false, nil},
		{"fwmark", smtp("fe80::1 25", "   fwmark 7\n"), false, nil},
		{"fwmark 0 sets nothing", smtp("fe80::1 25", "   fwmark 0\n"), true, []string{"2001:db8::5"}},
		{"no option: the hosts alone", smtp("fe80::1 25", "   helo_name x\n"), true, []string{"2001:db8::5"}},
		{"bind_if: the block and the host", smtp("fe80::1 25", "   bind_if eth0\n"), true, []string{"rs%eth0", "2001:db8::5"}},
		{"connect_ip: the block and the host", smtp("fe80::1 25", "   connect_ip 2001:db8::6\n"), true, []string{"2001:db8::6", "2001:db8::5"}},
		{"global real server with connect_timeout", smtp("2001:db8::1 25", "   connect_timeout 3\n"), true, []string{"rs", "2001:db8::5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			rs := c.VirtualServers[0].RealServers[0]
			var got []string
			if len(rs.Checks) == 1 {
				got = []string{}
				for _, h := range rs.Checks[0].SMTP.Hosts {
					s := "rs"
					if h.IP.IsValid() {
						s = h.IP.String()
					}
					if h.BindIf != "" {
						s += "%" + h.BindIf
					}
					got = append(got, s)
				}
			}
			if len(rs.Checks) > 1 || !slices.Equal(got, tc.hosts) || (got == nil) != (tc.hosts == nil) {
				t.Errorf("checkers %d hosts %q, want hosts %q", len(rs.Checks), got, tc.hosts)
			}
			if tc.ka == (len(c.Problems) > 0) {
				t.Errorf("problems %v, want some: %v", c.Problems, !tc.ka)
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			out, kerr := exec.Command("keepalived", "-t", "-f", path, "-l", "-n", "-i", diffConfigID).CombinedOutput()
			if (kerr == nil) != tc.ka {
				t.Errorf("keepalived -t passes=%v, want %v:\n%s", kerr == nil, tc.ka, out)
			}
			if !tc.ka && !strings.Contains(string(out), "Checker link local address fe80::1 requires a bind_if") {
				t.Errorf("keepalived -t does not blame fe80::1:\n%s", out)
			}
			if why := compareWithKeepalived(path); why != "" {
				t.Errorf("differs from keepalived: %s", why)
			}
		})
	}
}

// TestSorryServerReplaced: a second sorry_server line replaces the first
// with a new sorry server (keepalived 2.2.7's alloc_ssvr): not inhibited,
// whatever sorry_server_inhibit said of the first, and with the
// forwarding method set at its own line. keepalived -t passes them all.
func TestSorryServerReplaced(t *testing.T) {
	const head = "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind DR\n"
	const tail = " real_server 198.51.100.2 80 {\n }\n}\n"
	for _, tc := range []struct {
		name, body string
		want       string // address, method and inhibit of the sorry server kahook keeps
	}{
		{"inhibit of the replaced one", " sorry_server 198.51.100.8 80\n sorry_server_inhibit\n sorry_server 198.51.100.9 80\n", "198.51.100.9 DR inhibit=false"},
		{"inhibit after the second", " sorry_server 198.51.100.8 80\n sorry_server 198.51.100.9 80\n sorry_server_inhibit\n", "198.51.100.9 DR inhibit=true"},
		{"method of the replaced one", " sorry_server 198.51.100.8 80\n sorry_server_lvs_method NAT\n sorry_server 198.51.100.9 80\n", "198.51.100.9 DR inhibit=false"},
		{"a bad second line keeps the first", " sorry_server 198.51.100.8 80\n sorry_server_inhibit\n sorry_server 198.51.100.300 80\n", "198.51.100.8 DR inhibit=true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, head+tc.body+tail)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			ss := c.VirtualServers[0].SorryServer
			if ss == nil {
				t.Fatalf("no sorry server; problems %v", c.Problems)
			}
			got := ss.Addr.String() + " " + ss.LBKind + " inhibit=" + strconv.FormatBool(ss.InhibitOnFailure)
			if got != tc.want {
				t.Errorf("sorry server %q, want %q", got, tc.want)
			}
			if _, err := exec.LookPath("keepalived"); err == nil {
				if why := compareWithKeepalived(path); why != "" {
					t.Errorf("differs from keepalived: %s", why)
				}
			}
		})
	}
}

// TestGroupFamily: a `virtual_server group` whose family (set by its
// ip_family, persistence_granularity, a sorry or real server that is not
// tunnelled) is not the group's, or is set at all for a group of both
// families, is dropped as keepalived 2.2.7's link_vsg_to_vs drops it: with
// a log line only, so `keepalived -t` passes (kahook: a warning). A sorry
// server before lb_kind TUN counts (F1).
func TestGroupFamily(t *testing.T) {
	vs := func(entries, body string) string {
		return "virtual_server_group G {\n" + entries + "}\nvirtual_server group G {\n lb_algo rr\n protocol TCP\n" + body + "}\n"
	}
	for _, tc := range []struct {
		name, text string
		family     int // of the virtual server kahook keeps; 0: dropped
	}{
		{"sorry server before lb_kind TUN", vs(" 10.0.0.1 80\n", " sorry_server 2001:db8::9 80\n lb_kind TUN\n real_server 10.0.0.2 80 {\n }\n"), 0},
		{"sorry server after lb_kind TUN", vs(" 10.0.0.1 80\n", " lb_kind TUN\n sorry_server 2001:db8::9 80\n real_server 10.0.0.2 80 {\n }\n"), 4},
		{"ip_family inet6, IPv4 group", vs(" 10.0.0.1 80\n", " lb_kind NAT\n ip_family inet6\n real_server 2001:db8::2 80 {\n }\n"), 0},
		{"NAT real server of a group of both families", vs(" 2001:db8::1 80\n fwmark 1 inet\n", " lb_kind NAT\n real_server 10.0.0.2 80 {\n }\n"), 0},
		{"same family", vs(" 10.0.0.1 80\n", " lb_kind NAT\n real_server 10.0.0.2 80 {\n }\n"), 4},
		{"fwmark inet6 entry", vs(" fwmark 1 inet6\n", " lb_kind NAT\n real_server 2001:db8::2 80 {\n }\n"), 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			got := 0
			if len(c.VirtualServers) == 1 {
				got = c.VirtualServers[0].Family
			}
			if got != tc.family || len(c.VirtualServers) > 1 {
				t.Errorf("virtual servers %d, family %d; want family %d (0: dropped)", len(c.VirtualServers), got, tc.family)
			}
			if (len(c.Warnings) == 1) != (tc.family == 0) || len(c.Warnings) > 1 {
				t.Errorf("warnings %v, want one exactly when dropped", c.Warnings)
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			if why := compareWithKeepalived(path); why != "" {
				t.Errorf("differs from keepalived: %s", why)
			}
		})
	}
}
