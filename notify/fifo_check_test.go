package notify

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCheckFIFONeverOpensANonFIFO (issue 15, F10): CheckFIFO refuses a
// path that is not a FIFO before opening it (opening a device has side
// effects), and refuses a symlink even to a real FIFO. inotify sees every
// open: a refused path must produce no IN_OPEN event.
func TestCheckFIFONeverOpensANonFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "real.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		make func(p string) error
		want string // "" = accepted
	}{
		{"regular file", func(p string) error { return os.WriteFile(p, []byte("INSTANCE \"VI_1\" MASTER 100\n"), 0o600) }, "is not a FIFO but a regular file"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, "is not a FIFO but a directory"},
		{"symlink to a FIFO", func(p string) error { return os.Symlink(fifo, p) }, "is not a FIFO but a symlink"},
		{"FIFO", func(p string) error { return syscall.Mkfifo(p, 0o600) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := tc.make(p); err != nil {
				t.Fatal(err)
			}
			in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(in)
			// watch the target of a symlink too: an open through the link
			// is reported there.
			for _, w := range []string{p, fifo} {
				if _, err := unix.InotifyAddWatch(in, w, unix.IN_OPEN); err != nil {
					t.Fatal(err)
				}
			}
			f, err := CheckFIFO(p)
			if f != nil {
				f.Close()
			}
			buf := make([]byte, 4096)
			n, _ := unix.Read(in, buf)
			opened := n > 0
			if tc.want == "" {
				if err != nil || !opened {
					t.Fatalf("FIFO: err %v, opened %v", err, opened)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckFIFO(%s) = %v, want an error containing %q", p, err, tc.want)
			}
			if opened {
				t.Errorf("CheckFIFO opened %s before refusing it", p)
			}
		})
	}
}
