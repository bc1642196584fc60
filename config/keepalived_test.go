package config

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKeepalivedProblems: what `keepalived -t` (2.2.7) reports and reads
// past is a problem at the same line, and kahook reads past it the same
// way (each case says what keepalived then loads, measured with
// `keepalived -t -d`).
func TestKeepalivedProblems(t *testing.T) {
	const vsHead = "virtual_server 192.0.2.10 80 {\n protocol TCP\n"
	cases := []struct {
		name  string
		text  string
		line  int
		want  string
		check func(t *testing.T, c *Config)
	}{
		{"misspelt block drops the virtual server's end", vsHead + " real_sever 198.51.100.2 80 { weight 5 }\n real_server 198.51.100.3 80 { }\n}\n", 3, "Unknown keyword 'real_sever' (did you mean 'real_server'?)",
			func(t *testing.T, c *Config) {
				// its '}' closed the virtual server: no real server is left.
				if len(c.VirtualServers) != 0 {
					t.Errorf("virtual servers = %d, want 0", len(c.VirtualServers))
				}
			}},
		{"unknown checker block", vsHead + " real_server 198.51.100.1 80 { weight 2\n  FOO_CHECK { connect_timeout 3 }\n  weight 9\n }\n}\n", 4, "Unknown keyword 'FOO_CHECK'",
			func(t *testing.T, c *Config) {
				// FOO_CHECK's '}' closed the real server: "weight 9" is the
				// virtual server's default weight, and the last '}' is extra.
				if rs := c.VirtualServers[0].RealServers[0]; rs.Weight != 2 {
					t.Errorf("weight = %d, want 2", rs.Weight)
				}
				if c.VirtualServers[0].Weight != 9 {
					t.Errorf("virtual server weight = %d, want 9", c.VirtualServers[0].Weight)
				}
			}},
		{"misspelt keyword", vsHead + " real_server 198.51.100.1 80 {\n  wieght 2\n }\n}\n", 4, "Unknown keyword 'wieght' (did you mean 'weight'?)",
			func(t *testing.T, c *Config) {
				if rs := c.VirtualServers[0].RealServers[0]; rs.Weight != 1 {
					t.Errorf("weight = %d, want the default 1", rs.Weight)
				}
			}},
		{"misspelt checker keyword", vsHead + " real_server 198.51.100.1 80 {\n  TCP_CHECK {\n   conect_timeout 2\n  }\n }\n}\n", 5, "did you mean 'connect_timeout'?", nil},
		{"misspelt top level", "instnce VI_1 {\n interface eth0\n}\n", 1, "Unknown keyword 'instnce' (did you mean 'instance'?)", nil},
		{"real server without a body", vsHead + " real_server 198.51.100.1 80\n real_server 198.51.100.2 80 { weight 3 }\n real_server 198.51.100.4 80 { }\n}\n", 4, "expects '{'",
			func(t *testing.T, c *Config) {
				// keepalived reads the next line as the first one's block:
				// .2 is unknown there, "weight 3" is .1's, its '}' closes .1.
				rss := c.VirtualServers[0].RealServers
				if len(rss) != 2 || rss[0].Weight != 3 || rss[1].Addr.String() != "198.51.100.4" {
					t.Errorf("real servers = %+v", rss)
				}
			}},
		{"lower case lb_kind", vsHead + " lb_kind dr\n real_server 198.51.100.1 80 { }\n}\n", 3, "unknown routing method \"dr\"",
			func(t *testing.T, c *Config) {
				if k := c.VirtualServers[0].RealServers[0].LBKind; k != "NAT" {
					t.Errorf("lb_kind = %s, want keepalived's fallback NAT", k)
				}
			}},
		{"lb_kind in a real server", vsHead + " real_server 198.51.100.1 80 {\n  lb_kind DR\n }\n}\n", 4, "Unknown keyword 'lb_kind'", nil},
		{"sh-port before lb_algo sh", vsHead + " sh-port\n lb_algo sh\n real_server 198.51.100.1 80 { }\n}\n", 3, "only applies to lb_algo sh",
			func(t *testing.T, c *Config) {
				if f := c.VirtualServers[0].SchedFlags; len(f) != 0 {
					t.Errorf("flags = %v, want none", f)
				}
			}},
		{"sh-port under rr", vsHead + " lb_algo rr\n sh-port\n real_server 198.51.100.1 80 { }\n}\n", 4, "only applies to lb_algo sh", nil},
		{"definition with blanks", "$VIP = 192.0.2.10\n", 1, "Unknown keyword '$VIP'", nil},
		{"bad virtual server address", "virtual_server 10.0.0.300 80 {\n real_server 10.0.0.2 80 { }\n}\n" + vsHead + " real_server 198.51.100.1 80 { }\n}\n", 1, "keepalived skips the block",
			func(t *testing.T, c *Config) {
				if len(c.VirtualServers) != 1 {
					t.Errorf("virtual servers = %d, want 1", len(c.VirtualServers))
				}
			}},
		{"port out of range", "virtual_server 10.0.0.1 70000 {\n}\n", 1, "keepalived skips the block", nil},
		{"duplicate real server", vsHead + " real_server 198.51.100.1 80 { weight 2 }\n real_server 198.51.100.1 80 { weight 3 }\n}\n", 4, "keepalived removes the second",
			func(t *testing.T, c *Config) {
				rss := c.VirtualServers[0].RealServers
				if len(rss) != 1 || rss[0].Weight != 2 {
					t.Errorf("real servers = %+v", rss)
				}
			}},
		{"family mismatch", vsHead + " real_server 2001:db8::1 80 { }\n real_server 198.51.100.1 80 { }\n}\n", 3, "keepalived skips it",
			func(t *testing.T, c *Config) {
				if rss := c.VirtualServers[0].RealServers; len(rss) != 1 {
					t.Errorf("real servers = %d, want 1", len(rss))
				}
			}},
		{"DR real server port reset", vsHead + " lb_kind DR\n real_server 198.51.100.1 8080 { }\n}\n", 4, "keepalived resets the port",
			func(t *testing.T, c *Config) {
				if p := c.VirtualServers[0].RealServers[0].Port; p != 80 {
					t.Errorf("port = %d, want 80", p)
				}
			}},
		{"sorry_server_inhibit before sorry_server", vsHead + " sorry_server_inhibit\n sorry_server 198.51.100.9 80\n real_server 198.51.100.1 80 { }\n}\n", 3, "before or without sorry_server",
			func(t *testing.T, c *Config) {
				if c.VirtualServers[0].SorryServer.InhibitOnFailure {
					t.Error("sorry server inhibited")
				}
			}},
		{"sorry server with a block", vsHead + " sorry_server 198.51.100.9 80 { }\n real_server 198.51.100.1 80 { }\n}\n", 3, "Unexpected '{'", nil},
		{"group range backwards", "virtual_server_group G {\n 10.0.0.9-3 80\n 10.0.0.1 80\n}\n", 2, "keepalived skips it", nil},
		{"group range of one", "virtual_server_group G {\n 10.0.0.9-9 80\n 10.0.0.1 80\n}\n", 2, "not greater than", nil},
		{"empty group", "virtual_server_group G {\n}\n", 1, "no entries", nil},
		{"real server port", "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 -1 {\n }\n}\n", 2, "keepalived skips it", nil},
		{"digest twice", vsHead + " real_server 198.51.100.1 80 {\n  HTTP_GET {\n   url {\n    path /\n    digest 9b3a0c85a887a256d6939da88aabd8cd\n    digest 9b3a0c85a887a256d6939da88aabd8ce\n   }\n  }\n }\n}\n", 8, "the first one counts",
			func(t *testing.T, c *Config) {
				if d := c.VirtualServers[0].RealServers[0].Checks[0].HTTP.URLs[0].Digest; d != "9b3a0c85a887a256d6939da88aabd8cd" {
					t.Errorf("digest = %s, want the first", d)
				}
			}},
		{"extra brace", "global_defs {\n}\n}\n", 3, "unexpected '}'", nil},
		{"brace without keyword", "{\n}\n", 1, "unexpected '{'", nil},
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
				if p.Pos.Line == tc.line && strings.Contains(p.Msg, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem at line %d saying %q; problems:\n%s", tc.line, tc.want, strings.Join(got, "\n"))
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestKeepalivedLoadsWithoutProblems: inputs kahook refused or read
// differently before, which keepalived loads without a word.
func TestKeepalivedLoadsWithoutProblems(t *testing.T) {
	cases := []struct {
		name  string
		text  string
		check func(t *testing.T, c *Config)
	}{
		{"weight above 65535", "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n weight 70000\n real_server 198.51.100.1 80 { weight 70000 }\n real_server 198.51.100.2 80 { }\n}\n",
			func(t *testing.T, c *Config) {
				rss := c.VirtualServers[0].RealServers
				if rss[0].Weight != 70000 || rss[1].Weight != 70000 {
					t.Errorf("weights %d %d", rss[0].Weight, rss[1].Weight)
				}
			}},
		{"NAT real server without port", "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 0 { }\n real_server 198.51.100.2 { }\n}\nvirtual_server 2001:db8::10 443 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 2001:db8::1 { }\n}\n",
			func(t *testing.T, c *Config) {
				for _, vs := range c.VirtualServers {
					for _, rs := range vs.RealServers {
						if rs.Port != vs.Addr.Port() {
							t.Errorf("%s: real server %s, want the service's port", vs.Name(), rs.Endpoint())
						}
					}
				}
			}},
		{"mh-port under sh", "virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_kind NAT\n lb_algo sh\n mh-port\n sh-port\n real_server 198.51.100.1 80 { }\n}\n",
			func(t *testing.T, c *Config) {
				if f := c.VirtualServers[0].SchedFlags; len(f) != 1 || f[0] != "sh-port" {
					t.Errorf("flags = %v, want [sh-port]", f)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("k.conf", []byte(tc.text), Options{ConfigID: "x"})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(c.Problems) > 0 {
				t.Errorf("problems: %v", c.Problems)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestKernelRefusalWarned: config check warns about a destination the
// kernel will refuse (lthreshold above uthreshold: ERANGE in ip_vs_ctl.c).
func TestKernelRefusalWarned(t *testing.T) {
	c, err := Parse("k.conf", []byte("virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 { lthreshold 10 }\n real_server 198.51.100.2 80 { uthreshold 20\n lthreshold 10 }\n}\n"), Options{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || c.Warnings[0].Pos.Line != 5 || !strings.Contains(c.Warnings[0].Msg, "ERANGE") {
		t.Errorf("warnings = %v, want one at line 5 about ERANGE", c.Warnings)
	}
}

// TestLongTimer: keepalived takes a delay_loop of 99999999999 s; kahook
// reads it as 1e9 s (the most a time.Duration holds comfortably) and warns.
func TestLongTimer(t *testing.T) {
	c, err := Parse("k.conf", []byte("virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n delay_loop 99999999999\n real_server 198.51.100.1 80 { }\n}\n"), Options{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.VirtualServers[0].DelayLoop; d != 1e9*time.Second {
		t.Errorf("delay_loop = %v, want 1e9 s", d)
	}
	if len(c.Warnings) != 1 || c.Warnings[0].Pos.Line != 5 || len(c.Problems) != 0 {
		t.Errorf("warnings %v problems %v, want one warning at line 5", c.Warnings, c.Problems)
	}
}

// TestSequenceBlocks: keepalived.conf(5) "Sequence blocks" (~SEQ, ~SEQx,
// ~LST) expand as keepalived 2.2.7 expands them.
func TestSequenceBlocks(t *testing.T) {
	c, err := Parse("k.conf", []byte(`virtual_server 192.0.2.10 80 {
 protocol TCP
 lb_algo rr
 lb_kind NAT
~SEQ(N, 11, 2, 15) real_server 198.51.100.${N} 80 { weight 1 }
~LST({A, W}, {1, 4}, {2, 5}) real_server 198.51.101.$A 80 { weight $W }
~SEQ(N, 2) real_server 198.51.102.$N 80 { }
}
virtual_server 2001:db8::1 80 {
 protocol TCP
 lb_algo rr
 lb_kind NAT
~SEQx(H, 10, 11) real_server 2001:db8::$H 80 { }
}
`), Options{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, vs := range c.VirtualServers {
		for _, rs := range vs.RealServers {
			got = append(got, rs.Endpoint()+"/"+strconv.Itoa(rs.Weight))
		}
	}
	want := "198.51.100.11:80/1 198.51.100.13:80/1 198.51.100.15:80/1 198.51.101.1:80/4 198.51.101.2:80/5 198.51.102.1:80/1 198.51.102.2:80/1 [2001:db8::a]:80/1 [2001:db8::b]:80/1"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("real servers = %s\nwant             %s", g, want)
	}
	if len(c.Problems) > 0 {
		t.Errorf("problems: %v", c.Problems)
	}
}

func TestSequenceErrors(t *testing.T) {
	for _, text := range []string{"~SEQ(N, 1, 0, 3) x\n", "~SEQ N, 1) x\n", "~SEQx(N, -1, 3) x\n", "~LST(A) x\n", "~LST({A}, {1, 2}) x\n", "~SEQ(N, 1, 1000000) x\n"} {
		if _, err := Parse("k.conf", []byte(text), Options{ConfigID: "x"}); err == nil || !strings.HasPrefix(err.Error(), "k.conf:1:") {
			t.Errorf("%q: error %v, want one at k.conf:1", text, err)
		}
	}
}

// TestGroupEntries: virtual_server_group address entries as keepalived's
// alloc_vsg_entry reads them (prefixes, whole-address range ends).
func TestGroupEntries(t *testing.T) {
	cases := []struct {
		entry       string
		first, last string
		bad         string
	}{
		{"192.0.2.0/30", "192.0.2.0", "192.0.2.3", ""},
		{"192.0.2.7/32", "192.0.2.7", "192.0.2.7", ""},
		{"2001:db8::/126", "2001:db8::", "2001:db8::3", ""},
		{"192.0.2.1/30", "", "", "host bits"},
		{"192.0.2.0/33", "", "", "invalid netmask"},
		{"10.0.0.0/23", "", "", "crosses a boundary"},
		{"10.0.0.250-10.0.1.5", "", "", "crosses a boundary"},
		{"10.0.0.250-10.0.0.252", "10.0.0.250", "10.0.0.252", ""},
		{"10.0.0.5-10.0.0.5", "10.0.0.5", "10.0.0.5", ""},
		{"10.0.0.5-10.0.0.4", "", "", "below the start"},
		{"10.0.0.1-3", "10.0.0.1", "10.0.0.3", ""},
		{"10.0.0.3-3", "", "", "not greater"},
		{"2001:db8::a-c", "2001:db8::a", "2001:db8::c", ""},
	}
	for _, tc := range cases {
		t.Run(tc.entry, func(t *testing.T) {
			first, last, err := parseRange(tc.entry)
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Errorf("error %v, want one saying %q", err, tc.bad)
				}
				return
			}
			if err != nil || first.String() != tc.first || last.String() != tc.last {
				t.Errorf("got %v-%v %v, want %s-%s", first, last, err, tc.first, tc.last)
			}
		})
	}
}

// TestGroupFwmarkEntries: a virtual_server_group's fwmark entry is read as
// keepalived's alloc_vsg_entry reads it: mark 0 is accepted (kahook loads
// nothing for it and warns: IPVS takes mark 0 as no mark), a mark beyond
// UINT32_MAX or an unknown family is reported and the entry skipped.
func TestGroupFwmarkEntries(t *testing.T) {
	const vs = "virtual_server group G {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 { }\n}\n"
	for _, tc := range []struct {
		name, entry       string
		warnings, problem int
		marks             []uint32
	}{
		{name: "mark 0", entry: "fwmark 0", warnings: 1},
		{name: "mark 1", entry: "fwmark 1", marks: []uint32{1}},
		{name: "largest", entry: "fwmark 4294967295 inet", marks: []uint32{4294967295}},
		{name: "too large", entry: "fwmark 4294967296", problem: 1},
		{name: "bad family", entry: "fwmark 3 ipx", problem: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "virtual_server_group G {\n 192.0.2.10 80\n " + tc.entry + "\n}\n" + vs
			c, err := Parse("k.conf", []byte(src), Options{ConfigID: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != tc.warnings || len(c.Problems) != tc.problem {
				t.Fatalf("warnings %v problems %v, want %d and %d", c.Warnings, c.Problems, tc.warnings, tc.problem)
			}
			for _, w := range append(c.Warnings, c.Problems...) {
				if w.Pos.Line != 3 {
					t.Errorf("reported at line %d, want 3: %v", w.Pos.Line, w)
				}
			}
			var marks []uint32
			for _, e := range c.Groups["G"].Entries {
				if e.FWMark != 0 {
					marks = append(marks, e.FWMark)
				}
			}
			if !slices.Equal(marks, tc.marks) {
				t.Errorf("fwmark entries %v, want %v", marks, tc.marks)
			}
		})
	}
}

// TestGroupOnlyFwmarkZero: a group whose only entry is fwmark 0 is kept
// (keepalived -t accepts it): the config loads, with a warning and no
// service for the group.
func TestGroupOnlyFwmarkZero(t *testing.T) {
	src := "virtual_server_group G {\n fwmark 0\n}\nvirtual_server group G {\n lb_algo rr\n lb_kind NAT\n real_server 198.51.100.1 80 { }\n}\n"
	c, err := Parse("k.conf", []byte(src), Options{ConfigID: "x"})
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if len(c.Problems) != 0 || len(c.Warnings) != 1 {
		t.Errorf("problems %v warnings %v, want none and one", c.Problems, c.Warnings)
	}
	if g := c.Groups["G"]; g == nil || len(g.Entries) != 0 {
		t.Errorf("group G = %+v, want defined with no loadable entries", g)
	}
}

// TestGroupFwmarkZeroIsFwmark: keepalived 2.2.7 keeps a group's
// "fwmark 0" in its fwmark list, and validate_check_config asks that list
// whether the group has fwmarks: so for such a group it reports a DR/TUN
// real server's port ("fwmark virtual server ..., real server ... has port
// specified"), a protocol when the group has no addresses ("protocol
// specified for fwmark") and clears ha_suspend, as for any fwmark. kahook
// reports the same (at the real server's and the virtual server's lines)
// though it loads no service for mark 0. Measured with keepalived -t.
func TestGroupFwmarkZeroIsFwmark(t *testing.T) {
	group := func(entries, kind, extra string) string {
		return "virtual_server_group G {\n" + entries + "}\nvirtual_server group G {\n lb_algo rr\n lb_kind " + kind + "\n" + extra +
			" real_server 198.51.100.1 80 {\n }\n}\n"
	}
	cases := []struct {
		name  string
		text  string
		lines []int // the lines of kahook's problems, in order
	}{
		{"protocol and a DR port", group(" fwmark 0\n", "DR", " protocol TCP\n"), []int{4, 8}},
		{"protocol, NAT", group(" fwmark 0\n", "NAT", " protocol TCP\n"), []int{4}},
		{"a DR port", group(" fwmark 0\n", "DR", ""), []int{7}},
		{"a TUN port beside an address entry", group(" 192.0.2.1 80\n fwmark 0\n", "TUN", " protocol TCP\n"), []int{9}},
		{"ha_suspend beside an address entry", group(" 192.0.2.1 80\n fwmark 0\n", "NAT", " protocol TCP\n ha_suspend\n"), []int{5}},
		{"NAT beside an address entry", group(" 192.0.2.1 80\n fwmark 0\n", "NAT", " protocol TCP\n"), nil},
	}
	_, kaErr := exec.LookPath("keepalived")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, path, err := loadDiffText(t, tc.text)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			var lines []int
			for _, p := range c.Problems {
				lines = append(lines, p.Pos.Line)
			}
			if !slices.Equal(lines, tc.lines) {
				t.Errorf("problems at lines %v, want %v: %v", lines, tc.lines, c.Problems)
			}
			if kaErr != nil {
				return
			}
			out, kerr := exec.Command("keepalived", "-t", "-f", path, "-l", "-n", "-i", diffConfigID).CombinedOutput()
			if (kerr == nil) != (len(tc.lines) == 0) {
				t.Errorf("keepalived -t passes=%v, want %v:\n%s", kerr == nil, len(tc.lines) == 0, out)
			}
			if why := compareWithKeepalived(path); why != "" {
				t.Error(why)
			}
		})
	}
}

// TestSuggestTieIsStable: a misspelling as close to two keywords
// ("hreshold": lthreshold and uthreshold) gets the same hint every time.
func TestSuggestTieIsStable(t *testing.T) {
	known := []string{"uthreshold", "weight", "lthreshold", "inhibit_on_failure"}
	for i := 0; i < 20; i++ {
		slices.Reverse(known)
		if got := suggest("hreshold", known); got != "lthreshold" {
			t.Fatalf("suggest(hreshold) = %q on round %d, want lthreshold every time", got, i)
		}
	}
}

// TestJunkLinesBounded: a file of unknown keywords lists the first
// maxListedProblems problems and counts the rest in one more (a 16 MiB file
// of junk lines took 20 GB before; hostile review).
func TestJunkLinesBounded(t *testing.T) {
	const lines = 50000
	c, err := Parse("k.conf", []byte(strings.Repeat("a\n", lines)), Options{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Problems) != maxListedProblems+1 {
		t.Fatalf("%d problems, want %d", len(c.Problems), maxListedProblems+1)
	}
	if last := c.Problems[maxListedProblems].Msg; !strings.Contains(last, fmt.Sprint(lines-maxListedProblems)+" more problems") {
		t.Errorf("last problem %q does not count the %d unlisted", last, lines-maxListedProblems)
	}
	if n := c.ProblemCount(); n != lines {
		t.Errorf("ProblemCount %d, want %d (the summary counts every problem, listed or not)", n, lines)
	}
	if n := Summarize(c).Problems; n != lines {
		t.Errorf("summary: %d problems, want %d", n, lines)
	}
}

// TestSuggestSkipsFarLengths: the length shortcut changes no hint (the
// same as the full search over every keyword, on keywords and their
// near misses) and a megabyte-long unknown word costs no edit table.
func TestSuggestSkipsFarLengths(t *testing.T) {
	full := func(word string, known []string) string {
		best, bestD := "", 3
		if len(word) <= 4 {
			bestD = 2
		}
		for _, k := range known {
			if d := editDistance(strings.ToLower(word), strings.ToLower(k)); d < bestD || d == bestD && best != "" && k < best {
				best, bestD = k, d
			}
		}
		return best
	}
	known := topSyntax().names()
	for _, k := range known {
		for _, w := range []string{k, k[1:], k + "x", k + "xy", "x" + k[:len(k)-1], strings.ToUpper(k), k[:len(k)/2]} {
			if got, want := suggest(w, known), full(w, known); got != want {
				t.Errorf("suggest(%q) = %q, the full search %q", w, got, want)
			}
		}
	}
	big := strings.Repeat("a", 1<<20)
	if allocs := testing.AllocsPerRun(1, func() { suggest(big, known) }); allocs > 4 {
		t.Errorf("a 1 MiB word: %v allocations, want no edit tables", allocs)
	}
}

// loadDiffText writes text to a file of the test's own and loads it as the
// keepalived differential does (its config id), returning the path too.
func loadDiffText(t *testing.T, text string) (*Config, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, Options{ConfigID: diffConfigID})
	return c, path, err
}

// keepalivedAgrees runs `keepalived -t` on path: it must pass exactly when
// pass is true, say says (when not empty) in its checker pass, and load
// the table kahook loads (compareWithKeepalived).
func keepalivedAgrees(t *testing.T, path string, pass bool, says string) {
	t.Helper()
	out, kerr := exec.Command("keepalived", "-t", "-f", path, "-l", "-n", "-i", diffConfigID).CombinedOutput()
	lines := checkerPass(out)
	if (kerr == nil) != pass {
		t.Errorf("keepalived -t passes=%v, the table says %v:\n%s", kerr == nil, pass, strings.Join(lines, "\n"))
	}
	if says != "" && !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, says) }) {
		t.Errorf("keepalived -t does not say %q:\n%s", says, strings.Join(lines, "\n"))
	}
	if why := compareWithKeepalived(path); why != "" {
		t.Errorf("differs from keepalived: %s", why)
	}
}
