package notify_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mdarp "github.com/mdlayher/arp"
	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/notify"
	"github.com/kahook/kahook/state"
)

// nobody is the unprivileged uid the attack tests run as (setpriv).
const nobody = "65534"

func asNobody(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed")
	}
	return exec.Command("setpriv", append([]string{"--reuid", nobody, "--regid", nobody, "--clear-groups", "--"}, args...)...)
}

func mustNobody(t *testing.T, args ...string) {
	t.Helper()
	if out, err := asNobody(t, args...).CombinedOutput(); err != nil {
		t.Fatalf("as uid %s: %s: %v\n%s", nobody, strings.Join(args, " "), err, out)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// stateFile reads state.json raw: it must be a valid version-1 state
// written by kahook (a regular 0600 file).
func stateFile(t *testing.T, dir string) *state.State {
	t.Helper()
	path := filepath.Join(dir, "state.json")
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want a regular 0600 file", fi.Mode())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st state.State
	if err := json.Unmarshal(data, &st); err != nil || st.Version != 1 {
		t.Fatalf("state file not repaired (version %d, %v):\n%.300s", st.Version, err, data)
	}
	return &st
}

func eventJSON(boot string, bootNS int64) string {
	return fmt.Sprintf(`{"version":1,"instances":{"VI_1":{"state":"MASTER","priority":100,"event":{"boot":%q,"boot_ns":%d,"pid":1},"applied":true,"source":"notify"}}}`, boot, bootNS)
}

func nowBootNS(t *testing.T) int64 {
	var ts syscall.Timespec
	if err := clockBoottime(&ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano()
}

// TestBrokenStateReleases (issue 14, cases 2, 4 and 7; issue 15 case 3):
// whatever is wrong with the state dir, BACKUP releases the VIP and says
// so in one clear log line; a state file kahook can replace is replaced
// by a valid one (exit 0), a state it cannot write (read-only file
// system, full disk) exits 1 after releasing. MASTER then loads from the
// repaired state.
func TestBrokenStateReleases(t *testing.T) {
	netnstest.RequireRoot(t)
	sw := netnstest.NewSwitch(t)
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, "Zsecret-content-never-printed\n")
	boot := state.BootID()
	if boot == "" {
		t.Fatal("no /proc/sys/kernel/random/boot_id")
	}
	type breaker func(t *testing.T, dir string)
	write := func(data string) breaker {
		return func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "state.json"), data) }
	}
	tmpfs := func(t *testing.T, dir string) {
		// The state dir on a small tmpfs of its own, with the good state.
		good, err := os.ReadFile(filepath.Join(dir, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "kahook-test", dir).CombinedOutput(); err != nil {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
		writeFile(t, filepath.Join(dir, "state.json"), string(good))
	}
	cases := []struct {
		name     string
		brk      breaker
		exit     int
		log      string
		repaired bool
		fast     bool // must not take long (size bound, no blocking)
	}{
		{"empty file", write(""), 0, "state file refused", true, false},
		{"truncated", write(`{"version":1,"instances":{"VI_1":{"state":"MAS`), 0, "does not parse", true, false},
		{"garbage", write("garbage{"), 0, "does not parse", true, false},
		{"wrong-typed entry", write(`{"version":1,"instances":{"VI_1":"x"}}`), 0, "does not parse", true, false},
		{"unknown version", write(`{"version":99,"instances":{}}`), 0, "unknown version 99", true, false},
		{"oversized", write(`{"version":1,"instances":{}` + strings.Repeat(" ", 17<<20) + "}"), 0, "larger than the 16777216-byte bound", true, true},
		{"symlink to another file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "state.json")
			os.Remove(p)
			if err := os.Symlink(secret, p); err != nil {
				t.Fatal(err)
			}
		}, 0, "is a symbolic link (not followed)", true, false},
		{"fifo", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "state.json")
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}, 0, "not a regular file", true, true},
		{"event of an earlier boot", write(eventJSON("00000000-0000-4000-8000-000000000000", 1<<60)), 0, "", true, false},
		{"forged future event", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "state.json"), eventJSON(boot, nowBootNS(t)+int64(time.Hour)))
		}, 0, "event from the future ignored", true, false},
		{"read-only file system", func(t *testing.T, dir string) {
			tmpfs(t, dir)
			if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
				t.Fatalf("remount ro: %v %s", err, out)
			}
		}, 1, "releasing anyway", false, false},
		{"full disk", func(t *testing.T, dir string) {
			tmpfs(t, dir)
			exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(dir, "fill"), "bs=4k").Run()
		}, 1, "state not recorded: releasing anyway", false, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, sw, fmt.Sprintf("s%d", i), fmt.Sprintf("02:00:00:00:01:%02x", i), fmt.Sprintf("10.9.0.%d/24", 30+i), "", instanceConf(""))
			n.mustKahook("notify", "master", "VI_1")
			if !n.hasAddr("lo", vip4) {
				t.Fatal("MASTER did not bind the VIP")
			}
			tc.brk(t, n.stateDir)
			start := time.Now()
			out, code := n.kahook("notify", "backup", "VI_1")
			took := time.Since(start)
			if n.hasAddr("lo", vip4) || n.hasAddr("eth0", vip6) {
				t.Fatalf("BACKUP left the VIPs (exit %d):\n%s", code, out)
			}
			if code != tc.exit {
				t.Errorf("exit %d, want %d:\n%s", code, tc.exit, out)
			}
			if tc.log != "" && !strings.Contains(out, tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, out)
			}
			if strings.Contains(out, "stale event skipped") {
				t.Errorf("a forged or old event made the release stale:\n%s", out)
			}
			if strings.Contains(out, "Zsecret") {
				t.Errorf("the symlink's target leaked:\n%s", out)
			}
			if tc.fast && took > 5*time.Second {
				t.Errorf("took %v", took)
			}
			if !tc.repaired {
				return
			}
			if s := stateFile(t, n.stateDir).Instances["VI_1"]; s == nil || s.State != "BACKUP" || !s.Applied {
				t.Errorf("repaired state: %+v", s)
			}
			if data, _ := os.ReadFile(secret); !strings.HasPrefix(string(data), "Zsecret") {
				t.Error("the symlink's target was changed")
			}
			// MASTER from the same broken state: it loads (and repairs).
			tc.brk(t, n.stateDir)
			if out, code := n.kahook("notify", "master", "VI_1"); code != 0 || !n.hasAddr("lo", vip4) {
				t.Errorf("MASTER after %s: exit %d, VIP %v:\n%s", tc.name, code, n.hasAddr("lo", vip4), out)
			}
			if s := stateFile(t, n.stateDir).Instances["VI_1"]; s == nil || s.State != "MASTER" {
				t.Errorf("state after MASTER: %+v", s)
			}
		})
	}
}

