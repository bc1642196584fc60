package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/unpriv"
)

// secureTree builds, under a directory nobody can traverse:
//
//	safe/       root 0755: c.conf (root 0644), sub/c.conf
//	pub/        root 0777 (any user can write)
//	sticky/     root 1777 (like /tmp)
//	nobodys/    owned by nobody, 0755; c.conf in it is root's
//	open.conf   root 0666
func secureTree(t *testing.T) string {
	t.Helper()
	base := unpriv.Dir(t)
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"safe", 0o755}, {"safe/sub", 0o755}, {"pub", 0o777}, {"sticky", 0o777 | os.ModeSticky}, {"nobodys", 0o755}} {
		p := filepath.Join(base, d.name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"safe/c.conf", "safe/sub/c.conf", "nobodys/c.conf", "open.conf"} {
		if err := os.WriteFile(filepath.Join(base, f), []byte("global_defs {\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(base, "open.conf"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(base, "nobodys"), unpriv.UID, unpriv.GID); err != nil {
		t.Fatal(err)
	}
	return base
}

// TestCheckSecureSymlinks: symlinks are resolved as the kernel resolves
// them and every object on the way is judged (issue 15 case 5).
func TestCheckSecureSymlinks(t *testing.T) {
	base := secureTree(t)
	p := func(rel string) string { return filepath.Join(base, rel) }
	root := func(target, link string) {
		if err := os.Symlink(target, p(link)); err != nil {
			t.Fatal(err)
		}
	}
	root("c.conf", "safe/link.conf")                    // ln -s c.conf link.conf, as root
	root(p("safe/c.conf"), "safe/abs.conf")             // absolute target
	root("../open.conf", "safe/open-link.conf")         // to a world-writable file
	root("../nobodys/c.conf", "safe/nobodys-link.conf") // to a file in nobody's dir
	root("../pub", "safe/pubdir")                       // a directory link to a writable dir
	root("sub", "safe/subdir")                          // a safe directory link
	root("loop2", "safe/loop1")
	root("loop1", "safe/loop2")
	// The attacks, by a real unprivileged user.
	unpriv.Run(t, fmt.Sprintf("ln -s ../safe/c.conf %s && ln -s ../safe/c.conf %s && : > %s",
		p("pub/planted.conf"), p("sticky/planted.conf"), p("pub/c.conf")))

	cases := []struct {
		name     string
		path     string
		resolved string // "" when refused
		refuse   string // the offending object, quoted, and the reason
	}{
		{"plain safe file", "safe/c.conf", "safe/c.conf", ""},
		{"root symlink to a safe file in the same dir", "safe/link.conf", "safe/c.conf", ""},
		{"root symlink with an absolute target", "safe/abs.conf", "safe/c.conf", ""},
		{"symlinked directory to a safe one", "safe/subdir/c.conf", "safe/sub/c.conf", ""},
		{"dot-dot after a symlinked directory is the physical parent", "safe/subdir/../c.conf", "safe/c.conf", ""},
		{"root symlink to a world-writable file", "safe/open-link.conf", "", fmt.Sprintf("file %q is writable by non-root users", p("open.conf"))},
		{"root symlink to a file in a dir nobody owns", "safe/nobodys-link.conf", "", fmt.Sprintf("directory %q is owned by uid 65534", p("nobodys"))},
		{"symlink planted in a world-writable dir", "pub/planted.conf", "", fmt.Sprintf("directory %q is writable by non-root users", p("pub"))},
		{"symlink planted by nobody in a sticky dir", "sticky/planted.conf", "", fmt.Sprintf("symlink %q is owned by uid 65534", p("sticky/planted.conf"))},
		{"path through a symlinked world-writable dir", "safe/pubdir/c.conf", "", fmt.Sprintf("directory %q is writable by non-root users", p("pub"))},
		{"symlink loop", "safe/loop1", "", "too many levels of symbolic links"},
		{"missing file", "safe/none.conf", "", "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveSecure(p(tc.path))
			if tc.refuse == "" {
				if err != nil || got != p(tc.resolved) {
					t.Fatalf("ResolveSecure = %q, %v; want %q accepted", got, err, p(tc.resolved))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.refuse) || !strings.Contains(err.Error(), fmt.Sprintf("refusing %q", p(tc.path))) && !strings.Contains(err.Error(), fmt.Sprintf("check %q", p(tc.path))) {
				t.Fatalf("err = %v\nwant it to contain %s and name %q", err, tc.refuse, p(tc.path))
			}
		})
	}
	// The exact report of the issue: a relative symlink, relative path.
	t.Run("relative path to a relative symlink", func(t *testing.T) {
		t.Chdir(p("safe"))
		if err := CheckSecure("link.conf"); err != nil {
			t.Fatalf("root-owned link.conf -> c.conf refused: %v", err)
		}
	})
}

// TestLoadRefusesUnsafeFilesBeforeOpening: the config and each include
// pass the rule, as root, before they are opened (issue 15 case 4).
func TestLoadRefusesUnsafeFilesBeforeOpening(t *testing.T) {
	base := secureTree(t)
	p := func(rel string) string { return filepath.Join(base, rel) }
	write := func(rel, text string) {
		if err := os.WriteFile(p(rel), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("safe/pub-include.conf", "global_defs {\n}\ninclude ../pub/*.conf\n")
	write("safe/sticky-include.conf", "global_defs {\n}\ninclude ../sticky/*.conf\n")
	write("safe/link-include.conf", "include link.conf\n")
	if err := os.Symlink("c.conf", p("safe/link.conf")); err != nil {
		t.Fatal(err)
	}
	// nobody drops a FIFO into the world-writable and the sticky dir: a
	// reader that opened it would block for ever.
	unpriv.Run(t, fmt.Sprintf("mkfifo %s %s", p("pub/evil.conf"), p("sticky/evil.conf")))

	cases := []struct {
		name   string
		path   string
		secure bool
		want   string // "" = loads
	}{
		{"include of a glob in a world-writable dir", "safe/pub-include.conf", true, fmt.Sprintf("%s:3: include %q: directory %q is writable by non-root users", p("safe/pub-include.conf"), "../pub/*.conf", p("pub"))},
		{"FIFO planted in a sticky dir", "safe/sticky-include.conf", true, fmt.Sprintf("%s:3: include %q: FIFO %q is owned by uid 65534", p("safe/sticky-include.conf"), "../sticky/*.conf", p("sticky/evil.conf"))},
		{"same FIFO without the ownership rule", "safe/sticky-include.conf", false, "is a FIFO, not a regular file"},
		{"include of a root-owned symlink", "safe/link-include.conf", true, ""},
		{"config in a world-writable dir", "pub/c.conf", true, fmt.Sprintf("%s: read config: directory %q is writable by non-root users", p("pub/c.conf"), p("pub"))},
		{"world-writable config", "open.conf", true, fmt.Sprintf("file %q is writable by non-root users (mode 0666", p("open.conf"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := loadWithin(t, p(tc.path), tc.secure)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestReadFileNeverBlocks: FIFOs, devices, directories and oversized
// files are refused with a clear error, without blocking, as root or not
// (issue 15 case 4).
func TestReadFileNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.conf")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil { // sparse
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	globFIFO := write("glob.conf", "global_defs {\n}\ninclude f*.conf\n") // matches fifo.conf
	zero := write("zero.conf", "\ninclude /dev/zero\n")
	bigInc := write("big-include.conf", "include big.conf\n")
	os.Mkdir(filepath.Join(dir, "d.conf"), 0o755)

	cases := []struct {
		name       string
		path       string
		want       string
		wantSecure string // as root, when it differs: the rule refuses first
	}{
		{"config is a FIFO", fifo, fmt.Sprintf("%s: read config: %q is a FIFO, not a regular file", fifo, fifo), ""},
		{"config is /dev/zero", "/dev/zero", `"/dev/zero" is a character device, not a regular file`, `character device "/dev/zero" is writable by non-root users`},
		{"config is a directory", dir, "is a directory, not a regular file", ""},
		{"glob include matching a FIFO", globFIFO, fmt.Sprintf("%s:3: include %q: %q is a FIFO, not a regular file", globFIFO, "f*.conf", filepath.Join(dir, "fifo.conf")), ""},
		{"include /dev/zero", zero, fmt.Sprintf("%s:2: include %q: %q is a character device", zero, "/dev/zero", "/dev/zero"), fmt.Sprintf("%s:2: include %q: character device %q is writable by non-root users", zero, "/dev/zero", "/dev/zero")},
		{"config over the size bound", big, "bigger than 16 MiB", ""},
		{"include over the size bound", bigInc, fmt.Sprintf("%s:1: include %q: %q is bigger than 16 MiB", bigInc, "big.conf", filepath.Join(dir, "big.conf")), ""},
	}
	for _, tc := range cases {
		for _, secure := range []bool{false, true} {
			if secure && os.Geteuid() != 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s/secure=%v", tc.name, secure), func(t *testing.T) {
				want := tc.want
				if secure && tc.wantSecure != "" {
					want = tc.wantSecure
				}
				err := loadWithin(t, tc.path, secure)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v\nwant %s", err, want)
				}
			})
		}
	}
}

// loadWithin loads path and fails the test if that takes more than 5 s
// (a reader blocked on a FIFO or reading /dev/zero never returns).
func loadWithin(t *testing.T, path string, secure bool) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(path, Options{ConfigID: "node1", Secure: secure})
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("loading %s did not return within 5 s", path)
		return nil
	}
}
