package config

import (
	"net/netip"
	"testing"
)

// TestVirtualServerName: a virtual server is named as keepalived names
// it in its logs and FIFO; the name keys the sync state file, so it must
// not change when its code does (issue 18 made it concatenate).
func TestVirtualServerName(t *testing.T) {
	for _, tc := range []struct {
		name string
		vs   VirtualServer
		want string
	}{
		{"ipv4", VirtualServer{Addr: netip.MustParseAddrPort("192.0.2.10:80"), Protocol: "TCP"}, "192.0.2.10:tcp:80"},
		{"ipv6", VirtualServer{Addr: netip.MustParseAddrPort("[2001:db8::10]:443"), Protocol: "UDP"}, "[2001:db8::10]:udp:443"},
		{"port 0", VirtualServer{Addr: netip.MustParseAddrPort("192.0.2.10:0"), Protocol: "SCTP"}, "192.0.2.10:sctp:0"},
		{"no protocol", VirtualServer{Addr: netip.MustParseAddrPort("192.0.2.10:80")}, "192.0.2.10:none:80"},
		{"fwmark", VirtualServer{FWMark: 4294967295}, "fwmark 4294967295"},
		{"group", VirtualServer{Group: "G1", FWMark: 7}, "group G1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.vs.Name(); got != tc.want {
				t.Errorf("Name() = %q, want %q", got, tc.want)
			}
		})
	}
}
