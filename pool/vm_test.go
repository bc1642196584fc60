//go:build vm

package pool_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
	"github.com/kahook/kahook/pool"
)

// lab: a director (IPVS, kahook) and a backends namespace holding the
// real servers' addresses, on one bridge. Backends route back through the
// director so NAT works.
type lab struct {
	t        *testing.T
	sw       *netnstest.Switch
	director *netnstest.NS
	backends *netnstest.NS
	bin      string
	labweb   string
	conf     string
	stateDir string
	maint    string
	webs     map[string]*netnstest.Proc
}

func newLab(t *testing.T, backendIPs int) *lab {
	l := &lab{t: t, sw: netnstest.NewSwitch(t), bin: testbin.Kahook(t), labweb: testbin.Labweb(t), webs: map[string]*netnstest.Proc{}}
	l.director = netnstest.New(t, "dir")
	l.backends = netnstest.New(t, "rs")
	l.sw.Plug(l.director, "eth0", "02:00:00:00:00:01", "10.9.0.1/24")
	l.director.MustRun("ip", "addr", "add", "10.9.1.254/24", "dev", "eth0")
	l.director.MustRun("sysctl", "-qw", "net.ipv4.ip_forward=1")
	l.sw.Plug(l.backends, "eth0", "02:00:00:00:00:02", "10.9.1.1/24")
	for i := 2; i <= backendIPs; i++ {
		l.backends.MustRun("ip", "addr", "add", fmt.Sprintf("10.9.1.%d/24", i), "dev", "eth0")
	}
	l.backends.MustRun("ip", "route", "add", "default", "via", "10.9.1.254")
	dir := t.TempDir()
	l.conf = filepath.Join(dir, "kahook.conf")
	l.stateDir = filepath.Join(dir, "state")
	l.maint = filepath.Join(dir, "maintenance")
	os.MkdirAll(l.maint, 0o755)
	return l
}

