package main

import (
	"io"
	"math"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestRunGC (issue 18): a run collects nothing until its heap nears
// runMemoryLimit; a long run (TestLongRunsCollect says which) collects
// at GOGC=400 with no limit of kahook's own; GOGC and GOMEMLIMIT from
// the environment are left as the runtime read them.
func TestRunGC(t *testing.T) {
	keepGCSettings(t)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	shortRunGC()
	if p, l := gcSettings(); p != -1 || l != runMemoryLimit {
		t.Errorf("a run: GOGC %d, memory limit %d; want off, %d", p, l, runMemoryLimit)
	}
	longRunGC()
	if p, l := gcSettings(); p != 400 || l != math.MaxInt64 {
		t.Errorf("a long run: GOGC %d, memory limit %d; want 400, no limit", p, l)
	}

	debug.SetGCPercent(150)
	debug.SetMemoryLimit(64 << 20)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "64MiB")
	shortRunGC()
	longRunGC()
	if p, l := gcSettings(); p != 150 || l != 64<<20 {
		t.Errorf("GOGC and GOMEMLIMIT set: GOGC %d, memory limit %d; want 150, %d", p, l, 64<<20)
	}
}

// TestLongRunsCollect: every run that lives as long as keepalived or a
// MASTER state collects at GOGC=400 with no limit of kahook's own, not
// only the FIFO reader: the background gratuitous ARP of
// garp_master_refresh (garp --follow, which notify MASTER starts and
// which runs until the next transition) and garp --refresh. With the GC
// off, such a follower's heap grew by about 32 KB a second at
// garp_master_refresh 1 (measured in a namespace) with nothing
// collected before 1 GiB. Each run is refused for its arguments, after
// the GC is set and before anything is sent.
func TestLongRunsCollect(t *testing.T) {
	keepGCSettings(t)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"fifo", []string{"fifo"}},
		{"garp follower", []string{"garp", "--follow", "VI_1", "--event", "bad"}},
		{"garp refresh", []string{"garp", "--refresh", "1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shortRunGC()
			args := append([]string{"kahook", "--syslog", "off", "--config", filepath.Join(t.TempDir(), "none.conf")}, tc.args...)
			if code := run(args, io.Discard, io.Discard); code != exitUsage {
				t.Fatalf("%v: exit %d, want %d", tc.args, code, exitUsage)
			}
			if p, l := gcSettings(); p != 400 || l != math.MaxInt64 {
				t.Errorf("%v: GOGC %d, memory limit %d; want 400, no limit", tc.args, p, l)
			}
		})
	}
}

// gcSettings reads the GC target (percent; -1: off) and the memory limit
// without changing them.
func gcSettings() (int, int64) {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p, debug.SetMemoryLimit(-1)
}

// keepGCSettings puts the GC target and memory limit back when t ends.
func keepGCSettings(t *testing.T) {
	p, l := gcSettings()
	t.Cleanup(func() { debug.SetGCPercent(p); debug.SetMemoryLimit(l) })
}
