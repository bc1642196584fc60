package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kahook/kahook/ipvs"
)

// kahook runs the CLI in-process and returns exit code, stdout, stderr.
func kahook(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"kahook", "--syslog", "off"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := kahook("version")
	if code != 0 || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "commit") {
		t.Errorf("version: %d %q", code, out)
	}
	code, out, _ = kahook("--json", "version")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["go"] != runtime.Version() {
		t.Errorf("version --json: %d %q", code, out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"no-such-command"},
		{"--no-such-flag", "version"},
		{"--log-level", "chatty", "version"},
		{"notify"},
		{"check", "tcp"},
		{"check", "file"},
		{"check", "http", "http://example.com/"},
		{"genhash", "-s", "not-an-ip", "-p", "80", "-u", "/"},
		{"completion", "fish"},
	} {
		if code, out, errs := kahook(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, code, out, errs)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	os.WriteFile(good, []byte(`
instance VI_1 {
    interface eth0
    virtual_ipaddress { 10.0.0.10 }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    lb_algo wlc
    lb_kind NAT
    sorry_server 10.0.1.99 80
    real_server 10.0.1.1 80 { TCP_CHECK { } }
    real_server 10.0.1.2 80 { }
}
`), 0o644)
	code, out, errs := kahook("config", "check", good)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"instances:       1", "VIPs:            1", "virtual servers: 1", "real servers:    2", "sorry servers:   1", "checks:          1"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = kahook("--json", "--config", good, "config", "check")
	var model struct {
		Instances      []struct{ Name string }
		VirtualServers []struct {
			Instance    string `json:"instance"`
			RealServers []any  `json:"real_servers"`
		} `json:"virtual_servers"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &model) != nil || len(model.VirtualServers) != 1 || model.VirtualServers[0].Instance != "VI_1" {
		t.Errorf("--json model: %d %s", code, out)
	}
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("virtual_server 10.0.0.1 80 {\n  lb_kind XYZ\n}\n"), 0o644)
	code, _, errs = kahook("config", "check", bad)
	if code != 2 || !strings.Contains(errs, bad+":2:") {
		t.Errorf("bad config: exit %d %q", code, errs)
	}
	code, _, errs = kahook("config", "check", filepath.Join(dir, "missing.conf"))
	if code != 2 || !strings.Contains(errs, "missing.conf") {
		t.Errorf("missing config: exit %d %q", code, errs)
	}
}

func TestCheckExitCodes(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{{"exit 0", 0}, {"exit 1", 1}, {"exit 2", 2}, {"exit 102", 102}, {"exit 255", 255}, {"exit 7", 7}} {
		if code, _, _ := kahook("check", "misc", "--dynamic", "--misc-timeout", "5", "--", "sh", "-c", tc.script); code != tc.want {
			t.Errorf("misc --dynamic %q: exit %d, want %d", tc.script, code, tc.want)
		}
	}
	if code, _, _ := kahook("check", "misc", "sh -c 'exit 102'"); code != 1 {
		t.Errorf("plain misc exit 102: want 1, got %d", code)
	}
	if code, _, _ := kahook("check", "misc", "--dynamic", "--misc-timeout", "0.2", "--", "sleep", "5"); code != 1 {
		t.Errorf("misc killed by timeout: want 1, got %d", code)
	}
	// Agent forms through the CLI.
	for reply, want := range map[string]int{"up\n": 0, "drain\n": 2, "50%\n": 52, "down\n": 1, "maint\n": 1, "ready 10%\n": 12} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if c, err := l.Accept(); err == nil {
				fmt.Fprint(c, reply)
				c.Close()
			}
		}()
		code, _, errs := kahook("check", "agent", "--dynamic", "--max-weight", "100", l.Addr().String())
		l.Close()
		if code != want {
			t.Errorf("agent %q: exit %d, want %d %s", reply, code, want, errs)
		}
	}
	f := filepath.Join(t.TempDir(), "down")
	if code, _, _ := kahook("check", "file", "--absent", f); code != 0 {
		t.Errorf("file absent: %d", code)
	}
	os.WriteFile(f, nil, 0o644)
	if code, _, _ := kahook("check", "file", "--absent", f); code != 1 {
		t.Errorf("file present: %d", code)
	}
}

// TestNoIPVSIsAFailure: on a kernel without IPVS (the host this runs on),
// every IPVS command fails with exit 1 and says why; never a silent
// success.
func TestNoIPVSIsAFailure(t *testing.T) {
	if ipvs.Detect() == nil {
		t.Skip("this kernel has IPVS")
	}
	conf := filepath.Join(t.TempDir(), "k.conf")
	os.WriteFile(conf, []byte("virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 80 { }\n}\n"), 0o644)
	for _, args := range [][]string{
		{"ipvs", "show"},
		{"--config", conf, "--state-dir", filepath.Join(t.TempDir(), "state"), "ipvs", "apply"},
		{"--config", conf, "--state-dir", filepath.Join(t.TempDir(), "state"), "ipvs", "diff"},
		{"ipvs", "flush", "--all"},
	} {
		code, _, errs := kahook(args...)
		if code != 1 || !strings.Contains(errs, "the kernel has no IPVS") || !strings.Contains(errs, "modprobe") || !strings.Contains(errs, "ip_vs") {
			t.Errorf("%v: exit %d %q", args, code, errs)
		}
	}
}