// TestStateDirAttacks (issue 15, cases 2 and 3) runs the attacks of a
// local user (uid 65534, through setpriv) on the state dir: none of them
// blocks or forges a release, none makes root create, read or follow
// anything, and a MASTER refuses an unsafe dir (exit 2, nothing changed).
func TestStateDirAttacks(t *testing.T) {
	netnstest.RequireRoot(t)
	sw := netnstest.NewSwitch(t)
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, "Zsecret-content-never-printed\n")

	// A sticky world-writable parent, like /tmp.
	sticky := func(t *testing.T) string {
		d := t.TempDir()
		if err := os.Chmod(filepath.Dir(d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, os.ModeSticky|0o777); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cases := []struct {
		name string
		// setup prepares the state dir (it does not exist yet) and returns
		// a cleanup check run after the release.
		setup func(t *testing.T, dir string) func(t *testing.T)
	}{
		{"read-only flock holder on a kahook 0.1 dir (0755, lock 0644)", func(t *testing.T, dir string) func(t *testing.T) {
			os.Mkdir(dir, 0o755)
			os.Chmod(dir, 0o755)
			writeFile(t, filepath.Join(dir, "lock"), "")
			os.Chmod(filepath.Join(dir, "lock"), 0o644)
			holder := asNobody(t, "flock", "-x", filepath.Join(dir, "lock"), "sleep", "60")
			if err := holder.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
			time.Sleep(200 * time.Millisecond)
			return nil
		}},
		{"lock symlink planted by another user", func(t *testing.T, dir string) func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "created-by-root")
			mustNobody(t, "mkdir", "-m", "0777", dir)
			mustNobody(t, "ln", "-s", target, filepath.Join(dir, "lock"))
			return func(t *testing.T) {
				if _, err := os.Lstat(target); err == nil {
					t.Error("root created the lock symlink's target")
				}
			}
		}},
		{"state.json symlink to a root-only file", func(t *testing.T, dir string) func(t *testing.T) {
			mustNobody(t, "mkdir", "-m", "0755", dir)
			mustNobody(t, "ln", "-s", secret, filepath.Join(dir, "state.json"))
			return nil
		}},
		{"forged future event", func(t *testing.T, dir string) func(t *testing.T) {
			mustNobody(t, "mkdir", "-m", "0755", dir)
			mustNobody(t, "sh", "-c", "cat > "+filepath.Join(dir, "state.json")+" <<'EOF'\n"+eventJSON(state.BootID(), nowBootNS(t)+int64(time.Hour))+"\nEOF")
			return nil
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, sw, fmt.Sprintf("x%d", i), fmt.Sprintf("02:00:00:00:02:%02x", i), fmt.Sprintf("10.9.0.%d/24", 60+i), "", instanceConf(""))
			n.stateDir = filepath.Join(sticky(t), "state")
			after := tc.setup(t, n.stateDir)
			before := n.MustRun("ip", "-o", "addr", "show", "dev", "lo") + n.sysctl("all.arp_announce")
			out, code := n.kahook("notify", "master", "VI_1")
			if code != 2 || !strings.Contains(out, "unsafe state dir "+n.stateDir) || n.MustRun("ip", "-o", "addr", "show", "dev", "lo")+n.sysctl("all.arp_announce") != before {
				t.Errorf("MASTER with an unsafe state dir: exit %d (want 2, nothing changed):\n%s", code, out)
			}
			// The VIP is up (as if bound by an earlier MASTER): BACKUP must
			// take it away at once, unrecorded.
			n.MustRun("ip", "addr", "add", vip4+"/32", "dev", "lo")
			start := time.Now()
			out, code = n.kahook("notify", "backup", "VI_1")
			if n.hasAddr("lo", vip4) {
				t.Fatalf("BACKUP left the VIP (exit %d):\n%s", code, out)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("release took %v", took)
			}
			if code != 1 || !strings.Contains(out, "releasing anyway, without the run lock and without recording the event") {
				t.Errorf("exit %d, want 1 with the reason:\n%s", code, out)
			}
			if strings.Contains(out, "Zsecret") {
				t.Errorf("secret leaked:\n%s", out)
			}
			if after != nil {
				after(t)
			}
			if data, _ := os.ReadFile(secret); !strings.HasPrefix(string(data), "Zsecret") {
				t.Error("the secret file was changed")
			}
		})
	}

	// A state dir kahook creates is 0700 with a 0600 lock: another user
	// cannot even open the lock.
	t.Run("fresh dir is root-only", func(t *testing.T) {
		n := newNode(t, sw, "xf", "02:00:00:00:02:ff", "10.9.0.90/24", "", instanceConf(""))
		n.stateDir = filepath.Join(sticky(t), "state")
		n.mustKahook("notify", "backup", "VI_1")
		fi, err := os.Stat(n.stateDir)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("state dir: %v %v", fi.Mode(), err)
		}
		if fi, err := os.Stat(filepath.Join(n.stateDir, "lock")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("lock: %v %v", fi.Mode(), err)
		}
		if out, err := asNobody(t, "flock", "-x", "-n", filepath.Join(n.stateDir, "lock"), "true").CombinedOutput(); err == nil {
			t.Errorf("uid %s could take the lock: %s", nobody, out)
		}
	})
}

// TestRepeatedMasterKeepsGARPSchedule (issue 14, case 6): two MASTER
// events 100 ms apart (keepalived re-sends MASTER on reload). The second
// changes nothing, so it does not re-announce, and it must not cut the
// first one's schedule either: the client captures every frame of it,
// both bursts (garp_master_delay).
func TestRepeatedMasterKeepsGARPSchedule(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	const repeat, rounds = 3, 2 * 3 // two bursts of garp_master_repeat rounds
	conf := fmt.Sprintf(`
instance VI_1 {
    interface eth0
    virtual_ipaddress {
        %s
    }
    garp_master_repeat %d
    garp_interval 0.1
    garp_master_delay 1
}
`, vip4, repeat)
	a := newNode(t, sw, "ga", "02:00:00:00:03:0a", "10.9.0.1/24", "", conf)
	client := newNode(t, sw, "gc", "02:00:00:00:03:0c", "10.9.0.9/24", "", "")
	var c *mdarp.Client
	if err := client.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err = mdarp.Dial(ifi)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frames := make(chan time.Time, 100)
	go func() {
		for {
			p, _, err := c.Read()
			if err != nil {
				close(frames)
				return
			}
			if p.SenderHardwareAddr.String() == a.mac && p.SenderIP.String() == vip4 {
				frames <- time.Now()
			}
		}
	}()
	// The path works before anything is counted (a fresh bridge port can
	// drop the first frames).
	a.MustRun("ping", "-c", "1", "-W", "2", "10.9.0.9")
	start := time.Now()
	a.mustKahook("notify", "master", "VI_1")
	time.Sleep(time.Until(start.Add(100 * time.Millisecond)))
	out := a.mustKahook("notify", "master", "VI_1")
	if strings.Contains(out, "gratuitous ARP sent") {
		t.Errorf("the repeated MASTER changed nothing but re-announced:\n%s", out)
	}
	// The whole schedule: 1 s delay + 0.2 s of rounds, with margin.
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var got []time.Duration
	for at := range frames {
		got = append(got, at.Sub(start).Round(time.Millisecond))
	}
	// Each round sends the request and the reply form for the VIP.
	if want := rounds * 2; len(got) != want {
		t.Fatalf("client captured %d gratuitous ARP frames for %s from a, want %d (both bursts of the first MASTER's schedule): at %v", len(got), vip4, want, got)
	}
	if last := got[len(got)-1]; last < time.Second {
		t.Errorf("no second burst after garp_master_delay: frames at %v", got)
	}
	t.Logf("frames at %v", got)
}

// TestFIFOKeepalivedStop (issue 14, case 1): keepalived 2.2.x runs
// `kahook fifo` as its notify_fifo_script. Stopping keepalived (SIGTERM,
// as `systemctl stop` does) while MASTER SIGTERMs the FIFO reader first
// and writes the STOP line after: the reader must still apply it. 20
// stops in a row, the VIP must be gone after each.
func TestFIFOKeepalivedStop(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("keepalived missing: scripts/deps.sh installs it")
		}
		t.Skip("keepalived not installed")
	}
	sw := netnstest.NewSwitch(t)
	n := newNode(t, sw, "kf", "02:00:00:00:04:0a", "10.9.0.1/24", "", fmt.Sprintf(`
instance VI_1 {
    interface eth0
    virtual_ipaddress {
        %s
    }
    garp_master_repeat 1
    garp_master_delay 0
}
`, vip4))
	dir := filepath.Dir(n.conf)
	ka := filepath.Join(dir, "keepalived.conf")
	writeFile(t, ka, fmt.Sprintf(`global_defs {
    router_id kahook-test
    script_user root
    notify_fifo %s
    notify_fifo_script "%s --syslog off --config %s --state-dir %s fifo"
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
}
`, filepath.Join(dir, "notify.fifo"), n.bin, n.conf, n.stateDir))
	const stops = 20
	released := 0
	for i := 0; i < stops; i++ {
		p := netnstest.Start(t, n.NS, "keepalived", "--dont-fork", "--log-console", "--vrrp", "--use-file", ka,
			"--pid", filepath.Join(dir, "k.pid"), "--vrrp_pid", filepath.Join(dir, "v.pid"), "--checkers_pid", filepath.Join(dir, "c.pid"))
		if !netnstest.Eventually(15*time.Second, func() bool { return n.hasAddr("lo", vip4) }) {
			t.Fatalf("stop %d: keepalived never made kahook MASTER:\n%s", i+1, p.Output())
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		p.Wait()
		// keepalived has exited; the reader applies the STOP it wrote
		// after the SIGTERM (within its 2 s drain bound).
		if netnstest.Eventually(4*time.Second, func() bool { return !n.hasAddr("lo", vip4) }) {
			released++
		} else {
			t.Errorf("stop %d: the VIP stayed after keepalived stopped", i+1)
		}
		// The reader is gone before the next start.
		netnstest.Eventually(4*time.Second, func() bool {
			out, _ := n.Run("pgrep", "-f", "fifo "+filepath.Join(dir, "notify.fifo"))
			return strings.TrimSpace(out) == ""
		})
	}
	t.Logf("%d of %d keepalived stops released the VIP", released, stops)
	if s := stateFile(t, n.stateDir).Instances["VI_1"]; s == nil || s.State != "STOP" || s.Source != "fifo" {
		t.Errorf("last recorded event: %+v, want STOP from the FIFO", s)
	}
}

