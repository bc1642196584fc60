package main

import (
	"io"
	"math"
	"runtime/debug"
	"testing"
)

// TestRunGC (issue 18): a run collects nothing until its heap nears
// runMemoryLimit; the FIFO reader, which lives as long as keepalived,
// collects at GOGC=400 with no limit of kahook's own; GOGC and
// GOMEMLIMIT from the environment are left as the runtime read them.
func TestRunGC(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	defer func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) }()
	state := func() (int, int64) {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p, debug.SetMemoryLimit(-1)
	}

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	shortRunGC()
	if p, l := state(); p != -1 || l != runMemoryLimit {
		t.Errorf("a run: GOGC %d, memory limit %d; want off, %d", p, l, runMemoryLimit)
	}
	if code := run([]string{"kahook", "--syslog", "off", "fifo"}, io.Discard, io.Discard); code != exitUsage {
		t.Fatalf("fifo without its path: exit %d, want %d", code, exitUsage)
	}
	if p, l := state(); p != 400 || l != math.MaxInt64 {
		t.Errorf("the FIFO reader: GOGC %d, memory limit %d; want 400, no limit", p, l)
	}

	debug.SetGCPercent(150)
	debug.SetMemoryLimit(64 << 20)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "64MiB")
	shortRunGC()
	longRunGC()
	if p, l := state(); p != 150 || l != 64<<20 {
		t.Errorf("GOGC and GOMEMLIMIT set: GOGC %d, memory limit %d; want 150, %d", p, l, 64<<20)
	}
}
