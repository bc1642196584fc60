//go:build vm

// End-to-end failover tests: a real keepalived (Debian's) on each of two
// directors drives kahook through real VRRP, real ARP and real IPVS.
// Every scenario checks the end state from the outside: who answers ARP
// for the VIP (asked from the client), where the client's neighbour entry
// points, who has the VIP and IPVS rules, which sysctls are in force, and
// that the client's requests succeed.
package lab_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/lab"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

const settle = 40 * time.Second

func build(t *testing.T, o lab.Options) *lab.LVS {
	t.Helper()
	netnstest.RequireRoot(t)
	l, err := lab.New(testbin.Kahook(t), testbin.Labweb(t))
	if err != nil {
		t.Fatal(err)
	}
	l.Say = t.Logf
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("lab cleanup: %v", err)
		}
		if left := lab.Leftovers(l.Prefix()); len(left) > 0 {
			t.Errorf("lab left behind: %v", left)
		}
	})
	x, err := lab.BuildLVS(l, o)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// expectActive asserts that d alone serves the VIP: it alone answers ARP
// and holds the IPVS rules, with director sysctls, and the client gets
// answers from real servers through it.
func expectActive(t *testing.T, x *lab.LVS, d *lab.Node, wantVIPOnOther bool) {
	t.Helper()
	other := x.A
	if d == x.A {
		other = x.B
	}
	var snap lab.Snapshot
	ok := netnstest.Eventually(settle, func() bool {
		var err error
		snap, err = x.Observe()
		return err == nil && len(snap.ARP) == 1 && snap.ARP[0] == d.Name && snap.IPVS[d.Name] && !snap.IPVS[other.Name] &&
			snap.VIP[d.Name] && snap.VIP[other.Name] == wantVIPOnOther
	})
	if !ok {
		t.Fatalf("want %s active alone: %s", d.Name, snap)
	}
	if snap.Sysctls[d.Name] != "arp_ignore=0 arp_announce=2" {
		t.Errorf("active director %s sysctls: %s", d.Name, snap.Sysctls[d.Name])
	}
	for i := 0; i < 4; i++ {
		name, err := x.Get()
		if err != nil || name == "" {
			t.Fatalf("request through the VIP failed: %q %v (%s)", name, err, snap)
		}
	}
	if n := x.NeighbourOfVIP(); n != d.Name {
		t.Errorf("client neighbour entry for the VIP -> %q, want %s", n, d.Name)
	}
	t.Logf("end state: %s", snap)
}

func start(t *testing.T, o lab.Options) *lab.LVS {
	x := build(t, o)
	must(t, x.WaitState(x.A, "MASTER", settle))
	must(t, x.WaitState(x.B, "BACKUP", settle))
	expectActive(t, x, x.A, o.MutualDR)
	return x
}

// TestVMFailoverSIGKILL: every keepalived process of the master is
// SIGKILLed (a crash); b takes over after three missed adverts and the
// client keeps getting answers. a ran no notify (keepalived was killed),
// so it keeps its VIP and IPVS rules until the command of kahook's
// keepalived.service drop-in (ExecStopPost, run here by hand) releases
// them: then only b answers ARP. keepalived comes back on a (as systemd
// restarts it) and takes over again (preempt).
func TestVMFailoverSIGKILL(t *testing.T) {
	x := start(t, lab.Options{})
	probe, err := x.StartProbe("probe")
	must(t, err)
	x.Keepalived(x.A).KillGroup(syscall.SIGKILL)
	must(t, x.WaitState(x.B, "MASTER", settle))
	ok := netnstest.Eventually(settle, func() bool {
		n := x.NeighbourOfVIP()
		name, err := x.Get()
		return n == "b" && err == nil && name != ""
	})
	if !ok {
		t.Fatalf("after a's keepalived died the client does not reach the VIP through b (neighbour %q)", x.NeighbourOfVIP())
	}
	time.Sleep(time.Second)
	probe.Stop()
	st := lab.ReadProbe(probe)
	t.Logf("client: %d requests, answers %v, longest time without an answer %v", st.Total, st.Answers, st.Outage)
	if st.Answers["rs1"] == 0 || st.Answers["rs2"] == 0 {
		t.Errorf("answers %v: both real servers should have answered", st.Answers)
	}
	if x.Rules(x.B) == "" {
		t.Error("b has no IPVS rules")
	}
	if !x.HasVIP(x.A) {
		t.Error("a lost its VIP without a release: the crash case is not what this test shows")
	}
	out, err := x.Release(x.A)
	must(t, err)
	t.Logf("kahook release --all on a (keepalived.service's ExecStopPost):\n%s", out)
	expectActive(t, x, x.B, false)
	must(t, x.StartKeepalived(x.A))
	must(t, x.WaitState(x.A, "MASTER", settle))
	must(t, x.WaitState(x.B, "BACKUP", settle))
	expectActive(t, x, x.A, false)
}

