// Package testbin gives tests a kahook binary: $KAHOOK_BIN when set (the
// VM harness builds it on the host, since compiling under TCG is slow),
// otherwise one `go build` per test process.
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

var (
	once sync.Once
	path string
	err  error
	out  []byte
)

// Kahook returns the path of a static kahook binary.
func Kahook(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KAHOOK_BIN"); p != "" {
		return p
	}
	once.Do(func() {
		// Built into the repo's gitignored cache: test packages run in
		// parallel, so each builds to a temp name and renames.
		dir := filepath.Join(RepoRoot(), ".cache", "testbin")
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return
		}
		tmp := filepath.Join(dir, fmt.Sprintf("kahook.%d", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/kahook")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err = cmd.CombinedOutput(); err != nil {
			return
		}
		path = filepath.Join(dir, "kahook")
		err = os.Rename(tmp, path)
	})
	if err != nil {
		t.Fatalf("build kahook: %v\n%s", err, out)
	}
	return path
}

// RepoRoot is the module root (two levels above this file).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
