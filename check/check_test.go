package check

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kahook/kahook/config"
)

func addrOf(t *testing.T, hostport string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(strings.TrimPrefix(strings.TrimPrefix(hostport, "http://"), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func statusSet(spec string) config.StatusSet {
	s, ok := config.ParseStatusCodes(spec)
	if !ok {
		panic(spec)
	}
	return s
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// requests records what keepalived's request looks like on the wire.
type requests struct {
	mu   sync.Mutex
	list []*http.Request
}

func (r *requests) add(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, req)
}

func backend(rec *requests) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		fmt.Fprint(w, "hello")
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusMovedPermanently) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 2<<20))
	})
	mux.HandleFunc("/weight", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Weight", "42")
		fmt.Fprint(w, "75%\n")
	})
	return mux
}

func TestHTTP(t *testing.T) {
	rec := &requests{}
	srv := httptest.NewServer(backend(rec))
	defer srv.Close()
	conn := Conn{Addr: addrOf(t, srv.URL), Timeout: 2 * time.Second}
	get := func(path, digest, status string) Result {
		return HTTP{Conn: conn, URLs: []URL{{Path: path, Digest: digest, Status: statusSet(status), StatusText: status}}}.Check(context.Background())
	}
	if r := get("/ok", md5hex([]byte("hello")), "200-299"); !r.Healthy {
		t.Errorf("healthy backend: %+v", r)
	}
	req := rec.list[0]
	if req.Proto != "HTTP/1.0" || req.UserAgent() != "KeepAliveClient" || req.Host != conn.Addr.String() {
		t.Errorf("request = %s UA %q Host %q; keepalived sends HTTP/1.0, KeepAliveClient, ip:port", req.Proto, req.UserAgent(), req.Host)
	}
	if r := get("/missing", "", "200-299"); r.Healthy || !strings.Contains(r.Reason, "status 404") {
		t.Errorf("wrong status: %+v", r)
	}
	if r := get("/ok", md5hex([]byte("other")), "200"); r.Healthy || !strings.Contains(r.Reason, "digest") {
		t.Errorf("wrong digest: %+v", r)
	}
	if r := get("/redirect", "", "200-299"); r.Healthy || !strings.Contains(r.Reason, "status 301") {
		t.Errorf("a redirect must not be followed: %+v", r)
	}
	if r := get("/redirect", "", "301"); !r.Healthy {
		t.Errorf("301 accepted when listed: %+v", r)
	}
	if r := get("/big", "", "200"); r.Healthy || !strings.Contains(r.Reason, "larger than the limit") {
		t.Errorf("body over the cap: %+v", r)
	}
	// Several URLs: all must pass.
	multi := HTTP{Conn: conn, URLs: []URL{{Path: "/ok", Status: statusSet("200")}, {Path: "/missing", Status: statusSet("200")}}}
	if r := multi.Check(context.Background()); r.Healthy {
		t.Errorf("one failing URL of two must fail the check: %+v", r)
	}
	// Virtual host and protocol 1.1 with Connection: close.
	rec.list = nil
	vh := HTTP{Conn: conn, Virtualhost: "www.example.com", Protocol: "1.1", URLs: []URL{{Path: "/ok", Status: statusSet("200")}}}
	if r := vh.Check(context.Background()); !r.Healthy {
		t.Fatalf("1.1: %+v", r)
	}
	if req := rec.list[0]; req.Host != "www.example.com" || req.Proto != "HTTP/1.1" || !req.Close {
		t.Errorf("Host %q proto %s close %v", req.Host, req.Proto, req.Close)
	}
	// Dynamic weight from a header and from the body.
	w := HTTP{Conn: conn, WeightFrom: "header:X-Weight", URLs: []URL{{Path: "/weight", Status: statusSet("200")}}}
	if r := w.Check(context.Background()); !r.Healthy || r.Weight != 42 || r.ExitCode(true) != 44 {
		t.Errorf("weight from header: %+v exit %d", r, r.ExitCode(true))
	}
	w.WeightFrom, w.MaxWeight = "body", 200
	if r := w.Check(context.Background()); !r.Healthy || r.Weight != 150 {
		t.Errorf("weight from body (75%% of 200): %+v", r)
	}
}

