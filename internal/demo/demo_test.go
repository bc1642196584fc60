package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestDemoFromCleanCheckout runs `make demo` as the README says, in a
// fresh clone of the committed tree, and checks that it tells the failover
// story, reports the client's outage, and leaves nothing behind: no
// namespaces, no links, no processes, no temp dirs.
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
	beforeNS := namespaces(t)
	beforeTmp := tmpEntries(t)
	cmd := exec.Command("make", "demo")
	cmd.Dir = clone
	out, err := cmd.CombinedOutput()
	t.Logf("make demo:\n%s", out)
	if err != nil {
		t.Fatalf("make demo: %v", err)
	}
	for _, want := range []string{
		"a is MASTER",
		"10 requests to http://10.9.0.100/ answered by",
		"b is MASTER: keepalived noticed after",
		"client: longest time without an answer:",
		"release --all",
		"only b answers ARP for 10.9.0.100 now",
		"a is MASTER again",
		"lab removed: no namespaces, links or processes left",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if after := namespaces(t); after != beforeNS {
		t.Errorf("namespaces before %q, after %q", beforeNS, after)
	}
	for _, p := range []string{"qemu-system-x86_64", "keepalived", "labweb"} {
		if out, err := exec.Command("pgrep", "-x", p).Output(); err == nil {
			t.Errorf("%s still running: %s", p, out)
		}
	}
	if after := tmpEntries(t); len(after) > len(beforeTmp) {
		t.Errorf("/tmp gained entries: %v", newEntries(beforeTmp, after))
	}
}

// namespaces lists the lab's namespaces (prefix "kl"); other tests run in
// parallel with namespaces of their own.
func namespaces(t *testing.T) string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var labs []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "kl") {
			labs = append(labs, f[0])
		}
	}
	return strings.Join(labs, " ")
}

func tmpEntries(t *testing.T) []string {
	var out []string
	for _, pattern := range []string{"/tmp/kahook-vm.*", "/tmp/kahook-lab-*"} {
		m, _ := filepath.Glob(pattern)
		out = append(out, m...)
	}
	return out
}

func newEntries(before, after []string) []string {
	seen := map[string]bool{}
	for _, b := range before {
		seen[b] = true
	}
	var out []string
	for _, a := range after {
		if !seen[a] {
			out = append(out, a)
		}
	}
	return out
}
