package netnstest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPlugTakesNoHostName (issue 17 item 10): plugging nodes into a
// switch creates nothing in the namespace the test runs in, so two
// packages plugging at once cannot collide. The test plays "the host" in
// a scratch namespace that already has links named like the switch's
// ports; plugging must still work, and the
// nodes must reach each other.
func TestPlugTakesNoHostName(t *testing.T) {
	host := New(t, "host")
	if err := host.Do(func() error {
		if out, err := exec.Command("ip", "link", "add", "p1", "type", "veth", "peer", "name", "p2").CombinedOutput(); err != nil {
			t.Fatalf("ip link add p1: %v: %s", err, out)
		}
		before, _ := exec.Command("ip", "-o", "link").Output()
		sw := NewSwitch(t)
		a, b := New(t, "a"), New(t, "b")
		sw.Plug(a, "eth0", "02:00:00:00:09:01", "10.9.9.1/24")
		sw.Plug(b, "eth0", "02:00:00:00:09:02", "10.9.9.2/24")
		after, _ := exec.Command("ip", "-o", "link").Output()
		if linkNames(before) != linkNames(after) {
			t.Errorf("links of the test's own namespace changed:\nbefore %s\nafter  %s", linkNames(before), linkNames(after))
		}
		a.MustRun("ping", "-c", "1", "-W", "2", "10.9.9.2")
		if out := sw.MustRun("ip", "-o", "link", "show", "master", "br0"); !strings.Contains(out, "p1@") || !strings.Contains(out, "p2@") {
			t.Errorf("switch ports: %s", out)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func linkNames(out []byte) string {
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			names = append(names, strings.TrimSuffix(f[1], ":"))
		}
	}
	return strings.Join(names, " ")
}
