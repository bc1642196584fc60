package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRefusedLineIsTheOnlyError: a refused virtual_ipaddress or
// FILE_CHECK track_file line is reported once, at its line, without a
// second error saying the block has none ("instance VI_1: no
// virtual_ipaddress" at the instance's line, listed first, made a refused
// mapped VIP read as a missing one). A block that has no such line at all
// still says so. An empty track_file name is refused at its line.
func TestRefusedLineIsTheOnlyError(t *testing.T) {
	instance := func(vips string) string {
		return "instance VI_1 {\n    interface eth0\n    virtual_ipaddress {\n" + vips + "    }\n}\n"
	}
	fileCheck := func(line string) string {
		return "track_file app {\n    file /run/app/weight\n}\nvirtual_server 10.0.0.1 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    real_server 10.0.1.1 80 {\n        FILE_CHECK {\n" + line + "        }\n    }\n}\n"
	}
	for _, tc := range []struct {
		name, text string
		want       []string // every error, in order
	}{
		{"mapped VIP", instance("        ::ffff:192.168.200.11\n"), []string{"k.conf:4:"}},
		{"invalid VIP", instance("        300.1.1.1\n"), []string{"k.conf:4:"}},
		{"no VIP line", instance(""), []string{"k.conf:1: instance VI_1: no virtual_ipaddress"}},
		{"track_file with two names", fileCheck("            track_file app other\n"), []string{"k.conf:10:"}},
		{"no track_file line", fileCheck("            weight 1\n"), []string{"k.conf:9: FILE_CHECK: no track_file"}},
		// keepalived -t: "track_file  not found", exit 5: a name like any
		// other, not a refused line (it passed with no error at all).
		{"empty track_file name", fileCheck("            track_file \"\"\n"), []string{"k.conf:9: FILE_CHECK: track_file  not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("k.conf", []byte(tc.text), Options{})
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %v, want a list of %d", err, len(tc.want))
			}
			if len(list) != len(tc.want) {
				t.Fatalf("%d errors %q, want %d", len(list), list.Error(), len(tc.want))
			}
			for i, e := range list {
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error %d: %q, want it to start with %q", i, e, tc.want[i])
				}
			}
		})
	}
}

// TestEmptyTrackFileNameIsLookedUp: keepalived -t passes a FILE_CHECK
// naming track_file "" when a top-level track_file "" block exists, and
// kahook loads it with its checker.
func TestEmptyTrackFileNameIsLookedUp(t *testing.T) {
	text := "track_file \"\" {\n    file /run/app/weight\n}\nvirtual_server 10.0.0.1 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    real_server 10.0.1.1 80 {\n        FILE_CHECK {\n            track_file \"\"\n        }\n    }\n}\n"
	cfg, err := Parse("k.conf", []byte(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cfg.VirtualServers[0].RealServers[0].Checks); n != 1 {
		t.Fatalf("%d checkers, want the FILE_CHECK", n)
	}
	if f := cfg.VirtualServers[0].RealServers[0].Checks[0].File; f == nil || f.Path != "/run/app/weight" {
		t.Errorf("FILE_CHECK %+v, want the file of track_file \"\"", f)
	}
}
