package check_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// need skips when a Debian tool is missing, except in CI where .ci/run
// installs it and its absence is a failure.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing: .ci/run installs it", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNginx serves dir on 127.0.0.1 with Debian's nginx.
func startNginx(t *testing.T, dir string) int {
	t.Helper()
	need(t, "nginx")
	port := freePort(t)
	prefix := t.TempDir()
	conf := filepath.Join(prefix, "nginx.conf")
	os.MkdirAll(filepath.Join(prefix, "logs"), 0o755)
	text := fmt.Sprintf(`daemon off;
user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:%[2]d;
        root %[3]s;
    }
}
`, prefix, port, dir)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	nginx := netnstest.Start(t, nil, "nginx", "-c", conf, "-p", prefix)
	if !netnstest.Eventually(10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("nginx did not start: %s", nginx.Output())
	}
	return port
}

// TestGenhashMatchesKeepalived: for five URLs served by nginx, kahook
// genhash prints exactly what keepalived's genhash prints.
func TestGenhashMatchesKeepalived(t *testing.T) {
	need(t, "genhash")
	dir := t.TempDir()
	big := make([]byte, 300<<10)
	rand.Read(big)
	files := map[string][]byte{
		"index.html": []byte("<html><body>kahook</body></html>\n"),
		"health.txt": []byte("OK"),
		"big.bin":    big,
		"empty":      nil,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := startNginx(t, dir)
	kahook := testbin.Kahook(t)
	for _, path := range []string{"/index.html", "/health.txt", "/big.bin", "/empty", "/missing"} {
		want, err := exec.Command("genhash", "-s", "127.0.0.1", "-p", fmt.Sprint(port), "-u", path).Output()
		if err != nil {
			t.Fatalf("genhash %s: %v", path, err)
		}
		got, err := exec.Command(kahook, "--syslog", "off", "genhash", "-s", "127.0.0.1", "-p", fmt.Sprint(port), "-u", path).Output()
		if err != nil {
			t.Fatalf("kahook genhash %s: %v", path, err)
		}
		if string(got) != string(want) || len(strings.TrimSpace(string(got))) != 32 {
			t.Errorf("%s: kahook %q, keepalived %q", path, got, want)
		}
	}
	// An HTTP_GET against nginx with the digest genhash printed passes.
	digest, _ := exec.Command("genhash", "-s", "127.0.0.1", "-p", fmt.Sprint(port), "-u", "/index.html").Output()
	set, _ := config.ParseStatusCodes("200")
	h := check.HTTP{Conn: check.Conn{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), Timeout: 2 * time.Second},
		URLs: []check.URL{{Path: "/index.html", Digest: strings.TrimSpace(string(digest)), Status: set}}}
	if r := h.Check(context.Background()); !r.Healthy {
		t.Errorf("HTTP_GET against nginx with genhash's digest: %+v", r)
	}
	// No connection: non-zero exit and a message on stderr.
	cmd := exec.Command(kahook, "--syslog", "off", "genhash", "-s", "127.0.0.1", "-p", fmt.Sprint(freePort(t)), "-u", "/")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "refused") {
		t.Errorf("genhash without a server: %v %q", err, stderr.String())
	}
}

// TestKeepalivedTracksKahookCheck: a real keepalived runs `kahook check
// http` as a vrrp_script; stopping the backend moves the instance to
// FAULT, starting it again brings it back to MASTER.
func TestKeepalivedTracksKahookCheck(t *testing.T) {
	need(t, "keepalived")
	sw := netnstest.NewSwitch(t)
	ns := netnstest.New(t, "ka")
	sw.Plug(ns, "eth0", "02:00:00:00:01:01", "10.9.0.1/24")
	kahook, labweb := testbin.Kahook(t), testbin.Labweb(t)
	dir := t.TempDir()
	states := filepath.Join(dir, "states")
	notify := filepath.Join(dir, "notify.sh")
	os.WriteFile(notify, []byte("#!/bin/sh\necho \"$3\" >> "+states+"\n"), 0o755)
	conf := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
global_defs {
    script_user root
}
vrrp_script chk_web {
    script "%s --syslog off check http --connect-timeout 0.5 http://10.9.0.1:8080/"
    interval 1
    timeout 2
    fall 2
    rise 2
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 77
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.9.0.100/24
    }
    track_script {
        chk_web
    }
    notify %s
}
`, kahook, notify)), 0o644)
	web := netnstest.Start(t, ns, labweb, "-listen", "10.9.0.1:8080", "-name", "backend")
	ka := netnstest.Start(t, ns, "keepalived", "--dont-fork", "--log-console", "--vrrp", "--use-file", conf,
		"--pid", dir+"/k.pid", "--vrrp_pid", dir+"/v.pid", "--checkers_pid", dir+"/c.pid")
	last := func() string {
		data, _ := os.ReadFile(states)
		lines := strings.Fields(string(data))
		if len(lines) == 0 {
			return ""
		}
		return lines[len(lines)-1]
	}
	waitState := func(want string) {
		t.Helper()
		if !netnstest.Eventually(30*time.Second, func() bool { return last() == want }) {
			t.Fatalf("keepalived state %q, want %q\n%s", last(), want, ka.Output())
		}
	}
	waitState("MASTER")
	web.Stop()
	waitState("FAULT")
	netnstest.Start(t, ns, labweb, "-listen", "10.9.0.1:8080", "-name", "backend")
	waitState("MASTER")
}