// TestVMFailoverLinkDown: a's interface goes down (FAULT: kahook removes
// its VIP and services), b takes over; when the link comes back a takes
// over again (preempt, higher priority).
func TestVMFailoverLinkDown(t *testing.T) {
	x := start(t, lab.Options{})
	_, err := x.A.Run("ip", "link", "set", "eth0", "down")
	must(t, err)
	must(t, x.WaitState(x.A, "FAULT", settle))
	must(t, x.WaitState(x.B, "MASTER", settle))
	expectActive(t, x, x.B, false)
	_, err = x.A.Run("ip", "link", "set", "eth0", "up")
	must(t, err)
	must(t, x.WaitState(x.A, "MASTER", settle))
	must(t, x.WaitState(x.B, "BACKUP", settle))
	expectActive(t, x, x.A, false)
}

// TestVMFailoverTrackScript: keepalived tracks `kahook check tcp` against
// a local service on each director; the service dies on a, its check
// fails, a goes FAULT and b takes over; the service comes back, a too.
func TestVMFailoverTrackScript(t *testing.T) {
	x := start(t, lab.Options{Track: true})
	x.StopLocalService(x.A)
	must(t, x.WaitState(x.A, "FAULT", settle))
	must(t, x.WaitState(x.B, "MASTER", settle))
	expectActive(t, x, x.B, false)
	must(t, x.StartLocalService(x.A))
	must(t, x.WaitState(x.A, "MASTER", settle))
	expectActive(t, x, x.A, false)
}

// TestVMGracefulStopAndNopreempt: a's keepalived stops cleanly (STOP:
// kahook removes everything inside keepalived's one second), b takes
// over; with nopreempt, a's return does not take it back.
func TestVMGracefulStopAndNopreempt(t *testing.T) {
	x := start(t, lab.Options{Nopreempt: true})
	x.Keepalived(x.A).Kill(syscall.SIGTERM)
	if !x.Keepalived(x.A).Wait(20 * time.Second) {
		t.Fatal("keepalived did not stop on SIGTERM")
	}
	must(t, x.WaitState(x.A, "STOP", settle))
	must(t, x.WaitState(x.B, "MASTER", settle))
	expectActive(t, x, x.B, false)
	must(t, x.StartKeepalived(x.A))
	must(t, x.WaitState(x.A, "BACKUP", settle))
	time.Sleep(5 * time.Second) // several advert intervals: a must not preempt
	if s := x.State(x.B); s != "MASTER" {
		t.Fatalf("nopreempt: b is %s after a came back", s)
	}
	expectActive(t, x, x.B, false)
}

// TestVMMutualDR: both directors are LVS-DR real servers for each other.
// The backup keeps the VIP on lo with realserver sysctls and no IPVS
// rules: requests through either master reach both nodes, none loops.
func TestVMMutualDR(t *testing.T) {
	x := start(t, lab.Options{MutualDR: true})
	check := func(master, backup *lab.Node) {
		t.Helper()
		if s := x.Sysctls(backup); s != "arp_ignore=1 arp_announce=2" {
			t.Errorf("backup %s sysctls %s, want the realserver role", backup.Name, s)
		}
		if r := x.Rules(backup); r != "" {
			t.Errorf("backup %s keeps IPVS rules (packet loops):\n%s", backup.Name, r)
		}
		seen := map[string]int{}
		for i := 0; i < 30; i++ {
			name, err := x.Get()
			if err != nil || name == "" {
				t.Fatalf("request %d through %s failed: %q %v", i, master.Name, name, err)
			}
			seen[name]++
		}
		if seen["a"] == 0 || seen["b"] == 0 {
			t.Errorf("through %s answers came from %v, want both a and b", master.Name, seen)
		}
	}
	check(x.A, x.B)
	x.Keepalived(x.A).Kill(syscall.SIGTERM)
	x.Keepalived(x.A).Wait(20 * time.Second)
	must(t, x.WaitState(x.B, "MASTER", settle))
	expectActive(t, x, x.B, true)
	check(x.B, x.A)
}

// TestVMFIFOAndNotify: a gets its events through notify_fifo_script and
// `kahook fifo`, b through the plain notify form; failover and back work
// across the two.
func TestVMFIFOAndNotify(t *testing.T) {
	x := start(t, lab.Options{FIFO: true})
	_, err := x.A.Run("ip", "link", "set", "eth0", "down")
	must(t, err)
	must(t, x.WaitState(x.A, "FAULT", settle))
	must(t, x.WaitState(x.B, "MASTER", settle))
	expectActive(t, x, x.B, false)
	_, err = x.A.Run("ip", "link", "set", "eth0", "up")
	must(t, err)
	must(t, x.WaitState(x.A, "MASTER", settle))
	expectActive(t, x, x.A, false)
}

