package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestServerAddressForms: a virtual or real server's, connect_ip's and
// bindto's address is read as keepalived's inet_stosockaddr reads it: a
// prefix or range end after it is left out (10.0.0.2/24 is 10.0.0.2;
// kahook refused the config before), and an address with a ':' is IPv6,
// so ::ffff:10.0.0.2 in an IPv4 virtual server is a server of the other
// family, skipped as keepalived skips it (kahook loaded it as IPv4
// before). An IPv4-mapped address that keepalived would load into IPVS
// as IPv6 is refused, a deliberate difference. Each case is compared
// with keepalived -t.
func TestServerAddressForms(t *testing.T) {
	conf := func(vs, rs, check string) string {
		return "virtual_server " + vs + " 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server " + rs + " 80 {\n" + check + " }\n}\n"
	}
	tun := func(text string) string { return strings.Replace(text, "lb_kind NAT", "lb_kind TUN", 1) }
	tcp := func(k, v string) string { return "  TCP_CHECK {\n   " + k + " " + v + "\n  }\n" }
	for _, tc := range []struct {
		name, text string
		ka         bool   // keepalived -t passes
		want       string // "vs rs connect_ip bindto" as kahook loads them; "problem" or "deliberate"
	}{
		{"prefix on a real server", conf("10.0.0.1", "10.0.0.2/24", ""), true, "10.0.0.1:80 10.0.0.2:80 invalid IP invalid IP"},
		{"range on a real server", conf("10.0.0.1", "10.0.0.2-9", ""), true, "10.0.0.1:80 10.0.0.2:80 invalid IP invalid IP"},
		{"prefix on a virtual server", conf("10.0.0.1/32", "10.0.0.2", ""), true, "10.0.0.1:80 10.0.0.2:80 invalid IP invalid IP"},
		{"anything after the slash", conf("10.0.0.1", "10.0.0.2/abc", ""), true, "10.0.0.1:80 10.0.0.2:80 invalid IP invalid IP"},
		{"IPv6 with a prefix", conf("2001:db8::1", "2001:db8::2/64", ""), true, "[2001:db8::1]:80 [2001:db8::2]:80 invalid IP invalid IP"},
		{"connect_ip with a prefix", conf("10.0.0.1", "10.0.0.2", tcp("connect_ip", "10.0.0.9/24")), true, "10.0.0.1:80 10.0.0.2:80 10.0.0.9 invalid IP"},
		{"bindto with a range", conf("10.0.0.1", "10.0.0.2", tcp("bindto", "10.0.0.7-9")), true, "10.0.0.1:80 10.0.0.2:80 invalid IP 10.0.0.7"},
		{"IPv4-mapped real server in an IPv4 service", conf("10.0.0.1", "::ffff:10.0.0.2", ""), false, "problem"},
		{"a range end of the other family", conf("10.0.0.1", "10.0.0.2-2001:db8::", ""), false, "problem"},
		{"IPv4-mapped real server in an IPv6 service", conf("2001:db8::1", "::ffff:10.0.0.2", ""), true, "deliberate"},
		{"IPv4-mapped virtual server", conf("::ffff:10.0.0.1", "2001:db8::2", ""), true, "deliberate"},
		// A tunnelled server may be of the other family, so keepalived
		// loads a mapped one in either service (as IPv6), and kahook
		// wrote [c0a8:c834::] for ::ffff:192.168.200.52 (VM), then
		// deleted and re-added it on every apply.
		{"IPv4-mapped TUN server in an IPv6 service", tun(conf("2001:db8::1", "::ffff:10.0.0.2", "")), true, "deliberate"},
		{"IPv4-mapped TUN server in an IPv4 service", tun(conf("10.0.0.1", "::ffff:10.0.0.2", "")), true, "deliberate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			switch tc.want {
			case "deliberate":
				if err == nil || !deliberate(err) {
					t.Errorf("loaded (%v), want a deliberate refusal", err)
				}
			case "problem":
				if err != nil || len(c.Problems) == 0 || len(c.VirtualServers) > 0 && len(c.VirtualServers[0].RealServers) > 0 {
					t.Errorf("error %v, problems %v: want the real server skipped with a problem", err, c.Problems)
				}
			default:
				if err != nil || len(c.Problems) > 0 {
					t.Fatalf("error %v, problems %v", err, c.Problems)
				}
				vs := c.VirtualServers[0]
				rs := vs.RealServers[0]
				var conn Conn
				if len(rs.Checks) > 0 {
					conn = rs.Checks[0].Conn
				}
				got := vs.Addr.String() + " " + rs.Endpoint() + " " + conn.IP.String() + " " + conn.BindTo.String()
				if got != tc.want {
					t.Errorf("loaded %q, want %q", got, tc.want)
				}
				// A range or prefix written on one address: one address,
				// and a warning saying so.
				warned := false
				for _, w := range c.Warnings {
					warned = warned || strings.Contains(w.Msg, "keepalived reads only the address")
				}
				if suffixed := strings.ContainsAny(strings.ReplaceAll(tc.text, "::", ""), "-") || strings.Count(tc.text, "/") > 0; warned != suffixed {
					t.Errorf("warned %v, want %v: %v", warned, suffixed, c.Warnings)
				}
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			keepalivedAgrees(t, path, tc.ka, "")
		})
	}
}

