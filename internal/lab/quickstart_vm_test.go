//go:build vm

package lab_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/lab"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// quickStart is what README.md's "Quick start" tells an operator to do.
type quickStart struct {
	keepalivedConf string // the first fenced block
	kahookConf     string // the second fenced block
	kahookConfPath string // "In `/etc/kahook/kahook.conf`"
	install        string // "installed at `/usr/sbin/kahook`"
	iface          string // the vrrp_instance's interface
	vip, port      string // the virtual_server
	servers        []string
}

// readQuickStart extracts the Quick start from README.md: a change to the
// README that leaves the test unable to find its parts fails the test.
func readQuickStart(t *testing.T) quickStart {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testbin.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "\n## Quick start\n")
	if i < 0 {
		t.Fatal("README.md has no \"## Quick start\" section")
	}
	sec := text[i+1:]
	if j := strings.Index(sec[3:], "\n## "); j >= 0 {
		sec = sec[:j+3]
	}
	blocks := regexp.MustCompile("(?s)\n```[a-z]*\n(.*?)\n```").FindAllStringSubmatch(sec, -1)
	if len(blocks) < 2 {
		t.Fatalf("the Quick start has %d fenced blocks, want keepalived.conf then kahook.conf", len(blocks))
	}
	q := quickStart{keepalivedConf: blocks[0][1] + "\n", kahookConf: blocks[1][1] + "\n"}
	find := func(what, re, in string) string {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(in)
		if m == nil {
			t.Fatalf("the Quick start does not say %s (%s)", what, re)
		}
		return m[1]
	}
	q.kahookConfPath = find("where kahook.conf goes", "In `(/[^`]*kahook\\.conf)`", sec)
	q.install = find("where kahook is installed", "installed at\\s+`(/[^`]+)`", sec)
	q.iface = find("the vrrp_instance's interface", `(?m)^\s*interface\s+(\S+)`, q.keepalivedConf)
	vs := regexp.MustCompile(`(?m)^virtual_server\s+(\S+)\s+(\d+)`).FindStringSubmatch(q.kahookConf)
	if vs == nil {
		t.Fatal("the Quick start's kahook.conf has no virtual_server IP PORT")
	}
	q.vip, q.port = vs[1], vs[2]
	for _, m := range regexp.MustCompile(`(?m)^\s*real_server\s+(\S+)\s+(\d+)`).FindAllStringSubmatch(q.kahookConf, -1) {
		if m[2] != q.port {
			t.Fatalf("real_server %s port %s: the lab serves the virtual server's port %s only", m[1], m[2], q.port)
		}
		q.servers = append(q.servers, m[1])
	}
	if len(q.servers) < 2 {
		t.Fatalf("the Quick start's virtual_server has %d real servers, the test needs one up and one down", len(q.servers))
	}
	return q
}

// install writes data to path (mode), restoring what was there when the
// test ends. Only in the VM, whose / is a throw-away overlay.
func install(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	old, err := os.ReadFile(path)
	existed := err == nil
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if existed {
			os.WriteFile(path, old, mode)
		} else {
			os.Remove(path)
		}
	})
}

