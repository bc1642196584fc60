package notify

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
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
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				_ = cmd.Process.Kill()
				<-exited
			}()
			// Start returns once the exec began; the kernel sets the
			// new command line a little later.
			pid := cmd.Process.Pid
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(b), "sleep 30") {
					break
				}
			}
			stopFollower(pid, tc.instance, log)
			select {
			case err := <-exited:
				exited <- err
				if !tc.killed {
					t.Errorf("stopFollower(%q) killed %q (%v)", tc.instance, tc.args, err)
				}
			case <-time.After(500 * time.Millisecond):
				if tc.killed {
					t.Errorf("stopFollower(%q) left %q running", tc.instance, tc.args)
				}
			}
		})
	}
}
