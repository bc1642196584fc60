package config

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInetAton: the IPv4 forms glibc's getaddrinfo (AF_INET,
// AI_NUMERICHOST) takes for keepalived's persistence_granularity, and
// what it reads them as (want; "" = refused), measured with Python's
// socket.getaddrinfo on glibc 2.36.
func TestInetAton(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"24", "0.0.0.24"},
		{"255.255.255", "255.255.0.255"},
		{"0xffffff00", "255.255.255.0"},
		{"255.255.255.010", "255.255.255.8"},
		{"0377.255.255.0", "255.255.255.0"},
		{"255.255.255.0", "255.255.255.0"},
		{"255.255.255.256", ""},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"255.16777215", "255.255.255.255"},
		{"255.65536", "255.1.0.0"},
		{"1.2.3.4.5", ""},
		{"", ""},
		{"0x", ""},
		{"08", ""},
		{"0", "0.0.0.0"},
		{"00", "0.0.0.0"},
		{"0X18", "0.0.0.24"},
		{"255.255.255.", ""},
		{"1..2", ""},
		{"256.0", ""},
		{"255.255.65535", "255.255.255.255"},
		{"255.255.65536", ""},
		{"+24", ""},
		{" 24", ""},
		{"0xfffffffff", ""},
		{"255.255.255.0x0", "255.255.255.0"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			a, ok := inetAton(tc.in)
			got := ""
			if ok {
				got = a.String()
			}
			if got != tc.want {
				t.Errorf("inetAton(%q) = %q, glibc %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestPersistenceGranularity: persistence_granularity read by the
// service's family so far, as keepalived 2.2.7's pgr_handler reads it
// (IPv4: a netmask by inet_aton; IPv6: a prefix length 1-128; no family
// yet: a '.' means IPv4, and the value fixes the family). ka: `keepalived
// -t` passes; kaSays: what it reports. kahook refuses (exit 2) what
// keepalived reports (an invalid value) and, as deliberate differences,
// the inet_aton forms keepalived reads otherwise than they look (want
// "deliberate"); else it loads the value (want), persistent with the
// default 360 s timeout, and the family.
func TestPersistenceGranularity(t *testing.T) {
	vs := func(head, pre, g string) string {
		rs := "10.0.0.2 80"
		if strings.Contains(head, ":") {
			rs = "2001:db8::2 80"
		}
		proto := " protocol TCP\n"
		if strings.HasPrefix(head, "fwmark") {
			proto = ""
		}
		return "virtual_server " + head + " {\n lb_algo rr\n lb_kind NAT\n" + proto + pre + " persistence_granularity " + g + "\n real_server " + rs + " {\n }\n}\n"
	}
	for _, tc := range []struct {
		name, text string
		ka         bool
		kaSays     string
		want       string // the value kahook keeps, "deliberate", or "error" (an invalid value)
		family     int
	}{
		{"IPv4 netmask", vs("10.0.0.1 80", "", "255.255.255.0"), true, "", "255.255.255.0", 4},
		{"IPv6 prefix", vs("2001:db8::1 80", "", "64"), true, "", "64", 6},
		{"IPv6 prefix with sign and zero", vs("2001:db8::1 80", "", "+064"), true, "", "64", 6},
		{"IPv4 netmask for an IPv6 service", vs("2001:db8::1 80", "", "255.255.255.0"), false, "Invalid IPv6 persistence_granularity specified - 255.255.255.0", "error", 6},
		{"IPv4 netmask after ip_family inet6", vs("fwmark 5", " ip_family inet6\n", "255.255.255.0"), false, "Invalid IPv6 persistence_granularity specified - 255.255.255.0", "error", 6},
		{"IPv6 prefix too long", vs("2001:db8::1 80", "", "129"), false, "Invalid IPv6 persistence_granularity specified - 129", "error", 6},
		{"IPv6 address for an IPv4 service", vs("10.0.0.1 80", "", "2001:db8::"), false, "Invalid IPv4 persistence_granularity specified - 2001:db8::", "error", 4},
		{"IPv4 byte out of range", vs("10.0.0.1 80", "", "255.255.255.256"), false, "Invalid IPv4 persistence_granularity specified - 255.255.255.256", "error", 4},
		{"prefix length for an IPv4 service is 0.0.0.24", vs("10.0.0.1 80", "", "24"), true, "", "deliberate", 4},
		{"three parts are 255.255.0.255", vs("10.0.0.1 80", "", "255.255.255"), true, "", "deliberate", 4},
		{"hex", vs("10.0.0.1 80", "", "0xffffff00"), true, "", "deliberate", 4},
		{"a leading zero is octal", vs("10.0.0.1 80", "", "255.255.255.010"), true, "", "deliberate", 4},
		{"fwmark: a netmask makes it IPv4", vs("fwmark 5", "", "255.255.255.0"), true, "", "255.255.255.0", 4},
		{"fwmark: a number makes it IPv6", vs("fwmark 5", " real_server 2001:db8::3 0 {\n }\n", "24"), false, "Address family of virtual server and real server 10.0.0.2 don't match - skipping real server.", "24", 6},
		{"fwmark: 255.255.255 makes it IPv4", vs("fwmark 5", "", "255.255.255"), true, "", "deliberate", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			switch tc.want {
			case "error", "deliberate":
				if err == nil {
					t.Fatalf("loaded (virtual servers %v, problems %v), want refused", c.VirtualServers, c.Problems)
				}
				line := strings.Count(tc.text[:strings.Index(tc.text, "persistence_granularity")], "\n") + 1
				if !strings.Contains(err.Error(), ":"+strconv.Itoa(line)+": persistence_granularity") {
					t.Errorf("error %v, want one naming persistence_granularity at its line", err)
				}
				if d := deliberate(err); d != (tc.want == "deliberate") {
					t.Errorf("deliberate difference %v, want %v: %v", d, tc.want == "deliberate", err)
				}
			default:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				v := c.VirtualServers[0]
				if v.PersistenceGranularity != tc.want || v.Family != tc.family || v.PersistenceTimeout != 360*time.Second {
					t.Errorf("granularity %q family %d timeout %v, want %q %d 6m0s", v.PersistenceGranularity, v.Family, v.PersistenceTimeout, tc.want, tc.family)
				}
			}
			if _, err := exec.LookPath("keepalived"); err != nil {
				return
			}
			keepalivedAgrees(t, path, tc.ka, tc.kaSays)
		})
	}
}