// TestCrashReleaseDropIn (issue 14, case 5): the master's keepalived
// dies by SIGKILL (all its processes, a crash): it runs no notify, so its
// node keeps the VIP on lo and answers ARP for it beside the new master.
// The command keepalived.service's drop-in runs as ExecStopPost
// (`kahook release --all`, here with the test's config and state paths)
// takes it away: only the new master answers ARP. Run again, after a
// clean stop, it changes nothing.
func TestCrashReleaseDropIn(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("keepalived missing: scripts/deps.sh installs it")
		}
		t.Skip("keepalived not installed")
	}
	sw := netnstest.NewSwitch(t)
	conf := fmt.Sprintf("instance VI_1 {\n    interface eth0\n    virtual_ipaddress {\n        %s\n    }\n    garp_master_delay 0\n}\n", vip4)
	a := newNode(t, sw, "ca", "02:00:00:00:05:0a", "10.9.0.1/24", "", conf)
	b := newNode(t, sw, "cb", "02:00:00:00:05:0b", "10.9.0.2/24", "", conf)
	client := newNode(t, sw, "cc", "02:00:00:00:05:0c", "10.9.0.9/24", "", "")
	procs := map[*node]*netnstest.Proc{}
	for _, n := range []*node{a, b} {
		prio := 150
		if n == b {
			prio = 100
		}
		dir := filepath.Dir(n.conf)
		ka := filepath.Join(dir, "keepalived.conf")
		writeFile(t, ka, fmt.Sprintf("global_defs {\n    router_id %s\n    script_user root\n}\nvrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 52\n    priority %d\n    advert_int 1\n    notify \"%s --syslog off --config %s --state-dir %s notify\"\n}\n",
			n.Name, prio, n.bin, n.conf, n.stateDir))
		procs[n] = netnstest.Start(t, n.NS, "keepalived", "--dont-fork", "--log-console", "--vrrp", "--use-file", ka,
			"--pid", filepath.Join(dir, "k.pid"), "--vrrp_pid", filepath.Join(dir, "v.pid"), "--checkers_pid", filepath.Join(dir, "c.pid"))
	}
	answers := func() string {
		out, _ := client.kahook("arp", "probe", "--interface", "eth0", "--timeout", "800ms", vip4)
		return out
	}
	if !netnstest.Eventually(20*time.Second, func() bool { return a.hasAddr("lo", vip4) && !b.hasAddr("lo", vip4) }) {
		t.Fatalf("a never became the only MASTER:\n%s", procs[a].Output())
	}
	// The crash: every keepalived process of a at once.
	syscall.Kill(-procs[a].Cmd.Process.Pid, syscall.SIGKILL)
	procs[a].Wait()
	if !netnstest.Eventually(20*time.Second, func() bool { return b.hasAddr("lo", vip4) }) {
		t.Fatalf("b never took over:\n%s", procs[b].Output())
	}
	if !a.hasAddr("lo", vip4) || !strings.Contains(answers(), a.mac) {
		t.Fatalf("expected the crash to leave a answering for the VIP (what the drop-in fixes); a has it: %v", a.hasAddr("lo", vip4))
	}
	out := a.mustKahook("release", "--all")
	if a.hasAddr("lo", vip4) {
		t.Fatalf("release --all left the VIP on a:\n%s", out)
	}
	got := answers()
	if !strings.Contains(got, b.mac) || strings.Contains(got, a.mac) {
		t.Errorf("after the release want only b (%s) answering ARP for the VIP:\n%s", b.mac, got)
	}
	if s := stateFile(t, a.stateDir).Instances["VI_1"]; s == nil || s.State != "STOP" || s.Source != "release" {
		t.Errorf("recorded: %+v", s)
	}
	// After a clean stop (b: keepalived's own STOP notify released it)
	// the drop-in's run finds nothing to do.
	procs[b].Signal(syscall.SIGTERM)
	procs[b].Wait()
	if !netnstest.Eventually(5*time.Second, func() bool { return !b.hasAddr("lo", vip4) }) {
		t.Fatal("b's STOP notify did not release")
	}
	if out := b.mustKahook("release", "--all"); len(infoLines(out)) != 0 {
		t.Errorf("release after a clean stop changed things: %q", infoLines(out))
	}
}

// TestFIFORefusedUnlessRootOnly (issue 15, case 6): `kahook fifo` applies
// every line as root, so it refuses (exit 2, before reading anything) a
// FIFO owned by another user or writable by others, and a path that is
// not a FIFO; a root-owned 0600 FIFO (what keepalived creates) is read.
func TestFIFORefusedUnlessRootOnly(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	n := newNode(t, sw, "ff", "02:00:00:00:06:0a", "10.9.0.1/24", "", instanceConf(""))
	dir := t.TempDir()
	os.Chmod(dir, os.ModeSticky|0o777)
	os.Chmod(filepath.Dir(dir), 0o755)
	cases := []struct {
		name string
		make func(t *testing.T, p string)
		want string
	}{
		{"made by uid 65534, mode 0666", func(t *testing.T, p string) { mustNobody(t, "mkfifo", "-m", "0666", p) }, "owned by uid 65534, not root"},
		{"made by uid 65534, mode 0600", func(t *testing.T, p string) { mustNobody(t, "mkfifo", "-m", "0600", p) }, "owned by uid 65534, not root"},
		{"root's, mode 0666", func(t *testing.T, p string) {
			syscall.Mkfifo(p, 0o600)
			os.Chmod(p, 0o666)
		}, "writable by non-root users (mode 0666)"},
		{"a regular file", func(t *testing.T, p string) { writeFile(t, p, "INSTANCE \"VI_1\" MASTER 100\n") }, "is not a FIFO"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("fifo%d", i))
			tc.make(t, p)
			done := make(chan struct{})
			var out string
			var code int
			go func() { out, code = n.kahook("fifo", p); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				// Unblock a reader that waited for a writer.
				w, _ := os.OpenFile(p, os.O_WRONLY, 0)
				w.WriteString("INSTANCE \"VI_1\" MASTER 100\n")
				w.Close()
				<-done
				t.Fatalf("kahook fifo opened the FIFO instead of refusing it:\n%s", out)
			}
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tc.want, out)
			}
			if n.hasAddr("lo", vip4) {
				t.Error("a line of a refused FIFO was applied")
			}
		})
	}
}

// TestReleaseCommand: `kahook release` takes --all or instance names
// (exit 2 otherwise, nothing changed); with --all and no kahook.conf at
// the default path (the drop-in on a node without kahook configured) it
// does nothing and exits 0.
func TestReleaseCommand(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	n := newNode(t, sw, "rc", "02:00:00:00:07:0a", "10.9.0.1/24", "", instanceConf(""))
	for _, args := range [][]string{{"release"}, {"release", "--all", "VI_1"}, {"release", "VI_9"}} {
		if out, code := n.kahook(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2:\n%s", args, code, out)
		}
	}
	if _, err := os.Stat(n.stateDir); err == nil {
		t.Error("a refused release created the state dir")
	}
	out, err := n.Run(n.bin, "--syslog", "off", "--config", "/nonexistent/kahook.conf", "release", "--all")
	if err == nil {
		t.Errorf("an explicit --config that does not exist must fail:\n%s", out)
	}
	if _, err := os.Stat("/etc/kahook/kahook.conf"); os.IsNotExist(err) {
		if out, err := n.Run(n.bin, "--syslog", "off", "release", "--all"); err != nil {
			t.Errorf("release --all without kahook.conf: %v\n%s", err, out)
		}
	}
	n.MustRun("ip", "addr", "add", vip4+"/32", "dev", "lo")
	n.mustKahook("release", "VI_1")
	if n.hasAddr("lo", vip4) {
		t.Error("release VI_1 left the VIP")
	}
}

