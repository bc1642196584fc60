package config

import (
	"os/exec"
	"slices"
	"testing"
)

// TestGroupFamilyFromFWMarkEntries: a group whose entries are of one
// family gives it to its virtual server when nothing else set one
// (keepalived 2.2.7's link_vsg_to_vs, from vsg->have_ipv4/have_ipv6,
// which `fwmark N inet|inet6` entries set too), so the group's fwmark
// entries without a family take it (ipvs_group_cmd: the entry's family,
// else the service's, else IPv4). With tunnelled real servers only,
// nothing else sets the service's family: kahook loaded FWM 2 as IPv4
// beside FWM 1 IPv6, where keepalived loads both as IPv6.
func TestGroupFamilyFromFWMarkEntries(t *testing.T) {
	for _, tc := range []struct {
		name, entries, rs string
		want              []string
	}{
		{"IPv6 fwmark, tunnelled IPv4 servers", "fwmark 1 inet6\n fwmark 2", "10.1.0.2 0 {\n  lvs_method TUN\n }", []string{"FWM 1 IPv6", "FWM 2 IPv6"}},
		{"IPv4 fwmark, tunnelled IPv6 servers", "fwmark 1 inet\n fwmark 2", "2001:db8::2 0 {\n  lvs_method TUN\n }", []string{"FWM 1", "FWM 2"}},
		{"IPv6 fwmark, IPv6 DR servers", "fwmark 1 inet6\n fwmark 2", "2001:db8::2 0 {\n }", []string{"FWM 1 IPv6", "FWM 2 IPv6"}},
		{"fwmarks without family, tunnelled IPv6 servers", "fwmark 1\n fwmark 2", "2001:db8::2 0 {\n  lvs_method TUN\n }", []string{"FWM 1", "FWM 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "virtual_server_group G {\n " + tc.entries + "\n}\nvirtual_server group G {\n lb_algo rr\n lb_kind DR\n real_server " + tc.rs + "\n}\n"
			c, path, err := loadDiffText(t, text)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, vs := range c.VirtualServers {
				for s := range vs.Services(c.Groups) {
					got = append(got, s.String())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("services %q, want %q", got, tc.want)
			}
			if _, err := exec.LookPath("keepalived"); err == nil {
				keepalivedAgrees(t, path, true, "")
			}
		})
	}
}
