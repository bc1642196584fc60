package check

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/unpriv"
)

// TestMiscRefusesUnsafeProgram: a MISC_CHECK program that would run as
// root and that a non-root user can change is never started; the check
// fails with the reason (issue 15 case 1). The attacks are made by uid
// 65534; each program, if run, would create its marker file.
func TestMiscRefusesUnsafeProgram(t *testing.T) {
	base := unpriv.Dir(t)
	p := func(rel string) string { return filepath.Join(base, rel) }
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"safe", 0o755}, {"pub", 0o777}, {"nobodys", 0o755}, {"markers", 0o777}} {
		if err := os.Mkdir(p(d.name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p(d.name), d.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(p("nobodys"), unpriv.UID, unpriv.GID); err != nil {
		t.Fatal(err)
	}
	body := func(marker string) string { return fmt.Sprintf("#!/bin/sh\ntouch %s\n", p("markers/"+marker)) }
	rootScript := func(rel, marker string, mode os.FileMode) {
		if err := os.WriteFile(p(rel), []byte(body(marker)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p(rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	// nobody writes a script (a new file, or over a writable one).
	plant := func(rel, marker string) {
		unpriv.Run(t, fmt.Sprintf("printf '%%s' '%s' > %s && { chmod 755 %s 2>/dev/null || :; }", body(marker), p(rel), p(rel)))
	}

	rootScript("safe/ok.sh", "ok", 0o755)
	rootScript("safe/ww.sh", "ww", 0o777)
	plant("safe/ww.sh", "ww")
	rootScript("pub/check.sh", "pub", 0o755)
	unpriv.Run(t, "rm -f "+p("pub/check.sh")) // the directory lets nobody replace it
	plant("pub/check.sh", "pub")
	plant("nobodys/check.sh", "nobodys")
	rootScript("safe/ww-target.sh", "link", 0o777)
	if err := os.Symlink("ww-target.sh", p("safe/link.sh")); err != nil {
		t.Fatal(err)
	}
	rootScript("safe/ww-root.sh", "root-user", 0o777)
	rootScript("safe/ww-nobody.sh", "nobody-user", 0o777)
	plant("pub/pathcheck", "path")

	cases := []struct {
		name   string
		argv0  string
		user   string
		path   string // PATH, when set
		marker string
		refuse string // "" = runs
	}{
		{"root's script in root's dirs runs", p("safe/ok.sh"), "", "", "ok", ""},
		{"world-writable script rewritten by nobody", p("safe/ww.sh"), "", "", "ww", fmt.Sprintf("file %q is writable by non-root users (mode 0777", p("safe/ww.sh"))},
		{"script replaced by nobody in a world-writable dir", p("pub/check.sh"), "", "", "pub", fmt.Sprintf("directory %q is writable by non-root users", p("pub"))},
		{"script in a directory nobody owns", p("nobodys/check.sh"), "", "", "nobodys", fmt.Sprintf("directory %q is owned by uid 65534", p("nobodys"))},
		{"root symlink to a world-writable script", p("safe/link.sh"), "", "", "link", fmt.Sprintf("file %q is writable by non-root users", p("safe/ww-target.sh"))},
		{"bare name found in a world-writable PATH dir", "pathcheck", "", p("pub") + ":/usr/bin:/bin", "path", fmt.Sprintf("directory %q is writable by non-root users", p("pub"))},
		{"user root named explicitly", p("safe/ww-root.sh"), "root", "", "root-user", fmt.Sprintf("file %q is writable by non-root users", p("safe/ww-root.sh"))},
		// keepalived vets only scripts that run as root (need_script_protection).
		{"world-writable script run as user nobody runs", p("safe/ww-nobody.sh"), "nobody", "", "nobody-user", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path != "" {
				t.Setenv("PATH", tc.path)
			}
			r := Misc{Argv: []string{tc.argv0}, User: tc.user, Timeout: 5 * time.Second}.Check(context.Background())
			_, statErr := os.Stat(p("markers/" + tc.marker))
			ran := statErr == nil
			if tc.refuse == "" {
				if !r.Healthy || !ran {
					t.Fatalf("safe program: %+v, ran=%v", r, ran)
				}
				return
			}
			if ran {
				t.Errorf("the program RAN: marker %s exists", p("markers/"+tc.marker))
			}
			if r.Healthy || r.ExitCode(true) != 1 || !strings.HasPrefix(r.Reason, "not run: unsafe program: ") || !strings.Contains(r.Reason, tc.refuse) {
				t.Errorf("result %+v\nwant a failed check saying %s", r, tc.refuse)
			}
		})
	}
}

// TestLookPathAsKeepalived: a bare name is searched in PATH (unset:
// /bin:/usr/bin, glibc's _CS_PATH), the first executable regular file
// wins; a name with a slash is taken as written.
func TestLookPathAsKeepalived(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "a", "prog")
	exe := filepath.Join(dir, "b", "prog")
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{notExec, 0o644}, {exe, 0o755}} {
		os.MkdirAll(filepath.Dir(f.path), 0o755)
		if err := os.WriteFile(f.path, []byte("#!/bin/sh\n"), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "c"), 0o755)
	os.Mkdir(filepath.Join(dir, "c", "prog"), 0o755) // a directory is skipped
	cases := []struct {
		name, path, prog, want, err string
	}{
		{"first executable regular file wins", filepath.Join(dir, "c") + ":" + filepath.Join(dir, "a") + ":" + filepath.Join(dir, "b"), "prog", exe, ""},
		{"only a non-executable match", filepath.Join(dir, "a"), "prog", "", "not an executable regular file"},
		{"no match", filepath.Join(dir, "c", "prog"), "nothere", "", "not found in PATH"},
		{"a slash means as written", "", "./relative/prog", "./relative/prog", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			got, err := LookPath(tc.prog)
			if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("LookPath(%q) = %q, %v; want %q, %q", tc.prog, got, err, tc.want, tc.err)
			}
		})
	}
	t.Run("PATH unset is /bin:/usr/bin", func(t *testing.T) {
		t.Setenv("PATH", "")
		os.Unsetenv("PATH")
		got, err := LookPath("sh")
		if err != nil || (got != "/bin/sh" && got != "/usr/bin/sh") {
			t.Fatalf("LookPath(sh) = %q, %v", got, err)
		}
	})
}

// TestAgentReadsOneBoundedLine: the agent's reply is read up to its end
// of line, across TCP segments, within the deadline and MaxAgentReply
// bytes; anything else is an invalid reply, a failed check (issue 15
// case 9).
func TestAgentReadsOneBoundedLine(t *testing.T) {
	type part struct {
		data  string
		pause time.Duration // before this part
	}
	long := strings.Repeat(" ", 1<<20)
	cases := []struct {
		name    string
		parts   []part
		close   bool // close after the parts (else hold the connection open)
		healthy bool
		weight  int
		reason  string
	}{
		{"reply split over TCP segments", []part{{"dra", 0}, {"in\n", 100 * time.Millisecond}}, true, true, 0, "agent says drain"},
		{"weight split mid-word", []part{{"up 5", 0}, {"0%\r\n", 100 * time.Millisecond}}, true, true, 100, `agent says "up 50%"`},
		{"CR ends the line", []part{{"down\rup\n", 0}}, true, false, Unchanged, "agent says down"},
		{"only the first line counts", []part{{"up\ndown\n", 0}}, true, true, Unchanged, `agent says "up"`},
		{"line of exactly MaxAgentReply bytes with its LF", []part{{"up" + strings.Repeat(" ", MaxAgentReply-3) + "\n", 0}}, true, true, Unchanged, `agent says "up"`},
		{"1 MB reply without end of line", []part{{"up" + long, 0}}, true, false, Unchanged, "agent: reply has no end of line in its first 16384 bytes"},
		{"1 MB line ended after the bound", []part{{"up" + long + "\n", 0}}, true, false, Unchanged, "agent: reply has no end of line in its first 16384 bytes"},
		{"closed before the end of line", []part{{"up", 0}}, true, false, Unchanged, `agent: incomplete reply "up": connection closed before the end of line`},
		{"no end of line before the deadline", []part{{"up", 0}}, false, false, Unchanged, `agent: incomplete reply "up": read tcp`},
		{"NUL before the end of line", []part{{"up\x00down\n", 0}}, true, false, Unchanged, `agent: reply "up" has a NUL before its end of line`},
		{"closed without a word", nil, true, false, Unchanged, "agent: no answer: connection closed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			release := make(chan struct{})
			defer close(release)
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				for _, p := range tc.parts {
					time.Sleep(p.pause)
					if _, err := c.Write([]byte(p.data)); err != nil {
						return
					}
				}
				if !tc.close {
					<-release
				}
			}()
			addr := l.Addr().(*net.TCPAddr).AddrPort()
			start := time.Now()
			r := Agent{Conn: Conn{Addr: addr, Timeout: 500 * time.Millisecond}, MaxWeight: 200}.Check(context.Background())
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("check took %v: not bounded by its 500 ms timeout", took)
			}
			if r.Healthy != tc.healthy || r.Weight != tc.weight || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("result %+v\nwant healthy=%v weight=%d reason %q", r, tc.healthy, tc.weight, tc.reason)
			}
		})
	}
}
