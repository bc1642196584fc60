package notify

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopFollowerKillsOnlyTheInstancesFollower: a release SIGKILLs the
// process a recorded GARPPID names only when it is the released
// instance's follower (`kahook ... garp --follow INSTANCE ...`): not
// another instance's follower whose other arguments hold the released
// instance's name (an instance named auto, the --syslog value every
// follower has, or garp), and not a program that merely has --follow and
// the name among its arguments (a pid reused by `tail --follow VI_1`).
// The processes are /bin/sh with those command lines.
func TestStopFollowerKillsOnlyTheInstancesFollower(t *testing.T) {
	follower := func(name string) []string {
		return []string{"kahook", "--config", "/etc/keepalived/keepalived.conf", "--state-dir", "/run/kahook",
			"--syslog", "auto", "garp", "--follow", name, "--event", "1:2", "--start", "3"}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name     string
		args     []string
		instance string
		killed   bool
	}{
		{"the instance's follower", follower("VI_1"), "VI_1", true},
		{"another's follower, instance named auto", follower("VI_2"), "auto", false},
		{"another's follower, instance named garp", follower("VI_2"), "garp", false},
		{"another's follower, instance named --follow", follower("VI_2"), "--follow", false},
		{"tail --follow VI_1", []string{"tail", "--follow", "VI_1"}, "VI_1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("/bin/sh", append([]string{"-c", "sleep 30; :"}, tc.args...)...)
			if killed := killedBy(t, cmd, "sleep 30", func(pid int) { stopFollower(pid, tc.instance, log) }); killed != tc.killed {
				t.Errorf("stopFollower(%q) on %q: killed %v, want %v", tc.instance, tc.args, killed, tc.killed)
			}
		})
	}
}

// TestStopFollowersStaysInItsNetns: the /proc scan of a release stops
// the instance's followers in its own network namespace only. Another
// namespace is another node (a second keepalived, a container, a test's
// node) whose instance is often named the same (VI_1): its follower
// announces there, and killing it stopped that node's gratuitous ARP
// (garp_master_refresh included). The stand-ins are this test binary
// (the same executable, as a follower is) with a follower's arguments.
func TestStopFollowersStaysInItsNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a network namespace")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	instance := fmt.Sprintf("VI_standin_%d", os.Getpid())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name   string
		netns  bool // the stand-in runs in a new network namespace
		killed bool
	}{
		{"this namespace", false, true},
		{"another namespace", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(self, "-test.run=^TestFollowerStandIn$", "garp", "--follow", instance)
			cmd.Env = append(os.Environ(), "KAHOOK_FOLLOWER_STAND_IN=1")
			if tc.netns {
				cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
			}
			if killed := killedBy(t, cmd, instance, func(int) { StopFollowers(instance, log) }); killed != tc.killed {
				t.Errorf("a release in this namespace, follower of %s in another namespace %v: killed %v, want %v", instance, tc.netns, killed, tc.killed)
			}
		})
	}
}

// TestFollowerStandIn is the stand-in follower of
// TestStopFollowersStaysInItsNetns: it only waits to be killed.
func TestFollowerStandIn(t *testing.T) {
	if os.Getenv("KAHOOK_FOLLOWER_STAND_IN") == "" {
		t.Skip("run by TestStopFollowersStaysInItsNetns")
	}
	time.Sleep(30 * time.Second)
}

// killedBy starts cmd, waits until its command line shows want (Start
// returns once the exec began; the kernel sets the new command line a
// little later), calls stop with its pid, and reports whether the
// process was killed within 500 ms. The process is killed and reaped
// at the end in any case.
func killedBy(t *testing.T, cmd *exec.Cmd, want string, stop func(pid int)) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(b), want) {
			break
		}
	}
	stop(pid)
	select {
	case <-exited:
		return true
	case <-time.After(500 * time.Millisecond):
		_ = cmd.Process.Kill()
		<-exited
		return false
	}
}
