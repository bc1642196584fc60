package config

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// numConf is a virtual server whose first real server carries rsLines;
// vsLines go before it. The second real server keeps the virtual server
// alive when keepalived skips the first. Line 6 is the first vsLine,
// line 7 the first real_server when vsLines is one line.
func numConf(vsLines, rsHead, rsLines string) string {
	if rsHead == "" {
		rsHead = "real_server 198.51.100.1 80"
	}
	return "global_defs {\n enable_script_security\n script_user root\n}\n" +
		"virtual_server 192.0.2.10 80 {\n" + vsLines + "\n" +
		" " + rsHead + " {\n" + rsLines + "\n }\n" +
		" real_server 198.51.100.2 80 {\n }\n" +
		" protocol TCP\n lb_algo rr\n lb_kind NAT\n}\n"
}

// groupConf is a virtual_server_group with entry (line 2), and another
// entry of the same kind so the group stays when keepalived skips entry,
// and a DR virtual server of it.
func groupConf(entry string) string {
	other, proto := "fwmark 99", ""
	if !strings.HasPrefix(entry, "fwmark") {
		other, proto = "192.0.2.100 80", " protocol TCP\n"
	}
	return "virtual_server_group G {\n " + entry + "\n " + other + "\n}\n" +
		"virtual_server group G {\n lb_algo rr\n lb_kind DR\n persistence_timeout 50\n" + proto +
		" real_server 198.51.100.1 {\n }\n}\n"
}

