package ipvs

import (
	"strings"
	"testing"
)

// TestLargeNum: ipvsadm's print_largenum, at each unit's boundary.
func TestLargeNum(t *testing.T) {
	for _, tc := range []struct {
		n     uint64
		exact bool
		want  string
	}{
		{0, false, "        0"},
		{99999999, false, " 99999999"},
		{100000000, false, "  100000K"},
		{999999999, false, "  999999K"},
		{1000000000, false, "    1000M"},
		{99999999999, false, "   99999M"},
		{100000000000, false, "     100G"},
		{100000000000000, false, "     100T"},
		{12345678, true, " 12345678"},
		{123456789, true, " 123456789"},
		{12345678901234, true, " 12345678901234"},
	} {
		if got := largeNum(tc.n, tc.exact); got != tc.want {
			t.Errorf("largeNum(%d, exact %v) = %q, want %q", tc.n, tc.exact, got, tc.want)
		}
	}
}

// TestReadConns: /proc/net/ip_vs_conn's hex IPv4 addresses and ports and
// its IPv6 colon form read back as addresses, printed as ipvsadm -Lnc.
func TestReadConns(t *testing.T) {
	text := "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n" +
		"TCP 0A0100FE E0C8 0A010001 0050 0A020001 1F90 SYN_RECV         59\n" +
		"UDP 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:0db8:0000:0000:0000:0000:0000:0010 0035 2001:0db8:0000:0000:0000:0000:0000:0020 0035 UDP 299\n"
	conns, err := ReadConns(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	WriteConns(&b, conns)
	want := "IPVS connection entries\n" +
		"pro expire state       source             virtual            destination\n" +
		"TCP 00:59  SYN_RECV    10.1.0.254:57544   10.1.0.1:80        10.2.0.1:8080\n" +
		"UDP 04:59  UDP         [2001:db8::1]:53   [2001:db8::10]:53  [2001:db8::20]:53\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if _, err := ReadConns(strings.NewReader("hdr\nTCP zz 0050 0A010001 0050 0A020001 1F90 X 1\n")); err == nil {
		t.Error("a bad address was accepted")
	}
}