// TestGroupEntryForms (hostile review C1): a virtual_server_group's
// address entries follow the same rule: an entry with a ':' is IPv6 (a
// range from an IPv4 start to a ::ffff: end is no entry, reported and
// skipped as keepalived skips it), an IPv4-mapped entry is refused (the
// deliberate difference above), and a group with IPv4 and IPv6 entries
// and a fwmark without a family is removed with a problem, as
// keepalived's vsg_handler removes it. Each case against keepalived -t.
func TestGroupEntryForms(t *testing.T) {
	conf := func(entries, rs string) string {
		return "virtual_server_group G {\n" + entries + "}\nvirtual_server group G {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server " + rs + " 80 {\n }\n}\n"
	}
	for _, tc := range []struct {
		name, text string
		ka         bool
		want       string // "ok", "problem" (at the entry or group) or "deliberate"
	}{
		{"IPv4 range", conf(" 10.0.0.1-3 80\n", "10.0.0.9"), true, "ok"},
		{"a range end of the other family", conf(" 10.0.0.1-::ffff:10.0.0.3 80\n 10.0.0.5 80\n", "10.0.0.9"), false, "problem"},
		{"IPv4-mapped entry", conf(" ::ffff:10.0.0.1 80\n", "2001:db8::2"), true, "deliberate"},
		{"IPv4-mapped prefix", conf(" ::ffff:10.0.0.0/120 80\n", "2001:db8::2"), true, "deliberate"},
		{"both families and a fwmark without one", conf(" 10.0.0.1 80\n 2001:db8::1 80\n fwmark 5\n", "10.0.0.9"), false, "problem"},
		{"both families and a fwmark with one", conf(" 10.0.0.1 80\n 2001:db8::1 80\n fwmark 5 inet\n", "10.0.0.9"), true, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			switch tc.want {
			case "deliberate":
				if err == nil || !deliberate(err) {
					t.Errorf("loaded (%v), want a deliberate refusal", err)
				}
			case "problem":
				if (c == nil || len(c.Problems) == 0) && err == nil {
					t.Errorf("loaded with no problem: want the entry or group reported")
				}
			default:
				if err != nil || len(c.Problems) > 0 {
					t.Errorf("error %v, problems %v", err, c.Problems)
				}
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			keepalivedAgrees(t, path, tc.ka, "")
		})
	}
}

// TestMappedVIPRefused (last review): a VIP written as an IPv4-mapped
// IPv6 address (::ffff:192.0.2.10, with or without a prefix) is an error
// at its line; kahook bound 192.0.2.10 instead, silently, where
// keepalived reads an IPv6 address (and ignores it in an IPv4 instance).
func TestMappedVIPRefused(t *testing.T) {
	for _, vip := range []string{"::ffff:192.0.2.10", "::ffff:192.0.2.10/128"} {
		_, err := Parse("k.conf", []byte("instance VI_1 {\n interface lo\n virtual_ipaddress {\n  "+vip+"\n }\n}\n"), Options{ConfigID: "x"})
		if err == nil || !strings.Contains(err.Error(), "k.conf:4: virtual_ipaddress") || !strings.Contains(err.Error(), "write 192.0.2.10") {
			t.Errorf("%s: %v, want an error at line 4 naming 192.0.2.10", vip, err)
		}
	}
}