// TestKeepalivedNumbers: each kind of number kahook reads, written as
// keepalived 2.2.7's strtoul-family readers take or refuse it. ka is the
// verdict of `keepalived -t` (measured; re-measured where keepalived is
// installed), want what kahook does: "load" (and check the value),
// "problem" (loads, reported as keepalived reports it), "refuse" (both
// refuse), "deliberate" (keepalived takes a value its writer cannot have
// meant; kahook refuses: README, "Deliberate differences").
func TestKeepalivedNumbers(t *testing.T) {
	rs0 := func(c *Config) *RealServer { return c.VirtualServers[0].RealServers[0] }
	cases := []struct {
		name  string
		text  string
		ka    bool
		want  string
		check func(c *Config) (got, want any)
	}{
		{"weight with +", numConf("", "", "  weight +2"), true, "load", func(c *Config) (any, any) { return rs0(c).Weight, 2 }},
		{"weight with leading zeros", numConf("", "", "  weight 0002"), true, "load", func(c *Config) (any, any) { return rs0(c).Weight, 2 }},
		{"weight with a blank in quotes", numConf("", "", `  weight " +2"`), true, "load", func(c *Config) (any, any) { return rs0(c).Weight, 2 }},
		{"weight with a trailing blank in quotes", numConf("", "", `  weight "2 "`), false, "refuse", nil},
		{"weight in hex", numConf("", "", "  weight 0x10"), false, "refuse", nil},
		{"weight with trailing characters", numConf("", "", "  weight 2x"), false, "refuse", nil},
		{"negative weight", numConf("", "", "  weight -2"), false, "refuse", nil},
		{"weight -0", numConf("", "", "  weight -0"), false, "refuse", nil},
		{"weight +-2", numConf("", "", "  weight +-2"), false, "refuse", nil},
		{"weight +", numConf("", "", "  weight +"), false, "refuse", nil},
		{"weight beyond its range", numConf("", "", "  weight 2147483648"), false, "refuse", nil},
		{"weight beyond 32 bits", numConf("", "", "  weight 4294967296"), false, "refuse", nil},
		{"empty uthreshold", numConf("", "", `  uthreshold ""`), true, "deliberate", nil},
		{"blank uthreshold", numConf("", "", `  uthreshold " "`), true, "deliberate", nil},
		{"retry beyond 31 bits", numConf("", "", "  retry 4294967295"), true, "load", nil},
		{"checker retry beyond 31 bits", numConf("", "", "  TCP_CHECK {\n   retry 4294967295\n  }"), true, "load",
			func(c *Config) (any, any) { return rs0(c).Checks[0].Retry, 4294967295 }},
		{"virtual server retry beyond 31 bits", numConf(" retry 3000000000", "", "  TCP_CHECK {\n  }"), true, "load",
			func(c *Config) (any, any) { return rs0(c).Checks[0].Retry, 3000000000 }},
		{"delay_loop with +", numConf(" delay_loop +6", "", ""), true, "load", func(c *Config) (any, any) { return c.VirtualServers[0].DelayLoop, 6 * time.Second }},
		{"delay_loop ending in a point", numConf(" delay_loop 6.", "", ""), true, "load", func(c *Config) (any, any) { return c.VirtualServers[0].DelayLoop, 6 * time.Second }},
		{"delay_loop starting with a point", numConf(" delay_loop +.5", "", ""), true, "load", func(c *Config) (any, any) { return c.VirtualServers[0].DelayLoop, 500 * time.Millisecond }},
		{"delay_loop with 7 decimals rounds up", numConf(" delay_loop 1.1234565", "", ""), false, "problem", func(c *Config) (any, any) { return c.VirtualServers[0].DelayLoop, 1123457 * time.Microsecond }},
		{"delay_loop with 8 decimals looks at the 7th", numConf(" delay_loop 1.12345649", "", ""), false, "problem", func(c *Config) (any, any) { return c.VirtualServers[0].DelayLoop, 1123456 * time.Microsecond }},
		{"delay_loop of 2^64-2 µs", numConf(" delay_loop 18446744073709.551614", "", ""), true, "load", nil},
		{"delay_loop of 2^64-1 µs", numConf(" delay_loop 18446744073709.551615", "", ""), false, "refuse", nil},
		{"delay_loop with an exponent", numConf(" delay_loop 1e3", "", ""), false, "refuse", nil},
		{"delay_loop in hex", numConf(" delay_loop 0x10", "", ""), false, "refuse", nil},
		{"negative delay_loop", numConf(" delay_loop -5", "", ""), false, "refuse", nil},
		{"negative delay_loop after a blank", numConf(` delay_loop " -5"`, "", ""), true, "deliberate", nil},
		{"delay_loop with a sign after the point", numConf(" delay_loop .+5", "", ""), true, "deliberate", nil},
		{"empty delay_before_retry", numConf(` delay_before_retry ""`, "", ""), true, "deliberate", nil},
		{"real server port with +", numConf("", "real_server 198.51.100.1 +8080", ""), true, "load", func(c *Config) (any, any) { return rs0(c).Port, uint16(8080) }},
		{"real server port with leading zeros", numConf("", "real_server 198.51.100.1 080", ""), true, "load", func(c *Config) (any, any) { return rs0(c).Port, uint16(80) }},
		{"real server port of zeros", numConf("", "real_server 198.51.100.1 00", ""), true, "load", func(c *Config) (any, any) { return rs0(c).Port, uint16(80) }},
		{"real server port +0", numConf("", "real_server 198.51.100.1 +0", ""), false, "problem", func(c *Config) (any, any) { return len(c.VirtualServers[0].RealServers), 1 }},
		{"real server port in hex", numConf("", "real_server 198.51.100.1 0x50", ""), false, "problem", nil},
		{"connect_port with +", numConf("", "", "  TCP_CHECK {\n   connect_port +8080\n  }"), true, "load", func(c *Config) (any, any) { return rs0(c).Checks[0].Conn.Port, uint16(8080) }},
		{"connect_port of zeros", numConf("", "", "  TCP_CHECK {\n   connect_port 00\n  }"), false, "refuse", nil},
		{"bind_port 0", numConf("", "", "  TCP_CHECK {\n   bind_port 0\n  }"), false, "refuse", nil},
		{"misc_timeout with +", numConf("", "", "  MISC_CHECK {\n   misc_path /bin/true\n   misc_timeout +5\n  }"), true, "load", func(c *Config) (any, any) { return rs0(c).Checks[0].Misc.Timeout, 5 * time.Second }},
		{"misc_timeout 0 is delay_loop", numConf(" delay_loop 7", "", "  MISC_CHECK {\n   misc_path /bin/true\n   misc_timeout 0\n  }"), true, "load", func(c *Config) (any, any) { return rs0(c).Checks[0].Misc.Timeout, 7 * time.Second }},
		{"misc_timeout with decimals", numConf("", "", "  MISC_CHECK {\n   misc_path /bin/true\n   misc_timeout 1.5\n  }"), false, "refuse", nil},
		{"misc_timeout beyond 4294", numConf("", "", "  MISC_CHECK {\n   misc_path /bin/true\n   misc_timeout 4295\n  }"), false, "refuse", nil},
		{"status codes with + and leading zeros", numConf("", "", "  HTTP_GET {\n   url {\n    path /\n    status_code +200-+204 0300\n   }\n  }"), true, "load",
			func(c *Config) (any, any) { return rs0(c).Checks[0].HTTP.URLs[0].StatusCode, "+200-+204 0300" }},
		{"status codes with commas", numConf("", "", "  HTTP_GET {\n   url {\n    path /\n    status_code 200,201\n   }\n  }"), false, "refuse", nil},
		{"status code beyond 32 bits", numConf("", "", "  HTTP_GET {\n   url {\n    path /\n    status_code 4294967496\n   }\n   url {\n    path /\n   }\n  }"), true, "deliberate", nil},
		{"digest with a sign", numConf("", "", "  HTTP_GET {\n   url {\n    path /\n    digest +f0123456789abcdef0123456789abcd\n   }\n   url {\n    path /\n   }\n  }"), true, "deliberate", nil},
		{"digest with 0x", numConf("", "", "  HTTP_GET {\n   url {\n    path /\n    digest 0x0123456789abcdef0123456789abcd\n   }\n  }"), false, "refuse", nil},
		{"~SEQ in octal", numConf("~SEQ(N, 010, 011) real_server 198.51.100.$N 80 { }", "", ""), true, "load",
			func(c *Config) (any, any) { return c.VirtualServers[0].RealServers[1].Addr.String(), "198.51.100.9" }},
		{"~SEQ in hex", numConf("~SEQ(N, 0x10, +0x11) real_server 198.51.100.$N 80 { }", "", ""), true, "load",
			func(c *Config) (any, any) { return c.VirtualServers[0].RealServers[1].Addr.String(), "198.51.100.17" }},
		{"~SEQ with an underscore", numConf("~SEQ(N, 1_0, 11) real_server 198.51.100.$N 80 { }", "", ""), false, "refuse", nil},
		{"~SEQ in binary", numConf("~SEQ(N, 0b1, 3) real_server 198.51.100.$N 80 { }", "", ""), false, "refuse", nil},
		{"~SEQ with a missing number", numConf("~SEQ(N, , 3) real_server 198.51.101.$N 80 { }", "", ""), true, "deliberate", nil},
		{"virtual server fwmark with +", "virtual_server fwmark +5 {\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 {\n }\n}\n", true, "load", func(c *Config) (any, any) { return c.VirtualServers[0].FWMark, uint32(5) }},
		{"virtual server fwmark 0", "virtual_server fwmark 00 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n persistence_timeout 50\n real_server 198.51.100.1 {\n }\n}\n", true, "deliberate", nil},
		{"group fwmark with +", groupConf("fwmark +5"), true, "load", func(c *Config) (any, any) { return c.Groups["G"].Entries[0].FWMark, uint32(5) }},
		{"group port with +", groupConf("192.0.2.1 +80"), true, "load", func(c *Config) (any, any) { return c.Groups["G"].Entries[0].Port, uint16(80) }},
		{"group range end with +", groupConf("192.0.2.1-+5 80"), true, "load", func(c *Config) (any, any) { return c.Groups["G"].Entries[0].Last.String(), "192.0.2.5" }},
		{"IPv6 group range end in hex with 0x", groupConf("2001:db8::1-0x1f 80"), true, "load", func(c *Config) (any, any) { return c.Groups["G"].Entries[0].Last.String(), "2001:db8::1f" }},
		{"group range end with trailing characters", groupConf("192.0.2.1-5x 80"), false, "problem", nil},
		{"group prefix length with +", groupConf("192.0.2.0/+30 80"), true, "load", func(c *Config) (any, any) { return c.Groups["G"].Entries[0].Last.String(), "192.0.2.3" }},
		{"group prefix length beyond 32 bits", groupConf("192.0.2.0/4294967326 80"), true, "deliberate", nil},
	}
	_, kaErr := exec.LookPath("keepalived")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			var problems []Warning
			if c != nil {
				problems = c.Problems
			}
			switch tc.want {
			case "load":
				if err != nil || len(problems) > 0 {
					t.Fatalf("want loaded cleanly, got error %v problems %v", err, problems)
				}
			case "problem":
				if err != nil || len(problems) == 0 {
					t.Fatalf("want loaded with a problem, got error %v problems %v", err, problems)
				}
			case "refuse":
				if err == nil || strings.Contains(err.Error(), errNumDeliberate.Error()) {
					t.Fatalf("want refused as keepalived refuses it, got %v (problems %v)", err, problems)
				}
			case "deliberate":
				if err == nil || !deliberate(err) {
					t.Fatalf("want refused as a deliberate difference, got %v (problems %v)", err, problems)
				}
			}
			if tc.check != nil && c != nil {
				if got, want := tc.check(c); got != want {
					t.Errorf("value = %v, want %v", got, want)
				}
			}
			if kaErr != nil {
				return
			}
			out, kerr := exec.Command("keepalived", "-t", "-f", path, "-l", "-n", "-i", diffConfigID).CombinedOutput()
			if (kerr == nil) != tc.ka {
				t.Errorf("keepalived -t passes=%v, the table says %v:\n%s", kerr == nil, tc.ka, strings.Join(checkerPass(out), "\n"))
			}
			if why := compareWithKeepalived(path); why != "" {
				t.Errorf("differs from keepalived: %s", why)
			}
		})
	}
}