// TestUnsafeMaintenanceDirIgnored (issue 15, case 3): a maintenance_dir
// that uid 65534 can write would let that user drain real servers: `sync`
// ignores it with an error line naming the dir.
func TestUnsafeMaintenanceDirIgnored(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	maint := filepath.Join(t.TempDir(), "maintenance")
	os.Chmod(filepath.Dir(maint), 0o755)
	os.Chmod(filepath.Dir(filepath.Dir(maint)), 0o755)
	os.Mkdir(maint, 0o755)
	os.Chmod(maint, 0o777)
	mustNobody(t, "touch", filepath.Join(maint, "10.9.0.21:80"))
	n := newNode(t, sw, "md", "02:00:00:00:08:0a", "10.9.0.1/24", "",
		"global_defs {\n    maintenance_dir "+maint+"\n}\n"+instanceConf("")+withService)
	out := n.mustKahook("sync", "VI_1")
	if !strings.Contains(out, "maintenance dir ignored") || !strings.Contains(out, maint) {
		t.Errorf("no error line for the unsafe maintenance dir:\n%s", out)
	}
	os.Chmod(maint, 0o755)
	os.Chown(maint, 0, 0)
	if out := n.mustKahook("sync", "VI_1"); strings.Contains(out, "maintenance dir ignored") {
		t.Errorf("a root-only maintenance dir was ignored:\n%s", out)
	}
}

// TestReleaseNeverNeedsTheConfig (issue 14, fail-safe release review
// F1/F2): a release removes the VIPs a MASTER bound even when the config
// changed since (another VIP) or no longer loads; a MASTER still refuses
// a broken config (exit 2, nothing bound).
func TestReleaseNeverNeedsTheConfig(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	const moved = "10.9.0.101"
	cases := []struct {
		name    string
		break_  func(n *node)
		args    []string
		wantErr bool
	}{
		{"VIP changed in the config", func(n *node) {
			writeFile(t, n.conf, strings.Replace(instanceConf(""), vip4, moved, 1))
		}, []string{"notify", "backup", "VI_1"}, false},
		{"unterminated instance appended", func(n *node) {
			f, _ := os.OpenFile(n.conf, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("instance VI_2 {\n")
			f.Close()
		}, []string{"notify", "backup", "VI_1"}, true},
		{"broken config and no state", func(n *node) {
			writeFile(t, n.conf, instanceConf("    garp_master_repeat nope"))
			os.RemoveAll(n.stateDir)
		}, []string{"notify", "stop", "VI_1"}, true},
		{"release --all, config deleted", func(n *node) {
			os.Remove(n.conf)
		}, []string{"release", "--all"}, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, sw, fmt.Sprintf("rnc%d", i), fmt.Sprintf("02:00:00:00:08:%02x", i+1), "10.9.0.1/24", "", instanceConf(""))
			n.mustKahook("notify", "master", "VI_1")
			if !n.hasAddr("lo", vip4) {
				t.Fatal("MASTER did not bind the VIP")
			}
			tc.break_(n)
			out, code := n.kahook(tc.args...)
			if (code != 0) != tc.wantErr || code == 2 {
				t.Errorf("%v: exit %d (want error %v, never 2):\n%s", tc.args, code, tc.wantErr, out)
			}
			if n.hasAddr("lo", vip4) || n.hasAddr("eth0", vip6) {
				t.Errorf("%v left a VIP bound by the MASTER:\n%s\n%s", tc.args, n.MustRun("ip", "-o", "addr", "show", "dev", "lo"), out)
			}
			if tc.wantErr && !strings.Contains(out, "level=ERROR") {
				t.Errorf("no error line:\n%s", out)
			}
		})
	}
	t.Run("release --all, default config deleted", func(t *testing.T) {
		if _, err := os.Stat("/etc/kahook/kahook.conf"); !os.IsNotExist(err) {
			t.Skip("/etc/kahook/kahook.conf exists on this machine")
		}
		n := newNode(t, sw, "rncd", "02:00:00:00:08:21", "10.9.0.1/24", "", instanceConf(""))
		n.mustKahook("notify", "master", "VI_1")
		// An address of `kahook vip add` (not an instance's VIP) is not
		// marked: a release without config leaves it.
		const manual = "10.9.0.150"
		n.mustKahook("vip", "add", "--force", manual)
		out, err := n.Run(n.bin, "--syslog", "off", "--state-dir", n.stateDir, "release", "--all")
		if err == nil || n.hasAddr("lo", vip4) || n.hasAddr("eth0", vip6) {
			t.Errorf("release --all without kahook.conf: err %v, VIPs left %v %v (want them released, exit 1)\n%s", err, n.hasAddr("lo", vip4), n.hasAddr("eth0", vip6), out)
		}
		if out, err := n.Run(n.bin, "--syslog", "off", "--state-dir", n.stateDir, "release", "--all"); err != nil {
			t.Errorf("nothing left to release: %v\n%s", err, out)
		}
		if !n.hasAddr("lo", manual) {
			t.Errorf("the release removed %s, added by 'kahook vip add'", manual)
		}
	})
	t.Run("MASTER refuses a broken config", func(t *testing.T) {
		n := newNode(t, sw, "rncm", "02:00:00:00:08:20", "10.9.0.1/24", "", instanceConf("    garp_master_repeat nope"))
		if out, code := n.kahook("notify", "master", "VI_1"); code != 2 {
			t.Errorf("exit %d, want 2:\n%s", code, out)
		}
		if n.hasAddr("lo", vip4) {
			t.Error("a refused MASTER bound the VIP")
		}
	})
}

// TestReleaseHeldLockBounded (fail-safe review F4): a run lock held by a
// stuck run delays a release once per run, not once per instance:
// `release --all` with three instances removes every VIP within
// ReleaseLockWait (5 s) plus slack, and records the events as soon as the
// lock is free again.
func TestReleaseHeldLockBounded(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	conf := ""
	vips := []string{"10.9.0.111", "10.9.0.112", "10.9.0.113"}
	for i, v := range vips {
		conf += fmt.Sprintf("instance VI_%d {\n    interface eth0\n    virtual_ipaddress {\n        %s\n    }\n    garp_master_repeat 1\n}\n", i+1, v)
	}
	n := newNode(t, sw, "rlock", "02:00:00:00:09:01", "10.9.0.1/24", "", conf)
	for i := range vips {
		n.mustKahook("notify", "master", fmt.Sprintf("VI_%d", i+1))
	}
	holder := exec.Command("ip", "netns", "exec", n.Name, "flock", "-x", "-o", filepath.Join(n.stateDir, "lock"), "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	go func() {
		out, code := n.kahook("release", "--all")
		done <- result{out, code}
	}()
	time.Sleep(notifyReleaseLockWait + 2*time.Second)
	for _, v := range vips {
		if n.hasAddr("lo", v) {
			t.Errorf("%s still bound %v after release --all started under a held lock", v, time.Since(start).Round(time.Millisecond))
		}
	}
	holder.Process.Kill()
	holder.Wait()
	r := <-done
	if r.code != 0 {
		t.Errorf("release --all: exit %d once the lock was free again (the events are recorded):\n%s", r.code, r.out)
	}
	if d := time.Since(start); d > notifyReleaseLockWait+notify.SettleLockWait {
		t.Errorf("release --all took %v", d)
	}
	st := stateFile(t, n.stateDir)
	for i := range vips {
		if in := st.Instances[fmt.Sprintf("VI_%d", i+1)]; in == nil || in.State != "STOP" || !in.Applied {
			t.Errorf("VI_%d not recorded as STOP applied: %+v", i+1, in)
		}
	}
}

const notifyReleaseLockWait = notify.ReleaseLockWait

