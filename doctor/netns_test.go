package doctor_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestProbeFindsLeakingRealServer: a director and two LVS-DR real
// servers; one has arp_ignore set on lo only (the classic mistake).
// `arp probe` and `doctor --probe` on the director name its MAC; after
// `kahook realserver up` on it, they do not.
func TestProbeFindsLeakingRealServer(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	dir := netnstest.New(t, "dir")
	rs1 := netnstest.New(t, "rs1")
	rs2 := netnstest.New(t, "rs2")
	sw.Plug(dir, "eth0", "02:00:00:00:07:01", "10.9.0.1/24")
	sw.Plug(rs1, "eth0", "02:00:00:00:07:11", "10.9.0.11/24")
	sw.Plug(rs2, "eth0", "02:00:00:00:07:12", "10.9.0.12/24")
	bin := testbin.Kahook(t)
	tmp := t.TempDir()
	conf := filepath.Join(tmp, "kahook.conf")
	os.WriteFile(conf, []byte("instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.9.0.100 }\n garp_master_repeat 1\n garp_master_delay 0\n}\n"), 0o644)
	run := func(ns *netnstest.NS, args ...string) (string, int) {
		full := append([]string{bin, "--syslog", "off", "--config", conf, "--state-dir", filepath.Join(tmp, "state")}, args...)
		out, err := ns.Run(full...)
		if ee, ok := err.(*exec.ExitError); ok {
			return out, ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out, 0
	}
	kaConf := filepath.Join(tmp, "keepalived.conf")
	os.WriteFile(kaConf, []byte("global_defs {\n script_user root\n}\nvrrp_instance VI_1 {\n state BACKUP\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress {\n  127.255.0.51/32 dev lo\n }\n notify \""+bin+" --config "+conf+" notify\"\n}\n"), 0o644)
	if out, code := run(dir, "notify", "master", "VI_1"); code != 0 {
		t.Fatalf("notify master: %s", out)
	}
	if out, code := run(rs1, "realserver", "up", "--vip", "10.9.0.100", "--interface", "eth0"); code != 0 {
		t.Fatal(out)
	}
	// rs2: the VIP on lo with arp_ignore/arp_announce on lo only.
	rs2.MustRun("sysctl", "-qw", "net.ipv4.conf.lo.arp_ignore=1", "net.ipv4.conf.lo.arp_announce=2")
	rs2.MustRun("ip", "addr", "add", "10.9.0.100/32", "dev", "lo")

	probe, _ := run(dir, "arp", "probe", "--interface", "eth0", "--timeout", "600ms", "10.9.0.100")
	if !strings.Contains(probe, "02:00:00:00:07:12") || strings.Contains(probe, "02:00:00:00:07:11") {
		t.Errorf("arp probe must list rs2 (and only rs2):\n%s", probe)
	}
	doc, code := run(dir, "doctor", "--probe", "--probe-timeout", "600ms", "--keepalived-conf", kaConf)
	if code != 1 || !strings.Contains(doc, "FAIL") || !strings.Contains(doc, "02:00:00:00:07:12") {
		t.Errorf("doctor --probe must fail naming rs2's MAC (exit %d):\n%s", code, doc)
	}
	if out, code := run(rs2, "realserver", "up", "--vip", "10.9.0.100", "--interface", "eth0"); code != 0 {
		t.Fatal(out)
	}
	probe, _ = run(dir, "arp", "probe", "--interface", "eth0", "--timeout", "600ms", "10.9.0.100")
	if strings.Contains(probe, "02:00:00:00:07:1") {
		t.Errorf("after realserver up on rs2 nobody else answers:\n%s", probe)
	}
	doc, code = run(dir, "doctor", "--probe", "--probe-timeout", "600ms", "--keepalived-conf", kaConf)
	if code != 0 || strings.Contains(doc, "02:00:00:00:07:12") {
		t.Errorf("doctor after the fix (exit %d):\n%s", code, doc)
	}
}
