package arp_test

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdarp "github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"

	"github.com/kahook/kahook/arp"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestAnswersProbe: only a reply addressed to the prober counts.
func TestAnswersProbe(t *testing.T) {
	me := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	other := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	myIP, vip := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.100")
	pkt := func(op mdarp.Operation, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) *mdarp.Packet {
		p, err := mdarp.NewPacket(op, sha, spa, tha, tpa)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		p    *mdarp.Packet
		want bool
	}{
		{"reply to the probe", pkt(mdarp.OperationReply, other, vip, me, myIP), true},
		{"gratuitous reply (broadcast target)", pkt(mdarp.OperationReply, other, vip, ethernet.Broadcast, vip), false},
		{"gratuitous reply (own MAC as target)", pkt(mdarp.OperationReply, other, vip, other, vip), false},
		{"gratuitous request", pkt(mdarp.OperationRequest, other, vip, ethernet.Broadcast, vip), false},
		{"reply to another prober", pkt(mdarp.OperationReply, other, vip, net.HardwareAddr{2, 0, 0, 0, 0, 7}, netip.MustParseAddr("10.0.0.7")), false},
		{"our own reply", pkt(mdarp.OperationReply, me, vip, me, myIP), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := arp.AnswersProbe(tc.p, me, myIP); got != tc.want {
				t.Errorf("AnswersProbe = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestProbeIgnoresGratuitousARP: a node that sends gratuitous ARP for a
// VIP (as after a transition) but does not answer ARP for it is not
// reported by `arp probe` (which exits 1: nobody answers); a node that
// answers is.
func TestProbeIgnoresGratuitousARP(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	prober := netnstest.New(t, "prb")
	garper := netnstest.New(t, "gar")
	sw.Plug(prober, "eth0", "02:00:00:00:08:01", "10.8.0.1/24")
	sw.Plug(garper, "eth0", "02:00:00:00:08:02", "10.8.0.2/24")
	bin := testbin.Kahook(t)
	conf := filepath.Join(t.TempDir(), "kahook.conf")
	os.WriteFile(conf, []byte("instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.8.0.100 }\n}\n"), 0o644)
	run := func(ns *netnstest.NS, args ...string) (string, int) {
		out, err := ns.Run(append([]string{bin, "--syslog", "off", "--config", conf}, args...)...)
		if ee, ok := err.(*exec.ExitError); ok {
			return out, ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out, 0
	}
	// The garper announces the VIP for the whole probe (both GARP forms,
	// every 50 ms) without holding it: it never answers a request for it.
	g := netnstest.Start(t, garper, bin, "--syslog", "off", "--config", conf, "garp", "--interface", "eth0", "--repeat", "60", "--interval", "50ms", "10.8.0.100")
	time.Sleep(200 * time.Millisecond)
	out, code := run(prober, "arp", "probe", "--interface", "eth0", "--timeout", "1s", "10.8.0.100")
	if strings.Contains(out, "02:00:00:00:08:02") || code == 0 {
		t.Errorf("gratuitous ARP counted as an answer (exit %d):\n%s\ngarp: %s", code, out, g.Output())
	}
	g.Stop()
	// Now the node holds the VIP and answers: it is reported.
	garper.MustRun("ip", "addr", "add", "10.8.0.100/32", "dev", "eth0")
	out, code = run(prober, "arp", "probe", "--interface", "eth0", "--timeout", "600ms", "10.8.0.100")
	if !strings.Contains(out, "02:00:00:00:08:02") || code != 0 {
		t.Errorf("a real answer not reported (exit %d):\n%s", code, out)
	}
}
