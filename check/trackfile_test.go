package check_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/internal/unpriv"
)

// TestTrackFile: FILE_CHECK's verdicts and weights as keepalived's
// track_file.c computes them from the file's number.
func TestTrackFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		content *string // nil: no file
		weight  int
		reverse bool
		base    int
		healthy bool
		wantW   int // check.Unchanged when none
	}{
		{"missing file, weight 0", nil, 0, false, 1, true, check.Unchanged},
		{"0, weight 0", ptr("0\n"), 0, false, 1, true, check.Unchanged},
		{"1, weight 0: down", ptr("1\n"), 0, false, 1, false, check.Unchanged},
		{"0, weight 0 reverse: down", ptr("0"), 0, true, 1, false, check.Unchanged},
		{"5, weight 0 reverse: up", ptr("5"), 0, true, 1, true, check.Unchanged},
		{"5 x 2 on 10", ptr("5\n"), 2, false, 10, true, 20},
		{"5 x 2 reverse on 10", ptr("3"), 2, true, 10, true, 4},
		{"negative result clamped to 0", ptr("-3"), 2, false, 4, true, 0},
		{"hex", ptr("0x10"), 1, false, 0, true, 16},
		{"octal", ptr("010"), 1, false, 0, true, 8},
		{"leading blanks, trailing text", ptr("  7 servers"), 1, false, 0, true, 7},
		{"no number is 0", ptr("up"), 1, false, 3, true, 3},
		{"empty file is 0", ptr(""), 0, false, 3, true, check.Unchanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if tc.content != nil {
				os.WriteFile(p, []byte(*tc.content), 0o644)
			}
			r := check.TrackFile{Path: p, Weight: tc.weight, Reverse: tc.reverse, BaseWeight: tc.base}.Check(context.Background())
			if r.Healthy != tc.healthy || r.Weight != tc.wantW {
				t.Errorf("healthy %v weight %d (%s), want %v %d", r.Healthy, r.Weight, r.Reason, tc.healthy, tc.wantW)
			}
		})
	}
	t.Run("FIFO: refused without blocking", func(t *testing.T) {
		p := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan check.Result, 1)
		go func() { done <- check.TrackFile{Path: p}.Check(context.Background()) }()
		select {
		case r := <-done:
			if r.Healthy {
				t.Errorf("a FIFO passed: %s", r.Reason)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("blocked on a FIFO")
		}
	})
	t.Run("symlink not followed", func(t *testing.T) {
		target := filepath.Join(dir, "target")
		os.WriteFile(target, []byte("0"), 0o644)
		link := filepath.Join(dir, "link")
		os.Symlink(target, link)
		if r := (check.TrackFile{Path: link}).Check(context.Background()); r.Healthy {
			t.Errorf("followed a symlink: %s", r.Reason)
		}
	})
}

func ptr(s string) *string { return &s }

// TestTrackFileOthersCanChange (issue 15, F8): as root, a track file in a
// directory any user can add a name to (sticky like /tmp or not), or one
// others can write, is not read: a real uid 65534 creates or rewrites it
// to take the real server down, and the check fails naming the rule
// instead of obeying the planted value. A root-only file in a root-only
// directory below a sticky one is obeyed.
func TestTrackFileOthersCanChange(t *testing.T) {
	base := unpriv.Dir(t)
	mk := func(rel string, mode os.FileMode) string { return unpriv.Mkdir(t, base, rel, mode) }
	tmp := mk("tmp", 0o777|os.ModeSticky)
	pub := mk("pub", 0o777)
	safe := mk("tmp/safe", 0o755)
	open := filepath.Join(safe, "open")
	if err := os.WriteFile(open, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(safe, "ok"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		path    string
		attack  string // run as nobody
		healthy bool
		reason  string
	}{
		{"created in a sticky dir like /tmp", filepath.Join(tmp, "track"), "echo 1 > " + filepath.Join(tmp, "track"), false, "unsafe track file directory"},
		{"created in a world-writable dir", filepath.Join(pub, "track"), "echo 1 > " + filepath.Join(pub, "track"), false, "unsafe track file directory"},
		{"file others can write", open, "echo 1 > " + open, false, "unsafe track file: file"},
		{"root-only file below a sticky dir", filepath.Join(safe, "ok"), "", true, "holds 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.attack != "" {
				unpriv.Run(t, tc.attack)
			}
			// reverse: the planted 1 would read as up; refused it is down.
			r := check.TrackFile{Path: tc.path, Reverse: true}.Check(context.Background())
			if tc.healthy {
				r = check.TrackFile{Path: tc.path}.Check(context.Background())
			}
			if r.Healthy != tc.healthy || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("%s: healthy=%v %q, want healthy=%v with %q", tc.path, r.Healthy, r.Reason, tc.healthy, tc.reason)
			}
		})
	}
}
