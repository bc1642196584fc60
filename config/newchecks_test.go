package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestNewCheckers: PING_CHECK, UDP_CHECK and DNS_CHECK are read with
// keepalived 2.2.7's keywords and defaults (check_ping.c, check_udp.c,
// check_dns.c), bind_port included; mistakes keepalived reports as config
// errors are errors with file:line.
func TestNewCheckers(t *testing.T) {
	conf := `virtual_server 10.0.0.1 53 {
    protocol UDP
    delay_loop 7
    real_server 10.0.1.1 53 {
        PING_CHECK {
            connect_timeout 2
        }
        UDP_CHECK {
            bind_port 5300
            payload 00 01 0203
            require_reply 4f4b 2X
            min_reply_length 2
            max_reply_length 100
        }
        DNS_CHECK {
            type a
            name example.com
        }
    }
}
`
	cfg, err := Parse("k.conf", []byte(conf), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := cfg.VirtualServers[0].RealServers[0]
	if len(rs.Checks) != 3 || len(rs.OtherChecks) != 0 {
		t.Fatalf("checks %v, other %v", rs.Checks, rs.OtherChecks)
	}
	p, u, d := rs.Checks[0], rs.Checks[1], rs.Checks[2]
	if p.Kind != CheckPing || p.Conn.Timeout != 2*time.Second || p.Retry != 1 || p.DelayBeforeRetry != time.Second {
		t.Errorf("PING_CHECK %+v", p)
	}
	if u.Kind != CheckUDP || u.Conn.BindPort != 5300 || !bytes.Equal(u.UDP.Payload, []byte{0, 1, 2, 3}) || !u.UDP.RequireReply ||
		!bytes.Equal(u.UDP.Reply, []byte{0x4f, 0x4b, 0x20}) || !bytes.Equal(u.UDP.ReplyMask, []byte{0, 0, 0x0f}) ||
		u.UDP.MinReplyLength != 2 || u.UDP.MaxReplyLength != 100 {
		t.Errorf("UDP_CHECK %+v %+v", u, u.UDP)
	}
	// check_dns.c: retry 3, delay_before_retry defaults to delay_loop.
	if d.Kind != CheckDNS || d.DNS.Type != "A" || d.DNS.Name != "example.com" || d.Retry != 3 || d.DelayBeforeRetry != 7*time.Second {
		t.Errorf("DNS_CHECK %+v %+v", d, d.DNS)
	}
	for _, tc := range []struct{ name, block, want string }{
		{"unknown DNS type", "DNS_CHECK {\n type PTR\n }", "k.conf:4: type: unknown DNS check type"},
		{"empty label", "DNS_CHECK {\n name a..b\n }", "k.conf:4: name: \"a..b\" has an empty label"},
		{"bad payload", "UDP_CHECK {\n payload 0g\n }", "k.conf:4: payload"},
		{"wildcard in payload", "UDP_CHECK {\n payload 0X\n }", "k.conf:4: payload"},
		{"min above max", "UDP_CHECK {\n min_reply_length 10\n max_reply_length 5\n }", "k.conf:3: UDP_CHECK min_reply_length 10 > max_reply_length 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("k.conf", []byte("virtual_server 10.0.0.1 53 {\n real_server 10.0.1.1 53 {\n "+strings.ReplaceAll(tc.block, "\n", "\n ")+"\n }\n}\n"), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestParseHex: read_hex_str's rules.
func TestParseHex(t *testing.T) {
	for _, tc := range []struct {
		in         string
		wild       bool
		data, mask []byte
		ok         bool
	}{
		{"0102ff", false, []byte{1, 2, 0xff}, nil, true},
		{"1 2 3", false, []byte{1, 2, 3}, nil, true},
		{"AbCd", false, []byte{0xab, 0xcd}, nil, true},
		{"4X x1", true, []byte{0x40, 0x01}, []byte{0x0f, 0xf0}, true},
		{"4X", false, nil, nil, false},
		{"", false, nil, nil, false},
		{"zz", false, nil, nil, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, m, ok := ParseHex(tc.in, tc.wild)
			if ok != tc.ok || !bytes.Equal(d, tc.data) || !bytes.Equal(m, tc.mask) {
				t.Errorf("ParseHex(%q) = %x %x %v, want %x %x %v", tc.in, d, m, ok, tc.data, tc.mask, tc.ok)
			}
		})
	}
}

// TestFileCheck: FILE_CHECK resolves its top-level track_file (file and
// default weight, reverse), its own weight overrides it, and a missing
// track_file is a config error.
func TestFileCheck(t *testing.T) {
	conf := func(check string) string {
		return `track_file app {
    file /run/app/weight
    weight 3 reverse
}
vrrp_track_file old {
    file /run/old
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.1.1 80 {
        FILE_CHECK {
` + check + `
        }
    }
}
`
	}
	for _, tc := range []struct {
		name, block string
		path        string
		weight      int
		reverse     bool
		err         string
	}{
		{"track_file's weight", "track_file app", "/run/app/weight", 3, true, ""},
		{"own weight", "track_file app\nweight 0", "/run/app/weight", 0, false, ""},
		{"own weight reverse", "track_file app\nweight -2 reverse", "/run/app/weight", -2, true, ""},
		{"deprecated name, default weight 1", "track_file old", "/run/old", 1, false, ""},
		{"not defined", "track_file nope", "", 0, false, "k.conf:11: FILE_CHECK: track_file nope not found"},
		{"no track_file", "weight 1", "", 0, false, "k.conf:11: FILE_CHECK: no track_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("k.conf", []byte(conf(tc.block)), Options{})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := cfg.VirtualServers[0].RealServers[0].Checks[0].File
			if f.Path != tc.path || f.Weight != tc.weight || f.Reverse != tc.reverse {
				t.Errorf("FILE_CHECK %+v", f)
			}
		})
	}
}
