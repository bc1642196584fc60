// Package unpriv runs test attacks as a real unprivileged user (nobody,
// uid 65534) with setpriv(1), so a test shows what a hostile local user
// can do instead of faking it with modes.
package unpriv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// UID and GID are nobody's (Debian: nobody/nogroup).
const (
	UID = 65534
	GID = 65534
)

// Dir returns a new temporary directory that nobody can traverse but not
// write (root-owned, 0755, as are the directories above it), for trees
// whose files root and nobody both reach. The test is skipped unless it
// runs as root with setpriv(1).
func Dir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (attacks run as uid 65534 through setpriv)")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	dir := t.TempDir()
	// t.TempDir makes its directory and its parent 0700.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Run runs script with sh -c as uid/gid 65534 with no supplementary
// groups, and fails the test if it fails.
func Run(t *testing.T, script string) {
	t.Helper()
	out, err := exec.Command("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %s: %v\n%s", script, err, out)
	}
}

// Mkdir makes base/rel with mode (sticky and all: os.Mkdir's umask and
// its dropping of ModeSticky do not apply) and returns its path.
func Mkdir(t *testing.T, base, rel string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(base, rel)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}