// TestVMFIFOStopReleases (issue 14, case 1): a gets its events through
// notify_fifo_script (`kahook fifo`); its keepalived is stopped (SIGTERM
// to the main process, as `systemctl stop` does) while MASTER, 20 times in
// a row. keepalived SIGTERMs the FIFO reader before it writes the STOP
// line: after each stop a's VIP and IPVS services must be gone (the
// reader drains the FIFO until keepalived closes it) and b serves alone.
func TestVMFIFOStopReleases(t *testing.T) {
	x := start(t, lab.Options{FIFO: true})
	const stops = 20
	released := 0
	for i := 0; i < stops; i++ {
		if i > 0 {
			must(t, x.StartKeepalived(x.A))
			must(t, x.WaitState(x.A, "MASTER", settle))
			if !netnstest.Eventually(settle, func() bool { return x.HasVIP(x.A) && x.Rules(x.A) != "" }) {
				t.Fatalf("stop %d: a is not MASTER with its services", i+1)
			}
		}
		k := x.Keepalived(x.A)
		k.Kill(syscall.SIGTERM)
		if !k.Wait(settle) {
			t.Fatalf("stop %d: keepalived did not exit", i+1)
		}
		ok := netnstest.Eventually(5*time.Second, func() bool { return !x.HasVIP(x.A) && x.Rules(x.A) == "" })
		if ok {
			released++
		} else {
			t.Errorf("stop %d: a kept VIP %v, IPVS rules %q after keepalived stopped", i+1, x.HasVIP(x.A), x.Rules(x.A))
		}
	}
	t.Logf("%d of %d keepalived stops released a's VIP and IPVS services", released, stops)
	must(t, x.WaitState(x.B, "MASTER", settle))
	expectActive(t, x, x.B, false)
}

// TestVMFlappingMaster: a's link goes down and up 20 times, 200 ms apart.
// Once it settles exactly one node holds the VIP and the IPVS rules, and
// the client's neighbour entry points to it.
func TestVMFlappingMaster(t *testing.T) {
	x := start(t, lab.Options{})
	probe, err := x.StartProbe("probe")
	must(t, err)
	for i := 0; i < 20; i++ {
		x.A.Run("ip", "link", "set", "eth0", "down")
		time.Sleep(200 * time.Millisecond)
		x.A.Run("ip", "link", "set", "eth0", "up")
		time.Sleep(200 * time.Millisecond)
	}
	// Settled: kahook's state unchanged for 10 s on both, well past
	// keepalived's master-down timer (3 adverts), after which a preempts.
	stable := 0
	last := ""
	netnstest.Eventually(3*settle, func() bool {
		cur := x.State(x.A) + "/" + x.State(x.B)
		if cur == last {
			stable++
		} else {
			stable, last = 0, cur
		}
		return stable >= 500
	})
	probe.Stop()
	t.Logf("settled as a/b = %s", last)
	holder := x.A
	if x.State(x.B) == "MASTER" {
		holder = x.B
	}
	expectActive(t, x, holder, false)
}

// TestVMSyncAsTrackScript: keepalived runs `kahook sync` as a vrrp_script
// on the master; the IPVS pool follows the backends' health.
func TestVMSyncAsTrackScript(t *testing.T) {
	x := start(t, lab.Options{Sync: true})
	// In the pool: a destination with a weight (a failed one is drained
	// at weight 0 first, then deleted).
	has := func(rs string) bool {
		for _, line := range strings.Split(x.Rules(x.A), "\n") {
			if strings.Contains(line, "-r "+rs+":80") && !strings.HasSuffix(line, "-w 0") {
				return true
			}
		}
		return false
	}
	web, err := x.RS2.Run("pkill", "-f", "labweb -listen :80 -name rs2")
	if err != nil {
		t.Fatalf("stop rs2: %v %s", err, web)
	}
	if !netnstest.Eventually(settle, func() bool { return !has(lab.IPRS2) }) {
		t.Fatalf("rs2 died but stays in the pool:\n%s", x.Rules(x.A))
	}
	for i := 0; i < 6; i++ {
		if name, err := x.Get(); err != nil || name != "rs1" {
			t.Fatalf("with rs2 out, requests go to rs1: %q %v", name, err)
		}
	}
	_, err = x.RS2.Start("web-rs2-again", x.Labweb, "-listen", ":80", "-name", "rs2")
	must(t, err)
	if !netnstest.Eventually(settle, func() bool { return has(lab.IPRS2) }) {
		t.Fatalf("rs2 came back but is not in the pool:\n%s", x.Rules(x.A))
	}
	if s := x.State(x.A); s != "MASTER" {
		t.Errorf("a is %s: sync must exit 0 while the pool has quorum", s)
	}
}