// TestVMQuickStart follows README.md's Quick start literally on one
// director with a real keepalived: kahook installed where the README says,
// its keepalived.conf (checked with `keepalived -t`, as the README says it
// passes) and its kahook.conf at the documented path, the real servers of
// its virtual_server as LVS-DR real servers in the lab (the first serving,
// the others down), the director's link named as its `interface`. Then:
// the VIP is bound on the MASTER, IPVS has the service, a down real server
// is out of the table (or at weight 0, drained), and once it comes up the
// wired `kahook sync` vrrp_script puts it in. Without the vrrp_script
// nothing checks the servers and the down one stays at its weight.
func TestVMQuickStart(t *testing.T) {
	netnstest.RequireRoot(t)
	if os.Getenv("KAHOOK_IN_VM") != "1" {
		t.Skip("installs kahook into / as the README says: only in the VM's overlay root")
	}
	q := readQuickStart(t)
	if q.iface != "eth0" {
		t.Fatalf("the Quick start's interface is %s; the lab's links are eth0", q.iface)
	}
	prefix := q.servers[0][:strings.LastIndex(q.servers[0], ".")+1]
	for _, s := range q.servers {
		if !strings.HasPrefix(s, prefix) {
			t.Fatalf("real servers %v are not in one /24: the lab puts them on one link", q.servers)
		}
	}
	kahook, labweb := testbin.Kahook(t), testbin.Labweb(t)
	bin, err := os.ReadFile(kahook)
	if err != nil {
		t.Fatal(err)
	}
	install(t, q.install, bin, 0o755)
	install(t, q.kahookConfPath, []byte(q.kahookConf), 0o644)
	t.Cleanup(func() { os.RemoveAll("/run/kahook") })

	l, err := lab.New(kahook, labweb)
	if err != nil {
		t.Fatal(err)
	}
	l.Say = t.Logf
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("lab cleanup: %v", err)
		}
	})
	dir, err := l.AddNode("d", prefix+"1", "02:00:00:19:00:01")
	must(t, err)
	client, err := l.AddNode("client", prefix+"250", "02:00:00:19:00:fa")
	must(t, err)
	_, err = client.Run("ip", "route", "add", q.vip+"/32", "dev", "eth0")
	must(t, err)
	var rs []*lab.Node
	for i, s := range q.servers {
		n, err := l.AddNode(fmt.Sprintf("rs%d", i+1), s, fmt.Sprintf("02:00:00:19:01:%02x", i+1))
		must(t, err)
		_, err = n.Run(kahook, "--syslog", "off", "realserver", "up", "--vip", q.vip, "--interface", "eth0")
		must(t, err)
		rs = append(rs, n)
	}
	_, err = rs[0].Start("web-rs1", labweb, "-listen", ":"+q.port, "-name", "rs1")
	must(t, err)

	conf := filepath.Join(l.Dir, "keepalived.conf")
	must(t, os.WriteFile(conf, []byte(q.keepalivedConf), 0o644))
	if out, err := dir.Run("keepalived", "-t", "--use-file", conf); err != nil {
		t.Errorf("the README says keepalived -t accepts the Quick start's keepalived.conf: %v\n%s", err, out)
	}
	ka, err := dir.Start("keepalived", "keepalived", "--dont-fork", "--log-console", "--log-detail", "--use-file", conf,
		"--pid", filepath.Join(l.Dir, "k.pid"), "--vrrp_pid", filepath.Join(l.Dir, "v.pid"), "--checkers_pid", filepath.Join(l.Dir, "c.pid"))
	must(t, err)
	service := q.vip + ":" + q.port
	// weight is a real server's weight in the service ("absent" if not in it).
	weight := func(server string) string {
		out, err := dir.Run("ipvsadm", "-Ln", "-t", service)
		if err != nil {
			return "no service"
		}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 6 && f[0] == "->" && f[1] == server+":"+q.port {
				return f[3]
			}
		}
		return "absent"
	}
	table := func() string { out, _ := dir.Run("ipvsadm", "-Ln"); return out }
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nipvsadm -Ln:\n%s\nkeepalived:\n%s", append(args, table(), lastLines(ka.Output(), 30))...)
	}

	const wait = 90 * time.Second
	if !netnstest.Eventually(wait, func() bool {
		out, _ := dir.Run("ip", "-o", "addr", "show", "dev", "lo")
		return strings.Contains(out, " "+q.vip+"/")
	}) {
		fail("the VIP %s is not bound on the director after %v", q.vip, wait)
	}
	if !netnstest.Eventually(wait, func() bool { return weight(q.servers[0]) != "no service" }) {
		fail("IPVS has no service %s", service)
	}
	up := func(w string) bool { n, err := strconv.Atoi(w); return err == nil && n > 0 }
	if !netnstest.Eventually(wait, func() bool { w := weight(q.servers[1]); return w == "absent" || w == "0" }) {
		fail("the down real server %s is in the table at weight %s after %v: nothing checks it", q.servers[1], weight(q.servers[1]), wait)
	}
	if w := weight(q.servers[0]); !up(w) {
		fail("the live real server %s: weight %s", q.servers[0], w)
	}
	get := func() string {
		out, _ := client.Run("curl", "-s", "-m", "3", "http://"+q.vip+":"+q.port+"/")
		return strings.TrimSpace(out)
	}
	if name := get(); name != "rs1" {
		fail("a request through the VIP: %q, want rs1", name)
	}

	_, err = rs[1].Start("web-rs2", labweb, "-listen", ":"+q.port, "-name", "rs2")
	must(t, err)
	if !netnstest.Eventually(wait, func() bool { return up(weight(q.servers[1])) }) {
		fail("the real server %s came up but kahook sync did not put it in within %v (weight %s)", q.servers[1], wait, weight(q.servers[1]))
	}
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		seen[get()]++
	}
	if seen["rs1"] == 0 || seen["rs2"] == 0 {
		fail("through the VIP answers came from %v, want rs1 and rs2", seen)
	}
	t.Logf("Quick start: VIP on the MASTER, %s in IPVS, the down server left out, then added by kahook sync; answers %v", service, seen)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