// TestReadNumbers: the readers against C's strtoul-family rules
// (lib/parser.c, lib/utils.c of keepalived 2.2.7).
func TestReadNumbers(t *testing.T) {
	type res struct {
		v   int64
		err error
	}
	u := func(s string) res { v, err := readUnsigned(s); return res{int64(v), err} }
	i := func(s string) res { v, err := readInt(s); return res{v, err} }
	tm := func(s string) res { v, _, err := readTimer(s); return res{int64(v), err} }
	p := func(s string) res { v, err := serverPort(s); return res{int64(v), err} }
	r4 := func(s string) res { v, err := rangeEnd(s, false); return res{int64(v), err} }
	r6 := func(s string) res { v, err := rangeEnd(s, true); return res{int64(v), err} }
	m := func(s string) res { v, err := prefixLen(s, 32); return res{int64(v), err} }
	l0 := func(s string) res {
		v, erange, rest := strtol0(s)
		switch {
		case rest != "":
			return res{0, errNumInvalid}
		case erange:
			return res{0, errNumRange}
		}
		return res{v, nil}
	}
	sc := func(s string) res { return res{0, statusCodes([]string{s})} }
	dg := func(s string) res { return res{0, digestBytes(s)} }
	cases := []struct {
		name string
		read func(string) res
		in   string
		want int64
		err  error
	}{
		{"unsigned plain", u, "42", 42, nil},
		{"unsigned +", u, "+42", 42, nil},
		{"unsigned leading zeros are decimal", u, "010", 10, nil},
		{"unsigned blanks before", u, " \t+7", 7, nil},
		{"unsigned blank after", u, "7 ", 0, errNumInvalid},
		{"unsigned blank after the sign", u, "+ 7", 0, errNumInvalid},
		{"unsigned hex", u, "0x10", 0, errNumInvalid},
		{"unsigned negative", u, "-1", 0, errNumNegative},
		{"unsigned negative after blanks", u, "  -1", 0, errNumNegative},
		{"unsigned max", u, "4294967295", 4294967295, nil},
		{"unsigned above 32 bits", u, "4294967296", 0, errNumRange},
		{"unsigned above 64 bits", u, "99999999999999999999", 0, errNumRange},
		{"unsigned empty", u, "", 0, errNumDeliberate},
		{"unsigned sign only", u, "+", 0, errNumInvalid},
		{"int negative", i, "-253", -253, nil},
		{"int + and blanks", i, " +253", 253, nil},
		{"int min", i, "-2147483648", -2147483648, nil},
		{"int below min", i, "-2147483649", 0, errNumRange},
		{"int above max", i, "2147483648", 0, errNumRange},
		{"int -+", i, "-+5", 0, errNumInvalid},
		{"int blank after the sign", i, "- 5", 0, errNumInvalid},
		{"int empty", i, "", 0, errNumDeliberate},
		{"timer seconds", tm, "5", 5e6, nil},
		{"timer +", tm, "+1.5", 1.5e6, nil},
		{"timer point first", tm, ".25", 2.5e5, nil},
		{"timer point last", tm, "3.", 3e6, nil},
		{"timer 6 decimals", tm, "0.000001", 1, nil},
		{"timer 7th decimal 5", tm, "0.0000005", 1, nil},
		{"timer 7th decimal 4", tm, "0.00000049", 0, nil},
		{"timer garbage after 6 decimals", tm, "1.123456x", 0, errNumInvalid},
		{"timer exponent", tm, "1e3", 0, errNumInvalid},
		{"timer two points", tm, "1.2.3", 0, errNumInvalid},
		{"timer negative", tm, "-1", 0, errNumNegative},
		{"timer negative after a blank", tm, " -1", 0, errNumDeliberate},
		{"timer sign after the point", tm, ".+5", 0, errNumDeliberate},
		{"timer point only", tm, ".", 0, errNumDeliberate},
		{"timer empty", tm, "", 0, errNumDeliberate},
		{"timer above 2^64 µs", tm, "18446744073710", 0, errNumRange},
		{"port +", p, "+80", 80, nil},
		{"port zeros", p, "000", 0, nil},
		{"port empty", p, "", 0, nil},
		{"port +0", p, "+0", 0, errNumRange},
		{"port blank 0", p, " 0", 0, errNumRange},
		{"port 65536", p, "65536", 0, errNumRange},
		{"port hex", p, "0x50", 0, errNumInvalid},
		{"strtol0 octal", l0, "017", 15, nil},
		{"strtol0 hex", l0, " -0x1F", -31, nil},
		{"strtol0 octal 8", l0, "08", 0, errNumInvalid},
		{"strtol0 underscore", l0, "1_0", 0, errNumInvalid},
		{"strtol0 min", l0, "-9223372036854775808", -9223372036854775808, nil},
		{"strtol0 beyond", l0, "9223372036854775808", 0, errNumRange},
		{"status codes", sc, "+200-+204", 0, nil},
		{"status code comma", sc, "200,201", 0, errNumInvalid},
		{"status code range down", sc, "300-200", 0, errNumInvalid},
		{"status code open range", sc, "200-", 0, errNumInvalid},
		{"status code truncated", sc, "4294967496", 0, errNumDeliberate},
		{"status code negative wraps", sc, "-4294967096", 0, errNumDeliberate},
		{"digest", dg, "0123456789abcdef0123456789ABCDEF", 0, nil},
		{"digest with blanks", dg, " 123456789abcdef0123456789abcdef", 0, errNumDeliberate},
		{"digest 0x", dg, "0x23456789abcdef0123456789abcdef", 0, errNumInvalid},
		{"digest short", dg, "0123", 0, errNumInvalid},
		{"IPv4 range end +", r4, "+9", 9, nil},
		{"IPv4 range end 256", r4, "256", 0, errNumRange},
		{"IPv4 range end hex", r4, "0x9", 0, errNumInvalid},
		{"IPv4 range end negative", r4, "-1", 0, errNumRange},
		{"IPv6 range end", r6, "ff", 255, nil},
		{"IPv6 range end 0x", r6, "0XfF", 255, nil},
		{"IPv6 range end 0x alone", r6, "0x", 0, errNumInvalid},
		{"IPv6 range end too large", r6, "10000", 0, errNumRange},
		{"prefix length +", m, "+24", 24, nil},
		{"prefix length 0", m, "0", 0, errNumInvalid},
		{"prefix length 33", m, "33", 0, errNumInvalid},
		{"prefix length truncated", m, "4294967320", 0, errNumDeliberate},
		{"prefix length negative wraps", m, "-4294967272", 0, errNumDeliberate},
		{"prefix length negative", m, "-8", 0, errNumInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.read(tc.in)
			if !errors.Is(got.err, tc.err) || (tc.err == nil && got.err != nil) {
				t.Fatalf("%q: error %v, want %v", tc.in, got.err, tc.err)
			}
			if tc.err == nil && got.v != tc.want {
				t.Errorf("%q = %d, want %d", tc.in, got.v, tc.want)
			}
		})
	}
}
