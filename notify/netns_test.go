package notify_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// node is one machine of the lab: a namespace with eth0 on the switch,
// its own kahook.conf and state dir.
type node struct {
	*netnstest.NS
	t        *testing.T
	mac      string
	conf     string
	stateDir string
	bin      string
}

const (
	vip4 = "10.9.0.100"
	vip6 = "fd00:9::100"
)

func instanceConf(extra string) string {
	return fmt.Sprintf(`
instance VI_1 {
    interface eth0
    virtual_ipaddress {
        %s
        %s
    }
    garp_master_repeat 2
    garp_interval 0.05
    garp_master_delay 0
%s
}
`, vip4, vip6, extra)
}

func newNode(t *testing.T, sw *netnstest.Switch, name, mac, cidr, cidr6, conf string) *node {
	t.Helper()
	n := &node{NS: netnstest.New(t, name), t: t, mac: mac, bin: testbin.Kahook(t)}
	sw.Plug(n.NS, "eth0", mac, cidr)
	if cidr6 != "" {
		n.MustRun("ip", "-6", "addr", "add", cidr6, "dev", "eth0", "nodad")
	}
	dir := t.TempDir()
	n.conf = filepath.Join(dir, "kahook.conf")
	n.stateDir = filepath.Join(dir, "state")
	if conf != "" {
		if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// kahook runs kahook in the node; it returns stdout+stderr and the exit code.
func (n *node) kahook(args ...string) (string, int) {
	full := append([]string{n.bin, "--config", n.conf, "--state-dir", n.stateDir, "--syslog", "off"}, args...)
	out, err := n.Run(full...)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("run kahook: %v", err)
	}
	return out, code
}

func (n *node) mustKahook(args ...string) string {
	n.t.Helper()
	out, code := n.kahook(args...)
	if code != 0 {
		n.t.Fatalf("kahook %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (n *node) sysctl(key string) string {
	return strings.TrimSpace(n.MustRun("cat", "/proc/sys/net/ipv4/conf/"+strings.ReplaceAll(key, ".", "/")))
}

func (n *node) hasAddr(dev, addr string) bool {
	out := n.MustRun("ip", "-o", "addr", "show", "dev", dev)
	return strings.Contains(out, " "+addr+"/")
}

// neighMAC is the MAC the node's neighbour table holds for ip ("" none).
func (n *node) neighMAC(ip string) string {
	out, _ := n.Run("ip", "neigh", "show", ip, "dev", "eth0")
	f := strings.Fields(out)
	for i, w := range f {
		if w == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

func infoLines(out string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=INFO") || strings.Contains(sc.Text(), "level=WARN") {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

func TestNotifyIdempotentAndOrdered(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf(""))

	out := a.mustKahook("notify", "master", "VI_1")
	if !a.hasAddr("lo", vip4) || !a.hasAddr("eth0", vip6) {
		t.Fatalf("VIPs not bound after master (IPv4 on lo, IPv6 on the announce interface):\n%s\n%s", out, a.MustRun("ip", "addr"))
	}
	for _, k := range []string{"all.arp_ignore", "lo.arp_ignore", "eth0.arp_ignore"} {
		if v := a.sysctl(k); v != "0" {
			t.Errorf("director %s = %s", k, v)
		}
	}
	for _, k := range []string{"all.arp_announce", "lo.arp_announce", "eth0.arp_announce"} {
		if v := a.sysctl(k); v != "2" {
			t.Errorf("director %s = %s", k, v)
		}
	}
	if !strings.Contains(out, "VIP added") || !strings.Contains(out, "gratuitous ARP sent") {
		t.Errorf("changes not logged:\n%s", out)
	}
	// A second identical run changes nothing and says nothing at info.
	out = a.mustKahook("notify", "master", "VI_1")
	if lines := infoLines(out); len(lines) != 0 {
		t.Errorf("second master run logged at info/warn: %q", lines)
	}
	if n := strings.Count(a.MustRun("ip", "-o", "addr", "show", "dev", "lo"), vip4+"/32"); n != 1 {
		t.Errorf("VIP present %d times", n)
	}

	out = a.mustKahook("notify", "INSTANCE", "VI_1", "BACKUP", "100")
	if a.hasAddr("lo", vip4) || a.hasAddr("eth0", vip6) {
		t.Fatal("VIPs still bound after backup")
	}
	if !strings.Contains(out, "VIP removed") {
		t.Errorf("removal not logged:\n%s", out)
	}
	out = a.mustKahook("notify", "backup", "VI_1")
	if lines := infoLines(out); len(lines) != 0 {
		t.Errorf("second backup run logged at info/warn: %q", lines)
	}
	st := readState(t, a.stateDir)
	if s := st.Instances["VI_1"]; s == nil || s.State != "BACKUP" || !s.Applied {
		t.Errorf("state = %+v", s)
	}
}

func readState(t *testing.T, dir string) *state.State {
	t.Helper()
	st, err := (&state.Store{Dir: dir}).Load()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestGratuitousARPMovesNeighbours: after A master / B backup the client
// resolves the VIP to A; after the roles swap its entry points to B
// without the client sending anything: the gratuitous ARP (and, for the
// IPv6 VIP, the unsolicited NA) did it.
func TestGratuitousARPMovesNeighbours(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	conf := instanceConf("")
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "fd00:9::1/64", conf)
	b := newNode(t, sw, "b", "02:00:00:00:00:0b", "10.9.0.2/24", "fd00:9::2/64", conf)
	client := newNode(t, sw, "c", "02:00:00:00:00:0c", "10.9.0.9/24", "fd00:9::9/64", "")

	a.mustKahook("notify", "master", "VI_1")
	b.mustKahook("notify", "backup", "VI_1")
	client.MustRun("ping", "-c", "1", "-W", "2", vip4)
	client.MustRun("ping", "-6", "-c", "1", "-W", "2", vip6)
	if got := client.neighMAC(vip4); got != a.mac {
		t.Fatalf("client resolves %s to %q, want A %s", vip4, got, a.mac)
	}
	if got := client.neighMAC(vip6); got != a.mac {
		t.Fatalf("client resolves %s to %q, want A %s", vip6, got, a.mac)
	}

	a.mustKahook("notify", "backup", "VI_1")
	b.mustKahook("notify", "master", "VI_1")
	if !netnstest.Eventually(2*time.Second, func() bool { return client.neighMAC(vip4) == b.mac }) {
		t.Errorf("after failover the client still maps %s to %q, want B %s", vip4, client.neighMAC(vip4), b.mac)
	}
	if !netnstest.Eventually(2*time.Second, func() bool { return client.neighMAC(vip6) == b.mac }) {
		t.Errorf("after failover the client still maps %s to %q, want B %s", vip6, client.neighMAC(vip6), b.mac)
	}
	// And it was the announcement: the client's traffic now reaches B.
	client.MustRun("ping", "-c", "1", "-W", "2", vip4)
}

// TestRealServerSysctls: with the realserver role a VIP on lo is never
// answered; with arp_ignore set on lo only (the classic mistake) it is.
func TestRealServerSysctls(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	rs := newNode(t, sw, "rs", "02:00:00:00:00:11", "10.9.0.11/24", "", "")
	client := newNode(t, sw, "c", "02:00:00:00:00:0c", "10.9.0.9/24", "", "")

	out := rs.mustKahook("realserver", "up", "--vip", vip4, "--interface", "eth0")
	if !rs.hasAddr("lo", vip4) {
		t.Fatalf("VIP not on lo:\n%s", out)
	}
	for k, want := range map[string]string{"all.arp_ignore": "1", "eth0.arp_ignore": "1", "lo.arp_ignore": "1", "all.arp_announce": "2", "eth0.arp_announce": "2"} {
		if v := rs.sysctl(k); v != want {
			t.Errorf("%s = %s, want %s", k, v, want)
		}
	}
	probe, _ := client.kahook("arp", "probe", "--interface", "eth0", "--timeout", "600ms", vip4)
	if strings.Contains(probe, rs.mac) {
		t.Fatalf("real server with realserver sysctls answered ARP for the VIP:\n%s", probe)
	}
	// The mistake: arp_ignore only on lo, all and eth0 left at 0.
	for _, k := range []string{"all", "eth0"} {
		rs.MustRun("sysctl", "-qw", "net.ipv4.conf."+k+".arp_ignore=0")
	}
	probe, _ = client.kahook("arp", "probe", "--interface", "eth0", "--timeout", "600ms", vip4)
	if !strings.Contains(probe, rs.mac) {
		t.Fatalf("with arp_ignore only on lo the real server must answer (and the probe see it):\n%s", probe)
	}
	show, code := rs.kahook("sysctl", "show", "--role", "realserver", "--interface", "eth0")
	if code != 1 || !strings.Contains(show, "FAIL eth0") {
		t.Errorf("sysctl show must flag the leak (exit %d):\n%s", code, show)
	}
	rs.mustKahook("realserver", "up", "--vip", vip4, "--interface", "eth0")
	probe, _ = client.kahook("arp", "probe", "--interface", "eth0", "--timeout", "600ms", vip4)
	if strings.Contains(probe, rs.mac) {
		t.Fatalf("realserver up did not repair the sysctls:\n%s", probe)
	}
	rs.mustKahook("realserver", "down", "--vip", vip4, "--interface", "eth0")
	if rs.hasAddr("lo", vip4) {
		t.Error("realserver down left the VIP")
	}
}

func TestSysctlShowEffectiveIsMax(t *testing.T) {
	n := newNode(t, netnstest.NewSwitch(t), "n", "02:00:00:00:00:21", "10.9.0.21/24", "", "")
	n.MustRun("sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=2", "net.ipv4.conf.eth0.arp_ignore=1",
		"net.ipv4.conf.all.arp_announce=0", "net.ipv4.conf.eth0.arp_announce=2")
	out := n.mustKahook("--json", "sysctl", "show", "--interface", "eth0")
	var res struct {
		Interfaces []struct {
			Iface       string `json:"interface"`
			ArpIgnore   int    `json:"arp_ignore"`
			ArpAnnounce int    `json:"arp_announce"`
		} `json:"interfaces"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, ifc := range res.Interfaces {
		if ifc.Iface == "eth0" {
			if ifc.ArpIgnore != 2 || ifc.ArpAnnounce != 2 {
				t.Errorf("eth0 effective = %d/%d, want max(all,eth0) = 2/2", ifc.ArpIgnore, ifc.ArpAnnounce)
			}
			return
		}
	}
	t.Fatalf("no eth0 in %s", out)
}

// TestConcurrentNotifyNewestWins starts 200 notify processes for one
// instance at once with random states; the last one started is MASTER.
// Whatever order they take the lock in, the end state is MASTER, the
// state file is valid JSON and the VIP is bound once.
func TestConcurrentNotifyNewestWins(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf(""))
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	start := func(st string) {
		cmd := a.Command(a.bin, "--config", a.conf, "--state-dir", a.stateDir, "--syslog", "off", "notify", st, "VI_1")
		var buf strings.Builder
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s: %v: %s", st, err, buf.String()))
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 199; i++ {
		if r.Intn(2) == 0 {
			start("master")
		} else {
			start("backup")
		}
	}
	start("master")
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d runs failed, first: %s", len(failures), failures[0])
	}
	data, err := os.ReadFile(filepath.Join(a.stateDir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st state.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state file is not valid JSON: %v\n%s", err, data)
	}
	if s := st.Instances["VI_1"]; s == nil || s.State != "MASTER" {
		t.Fatalf("final state %+v, want MASTER (the last started)", s)
	}
	if n := strings.Count(a.MustRun("ip", "-o", "addr", "show", "dev", "lo"), vip4+"/32"); n != 1 {
		t.Errorf("VIP bound %d times", n)
	}
}

// TestFIFO: 1000 alternating lines written fast end in the state of the
// last line; a SIGTERM mid-stream exits 0 with the last complete line
// applied; malformed and LVS lines are logged and skipped.
func TestFIFO(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf(""))
	cmd, out, w := a.startFIFO(t)
	var b strings.Builder
	b.WriteString("this is not a keepalived line\n")
	b.WriteString("VS [10.9.0.100]:tcp:80 UP\x00")
	for i := 0; i < 1000; i++ {
		st := "MASTER"
		if i%2 == 1 {
			st = "BACKUP"
		}
		fmt.Fprintf(&b, "INSTANCE \"VI_1\" %s %d\n", st, i%250)
	}
	fmt.Fprintf(&b, "INSTANCE \"VI_1\" MASTER 251\n")
	if _, err := w.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
	// Wait for the last line to be applied, then a half line and SIGTERM.
	ok := netnstest.Eventually(60*time.Second, func() bool {
		s := readState(t, a.stateDir).Instances["VI_1"]
		return s != nil && s.Priority == 251 && s.Applied
	})
	if !ok {
		t.Fatalf("last FIFO line never applied:\n%s", out.String())
	}
	if _, err := w.WriteString(`INSTANCE "VI_1" BACK`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fifo exit on SIGTERM: %v\n%s", err, out.String())
	}
	w.Close()
	s := readState(t, a.stateDir).Instances["VI_1"]
	if s.State != "MASTER" || !a.hasAddr("lo", vip4) {
		t.Errorf("end state %+v, VIP present %v", s, a.hasAddr("lo", vip4))
	}
	log := out.String()
	if !strings.Contains(log, "FIFO line skipped") || !strings.Contains(log, "keepalived LVS event") {
		t.Errorf("malformed and LVS lines not logged:\n%s", lastLines(log, 20))
	}
	if !strings.Contains(log, "applied=1001") {
		t.Errorf("expected 1001 applied events:\n%s", lastLines(log, 5))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestBadInput: each bad input exits 2 with a clear message and changes
// nothing.
func TestBadInput(t *testing.T) {
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf(""))
	snapshot := func() string {
		return a.MustRun("ip", "-o", "addr", "show") + a.sysctl("all.arp_ignore") + a.sysctl("all.arp_announce")
	}
	before := snapshot()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown instance", []string{"notify", "master", "VI_9"}, `instance "VI_9"`},
		{"unknown state", []string{"notify", "promote", "VI_1"}, "unknown state"},
		{"bad generic form", []string{"notify", "INSTANCE", "VI_1", "MASTER", "high"}, "priority"},
		{"vip not in config", []string{"vip", "add", "10.9.0.77"}, "not a VIP"},
		{"vip on lo not host", []string{"vip", "add", "--force", "10.9.0.0/24"}, "must be /32"},
		{"sysctl missing interface", []string{"sysctl", "apply", "--role", "director", "--interface", "eth7"}, "does not exist"},
		{"garp missing interface", []string{"garp", "--interface", "eth7", vip4}, "eth7"},
	}
	for _, tc := range cases {
		out, code := a.kahook(tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, output %q (want exit 2 and %q)", tc.name, code, out, tc.want)
		}
	}
	// An instance whose announce interface does not exist.
	if err := os.WriteFile(a.conf, []byte(strings.Replace(instanceConf(""), "interface eth0", "interface eth7", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := a.kahook("notify", "master", "VI_1")
	if code != 2 || !strings.Contains(out, "eth7") {
		t.Errorf("missing interface: exit %d %q", code, out)
	}
	if after := snapshot(); after != before {
		t.Errorf("bad input changed the system:\nbefore %s\nafter  %s", before, after)
	}
	if _, err := os.Stat(filepath.Join(a.stateDir, "state.json")); err == nil {
		t.Error("bad input wrote a state file")
	}
}

const withService = `
virtual_server 10.9.0.100 80 {
    protocol TCP
    lb_algo rr
    lb_kind DR
    real_server 10.9.0.21 80 { }
    real_server 10.9.0.22 80 { }
}
`

// TestIPVSFailureDoesNotHoldBackVIPs: on a kernel without IPVS (the
// host), MASTER still binds the VIPs and sends gratuitous ARP, then exits
// 1 naming the IPVS problem.
func TestIPVSFailureDoesNotHoldBackVIPs(t *testing.T) {
	if ipvs.Detect() == nil {
		t.Skip("this kernel has IPVS")
	}
	sw := netnstest.NewSwitch(t)
	a := newNode(t, sw, "a", "02:00:00:00:00:0a", "10.9.0.1/24", "", instanceConf("")+withService)
	out, code := a.kahook("notify", "master", "VI_1")
	if code != 1 || !strings.Contains(out, "the kernel has no IPVS") {
		t.Errorf("exit %d, want 1 with the IPVS reason:\n%s", code, out)
	}
	if !a.hasAddr("lo", vip4) || !strings.Contains(out, "gratuitous ARP sent") {
		t.Errorf("the VIP and gratuitous ARP were held back by the IPVS failure:\n%s", out)
	}
	if s := readState(t, a.stateDir).Instances["VI_1"]; s == nil || s.State != "MASTER" || s.Applied {
		t.Errorf("state must record MASTER, not applied: %+v", s)
	}
}

// TestSysctlApplyPersist: apply writes only what differs; --persist
// writes a drop-in setting all, lo and the interface explicitly (the
// dotted VLAN name in sysctl.d's slash form), and leaves an identical
// file alone.
func TestSysctlApplyPersist(t *testing.T) {
	n := newNode(t, netnstest.NewSwitch(t), "n", "02:00:00:00:00:31", "10.9.0.31/24", "", "")
	// A dotted name, as VLAN interfaces have (any link type will do).
	n.MustRun("ip", "link", "add", "eth0.42", "type", "veth", "peer", "name", "peer42")
	dropIn := filepath.Join(t.TempDir(), "60-kahook.conf")
	out := n.mustKahook("sysctl", "apply", "--role", "realserver", "--interface", "eth0.42", "--persist", "--persist-file", dropIn)
	if c := strings.Count(out, "sysctl changed"); c == 0 {
		t.Fatalf("nothing logged as changed:\n%s", out)
	}
	data, err := os.ReadFile(dropIn)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"net.ipv4.conf.all.arp_ignore = 1", "net.ipv4.conf.lo.arp_ignore = 1", "net/ipv4/conf/eth0.42/arp_ignore = 1",
		"net.ipv4.conf.all.arp_announce = 2", "net.ipv4.conf.lo.arp_announce = 2", "net/ipv4/conf/eth0.42/arp_announce = 2",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("drop-in lacks %q:\n%s", want, data)
		}
	}
	st1, _ := os.Stat(dropIn)
	out = n.mustKahook("sysctl", "apply", "--role", "realserver", "--interface", "eth0.42", "--persist", "--persist-file", dropIn)
	if lines := infoLines(out); len(lines) != 0 {
		t.Errorf("second apply changed things: %q", lines)
	}
	if st2, _ := os.Stat(dropIn); !st2.ModTime().Equal(st1.ModTime()) {
		t.Error("an identical drop-in was rewritten")
	}
	if v := strings.TrimSpace(n.MustRun("cat", "/proc/sys/net/ipv4/conf/eth0.42/arp_ignore")); v != "1" {
		t.Errorf("eth0.42 arp_ignore = %s", v)
	}
}

// startFIFO starts `kahook fifo` on a new root-only FIFO in a's namespace
// and opens the FIFO's write end, as keepalived does; the run's output
// goes to out.
func (a *node) startFIFO(t *testing.T) (cmd *exec.Cmd, out *netnstest.Buffer, w *os.File) {
	t.Helper()
	cmd, out, fifo := a.startFIFOUnopened(t)
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, out, w
}
