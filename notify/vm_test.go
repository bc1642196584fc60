//go:build vm

package notify_test

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/netnstest"
)

// TestVMNotifyLoadsAndRemovesIPVS: MASTER loads the instance's services
// before binding the VIP; BACKUP removes them; re-running MASTER changes
// nothing in the table.
func TestVMNotifyLoadsAndRemovesIPVS(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf("")+withService)
	out := a.mustKahook("notify", "master", "VI_1")
	rules := a.MustRun("ipvsadm", "-Sn")
	for _, want := range []string{"-A -t 10.9.0.100:80 -s rr", "-a -t 10.9.0.100:80 -r 10.9.0.21:80 -g -w 1", "-a -t 10.9.0.100:80 -r 10.9.0.22:80 -g -w 1"} {
		if !strings.Contains(rules, want) {
			t.Errorf("after master, table lacks %q:\n%s\n%s", want, rules, out)
		}
	}
	if i, j := strings.Index(out, "IPVS changed"), strings.Index(out, "VIP added"); i < 0 || j < 0 || i > j {
		t.Errorf("IPVS must be loaded before the VIP is bound:\n%s", out)
	}
	if out := a.mustKahook("notify", "master", "VI_1"); len(infoLines(out)) != 0 {
		t.Errorf("second master logged changes: %q", infoLines(out))
	}
	out = a.mustKahook("notify", "backup", "VI_1")
	if rules := strings.TrimSpace(a.MustRun("ipvsadm", "-Sn")); rules != "" {
		t.Errorf("after backup the table still holds:\n%s", rules)
	}
	if i, j := strings.Index(out, "VIP removed"), strings.Index(out, "IPVS changed"); i < 0 || j < 0 || i > j {
		t.Errorf("the VIP must go before the services:\n%s", out)
	}
}

// TestVMStopKilledStaysConsistent: keepalived SIGKILLs a STOP script that
// runs longer than a second. Killed at random points, kahook never leaves
// the node answering ARP for the VIP without its services; the state file
// is always whole; the next run converges.
func TestVMStopKilledStaysConsistent(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf("")+withService)
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := 0; i < 20; i++ {
		a.mustKahook("notify", "master", "VI_1")
		cmd := a.Command(a.bin, "--config", a.conf, "--state-dir", a.stateDir, "--syslog", "off", "notify", "stop", "VI_1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(r.Intn(40)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		vip := a.hasAddr("lo", vip4)
		answers := a.sysctl("eth0.arp_ignore") == "0" && a.sysctl("all.arp_ignore") == "0"
		services := strings.TrimSpace(a.MustRun("ipvsadm", "-Sn")) != ""
		if vip && answers && !services {
			t.Fatalf("round %d: killed STOP left the node answering ARP for %s with no IPVS services", i, vip4)
		}
		if _, err := os.ReadFile(filepath.Join(a.stateDir, "state.json")); err == nil {
			readState(t, a.stateDir) // fails the test on a torn file
		}
	}
	a.mustKahook("notify", "stop", "VI_1")
	if a.hasAddr("lo", vip4) || strings.TrimSpace(a.MustRun("ipvsadm", "-Sn")) != "" {
		t.Fatal("a normal STOP after the killed ones did not converge")
	}
	if s := readState(t, a.stateDir).Instances["VI_1"]; s == nil || s.State != "STOP" || !s.Applied {
		t.Errorf("state %+v", s)
	}
}

// TestVMDryRunNotifyMasterListsIPVS (issue 17 item 8): on a fresh node
// `--dry-run notify master` lists every IPVS service and destination it
// would add (and the VIPs, sysctls and gratuitous ARP), creates no file
// and changes nothing; the real run then makes exactly those changes, and
// the kernel holds exactly the listed services and destinations.
func TestVMDryRunNotifyMasterListsIPVS(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf("")+withService)
	dry := a.transition(true, "master")
	if _, err := os.Lstat(a.stateDir); !os.IsNotExist(err) {
		t.Errorf("dry run created the state dir %s (%v)", a.stateDir, err)
	}
	if rules := strings.TrimSpace(a.MustRun("ipvsadm", "-Sn")); rules != "" {
		t.Errorf("dry run loaded services:\n%s", rules)
	}
	if a.hasAddr("lo", vip4) {
		t.Error("dry run bound the VIP")
	}
	lines := dry.changeLines(t)
	var ipvsOps []string
	for _, l := range lines {
		if strings.HasPrefix(l, "ipvs-load ipvs=") {
			var c struct {
				Op      string `json:"op"`
				Service struct {
					Address string `json:"address"`
					Port    int    `json:"port"`
				} `json:"service"`
				Destination *struct {
					Address string `json:"address"`
					Forward string `json:"forward"`
				} `json:"destination"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "ipvs-load ipvs=")), &c); err != nil {
				t.Fatal(err)
			}
			s := c.Op + " " + c.Service.Address
			if c.Destination != nil {
				s += " " + c.Destination.Address + " " + c.Destination.Forward
			}
			ipvsOps = append(ipvsOps, s)
		}
	}
	want := []string{"add-service 10.9.0.100", "add-dest 10.9.0.100 10.9.0.21 DR", "add-dest 10.9.0.100 10.9.0.22 DR"}
	if strings.Join(ipvsOps, "\n") != strings.Join(want, "\n") {
		t.Errorf("dry run IPVS changes:\n%s\nwant:\n%s\nall:\n%s", strings.Join(ipvsOps, "\n"), strings.Join(want, "\n"), strings.Join(lines, "\n"))
	}
	real := a.transition(false, "master")
	if got := real.changeLines(t); strings.Join(got, "\n") != strings.Join(lines, "\n") {
		t.Errorf("the real run did not make what the dry run listed:\ndry run:\n%s\nreal run:\n%s", strings.Join(lines, "\n"), strings.Join(got, "\n"))
	}
	rules := strings.TrimSpace(a.MustRun("ipvsadm", "-Sn"))
	wantRules := "-A -t 10.9.0.100:80 -s rr\n-a -t 10.9.0.100:80 -r 10.9.0.21:80 -g -w 1\n-a -t 10.9.0.100:80 -r 10.9.0.22:80 -g -w 1"
	if rules != wantRules {
		t.Errorf("kernel table after the real run:\n%s\nwant:\n%s", rules, wantRules)
	}
	if again := a.transition(true, "master"); again.Changed != 0 {
		t.Errorf("dry run after the real run plans: %v", again.changeLines(t))
	}
	// The release: the dry run lists the deletion, the real run makes it.
	dry = a.transition(true, "backup")
	real = a.transition(false, "backup")
	if d, r := dry.changeLines(t), real.changeLines(t); strings.Join(d, "\n") != strings.Join(r, "\n") || !strings.Contains(strings.Join(d, "\n"), `"op":"del-service"`) {
		t.Errorf("backup: dry run:\n%s\nreal run:\n%s", strings.Join(d, "\n"), strings.Join(r, "\n"))
	}
	if rules := strings.TrimSpace(a.MustRun("ipvsadm", "-Sn")); rules != "" {
		t.Errorf("after backup the table still holds:\n%s", rules)
	}
}
