// Package testbin gives tests the project's binaries: from
// $KAHOOK_TEST_BIN_DIR when set (the VM harness builds them on the host,
// since compiling under TCG is slow), otherwise one `go build` per binary
// per test process.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

type built struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

var (
	mu    sync.Mutex
	cache = map[string]*built{}
)

// Kahook returns the path of a static kahook binary, built as it ships
// (without the man page generator: cmd/kahook/man.go).
func Kahook(t testing.TB) string {
	return Build(t, "kahook", "./cmd/kahook", "-tags", "urfave_cli_no_docs")
}

// Labweb returns the lab's web server (internal/labweb).
func Labweb(t testing.TB) string { return Build(t, "labweb", "./internal/labweb") }

// Build returns the binary name built from pkg (relative to the module)
// with the extra go build flags.
func Build(t testing.TB, name, pkg string, flags ...string) string {
	t.Helper()
	if dir := os.Getenv("KAHOOK_TEST_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s not prebuilt in %s: %v", name, dir, err)
		}
		return p
	}
	mu.Lock()
	b, ok := cache[name]
	if !ok {
		b = &built{}
		cache[name] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		// Built into the repo's gitignored cache: test packages run in
		// parallel, so each builds to a temp name and renames.
		dir := filepath.Join(RepoRoot(), ".cache", "testbin")
		if b.err = os.MkdirAll(dir, 0o755); b.err != nil {
			return
		}
		tmp := filepath.Join(dir, fmt.Sprintf("%s.%d", name, os.Getpid()))
		cmd := exec.Command("go", append(append([]string{"build", "-o", tmp}, flags...), pkg)...)
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b.out, b.err = cmd.CombinedOutput(); b.err != nil {
			return
		}
		b.path = filepath.Join(dir, name)
		b.err = os.Rename(tmp, b.path)
	})
	if b.err != nil {
		t.Fatalf("build %s: %v\n%s", name, b.err, b.out)
	}
	return b.path
}

// RepoRoot is the module root (two levels above this file).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
