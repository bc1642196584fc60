package pool

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// serve accepts on a loopback listener of network until the test ends,
// handing each connection to handle (nil: close it at once).
func serve(t *testing.T, network, addr string, handle func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if handle == nil {
				c.Close()
				continue
			}
			go handle(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// smtpServe answers a HELO as a mail server does.
func smtpServe(c net.Conn) {
	defer c.Close()
	fmt.Fprint(c, "220 test ESMTP\r\n")
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch {
		case strings.HasPrefix(l, "HELO"):
			fmt.Fprint(c, "250 test\r\n")
		case strings.HasPrefix(l, "QUIT"):
			fmt.Fprint(c, "221 bye\r\n")
			return
		}
	}
}

// TestSyncChecksWithoutMismatchedBindto: a `sync` pass (real checks
// against loopback servers, on a BACKUP so no IPVS) over checkers whose
// bindto is of another address family than the address they check. The
// config loader drops such a bindto as keepalived does, so each server is
// checked without a source address and found up; before, every such
// check failed ("no suitable address found") and the server stayed down.
func TestSyncChecksWithoutMismatchedBindto(t *testing.T) {
	tcp6 := serve(t, "tcp6", "[::1]:0", nil)
	tcp4 := serve(t, "tcp4", "127.0.0.1:0", nil)
	smtp6 := serve(t, "tcp6", "[::1]:0", smtpServe)
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	http6 := ln.Addr().(*net.TCPAddr).Port

	cases := []struct {
		name, vs, rs, checker string
	}{
		{"TCP_CHECK IPv6 server, bindto IPv4", "2001:db8::10 80", fmt.Sprintf("::1 %d", tcp6), "TCP_CHECK {\n connect_timeout 2\n bindto 127.0.0.1\n }"},
		{"TCP_CHECK IPv4 server, bindto IPv6", "10.0.0.10 80", fmt.Sprintf("127.0.0.1 %d", tcp4), "TCP_CHECK {\n connect_timeout 2\n bindto ::1\n }"},
		{"TCP_CHECK connect_ip IPv4 after bindto IPv6", "2001:db8::10 81", fmt.Sprintf("::1 %d", tcp6), "TCP_CHECK {\n connect_timeout 2\n bindto ::1\n connect_ip 192.0.2.1\n }"},
		{"HTTP_GET IPv6 server, bindto IPv4", "2001:db8::10 82", fmt.Sprintf("::1 %d", http6), "HTTP_GET {\n url {\n path /\n }\n connect_timeout 2\n bindto 127.0.0.1\n }"},
		{"SMTP_CHECK IPv6 server, bindto IPv4 (no connect_ip)", "2001:db8::10 25", fmt.Sprintf("::1 %d", smtp6), "SMTP_CHECK {\n connect_timeout 2\n bindto 127.0.0.1\n }"},
		{"SMTP_CHECK host bindto IPv4", "2001:db8::10 26", fmt.Sprintf("::1 %d", smtp6), "SMTP_CHECK {\n connect_timeout 2\n host {\n bindto 127.0.0.1\n }\n }"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := fmt.Sprintf("instance VI_1 {\n interface eth0\n virtual_ipaddress {\n 10.0.0.10\n 2001:db8::10\n }\n}\n"+
				"virtual_server %s {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server %s {\n %s\n }\n}\n", tc.vs, tc.rs, tc.checker)
			cfg, err := config.Parse("kahook.conf", []byte(text), config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Problems)+len(cfg.Warnings) != 1 {
				t.Errorf("want the mismatch reported once, got problems %v warnings %v", cfg.Problems, cfg.Warnings)
			}
			store, err := state.Open(filepath.Join(t.TempDir(), "state"))
			if err != nil {
				t.Fatal(err)
			}
			st, _ := store.Load()
			st.Instances["VI_1"] = &state.InstanceState{State: state.VRRP("BACKUP"), Applied: true}
			if err := store.Save(st); err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), Options{
				Cfg: cfg, Store: store, Instance: "VI_1", Deadline: 5 * time.Second,
				OpenIPVS: func() (ipvs.Kernel, error) { return nil, fmt.Errorf("not on a BACKUP") },
				Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Servers) != 1 {
				t.Fatalf("servers %+v, want one", rep.Servers)
			}
			if s := rep.Servers[0]; !s.Checked || !s.Up {
				t.Errorf("real server %s checked=%v up=%v, want checked and up (checks %+v)", s.RealServer, s.Checked, s.Up, s.Checks)
			}
			if rep.Exit != 0 {
				t.Errorf("exit %d, want 0", rep.Exit)
			}
		})
	}
}