func TestConnectionRefusedAndSilentBackend(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := addrOf(t, l.Addr().String())
	l.Close()
	for _, c := range []Checker{
		TCP{Conn{Addr: refused, Timeout: time.Second}},
		HTTP{Conn: Conn{Addr: refused, Timeout: time.Second}, URLs: []URL{{Path: "/", Status: statusSet("200")}}},
		SMTP{Conn: Conn{Addr: refused, Timeout: time.Second}},
	} {
		if r := c.Check(context.Background()); r.Healthy || !strings.Contains(r.Reason, "refused") {
			t.Errorf("%s on a closed port: %+v", c, r)
		}
	}

	// A backend that accepts and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	timeout := 300 * time.Millisecond
	conn := Conn{Addr: addrOf(t, silent.Addr().String()), Timeout: timeout}
	for _, c := range []Checker{
		HTTP{Conn: conn, URLs: []URL{{Path: "/", Status: statusSet("200")}}},
		HTTP{Conn: conn, TLS: true, URLs: []URL{{Path: "/", Status: statusSet("200")}}}, // handshake never completes
		SMTP{Conn: conn},
		Agent{Conn: conn},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r := c.Check(ctx)
		cancel()
		t.Logf("%s against a silent backend: %q after %v (timeout %v)", c, r.Reason, r.Latency, timeout)
		if r.Healthy || !strings.Contains(r.Reason, "timeout") {
			t.Errorf("%s: %+v", c, r)
		}
		// It waited for its timeout, and was bounded by it (not by the
		// 30 s context): a check that hangs is a failure to bound.
		if r.Latency < timeout || r.Latency > 10*timeout {
			t.Errorf("%s: took %v for a %v timeout", c, r.Latency, timeout)
		}
	}
}

func TestSSL(t *testing.T) {
	rec := &requests{}
	srv := httptest.NewTLSServer(backend(rec))
	defer srv.Close()
	h := HTTP{Conn: Conn{Addr: addrOf(t, srv.URL), Timeout: 2 * time.Second}, TLS: true,
		URLs: []URL{{Path: "/ok", Digest: md5hex([]byte("hello")), Status: statusSet("200")}}}
	if r := h.Check(context.Background()); !r.Healthy {
		t.Errorf("SSL_GET without verification against a self-signed server: %+v", r)
	}
	h.Verify = true
	if r := h.Check(context.Background()); r.Healthy || !strings.Contains(r.Reason, "certificate") {
		t.Errorf("--verify must reject an unknown CA: %+v", r)
	}
}

func TestSMTP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	helo := make(chan string, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprint(c, "220-mail.example ESMTP\r\n220 ready\r\n")
				line, _ := bufio.NewReader(c).ReadString('\n')
				helo <- strings.TrimSpace(line)
				if strings.HasPrefix(line, "HELO bad") {
					fmt.Fprint(c, "501 no\r\n")
					return
				}
				fmt.Fprint(c, "250 hi\r\n")
			}()
		}
	}()
	s := SMTP{Conn: Conn{Addr: addrOf(t, l.Addr().String()), Timeout: time.Second}, HeloName: "lb1.example"}
	if r := s.Check(context.Background()); !r.Healthy {
		t.Errorf("smtp: %+v", r)
	}
	if got := <-helo; got != "HELO lb1.example" {
		t.Errorf("sent %q", got)
	}
	s.HeloName = "bad"
	if r := s.Check(context.Background()); r.Healthy || !strings.Contains(r.Reason, "HELO") {
		t.Errorf("501 after HELO: %+v", r)
	}
}

func TestMiscDynamicExitCodes(t *testing.T) {
	cases := []struct {
		code    int
		healthy bool
		weight  int
		exit    int
	}{
		{0, true, Unchanged, 0},
		{1, false, Unchanged, 1},
		{2, true, 0, 2},
		{102, true, 100, 102},
		{255, true, 253, 255},
	}
	for _, tc := range cases {
		m := Misc{Argv: []string{"sh", "-c", fmt.Sprintf("exit %d", tc.code)}, Timeout: 5 * time.Second, Dynamic: true}
		r := m.Check(context.Background())
		if r.Healthy != tc.healthy || r.Weight != tc.weight || r.ExitCode(true) != tc.exit {
			t.Errorf("exit %d: %+v exit %d", tc.code, r, r.ExitCode(true))
		}
	}
	// Without misc_dynamic any non-zero exit is a failure.
	if r := (Misc{Argv: []string{"sh", "-c", "exit 102"}, Timeout: 5 * time.Second}).Check(context.Background()); r.Healthy {
		t.Errorf("plain MISC_CHECK exit 102: %+v", r)
	}
}

