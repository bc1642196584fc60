// Package kaconftest runs keepalived's own configuration test
// (`keepalived -t`) on a keepalived.conf, in a fresh network namespace that
// holds the interfaces such configs name (eth0, eth1), so the result does
// not depend on the host's interfaces.
package kaconftest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/netnstest"
)

// Result is what `keepalived -t` said about one config.
type Result struct {
	Code   int    // keepalived's exit code (0: valid)
	Output string // its log lines
}

// Checker runs `keepalived -t` in one namespace.
type Checker struct {
	ns     *netnstest.NS
	kahook string
	t      testing.TB
}

// New creates the namespace (eth0, eth1 up, with addresses) and skips the
// test where keepalived is not installed (CI installs it). kahook is the
// binary that replaces /usr/sbin/kahook in the configs, since keepalived
// checks that scripts exist and are secure.
func New(t testing.TB, kahook string) *Checker {
	t.Helper()
	if _, err := exec.LookPath("keepalived"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("keepalived missing: scripts/deps.sh installs it")
		}
		t.Skip("keepalived not installed")
	}
	ns := netnstest.New(t, "kat")
	for i, ifname := range []string{"eth0", "eth1"} {
		ns.MustRun("ip", "link", "add", ifname, "type", "veth", "peer", "name", ifname+"p")
		ns.MustRun("ip", "link", "set", ifname, "up")
		ns.MustRun("ip", "link", "set", ifname+"p", "up")
		ns.MustRun("ip", "addr", "add", "10.254."+string(rune('0'+i))+".1/24", "dev", ifname)
	}
	return &Checker{ns: ns, kahook: kahook, t: t}
}

// Check runs `keepalived -t -f` on the config text.
func (c *Checker) Check(text string) Result {
	c.t.Helper()
	if c.kahook != "" {
		text = strings.ReplaceAll(text, "/usr/sbin/kahook", c.kahook)
	}
	path := filepath.Join(c.t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		c.t.Fatal(err)
	}
	out, err := c.ns.Run("keepalived", "-t", "-f", path)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("keepalived -t: %v", err)
	}
	return Result{Code: code, Output: strings.TrimSpace(out)}
}

// Run runs a command in the namespace (no route beyond its two /24s) and
// returns its output and exit code.
func (c *Checker) Run(args ...string) (string, int) {
	out, err := c.ns.Run(args...)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out, ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("%v: %v", args, err)
	}
	return out, 0
}

// KahookCommands are the kahook command lines a keepalived.conf runs
// (script, notify..., misc_path), as written.
func KahookCommands(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		i := strings.Index(line, "\"/usr/sbin/kahook ")
		if i < 0 {
			continue
		}
		rest := line[i+1:]
		if j := strings.Index(rest, "\""); j >= 0 {
			out = append(out, rest[:j])
		}
	}
	return out
}

// Variants are the global settings every kahook keepalived.conf must also
// pass with: as written, strict RFC mode, and VRRPv3.
var Variants = []struct{ Name, GlobalDefs string }{
	{"plain", ""},
	{"vrrp_strict", "vrrp_strict"},
	{"vrrp_version_3", "vrrp_version 3"},
	{"vrrp_strict_v3", "vrrp_strict\n    vrrp_version 3"},
}

// WithGlobal adds lines to the config's global_defs (a new block if it has
// none).
func WithGlobal(text, lines string) string {
	if lines == "" {
		return text
	}
	if i := strings.Index(text, "global_defs {"); i >= 0 {
		j := i + len("global_defs {")
		return text[:j] + "\n    " + lines + text[j:]
	}
	return "global_defs {\n    " + lines + "\n}\n" + text
}