// TestReleaseStopsFollowerWithoutState (fail-safe review F3): a release
// that cannot record its event (here the run lock is held by a stuck
// run, so the state still says MASTER) still stops the instance's
// gratuitous ARP follower: the node stops announcing the VIP it released.
func TestReleaseStopsFollowerWithoutState(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	n := newNode(t, sw, "rfol", "02:00:00:00:09:02", "10.9.0.1/24", "", strings.Replace(instanceConf("    garp_master_refresh 1"), vip6, "", 1))
	n.mustKahook("notify", "master", "VI_1")
	pid := stateFile(t, n.stateDir).Instances["VI_1"].GARPPID
	if pid == 0 {
		t.Fatal("MASTER started no gratuitous ARP follower")
	}
	holder := exec.Command("ip", "netns", "exec", n.Name, "flock", "-x", "-o", filepath.Join(n.stateDir, "lock"), "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	time.Sleep(300 * time.Millisecond)
	if !running(pid) {
		t.Fatalf("follower %d not running before the release", pid)
	}
	done := make(chan string, 1)
	go func() {
		out, _ := n.kahook("notify", "backup", "VI_1")
		done <- out
	}()
	deadline := time.Now().Add(notifyReleaseLockWait + 2*time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Errorf("follower %d still announcing the released VIP 2 s after the release went ahead without the lock (VIP bound: %v)", pid, n.hasAddr("lo", vip4))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	holder.Process.Kill()
	holder.Wait()
	<-done
}

// TestReleaseStopsFollowerOfReplacedBinary: a release that cannot use
// the state (here an unsafe state dir) finds the instance's gratuitous
// ARP follower by its executable, also when a package upgrade replaced
// that binary while the node was MASTER (the follower's /proc/PID/exe
// then ends in " (deleted)"): the release stopped every follower but
// that one, which went on announcing a VIP a DR BACKUP keeps on lo.
func TestReleaseStopsFollowerOfReplacedBinary(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	conf := strings.Replace(instanceConf("    garp_master_refresh 1\n    backup {\n        vip on\n        sysctl realserver\n    }"), vip6, "", 1)
	n := newNode(t, sw, "rfup", "02:00:00:00:09:05", "10.9.0.1/24", "", conf)
	install := func(path string) {
		data, err := os.ReadFile(n.bin)
		if err != nil {
			t.Fatal(err)
		}
		tmp := path + ".new"
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil { // as dpkg replaces it
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "kahook")
	install(bin)
	n.bin = bin
	n.mustKahook("notify", "master", "VI_1")
	pid := stateFile(t, n.stateDir).Instances["VI_1"].GARPPID
	if pid == 0 || !running(pid) {
		t.Fatalf("MASTER started no gratuitous ARP follower (pid %d)", pid)
	}
	install(bin) // the upgrade
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); !strings.HasSuffix(exe, " (deleted)") {
		t.Fatalf("setup: the follower's executable is %q, not the replaced file", exe)
	}
	if err := os.Chmod(n.stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	out, _ := n.kahook("notify", "backup", "VI_1")
	if err := os.Chmod(n.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "releasing anyway") {
		t.Fatalf("setup: the release used the state dir:\n%s", out)
	}
	if !netnstest.Eventually(time.Second, func() bool { return !running(pid) }) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("follower %d of the replaced binary still announcing after the release (VIP on lo: %v):\n%s", pid, n.hasAddr("lo", vip4), out)
	}
}

// running: pid exists and is not a zombie waiting for its parent.
func running(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(data), ") Z ")
}

// TestFollowerStopsWhenVIPGone (fail-safe review F3): a follower whose
// VIPs are no longer bound on the node (removed by a release that could
// not reach it, or by hand) stops before its next round instead of
// announcing an address the node does not hold.
func TestFollowerStopsWhenVIPGone(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	n := newNode(t, sw, "rfog", "02:00:00:00:09:03", "10.9.0.1/24", "", strings.Replace(instanceConf("    garp_master_refresh 1"), vip6, "", 1))
	n.mustKahook("notify", "master", "VI_1")
	pid := stateFile(t, n.stateDir).Instances["VI_1"].GARPPID
	time.Sleep(1200 * time.Millisecond)
	if pid == 0 || !running(pid) {
		t.Fatalf("follower %d not running", pid)
	}
	n.MustRun("ip", "addr", "del", vip4+"/32", "dev", "lo")
	deadline := time.Now().Add(2500 * time.Millisecond) // the next refresh round is at most 1 s away
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("follower %d still announcing %s after it left the node", pid, vip4)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReleaseRemovesBeforeRecording (fail-safe review F12): a release
// removes its VIPs before it writes the state, so a release killed at its
// first write has already released. The run is stopped (SIGSTOP) the
// moment it creates its first temporary state file.
func TestReleaseRemovesBeforeRecording(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	n := newNode(t, sw, "rord", "02:00:00:00:09:04", "10.9.0.1/24", "", instanceConf(""))
	n.mustKahook("notify", "master", "VI_1")
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, n.stateDir, unix.IN_CREATE); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.Name, n.bin, "--config", n.conf, "--state-dir", n.stateDir, "--syslog", "off", "notify", "backup", "VI_1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan bool, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := unix.Read(ino, buf)
			if err != nil || k <= 0 {
				stopped <- false
				return
			}
			if strings.Contains(string(buf[:k]), ".state.json.tmp") {
				stopped <- syscall.Kill(cmd.Process.Pid, syscall.SIGSTOP) == nil
				return
			}
		}
	}()
	select {
	case ok := <-stopped:
		if !ok {
			t.Fatal("could not stop the run at its first state write")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the release wrote no state file")
	}
	bound := n.hasAddr("lo", vip4)
	syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("notify backup: %v", err)
	}
	if bound {
		t.Error("the release wrote its state before removing the VIP")
	}
}

// TestFIFODrainAppliesQueuedLines (fail-safe review F5): at SIGTERM the
// pipe holds more lines than can be applied in the 2 s drain bound, the
// last one a STOP; keepalived closes the FIFO 1 s later. The bound is on
// waiting for data, not on applying what is already queued: every line
// is applied and the VIP is gone.
func TestFIFODrainAppliesQueuedLines(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "fdrain", "02:00:00:00:09:05", "10.9.0.1/24", "", instanceConf(""))
	cmd, out, w := a.startFIFO(t)
	var b strings.Builder
	const queued = 1000
	for i := 0; i < queued; i++ {
		st := "MASTER"
		if i%2 == 1 {
			st = "BACKUP"
		}
		fmt.Fprintf(&b, "INSTANCE \"VI_1\" %s %d\n", st, i%250)
	}
	b.WriteString("INSTANCE \"VI_1\" STOP 0\n")
	start := time.Now()
	if _, err := w.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	w.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fifo exit: %v\n%s", err, lastLines(out.String(), 5))
	}
	t.Logf("%d queued lines applied in %v", queued+1, time.Since(start).Round(time.Millisecond))
	s := readState(t, a.stateDir).Instances["VI_1"]
	if s == nil || s.State != "STOP" || a.hasAddr("lo", vip4) {
		t.Errorf("end state %+v, VIP present %v (the queued STOP was lost)\n%s", s, a.hasAddr("lo", vip4), lastLines(out.String(), 3))
	}
	if !strings.Contains(out.String(), fmt.Sprintf("applied=%d", queued+1)) {
		t.Errorf("expected %d applied events:\n%s", queued+1, lastLines(out.String(), 3))
	}
}

// TestReleaseDRKeepsConfiguredLoVIPs (fail-safe review F1, two-node DR):
// in `backup { vip on }` mode a release keeps the VIPs on lo that the
// config names (ARP silenced by the realserver sysctls) but removes a VIP
// the MASTER bound that the config no longer names.
func TestReleaseDRKeepsConfiguredLoVIPs(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	const moved = "10.9.0.102"
	dr := "    backup {\n        vip on\n        sysctl realserver\n    }"
	n := newNode(t, sw, "rdr", "02:00:00:00:09:06", "10.9.0.1/24", "", instanceConf(dr))
	n.mustKahook("notify", "master", "VI_1")
	writeFile(t, n.conf, strings.Replace(instanceConf(dr), vip4, moved, 1))
	n.mustKahook("notify", "backup", "VI_1")
	if n.hasAddr("lo", vip4) {
		t.Errorf("the VIP the config no longer names stayed on lo")
	}
	if !n.hasAddr("lo", moved) {
		t.Errorf("the configured VIP is not on lo in backup { vip on } mode")
	}
	if n.hasAddr("eth0", vip6) {
		t.Errorf("the VIP on eth0 stayed")
	}
	n.mustKahook("notify", "backup", "VI_1")
	if !n.hasAddr("lo", moved) {
		t.Errorf("a repeated BACKUP removed the configured lo VIP")
	}
}

// TestFIFOSignalledBeforeWriterOpens (CI failure of
// TestFIFODrainAppliesQueuedLines): keepalived, stopping, SIGTERMs its
// notify_fifo_script and then writes the STOP lines. A SIGTERM that
// reaches `kahook fifo` before keepalived's end of the FIFO is open (a
// keepalived stopped right after it started, or a loaded host where the
// reader had not yet returned from its open) must not end the reader:
// it waits for the writer within the drain bound and applies the STOP.
func TestFIFOSignalledBeforeWriterOpens(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "fearly", "02:00:00:00:09:07", "10.9.0.1/24", "", instanceConf(""))
	a.mustKahook("notify", "master", "VI_1")
	if !a.hasAddr("lo", vip4) {
		t.Fatal("setup: the VIP is not up after notify master")
	}
	cmd, out, fifo := a.startFIFOUnopened(t)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // keepalived writes ~12 ms after its SIGTERM; leave more
	// Non-blocking: ENXIO when the reader has already gone.
	w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		cmd.Wait()
		t.Fatalf("the reader gave up at the SIGTERM, before keepalived opened the FIFO (%v): its STOP would be lost\n%s", err, out.String())
	}
	if _, err := w.WriteString("INSTANCE \"VI_1\" STOP 0\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	w.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fifo exit: %v\n%s", err, out.String())
	}
	s := readState(t, a.stateDir).Instances["VI_1"]
	if s == nil || s.State != "STOP" || a.hasAddr("lo", vip4) {
		t.Errorf("end state %+v, VIP present %v (the STOP written after the SIGTERM was lost)\n%s", s, a.hasAddr("lo", vip4), out.String())
	}
}