// TestMiscTimeoutKillsProcessGroup: a script that forks a child which
// ignores SIGTERM is gone, child included, after the timeout.
func TestMiscTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	script := fmt.Sprintf(`sh -c 'trap "" TERM; echo $$ > %s; while :; do sleep 0.05; done' & wait`, pidFile)
	m := Misc{Argv: []string{"sh", "-c", script}, Timeout: 300 * time.Millisecond, Dynamic: true}
	r := m.Check(context.Background())
	if r.Healthy || !strings.Contains(r.Reason, "timed out") || r.ExitCode(true) != 1 {
		t.Fatalf("timed-out script: %+v", r)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("child never started: %v", err)
	}
	var pid int
	fmt.Sscan(string(data), &pid)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if !strings.Contains(string(st), ") Z ") {
			t.Errorf("child %d that ignores SIGTERM survived the timeout: %s", pid, st)
		}
	}
}

func TestAgent(t *testing.T) {
	cases := []struct {
		reply   string
		healthy bool
		weight  int
		exit    int
	}{
		{"up\n", true, Unchanged, 0},
		{"ready 50%\n", true, 100, 102},
		{"75%\n", true, 150, 152},
		{"drain\n", true, 0, 2},
		{"down\n", false, Unchanged, 1},
		{"maint\n", false, Unchanged, 1},
		{"fail # disk full\n", false, Unchanged, 1},
		{"stopped\n", false, Unchanged, 1},
		{"up, maxconn:30\n", true, Unchanged, 0},
		{"100%\n", true, 200, 202},
		{"gibberish\n", false, Unchanged, 1},
	}
	for _, tc := range cases {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := l.Accept()
			if err == nil {
				fmt.Fprint(c, tc.reply)
				c.Close()
			}
		}()
		r := Agent{Conn: Conn{Addr: addrOf(t, l.Addr().String()), Timeout: time.Second}, MaxWeight: 200}.Check(context.Background())
		l.Close()
		if r.Healthy != tc.healthy || r.Weight != tc.weight || r.ExitCode(true) != tc.exit {
			t.Errorf("%q: %+v exit %d, want healthy=%v weight=%d exit %d", tc.reply, r, r.ExitCode(true), tc.healthy, tc.weight, tc.exit)
		}
	}
}

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "down")
	if r := (File{Path: p}).Check(context.Background()); !r.Healthy {
		t.Errorf("absent file: %+v", r)
	}
	os.WriteFile(p, nil, 0o644)
	if r := (File{Path: p}).Check(context.Background()); r.Healthy {
		t.Errorf("maintenance file present: %+v", r)
	}
	if r := (File{Path: p, Present: true}).Check(context.Background()); !r.Healthy {
		t.Errorf("--present with the file: %+v", r)
	}
}

func TestRetry(t *testing.T) {
	n := 0
	c := Retry{Checker: funcChecker(func() Result {
		n++
		if n < 3 {
			return fail("not yet")
		}
		return ok("fine")
	}), Retries: 2, Delay: time.Millisecond}
	if r := c.Check(context.Background()); !r.Healthy || n != 3 {
		t.Errorf("third attempt passes: %+v after %d", r, n)
	}
	n = -10
	if r := c.Check(context.Background()); r.Healthy || n != -7 {
		t.Errorf("retries exhausted: %+v after %d", r, n)
	}
}

type funcChecker func() Result

func (f funcChecker) Check(context.Context) Result { return f() }
func (f funcChecker) String() string               { return "func" }

func TestReadResponseKeepalivedRules(t *testing.T) {
	// The digest covers Content-Length bytes only, as keepalived's does.
	raw := "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA"
	resp, err := readResponse(bufio.NewReader(strings.NewReader(raw)), 1<<20)
	if err != nil || resp.Status != 200 || resp.Digest != md5hex([]byte("hello")) {
		t.Errorf("resp %+v err %v", resp, err)
	}
	// No blank line after the headers: "no data received".
	if _, err := readResponse(bufio.NewReader(strings.NewReader("HTTP/1.0 200 OK\r\n")), 1<<20); err == nil || !strings.Contains(err.Error(), "no data") {
		t.Errorf("truncated headers: %v", err)
	}
	// A malformed status line is status 0 (never accepted).
	resp, _ = readResponse(bufio.NewReader(strings.NewReader("HTTP/1.0 2000 OK\r\n\r\n")), 1<<20)
	if resp.Status != 0 {
		t.Errorf("status of a malformed line = %d", resp.Status)
	}
}
