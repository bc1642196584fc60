package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/internal/lab"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestDemoFromCleanCheckout runs `make demo` as the README says, in a
// fresh clone of the committed tree, and checks that it tells the failover
// story, reports the client's outage, and leaves nothing behind. Every
// check looks only at what this run made (issue 17 item 10), so other
// tests may run beside it: the namespaces and links with the demo's own
// prefix, the processes descended from it (this test is their child
// subreaper, so an orphan the demo leaves becomes this test's child), and
// the files in a TMPDIR of its own.
func TestDemoFromCleanCheckout(t *testing.T) {
	netnstest.RequireRoot(t)
	if testing.Short() {
		t.Skip("boots a VM on kernels without IPVS")
	}
	root := testbin.RepoRoot()
	clone := filepath.Join(t.TempDir(), "kahook")
	if out, err := exec.Command("git", "clone", "-q", "--no-hardlinks", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("become child subreaper: %v", err)
	}
	cmd := exec.Command("make", "demo")
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	t.Logf("make demo:\n%s", out)
	if err != nil {
		t.Fatalf("make demo: %v", err)
	}
	for _, want := range []string{
		"lab namespaces: kl",
		"a is MASTER",
		"10 requests to http://10.9.0.100/ answered by",
		"b is MASTER: keepalived noticed after",
		"client: longest time without an answer:",
		"release --all",
		"only b answers ARP for 10.9.0.100 now",
		"a is MASTER again",
		"node   state    VIP  IPVS  answers ARP",
		"director  ",
		"answers   ",
		"5. whole-node failure",
		"a's link is down and its keepalived is gone",
		"6. a boots again",
		"end state:",
		"lab removed: no namespaces, links or processes left",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(string(out), "map[") {
		t.Error("the demo prints a Go map")
	}
	// Where the demo ran on this kernel, its namespaces and links are
	// here to look for (in the VM they went with the VM).
	if m := regexp.MustCompile(`lab namespaces: (kl\d+)-\*`).FindSubmatch(out); m != nil {
		if left := lab.Leftovers(string(m[1])); len(left) > 0 {
			t.Errorf("the demo left behind: %v", left)
		}
	}
	if left := children(t); len(left) > 0 {
		t.Errorf("processes the demo left running: %v", left)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
		}
		t.Errorf("the demo left files in its TMPDIR: %v", names)
	}
}

// children lists this process's children (as "pid comm"), kills and
// reaps them: with the test as child subreaper, these are whatever the
// demo's process tree left behind (qemu, keepalived, labweb...).
func children(t *testing.T) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		var pid int
		if _, err := fmt.Sscan(en.Name(), &pid); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", en.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parens.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if i < 0 || len(f) < 2 || f[1] != fmt.Sprint(os.Getpid()) {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", pid, s[strings.IndexByte(s, '(')+1:i]))
		_ = syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
	}
	return out
}
