package notify_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/netnstest"
)

// transitionJSON is the part of `notify --json` these tests compare.
type transitionJSON struct {
	DryRun bool `json:"dry_run"`
	Steps  []struct {
		Kind    string                       `json:"kind"`
		Changes []map[string]json.RawMessage `json:"changes"`
		Error   string                       `json:"error"`
	} `json:"steps"`
	Changed int `json:"changed"`
}

// addrs is the node's addresses without the link-local ones (the kernel
// adds eth0's IPv6 one whenever it is done with it).
func (n *node) addrs() string {
	var out []string
	for _, l := range strings.Split(n.MustRun("ip", "-o", "addr"), "\n") {
		if !strings.Contains(l, "scope link") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// transition runs `kahook --json [--dry-run] notify STATE VI_1` in the
// node and decodes its stdout.
func (n *node) transition(dryRun bool, st string) transitionJSON {
	n.t.Helper()
	args := []string{n.bin, "--config", n.conf, "--state-dir", n.stateDir, "--syslog", "off", "--log-level", "error", "--json"}
	if dryRun {
		args = append(args, "--dry-run")
	}
	cmd := n.Command(append(args, "notify", st, "VI_1")...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		n.t.Fatalf("notify %s (dry run %v): %v\n%s%s", st, dryRun, err, out, stderr.String())
	}
	var res transitionJSON
	if err := json.Unmarshal(out, &res); err != nil {
		n.t.Fatalf("notify --json: %v\n%s", err, out)
	}
	return res
}

// changeLines is every change of every step as "kind key=value", without
// what only a real run knows (the frames gratuitous ARP sent).
func (r transitionJSON) changeLines(t *testing.T) []string {
	var out []string
	for _, s := range r.Steps {
		if s.Error != "" {
			t.Errorf("step %s failed: %s", s.Kind, s.Error)
		}
		for _, c := range s.Changes {
			for k, v := range c {
				var m map[string]any
				if err := json.Unmarshal(v, &m); err != nil {
					t.Fatalf("change %s: %v", v, err)
				}
				if k == "garp" {
					delete(m, "frames")
				}
				v, _ = json.Marshal(m)
				out = append(out, s.Kind+" "+k+"="+string(v))
			}
		}
	}
	return out
}

// TestDryRunNotifyIsTheRealRun (issue 17 item 8): on a fresh node
// `--dry-run notify master` creates no file (no state dir, no lock) and
// changes nothing, and the real run then makes exactly the changes it
// listed, in the same order; the same for the release.
func TestDryRunNotifyIsTheRealRun(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf(""))
	for _, st := range []string{"master", "backup"} {
		t.Run(st, func(t *testing.T) {
			before := a.addrs()
			dry := a.transition(true, st)
			if !dry.DryRun || dry.Changed == 0 {
				t.Fatalf("dry run: %+v", dry)
			}
			if st == "master" {
				if _, err := os.Lstat(a.stateDir); !os.IsNotExist(err) {
					t.Errorf("dry run created the state dir %s (%v)", a.stateDir, err)
				}
			}
			if after := a.addrs(); after != before {
				t.Errorf("dry run changed addresses:\n%s\n->\n%s", before, after)
			}
			real := a.transition(false, st)
			want, got := dry.changeLines(t), real.changeLines(t)
			if strings.Join(want, "\n") != strings.Join(got, "\n") {
				t.Errorf("the real run did not make what the dry run listed:\ndry run:\n%s\nreal run:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
			}
			if real.Changed != dry.Changed {
				t.Errorf("changed: dry run %d, real run %d", dry.Changed, real.Changed)
			}
			if again := a.transition(true, st); again.Changed != 0 {
				t.Errorf("dry run after the real run plans %d changes: %v", again.Changed, again.changeLines(t))
			}
		})
	}
	if !a.hasAddr("eth0", "10.9.0.1") || a.hasAddr("lo", vip4) {
		t.Errorf("after backup: %s", a.MustRun("ip", "-o", "addr"))
	}
}

// TestRealServerIsAPlan (issue 17 item 8): `realserver up|down` runs
// through the same planner: --dry-run lists the sysctls and VIPs and
// changes nothing, the real run makes exactly those changes; and when the
// sysctls cannot be set the VIPs are not bound (a VIP on lo with
// arp_ignore 0 would be answered).
func TestRealServerIsAPlan(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	rs := newNode(t, sw, "rs", "02:00:00:00:00:15", "10.9.0.21/24", "", "")
	run := func(args ...string) string {
		t.Helper()
		cmd := rs.Command(append([]string{rs.bin, "--config", rs.conf, "--syslog", "off", "--log-level", "error", "--json"}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, stderr.String())
		}
		return string(out)
	}
	for _, verb := range []string{"up", "down"} {
		t.Run(verb, func(t *testing.T) {
			before := rs.addrs() + rs.sysctl("eth0.arp_ignore")
			dry := run("--dry-run", "realserver", verb, "--vip", vip4, "-i", "eth0")
			if after := rs.addrs() + rs.sysctl("eth0.arp_ignore"); after != before {
				t.Errorf("dry run changed the node:\n%s\n->\n%s", before, after)
			}
			real := run("realserver", verb, "--vip", vip4, "-i", "eth0")
			if want := strings.Replace(dry, `"dry_run": true`, `"dry_run": false`, 1); real != want {
				t.Errorf("real run:\n%s\ndry run:\n%s", real, dry)
			}
			if !strings.Contains(dry, `"op": "`) {
				t.Errorf("dry run lists no VIP change:\n%s", dry)
			}
		})
	}
	// A knob that cannot be read: the sysctl step fails, no VIP is bound.
	root := t.TempDir()
	for _, d := range []string{"all", "lo", "eth0"} {
		for _, k := range []string{"arp_ignore", "arp_announce"} {
			p := filepath.Join(root, "net/ipv4/conf", d, k)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	bad := filepath.Join(root, "net/ipv4/conf/eth0/arp_ignore")
	os.Remove(bad)
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	out, code := rs.kahook("realserver", "up", "--vip", vip4, "-i", "eth0", "--proc-sys", root)
	if code != 1 || rs.hasAddr("lo", vip4) {
		t.Errorf("realserver up with a broken sysctl: exit %d, VIP bound %v (want 1, not bound):\n%s", code, rs.hasAddr("lo", vip4), out)
	}
}

// TestDryRunLoadsNoModule: `--dry-run` changes nothing, and loading a
// kernel module is a change. On this host IPVS is not loaded; a
// `modprobe` first in PATH records how it is run and says ip_vs exists
// (`-n`, its dry run, succeeds; a real load fails). `--dry-run notify
// master` may ask whether ip_vs could be loaded but never loads it, and
// plans the load against the empty table a real run would find.
func TestDryRunLoadsNoModule(t *testing.T) {
	if _, err := os.Stat("/sys/module/ip_vs"); err == nil {
		t.Skip("ip_vs is loaded on this host: the dry run has nothing to load")
	}
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	script := "#!/bin/sh\necho \"$*\" >>" + calls + "\n[ \"$1\" = -n ] && exit 0\necho 'modprobe: FATAL: Module ip_vs not found' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "modprobe"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "dmod", "02:00:00:00:0a:11", "10.9.0.1/24", "", instanceConf("")+withService)
	cmd := a.Command(a.bin, "--config", a.conf, "--state-dir", a.stateDir, "--syslog", "off", "--log-level", "error", "--json", "--dry-run", "notify", "master", "VI_1")
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dry run: %v\n%s%s", err, out, stderr.String())
	}
	var res transitionJSON
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rec, _ := os.ReadFile(calls)
	for _, l := range strings.Split(strings.TrimSpace(string(rec)), "\n") {
		if l != "" && !strings.HasPrefix(l, "-n ") {
			t.Errorf("the dry run ran `modprobe %s` (a module load)", l)
		}
	}
	lines := strings.Join(res.changeLines(t), "\n")
	if !strings.Contains(lines, `"op":"add-service"`) || !strings.Contains(lines, `"op":"add-dest"`) {
		t.Errorf("the dry run does not plan the load a real run would make:\n%s", lines)
	}
}