// TestFIFOSignalledAndNoWriter: with no writer ever, a signalled reader
// still ends, after the drain bound, and says so.
func TestFIFOSignalledAndNoWriter(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "fnowr", "02:00:00:00:09:08", "10.9.0.1/24", "", instanceConf(""))
	cmd, out, _ := a.startFIFOUnopened(t)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("fifo exit: %v\n%s", err, out.String())
		}
	case <-time.After(notify.FIFODrain + 10*time.Second):
		cmd.Process.Kill()
		t.Fatalf("a signalled reader with no writer did not end\n%s", out.String())
	}
	if d := time.Since(start); d < notify.FIFODrain-100*time.Millisecond {
		t.Errorf("ended %v after the SIGTERM, before the drain bound %v", d, notify.FIFODrain)
	}
	if !strings.Contains(out.String(), "before keepalived opened the FIFO") {
		t.Errorf("no warning that nothing was read:\n%s", out.String())
	}
}

// startFIFOUnopened starts `kahook fifo` on a new root-only FIFO in a's
// namespace and waits until the reader holds the FIFO open (its signal
// handler is installed by then), with no writer yet.
func (a *node) startFIFOUnopened(t *testing.T) (cmd *exec.Cmd, out *netnstest.Buffer, fifo string) {
	t.Helper()
	fifo = filepath.Join(t.TempDir(), "notify.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = a.Command(a.bin, "--config", a.conf, "--state-dir", a.stateDir, "--syslog", "off", "fifo", fifo)
	out = &netnstest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !holdsOpen(cmd.Process.Pid, fifo) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kahook fifo never opened %s:\n%s", fifo, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, out, fifo
}

// holdsOpen reports whether process pid has path open.
func holdsOpen(pid int, path string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == path {
			return true
		}
	}
	return false
}

// TestReloadMovesVIPs (issue 19, item 2: a reload applies kahook.conf):
// keepalived runs no notify for an instance that stays MASTER across a
// reload, so `kahook reload` (its ExecReload) moves the VIPs itself: a VIP
// moved in kahook.conf from .100 to .102 is bound and announced on the
// MASTER, and .100, which the config no longer names, goes (a node that
// keeps a VIP it should release, and a VIP nobody serves, otherwise). A
// second reload changes nothing; a BACKUP binds nothing.
func TestReloadMovesVIPs(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	const moved = "10.9.0.102"
	a := newNode(t, sw, "rlda", "02:00:00:00:0a:01", "10.9.0.1/24", "", instanceConf(""))
	b := newNode(t, sw, "rldb", "02:00:00:00:0a:02", "10.9.0.2/24", "", instanceConf(""))
	client := newNode(t, sw, "rldc", "02:00:00:00:0a:03", "10.9.0.9/24", "", "")
	a.mustKahook("notify", "master", "VI_1")
	b.mustKahook("notify", "backup", "VI_1")
	// The client's entry for the new VIP points elsewhere: only the
	// reload's gratuitous ARP moves it to a.
	client.MustRun("ip", "neigh", "replace", moved, "lladdr", b.mac, "dev", "eth0", "nud", "stale")
	before := readState(t, a.stateDir).Instances["VI_1"]

	for _, n := range []*node{a, b} {
		writeFile(t, n.conf, strings.Replace(instanceConf(""), vip4, moved, 1))
	}
	out := a.mustKahook("--json", "reload")
	if !a.hasAddr("lo", moved) {
		t.Errorf("the VIP the reloaded config names is not bound on the MASTER\n%s", out)
	}
	if a.hasAddr("lo", vip4) {
		t.Errorf("the VIP the reloaded config no longer names stayed bound on the MASTER\n%s", out)
	}
	if !a.hasAddr("eth0", vip6) {
		t.Errorf("an unchanged VIP went\n%s", out)
	}
	if !netnstest.Eventually(2*time.Second, func() bool { return client.neighMAC(moved) == a.mac }) {
		t.Errorf("the client maps %s to %q, want the MASTER %s (no gratuitous ARP for the new VIP)", moved, client.neighMAC(moved), a.mac)
	}
	s := readState(t, a.stateDir).Instances["VI_1"]
	var recorded []string
	for _, v := range s.VIPs {
		recorded = append(recorded, v.Prefix.Addr().String())
	}
	if fmt.Sprint(recorded) != fmt.Sprint([]string{moved, vip6}) {
		t.Errorf("recorded VIPs %v, want [%s %s]", recorded, moved, vip6)
	}
	if s.State != "MASTER" || s.Event != before.Event {
		t.Errorf("the reload changed the recorded event: %+v, was %+v", s.Event, before.Event)
	}
	if out := a.mustKahook("reload"); len(infoLines(out)) != 0 {
		t.Errorf("an unchanged reload changed things: %q", infoLines(out))
	}
	b.mustKahook("reload")
	if b.hasAddr("lo", moved) || b.hasAddr("lo", vip4) {
		t.Error("a reload bound a VIP on the BACKUP")
	}
	// The next release removes what the reload bound.
	a.mustKahook("notify", "backup", "VI_1")
	if a.hasAddr("lo", moved) {
		t.Error("the VIP the reload bound stayed after a release")
	}

	// An instance renamed in the config: keepalived knows only the new
	// name after its reload, so nothing would ever release the old
	// one's VIPs; the reload does.
	a.mustKahook("notify", "master", "VI_1")
	writeFile(t, a.conf, strings.Replace(instanceConf(""), "VI_1", "VI_9", 1))
	out = a.mustKahook("reload")
	if a.hasAddr("lo", vip4) || a.hasAddr("eth0", vip6) {
		t.Errorf("the VIPs of an instance the reloaded config no longer has stayed bound\n%s", out)
	}
	if s := readState(t, a.stateDir).Instances["VI_1"]; s != nil {
		t.Errorf("the renamed instance is still recorded: %+v", s)
	}
	// Renamed back, with keepalived's MASTER for the new name applied
	// before the reload ran: the VIPs are the new name's and stay.
	writeFile(t, a.conf, instanceConf(""))
	a.mustKahook("reload")
	a.mustKahook("notify", "master", "VI_1") // binds the VIPs again
	writeFile(t, a.conf, strings.Replace(instanceConf(""), "VI_1", "VI_9", 1))
	a.mustKahook("notify", "master", "VI_9")
	out = a.mustKahook("reload")
	if !a.hasAddr("lo", vip4) || !a.hasAddr("eth0", vip6) {
		t.Errorf("the reload removed VIPs the renamed instance, MASTER, now holds\n%s", out)
	}
}

