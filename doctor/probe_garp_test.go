package doctor_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestDoctorProbeIgnoresGratuitousARP: while another node keeps sending
// gratuitous ARP for the VIP (as for seconds after a transition) without
// answering for it, `doctor --probe` on the MASTER does not count it as a
// second node answering.
func TestDoctorProbeIgnoresGratuitousARP(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	dir := netnstest.New(t, "dgd")
	other := netnstest.New(t, "dgo")
	sw.Plug(dir, "eth0", "02:00:00:00:0a:01", "10.10.0.1/24")
	sw.Plug(other, "eth0", "02:00:00:00:0a:02", "10.10.0.2/24")
	bin := testbin.Kahook(t)
	tmp := t.TempDir()
	conf := filepath.Join(tmp, "kahook.conf")
	os.WriteFile(conf, []byte("instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.10.0.100 }\n garp_master_repeat 1\n garp_master_delay 0\n}\n"), 0o644)
	run := func(ns *netnstest.NS, args ...string) (string, int) {
		out, err := ns.Run(append([]string{bin, "--syslog", "off", "--config", conf, "--state-dir", filepath.Join(tmp, "state-"+ns.Name)}, args...)...)
		if ee, ok := err.(*exec.ExitError); ok {
			return out, ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out, 0
	}
	if out, code := run(dir, "notify", "master", "VI_1"); code != 0 {
		t.Fatalf("notify master: %s", out)
	}
	g := netnstest.Start(t, other, bin, "--syslog", "off", "--config", conf, "garp", "--interface", "eth0", "--repeat", "60", "--interval", "50ms", "10.10.0.100")
	defer g.Stop()
	time.Sleep(200 * time.Millisecond)
	doc, _ := run(dir, "doctor", "--probe", "--probe-timeout", "1s")
	if strings.Contains(doc, "02:00:00:00:0a:02") {
		t.Errorf("doctor --probe counted gratuitous ARP as an answer:\n%s", doc)
	}
}
