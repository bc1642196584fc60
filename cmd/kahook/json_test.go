package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
	"github.com/kahook/kahook/ipvs"
)

// jsonGolden checks that out is valid JSON, has no null list and no
// nanosecond-looking number, then compares it with testdata/name.
func jsonGolden(t *testing.T, name, out string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	// null only where documented: a check's weight when it yields none.
	if strings.Contains(strings.ReplaceAll(out, `"weight": null`, ""), "null") {
		t.Errorf("null in %s:\n%s", name, out)
	}
	if regexp.MustCompile(`: -1,?\n|: \d{9,},?\n`).MatchString(out) {
		t.Errorf("a sentinel or nanosecond value in %s:\n%s", name, out)
	}
	golden(t, name, out)
}

// TestGoldenJSON: the --json form of every printing command that runs
// without IPVS or a network namespace (issue 17 item 2). Values that
// change from run to run (ports, latencies, the Go version) are replaced
// by placeholders before the comparison.
func TestGoldenJSON(t *testing.T) {
	// An agent and an HTTP server on loopback.
	agent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	go func() {
		for {
			c, err := agent.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "ready 50%\n")
			c.Close()
		}
	}()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello\n") }))
	defer web.Close()
	webAddr := strings.TrimPrefix(web.URL, "http://")
	webHost, webPort, _ := net.SplitHostPort(webAddr)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	proc := fakeProcSys(t, "eth0")
	syncConf := filepath.Join(t.TempDir(), "sync.conf")
	// On a BACKUP, sync checks its real servers (and records their
	// health): the one real server is the local agent, so no check leaves
	// this host.
	agentHost, agentPort, _ := net.SplitHostPort(agent.Addr().String())
	os.WriteFile(syncConf, []byte(fmt.Sprintf(`
instance VI_1 {
    interface lo
    virtual_ipaddress { 192.0.2.10 }
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    real_server %s %s { TCP_CHECK { } }
}
`, agentHost, agentPort)), 0o644)
	normalize := strings.NewReplacer(agent.Addr().String(), "AGENT", webAddr, "WEB", closedAddr, "CLOSED", runtime.Version(), "GO", proc, "PROC", `"port": `+webPort+",", `"port": 80,`)
	latency := regexp.MustCompile(`"latency_seconds": [0-9.e-]+`)
	duration := regexp.MustCompile(`"duration_seconds": [0-9.e-]+`)
	wd, _ := os.Getwd()
	for _, tc := range []struct {
		name string
		args []string
		exit int
	}{
		{"version", []string{"version"}, 0},
		{"import", []string{"import", filepath.Join(wd, "testdata", "keepalived.conf")}, 0},
		{"check-tcp", []string{"check", "tcp", agent.Addr().String()}, 0},
		{"check-tcp-down", []string{"check", "tcp", closedAddr}, 1},
		{"check-agent", []string{"check", "agent", "--dynamic", agent.Addr().String()}, 52},
		{"check-http", []string{"check", "http", web.URL + "/health"}, 0},
		{"genhash", []string{"genhash", "-s", webHost, "-p", webPort, "-u", "/x"}, 0},
		{"sysctl-show", []string{"sysctl", "show", "--proc-sys", proc, "-i", "eth0", "--role", "director"}, 0},
		{"sysctl-apply", []string{"sysctl", "apply", "--proc-sys", proc, "-i", "eth0", "--role", "realserver"}, 0},
		{"sysctl-apply-again", []string{"sysctl", "apply", "--proc-sys", proc, "-i", "eth0", "--role", "realserver"}, 0},
		{"sync-not-master", []string{"--config", syncConf, "--state-dir", filepath.Join(t.TempDir(), "state"), "sync", "VI_1"}, 0},
		// A config that does not load: its errors as JSON too, each at
		// its file and line (before, --json printed nothing on stdout).
		{"config-check-errors", []string{"config", "check", filepath.Join(wd, "testdata", "broken.conf")}, 2},
		{"doctor", []string{"doctor", "--no-live", "--keepalived-conf", filepath.Join(wd, "testdata", "keepalived.conf"), "--config", filepath.Join(wd, "testdata", "director.conf")}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := kahook(append([]string{"--json"}, tc.args...)...)
			if code != tc.exit {
				t.Fatalf("exit %d, want %d: %s\n%s", code, tc.exit, errs, out)
			}
			out = strings.ReplaceAll(normalize.Replace(out), wd+"/", "")
			out = latency.ReplaceAllString(out, `"latency_seconds": 0.001`)
			out = duration.ReplaceAllString(out, `"duration_seconds": 0.001`)
			jsonGolden(t, "json/"+tc.name+".json", out)
		})
	}
}