func (l *lab) write(body string) {
	head := fmt.Sprintf(`
global_defs { maintenance_dir %s }
instance VI_1 {
    interface eth0
    virtual_ipaddress { 10.9.0.100 }
    garp_master_repeat 1
    garp_master_delay 0
}
`, l.maint)
	if err := os.WriteFile(l.conf, []byte(head+body), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// web starts (or restarts) a backend listener.
func (l *lab) web(addrs string) { l.webProbe(addrs, strings.Split(addrs, ",")[0]) }

// webProbe starts a listener and waits until probe (HOST:PORT) answers.
func (l *lab) webProbe(addrs, probe string) {
	if p := l.webs[addrs]; p != nil && !p.Exited() {
		return
	}
	l.webs[addrs] = netnstest.Start(l.t, l.backends, l.labweb, "-listen", addrs, "-name", addrs)
	first := probe
	if !netnstest.Eventually(10*time.Second, func() bool {
		_, err := l.director.Run("bash", "-c", "exec 3<>/dev/tcp/"+strings.Replace(first, ":", "/", 1))
		return err == nil
	}) {
		l.t.Fatalf("backend %s did not start", addrs)
	}
}

func (l *lab) stopWeb(addrs string) { l.webs[addrs].Stop() }

func (l *lab) kahook(args ...string) (string, int) {
	full := append([]string{l.bin, "--config", l.conf, "--state-dir", l.stateDir, "--syslog", "off"}, args...)
	out, err := l.director.Run(full...)
	if ee, ok := err.(*exec.ExitError); ok {
		return out, ee.ExitCode()
	} else if err != nil {
		l.t.Fatal(err)
	}
	return out, 0
}

// pass runs `kahook --json sync` and decodes the report.
func (l *lab) pass(flags ...string) (*pool.Report, int) {
	l.t.Helper()
	args := append([]string{"--json", "--log-level", "warn", "sync"}, flags...)
	out, code := l.kahook(args...)
	var rep pool.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		l.t.Fatalf("sync output: %v\n%s", err, out)
	}
	return &rep, code
}

func (l *lab) rules() string { return l.director.MustRun("ipvsadm", "-Sn") }

func (l *lab) weightOf(service, rs string) string {
	for _, line := range strings.Split(l.rules(), "\n") {
		if strings.Contains(line, "-a -t "+service+" -r "+rs+" ") {
			f := strings.Fields(line)
			return f[len(f)-1]
		}
	}
	return "absent"
}

const fourServers = `
virtual_server 10.9.0.100 80 {
    protocol TCP
    lb_algo wrr
    lb_kind NAT
    quorum 5
    hysteresis 1
    real_server 10.9.1.1 8080 { weight 2
        TCP_CHECK { connect_timeout 1 } }
    real_server 10.9.1.2 8080 { weight 2
        TCP_CHECK { connect_timeout 1 } }
    real_server 10.9.1.3 8080 { weight 2
        TCP_CHECK { connect_timeout 1 } }
    real_server 10.9.1.4 8080 { weight 2
        TCP_CHECK { connect_timeout 1 } }
}
virtual_server 10.9.0.100 81 {
    protocol TCP
    lb_algo wrr
    lb_kind NAT
    inhibit_on_failure
    sorry_server 10.9.1.9 8081
    real_server 10.9.1.1 8081 { HTTP_GET { url { path / } connect_timeout 1 } }
    real_server 10.9.1.2 8081 { HTTP_GET { url { path / } connect_timeout 1 } }
    real_server 10.9.1.3 8081 { HTTP_GET { url { path / } connect_timeout 1 } }
    real_server 10.9.1.4 8081 { HTTP_GET { url { path / } connect_timeout 1 } }
}
virtual_server 10.9.0.100 82 {
    protocol TCP
    lb_algo wrr
    lb_kind NAT
    real_server 10.9.1.1 8082 { weight 5
        MISC_CHECK { misc_path "/bin/sh -c 'exit $(cat %[1]s/code1)'"
                     misc_dynamic } }
    real_server 10.9.1.2 8082 { weight 5
        MISC_CHECK { misc_path "/bin/sh -c 'exit $(cat %[1]s/code2)'"
                     misc_dynamic } }
    real_server 10.9.1.3 8082 { weight 5 }
    real_server 10.9.1.4 8082 { weight 5 }
}
`

func TestVMSyncFollowsHealth(t *testing.T) {
	l := newLab(t, 9)
	codes := t.TempDir()
	os.WriteFile(filepath.Join(codes, "code1"), []byte("0"), 0o644)
	os.WriteFile(filepath.Join(codes, "code2"), []byte("0"), 0o644)
	l.write(fmt.Sprintf(fourServers, codes))
	for i := 1; i <= 4; i++ {
		l.web(fmt.Sprintf("10.9.1.%d:8080,10.9.1.%d:8081", i, i))
	}
	// A backup node's pass checks every server and touches nothing.
	l.kahook("notify", "backup", "VI_1")
	rep, code := l.pass()
	if code != 0 || rep.Master || len(rep.Servers) != 12 || strings.TrimSpace(l.rules()) != "" {
		t.Fatalf("backup pass: exit %d %+v\n%s", code, rep, l.rules())
	}
	if out, code := l.kahook("notify", "master", "VI_1"); code != 0 {
		t.Fatalf("notify master: %s", out)
	}
	textfile := t.TempDir()
	rep, code = l.pass("--fall", "2", "--rise", "2", "--drain-timeout", "0", "--textfile", textfile)
	if code != 0 || len(rep.Servers) != 12 {
		t.Fatalf("first pass: exit %d, %d servers: %+v", code, len(rep.Servers), rep)
	}
	metrics, err := os.ReadFile(filepath.Join(textfile, "kahook_VI_1.prom"))
	if err != nil || !strings.Contains(string(metrics), `kahook_realserver_up{instance="VI_1",virtual_server="10.9.0.100:tcp:80",real_server="10.9.1.2:8080"} 1`) {
		t.Errorf("textfile metrics: %v\n%s", err, metrics)
	}
	// Nothing changed: no IPVS write at all.
	before := l.rules()
	rep, _ = l.pass("--fall", "2", "--rise", "2", "--drain-timeout", "0")
	if len(rep.Changes) != 0 || l.rules() != before {
		t.Fatalf("a pass without health changes changed the kernel: %v", rep.Changes)
	}

	// Kill backend 2: out after fall=2 passes; the inhibit_on_failure
	// service keeps it at weight 0.
	l.stopWeb("10.9.1.2:8080,10.9.1.2:8081")
	l.pass("--fall", "2", "--rise", "2", "--drain-timeout", "0")
	if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "2" {
		t.Fatalf("after one failed pass (fall 2) weight = %s, want 2", w)
	}
	rep, _ = l.pass("--fall", "2", "--rise", "2", "--drain-timeout", "0")
	if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "absent" {
		t.Fatalf("after two failed passes the server is still in (weight %s)\n%+v", w, rep)
	}
	if w := l.weightOf("10.9.0.100:81", "10.9.1.2:8081"); w != "0" {
		t.Errorf("inhibit_on_failure: weight %s, want 0", w)
	}
	// Back after rise=2 passes.
	l.web("10.9.1.2:8080,10.9.1.2:8081")
	l.pass("--fall", "2", "--rise", "2", "--drain-timeout", "0")
	if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "absent" {
		t.Fatalf("rise 2: back after one pass (weight %s)", w)
	}
	l.pass("--fall", "2", "--rise", "2", "--drain-timeout", "0")
	if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "2" {
		t.Fatalf("rise 2: not back after two passes (weight %s)", w)
	}

	// misc_dynamic: exit 12 -> weight 10; exit 0 -> the configured 5; exit 1 -> out.
	os.WriteFile(filepath.Join(codes, "code1"), []byte("12"), 0o644)
	l.pass()
	if w := l.weightOf("10.9.0.100:82", "10.9.1.1:8082"); w != "10" {
		t.Errorf("misc_dynamic exit 12: weight %s, want 10", w)
	}
	os.WriteFile(filepath.Join(codes, "code1"), []byte("0"), 0o644)
	l.pass()
	if w := l.weightOf("10.9.0.100:82", "10.9.1.1:8082"); w != "5" {
		t.Errorf("misc_dynamic exit 0: weight %s, want the configured 5", w)
	}
	os.WriteFile(filepath.Join(codes, "code2"), []byte("1"), 0o644)
	l.pass("--drain-timeout", "0")
	if w := l.weightOf("10.9.0.100:82", "10.9.1.2:8082"); w != "absent" {
		t.Errorf("misc_dynamic exit 1: weight %s, want out", w)
	}

	// Quorum 5 with hysteresis 1 on :80 (weights 2 each, live 8): stays
	// up down to 4, goes down below it, comes back only at 6.
	l.stopWeb("10.9.1.3:8080,10.9.1.3:8081")
	_, code = l.pass("--drain-timeout", "0")
	if code != 0 {
		t.Fatalf("live weight 6 >= 4: quorum must hold (exit %d)", code)
	}
	l.stopWeb("10.9.1.4:8080,10.9.1.4:8081")
	if _, code = l.pass("--drain-timeout", "0"); code != 0 {
		t.Fatalf("live weight 4 = quorum-hysteresis: quorum must hold (exit %d)", code)
	}
	l.stopWeb("10.9.1.2:8080,10.9.1.2:8081")
	_, code = l.pass("--drain-timeout", "0")
	if code != 1 {
		t.Fatalf("live weight 2 < 4: quorum lost, exit must be 1 (got %d)", code)
	}
	l.web("10.9.1.2:8080,10.9.1.2:8081")
	if _, code = l.pass("--drain-timeout", "0"); code != 1 {
		t.Fatalf("live weight 4 < 6 = quorum+hysteresis: still down (exit %d)", code)
	}
	l.web("10.9.1.3:8080,10.9.1.3:8081")
	if _, code = l.pass("--drain-timeout", "0"); code != 0 {
		t.Fatalf("live weight 6: quorum regained (exit %d)", code)
	}

	// All of :81 down: the sorry server goes in, exit 1.
	for i := 1; i <= 4; i++ {
		l.stopWeb(fmt.Sprintf("10.9.1.%d:8080,10.9.1.%d:8081", i, i))
	}
	_, code = l.pass("--drain-timeout", "0")
	if code != 1 || l.weightOf("10.9.0.100:81", "10.9.1.9:8081") != "1" || l.weightOf("10.9.0.100:81", "10.9.1.1:8081") != "absent" {
		t.Fatalf("all down: exit %d\n%s", code, l.rules())
	}
	// Maintenance file drains a server; removing it restores it.
	l.web("10.9.1.1:8080,10.9.1.1:8081")
	l.pass()
	os.WriteFile(filepath.Join(l.maint, "10.9.1.1:8080"), nil, 0o644)
	l.pass("--drain-timeout", "0")
	if w := l.weightOf("10.9.0.100:80", "10.9.1.1:8080"); w != "absent" {
		t.Errorf("maintenance file: weight %s, want out", w)
	}
	os.Remove(filepath.Join(l.maint, "10.9.1.1:8080"))
	l.pass()
	if w := l.weightOf("10.9.0.100:80", "10.9.1.1:8080"); w != "2" {
		t.Errorf("maintenance ended: weight %s, want 2", w)
	}
}

// TestVMSyncDrainsBeforeDeleting: a real server with an open connection
// that fails its check goes to weight 0, keeps the connection, and is
// deleted once the connection is gone.
func TestVMSyncDrainsBeforeDeleting(t *testing.T) {
	l := newLab(t, 2)
	l.write(`
virtual_server 10.9.0.100 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 10.9.1.1 8080 { TCP_CHECK { connect_port 9001
                                            connect_timeout 1 } }
    real_server 10.9.1.2 8080 { TCP_CHECK { connect_port 9002
                                            connect_timeout 1 } }
}
`)
	l.web("10.9.1.1:8080,10.9.1.2:8080")
	l.web("10.9.1.1:9001")
	l.web("10.9.1.2:9002")
	if out, code := l.kahook("notify", "master", "VI_1"); code != 0 {
		t.Fatal(out)
	}
	client := netnstest.New(t, "cl")
	l.sw.Plug(client, "eth0", "02:00:00:00:00:03", "10.9.0.50/24")
	// Two held connections: round robin puts one on each server. They
	// end with a reset: IPVS keeps a cleanly closed one in TIME_WAIT for
	// two minutes.
	var conns []*netnstest.Proc
	for i := 0; i < 2; i++ {
		conns = append(conns, netnstest.Start(t, client, l.labweb, "-hold", "10.9.0.100:80"))
	}
	active := func() string {
		for _, line := range strings.Split(l.director.MustRun("ipvsadm", "-Ln"), "\n") {
			if strings.Contains(line, "10.9.1.2:8080") {
				f := strings.Fields(line)
				return f[4] + "/" + f[5]
			}
		}
		return "absent"
	}
	if !netnstest.Eventually(10*time.Second, func() bool { return active() == "1/0" }) {
		t.Fatalf("no connection on 10.9.1.2: %s\n%s", active(), l.director.MustRun("ipvsadm", "-Ln"))
	}
	l.stopWeb("10.9.1.2:9002") // health port down, data port and connection alive
	l.pass("--drain-timeout", "5m")
	if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "0" || active() != "1/0" {
		t.Fatalf("failed server with a connection: weight %s conns %s, want weight 0 and the connection kept", w, active())
	}
	l.pass("--drain-timeout", "5m")
	if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "0" {
		t.Fatalf("still draining: weight %s", w)
	}
	for _, c := range conns {
		c.Stop()
	}
	if !netnstest.Eventually(20*time.Second, func() bool { return active() == "0/0" }) {
		t.Fatalf("connection never expired: %s", active())
	}
	l.pass("--drain-timeout", "5m")
	if w := l.weightOf("10.9.0.100:80", "10.9.1.2:8080"); w != "absent" {
		t.Fatalf("drained server not deleted: weight %s", w)
	}
}

// TestVMSync1000: one pass over 1000 real servers (100 addresses x 10
// ports) with one dead-silent backend (an address nobody answers) among
// them: every server gets its verdict in that pass.
func TestVMSync1000(t *testing.T) {
	l := newLab(t, 100)
	var b strings.Builder
	for port := 8000; port < 8010; port++ {
		fmt.Fprintf(&b, "virtual_server 10.9.0.100 %d {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n", port-7900)
		for ip := 1; ip <= 100; ip++ {
			host := fmt.Sprintf("10.9.1.%d", ip)
			if ip == 100 && port == 8000 {
				host = "10.9.1.200" // nobody answers ARP for it: connect hangs until its timeout
			}
			fmt.Fprintf(&b, " real_server %s %d { TCP_CHECK { connect_timeout 1 } }\n", host, port)
		}
		b.WriteString("}\n")
	}
	l.write(b.String())
	var listen []string
	for port := 8000; port < 8010; port++ {
		listen = append(listen, fmt.Sprintf("0.0.0.0:%d", port))
	}
	l.webProbe(strings.Join(listen, ","), "10.9.1.1:8000")
	if out, code := l.kahook("notify", "master", "VI_1"); code != 0 {
		t.Fatal(out)
	}
	start := time.Now()
	rep, code := l.pass("--drain-timeout", "0")
	t.Logf("pass over %d real servers: %v wall (kahook reports %v)", len(rep.Servers), time.Since(start), rep.Duration)
	if code != 0 || len(rep.Servers) != 1000 {
		t.Fatalf("exit %d, %d servers", code, len(rep.Servers))
	}
	down := 0
	for _, s := range rep.Servers {
		if !s.Checked {
			t.Errorf("%s got no verdict in the pass", s.RealServer)
		}
		if !s.Up {
			down++
			// Nobody answers ARP for it: the first connect times out, a
			// retry may meet the FAILED neighbour entry (no route to host).
			reason := s.Checks[0].Reason
			if s.RealServer != "10.9.1.200:8000" || !(strings.Contains(reason, "timeout") || strings.Contains(reason, "no route to host")) {
				t.Errorf("unexpected down server %+v", s)
			}
		}
	}
	if down != 1 {
		t.Errorf("%d servers down, want exactly the silent one", down)
	}
}