// TestReloadFailSafe (hostile review of the reload): a reload binds and
// announces only where the node still holds the instance, never where a
// release removed the VIPs without recording it; it never removes a VIP
// another instance holds; `master { vip off }` drops the VIPs; a missing
// interface is refused before anything changes; an unchanged VIP set is
// not re-announced.
func TestReloadFailSafe(t *testing.T) {
	good := instanceConf("")
	setup := func(t *testing.T, name string) (a, client *node) {
		sw := netnstest.NewSwitch(t)
		a = newNode(t, sw, name+"a", "02:00:00:00:0b:01", "10.9.0.1/24", "", good)
		client = newNode(t, sw, name+"c", "02:00:00:00:0b:03", "10.9.0.9/24", "", "")
		return a, client
	}
	// stale points the client's entry for ip at another MAC: only a
	// gratuitous ARP from a moves it back.
	const other = "02:00:00:00:0b:99"
	stale := func(client *node, ip string) {
		client.MustRun("ip", "neigh", "replace", ip, "lladdr", other, "dev", "eth0", "nud", "stale")
	}
	announced := func(client, a *node, ip string) bool {
		return netnstest.Eventually(time.Second, func() bool { return client.neighMAC(ip) == a.mac })
	}
	t.Run("released with a broken config", func(t *testing.T) {
		a, client := setup(t, "rfb")
		a.mustKahook("notify", "master", "VI_1")
		writeFile(t, a.conf, good+"instance VI_1 { bogus 1\n")
		if _, code := a.kahook("notify", "backup", "VI_1"); code != 1 || a.hasAddr("lo", vip4) {
			t.Fatalf("setup: release without the config: exit %d, VIP present %v", code, a.hasAddr("lo", vip4))
		}
		stale(client, vip4)
		writeFile(t, a.conf, good)
		out := a.mustKahook("reload")
		if a.hasAddr("lo", vip4) || a.hasAddr("eth0", vip6) {
			t.Errorf("the reload bound the VIPs on a node that released them\n%s", out)
		}
		if announced(client, a, vip4) {
			t.Errorf("the reload announced %s from a node that released it", vip4)
		}
		if !strings.Contains(out, "none of the VIPs it recorded is bound") {
			t.Errorf("no warning:\n%s", out)
		}
	})
	t.Run("instance removed and added back", func(t *testing.T) {
		a, _ := setup(t, "rfr")
		a.mustKahook("notify", "master", "VI_1")
		writeFile(t, a.conf, strings.Replace(good, "VI_1", "VI_9", 1))
		a.mustKahook("reload")
		a.mustKahook("notify", "backup", "VI_9")
		writeFile(t, a.conf, good)
		out := a.mustKahook("reload")
		if a.hasAddr("lo", vip4) {
			t.Errorf("the reload bound a VIP for an instance keepalived has not made MASTER\n%s", out)
		}
	})
	t.Run("DR backup vip on keeps the lo VIP of a renamed instance", func(t *testing.T) {
		dr := instanceConf("    backup {\n        vip on\n        sysctl realserver\n    }")
		a, _ := setup(t, "rfd")
		writeFile(t, a.conf, dr)
		a.mustKahook("notify", "backup", "VI_1")
		writeFile(t, a.conf, strings.Replace(dr, "VI_1", "VI_9", 1))
		a.mustKahook("notify", "backup", "VI_9")
		out := a.mustKahook("reload")
		if !a.hasAddr("lo", vip4) {
			t.Errorf("the reload removed the lo VIP the renamed instance holds as a DR real server\n%s", out)
		}
	})
	t.Run("master vip off", func(t *testing.T) {
		a, _ := setup(t, "rfo")
		a.mustKahook("notify", "master", "VI_1")
		writeFile(t, a.conf, instanceConf("    master {\n        vip off\n    }"))
		out := a.mustKahook("reload")
		if a.hasAddr("lo", vip4) || a.hasAddr("eth0", vip6) {
			t.Errorf("with master { vip off } the reload left the VIPs bound\n%s", out)
		}
	})
	t.Run("missing interface refused", func(t *testing.T) {
		a, _ := setup(t, "rfi")
		a.mustKahook("notify", "master", "VI_1")
		writeFile(t, a.conf, strings.Replace(strings.Replace(good, "interface eth0", "interface eth7", 1), vip4, "10.9.0.102", 1))
		out, code := a.kahook("reload")
		if code != 2 || !a.hasAddr("lo", vip4) || a.hasAddr("lo", "10.9.0.102") {
			t.Errorf("exit %d (want 2), old VIP present %v, new VIP present %v: a refused reload must change nothing\n%s", code, a.hasAddr("lo", vip4), a.hasAddr("lo", "10.9.0.102"), out)
		}
	})
	t.Run("DR: released without the config, then reloaded", func(t *testing.T) {
		// Two-node DR: the VIPs on lo stay on a BACKUP (vip on, realserver
		// sysctls); only the eth0 VIP and the sysctls tell a MASTER.
		dr := instanceConf("    master {\n        sysctl director\n    }\n    backup {\n        vip on\n        sysctl realserver\n    }")
		for i, onlyLo := range []bool{false, true, false, true} {
			unrecorded := i >= 2 // else released without the config
			a, client := setup(t, fmt.Sprintf("rfx%d", i))
			conf := dr
			if onlyLo {
				conf = strings.Replace(dr, vip6, "", 1)
			}
			writeFile(t, a.conf, conf)
			a.mustKahook("notify", "master", "VI_1")
			if unrecorded {
				// The state cannot be written: the release goes ahead
				// (keeps the lo VIPs, realserver sysctls) unrecorded.
				a.MustRun("chattr", "+i", a.stateDir)
				a.kahook("notify", "backup", "VI_1")
				a.MustRun("chattr", "-i", a.stateDir)
			} else {
				writeFile(t, a.conf, conf+"instance VI_1 { bogus 1\n")
				a.kahook("notify", "backup", "VI_1") // exit 1: released, not recorded
				writeFile(t, a.conf, conf)
			}
			if s := readState(t, a.stateDir).Instances["VI_1"]; s == nil || s.State != "MASTER" {
				t.Fatalf("setup: the release was recorded: %+v", s)
			}
			loBefore := a.hasAddr("lo", vip4)
			stale(client, vip4)
			out := a.mustKahook("reload")
			if a.hasAddr("lo", vip4) != loBefore || (!onlyLo && a.hasAddr("eth0", vip6)) {
				t.Errorf("only lo %v, unrecorded %v: the reload bound VIPs on a node that released them\n%s", onlyLo, unrecorded, out)
			}
			if a.sysctl("eth0.arp_ignore") != "1" && unrecorded {
				t.Errorf("only lo %v: the reload set the director sysctls on a node that released (arp_ignore %s)\n%s", onlyLo, a.sysctl("eth0.arp_ignore"), out)
			}
			if announced(client, a, vip4) {
				t.Errorf("only lo %v, unrecorded %v: the reload announced %s from a node that released it", onlyLo, unrecorded, vip4)
			}
		}
	})
	t.Run("master vip off, released without the config", func(t *testing.T) {
		off := instanceConf("    master {\n        vip off\n    }")
		a, _ := setup(t, "rfv")
		writeFile(t, a.conf, off)
		a.mustKahook("notify", "master", "VI_1")
		a.MustRun("ip", "addr", "add", vip4+"/32", "dev", "lo") // keepalived binds them
		writeFile(t, a.conf, off+"instance VI_1 { bogus 1\n")
		a.kahook("notify", "backup", "VI_1")
		a.MustRun("ip", "addr", "del", vip4+"/32", "dev", "lo") // keepalived's BACKUP
		writeFile(t, a.conf, off)
		out := a.mustKahook("--json", "--log-level", "error", "reload")
		var res struct {
			Masters []string `json:"master_instances"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if len(res.Masters) != 0 {
			t.Errorf("the reload took a released vip-off instance for a MASTER (its IPVS would load): %v", res.Masters)
		}
	})
	t.Run("a dropped VIP leaves the announcements", func(t *testing.T) {
		a, _ := setup(t, "rff")
		refresh := strings.Replace(good, "garp_interval 0.05", "garp_interval 0.05\n    garp_master_refresh 1", 1)
		writeFile(t, a.conf, refresh)
		a.mustKahook("notify", "master", "VI_1")
		pid := readState(t, a.stateDir).Instances["VI_1"].GARPPID
		if pid == 0 || !running(pid) {
			t.Fatalf("setup: no gratuitous ARP follower running (pid %d)", pid)
		}
		writeFile(t, a.conf, strings.Replace(refresh, vip6, "", 1))
		out := a.mustKahook("reload")
		if netnstest.Eventually(2*time.Second, func() bool { return !running(pid) }) == false {
			t.Errorf("the follower announcing the dropped VIP %s still runs (pid %d)\n%s", vip6, pid, out)
		}
		a.mustKahook("notify", "backup", "VI_1")
	})
	t.Run("released, and a VIP moved to an instance still MASTER", func(t *testing.T) {
		// VI_2 binds .11 first in the reload: that must not count as
		// VI_1 (released without its config, record left MASTER) still
		// holding its VIPs (hostile review 3, #2).
		const v10, v11, v20 = "192.0.2.10", "192.0.2.11", "192.0.2.20"
		two := func(vi1, vi2 string) string {
			return "instance VI_2 {\n    interface eth0\n    virtual_ipaddress {\n" + vi2 + "    }\n}\n" +
				"instance VI_1 {\n    interface eth0\n    virtual_ipaddress {\n" + vi1 + "    }\n}\n"
		}
		before := two("        "+v10+"\n        "+v11+"\n", "        "+v20+"\n")
		after := two("        "+v10+"\n", "        "+v20+"\n        "+v11+"\n")
		a, _ := setup(t, "rfm")
		writeFile(t, a.conf, before)
		a.mustKahook("notify", "master", "VI_1")
		a.mustKahook("notify", "master", "VI_2")
		writeFile(t, a.conf, before+"instance VI_1 { bogus 1\n")
		a.kahook("notify", "backup", "VI_1") // released without the config: unrecorded
		writeFile(t, a.conf, after)
		out := a.mustKahook("reload")
		if a.hasAddr("lo", v10) {
			t.Errorf("the reload re-bound %s of the released VI_1\n%s", v10, out)
		}
		if !a.hasAddr("lo", v11) || !a.hasAddr("lo", v20) {
			t.Errorf("VI_2, still MASTER, lost a VIP\n%s", out)
		}
	})
	t.Run("no gratuitous ARP without a new VIP", func(t *testing.T) {
		a, client := setup(t, "rfg")
		a.mustKahook("notify", "master", "VI_1")
		a.MustRun("sysctl", "-qw", "net.ipv4.conf.eth0.arp_announce=0")
		// The MASTER's own announcements are over (its follower ended).
		if pid := readState(t, a.stateDir).Instances["VI_1"].GARPPID; pid != 0 {
			netnstest.Eventually(10*time.Second, func() bool { return !running(pid) })
		}
		time.Sleep(100 * time.Millisecond)
		stale(client, vip4)
		out := a.mustKahook("reload")
		if announced(client, a, vip4) {
			t.Errorf("a reload that bound no VIP sent gratuitous ARP\n%s", out)
		}
		if a.sysctl("eth0.arp_announce") != "2" {
			t.Errorf("the reload did not set the MASTER's sysctls again\n%s", out)
		}
	})
}

// TestFIFOOneBoundFromTheSignal: the wait for keepalived to open the FIFO
// and the drain after it share one bound from the SIGTERM: a writer that
// opens late and stays open does not get the reader a second FIFODrain
// (hostile review: 3.5 s after a SIGTERM, documented as at most 2 s).
func TestFIFOOneBoundFromTheSignal(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "fbound", "02:00:00:00:09:09", "10.9.0.1/24", "", instanceConf(""))
	cmd, out, fifo := a.startFIFOUnopened(t)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(notify.FIFODrain * 9 / 10)
	w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		cmd.Wait()
		t.Fatalf("the reader was gone before the bound: %v\n%s", err, out.String())
	}
	defer w.Close() // held open: only the bound ends the reader
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("fifo exit: %v\n%s", err, out.String())
		}
	case <-time.After(3 * notify.FIFODrain):
		cmd.Process.Kill()
		t.Fatalf("the reader did not end\n%s", out.String())
	}
	if d := time.Since(start); d > notify.FIFODrain*8/5 {
		t.Errorf("ended %v after the SIGTERM: the bound is %v from the signal, not a second %v after the writer opened", d.Round(time.Millisecond), notify.FIFODrain, notify.FIFODrain)
	}
}

// TestReleaseRemovesVIPWhateverItsPrefix (hostile review 2, #4): a VIP an
// earlier config bound with another prefix length or a label (/24, or
// `label lo:old`) is removed by a release whose config says /32 without
// a label: the kernel deletes an address only when the prefix length
// matches, and an EADDRNOTAVAIL for the config's form was taken as done.
// An address of the same IP that kahook did not bind (no marker: the
// node's own 10.9.0.100/24) is left in place (hostile review 3, #1).
func TestReleaseRemovesVIPWhateverItsPrefix(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	now := strings.Replace(instanceConf(""), vip4, vip4+"/32 dev eth0", 1)
	a := newNode(t, sw, "rpfx", "02:00:00:00:0c:01", "10.9.0.1/24", "", now)
	for _, tc := range []struct{ name, earlier string }{
		{"prefix /24", vip4 + "/24 dev eth0"},
		{"label", vip4 + "/32 dev eth0 label eth0:old"},
		{"both", vip4 + "/28 dev eth0 label eth0:old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An earlier config bound the VIP in that form.
			writeFile(t, a.conf, strings.Replace(instanceConf(""), vip4, tc.earlier, 1))
			a.mustKahook("notify", "master", "VI_1")
			if !a.hasAddr("eth0", vip4) {
				t.Fatalf("setup: %s not bound", tc.earlier)
			}
			writeFile(t, a.conf, now)
			out := a.mustKahook("notify", "backup", "VI_1")
			if a.hasAddr("eth0", vip4) {
				t.Errorf("the release left %s bound (%s)\n%s", vip4, tc.earlier, out)
			}
		})
	}
	t.Run("the node's own address", func(t *testing.T) {
		writeFile(t, a.conf, now)
		a.MustRun("ip", "addr", "add", vip4+"/24", "dev", "eth0")
		out := a.mustKahook("notify", "backup", "VI_1")
		if !a.hasAddr("eth0", vip4) {
			t.Errorf("the release removed an address kahook did not bind (%s/24, no marker)\n%s", vip4, out)
		}
		a.MustRun("ip", "addr", "del", vip4+"/24", "dev", "eth0")
	})
}

// TestDryRunReleaseWithBrokenConfig (hostile review 2, #5): with a config
// that does not load, a dry-run release says what a real one would do and
// changes nothing (a real one releases without the config): exit 2, the
// VIP still bound.
func TestDryRunReleaseWithBrokenConfig(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "drbc", "02:00:00:00:0c:02", "10.9.0.1/24", "", instanceConf(""))
	a.mustKahook("notify", "master", "VI_1")
	writeFile(t, a.conf, instanceConf("")+"instance VI_1 { bogus 1\n")
	for _, args := range [][]string{{"notify", "backup", "VI_1"}, {"release", "--all"}} {
		out, code := a.kahook(append([]string{"--dry-run"}, args...)...)
		if code != 2 || !a.hasAddr("lo", vip4) {
			t.Errorf("--dry-run %s: exit %d (want 2), VIP present %v (want true)\n%s", strings.Join(args, " "), code, a.hasAddr("lo", vip4), out)
		}
	}
}

// TestFIFOSettlesUnlockedRelease (hostile review 2, #6): a FIFO release
// that misses the run lock (held by a long run) goes ahead at once and is
// then recorded under the lock, as `notify` does (Settle): the state does
// not go on saying MASTER.
func TestFIFOSettlesUnlockedRelease(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "fsettle", "02:00:00:00:0c:03", "10.9.0.1/24", "", instanceConf(""))
	a.mustKahook("notify", "master", "VI_1")
	hold := exec.Command("flock", filepath.Join(a.stateDir, "lock"), "sleep", "8")
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer hold.Wait()
	time.Sleep(200 * time.Millisecond)
	cmd, out, w := a.startFIFO(t)
	if _, err := w.WriteString("INSTANCE \"VI_1\" BACKUP 100\n"); err != nil {
		t.Fatal(err)
	}
	// It goes ahead after notify.ReleaseLockWait (5 s), before the lock
	// is free (8 s).
	if !netnstest.Eventually(notify.ReleaseLockWait+2*time.Second, func() bool { return !a.hasAddr("lo", vip4) }) {
		t.Errorf("the release waited for the lock")
	}
	ok := netnstest.Eventually(30*time.Second, func() bool {
		s := readState(t, a.stateDir).Instances["VI_1"]
		return s != nil && s.State == "BACKUP"
	})
	w.Close()
	cmd.Wait()
	if !ok {
		t.Errorf("the release that missed the lock was never recorded: %+v\n%s", readState(t, a.stateDir).Instances["VI_1"], out.String())
	}
}

// TestRealServerBesideDirectorVIPs (new-operator review): on a node where
// kahook bound a director's VIP (marked), `realserver up|down` for another
// VIP works (it panicked on the missing instance config) and leaves the
// director's VIP alone.
func TestRealServerBesideDirectorVIPs(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "rsdir", "02:00:00:00:0c:04", "10.9.0.1/24", "", instanceConf(""))
	a.mustKahook("notify", "master", "VI_1")
	const rsVIP = "10.9.0.200"
	for _, args := range [][]string{{"--dry-run", "realserver", "up"}, {"realserver", "up"}, {"realserver", "down"}} {
		out, code := a.kahook(append(args, "--vip", rsVIP, "--interface", "eth0")...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
		if !a.hasAddr("lo", vip4) {
			t.Fatalf("%v removed the director's VIP %s\n%s", args, vip4, out)
		}
	}
	if a.hasAddr("lo", rsVIP) {
		t.Errorf("realserver down left %s", rsVIP)
	}
}