// fakeProcSys is a /proc/sys tree with all, lo and ifaces at 0.
func fakeProcSys(t *testing.T, ifaces ...string) string {
	root := t.TempDir()
	for _, ifc := range append([]string{"all", "lo", "default"}, ifaces...) {
		dir := filepath.Join(root, "net/ipv4/conf", ifc)
		os.MkdirAll(dir, 0o755)
		for _, k := range []string{"arp_ignore", "arp_announce"} {
			os.WriteFile(filepath.Join(dir, k), []byte("0\n"), 0o644)
		}
	}
	return root
}

// TestGoldenIPVSJSON: the JSON forms of `ipvs show` and `ipvs diff|apply`
// for the table director.conf loads (the VM tests run the commands on a
// real kernel).
func TestGoldenIPVSJSON(t *testing.T) {
	cfg, err := config.Load(filepath.Join("testdata", "director.conf"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	desired, err := ipvs.Desired(cfg.VirtualServers, cfg.Groups, ipvs.StartMembers)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printJSON(&b, tableJSON(desired))
	jsonGolden(t, "json/ipvs-show.json", b.String())
	b.Reset()
	printJSON(&b, tableJSON(ipvs.Table{}))
	if b.String() != "[]\n" {
		t.Errorf("empty table: %q", b.String())
	}
	b.Reset()
	printJSON(&b, changesJSON(ipvs.Plan(desired, ipvs.Table{}, nil)))
	jsonGolden(t, "json/ipvs-diff.json", b.String())
}

// TestGoldenJSONInNamespace: realserver up|down, vip add|list|del and
// garp --json, run for real in a fresh network namespace.
func TestGoldenJSONInNamespace(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "json")
	ns.MustRun("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	// No link-local address (random per run) in the listings.
	ns.MustRun("sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1", "net.ipv6.conf.eth1.disable_ipv6=1")
	ns.MustRun("ip", "link", "set", "eth0", "address", "02:00:00:00:0a:01")
	ns.MustRun("ip", "link", "set", "eth0", "up")
	ns.MustRun("ip", "link", "set", "eth1", "up")
	ns.MustRun("ip", "addr", "add", "10.77.0.1/24", "dev", "eth0")
	for _, tc := range []struct{ name, args string }{
		{"realserver-up", "realserver up -i eth0 --vip 10.77.0.100"},
		{"realserver-up-again", "realserver up -i eth0 --vip 10.77.0.100"},
		{"realserver-down", "realserver down -i eth0 --vip 10.77.0.100"},
		{"vip-add", "vip add --force --label lo:v 10.77.0.101 10.77.0.102"},
		{"vip-list", "vip list"},
		{"vip-del", "vip del --force 10.77.0.101 10.77.0.102"},
		{"vip-list-empty", "vip list --dev eth1"},
		{"garp", "garp -i eth0 --repeat 1 --interval 1ms 10.77.0.1"},
		{"arp-probe-no-answer", "arp probe -i eth0 --tries 1 --timeout 100ms 10.77.0.9"},
	} {
		wantExit := 0
		if tc.name == "arp-probe-no-answer" {
			wantExit = 1 // nobody answered
		}
		t.Run(tc.name, func(t *testing.T) {
			cmd := ns.Command(append([]string{bin, "--syslog", "off", "--log-level", "error", "--json"}, strings.Fields(tc.args)...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if code := cmd.ProcessState.ExitCode(); code != wantExit {
				t.Fatalf("exit %d, want %d: %v\n%s%s", code, wantExit, err, out, stderr.String())
			}
			jsonGolden(t, "json/"+tc.name+".json", string(out))
		})
	}
}
