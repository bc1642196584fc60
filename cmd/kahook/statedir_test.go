package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// statedirConf: one instance on lo (every namespace has it).
const statedirConf = `
instance VI_1 {
    interface lo
    virtual_ipaddress { 192.0.2.10 }
}
`

// runIn runs kahook in ns with the given extra environment (KAHOOK_*
// variables of the test's own environment left out) and returns its
// combined output and exit code.
func runIn(t *testing.T, ns *netnstest.NS, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := ns.Command(append([]string{bin, "--syslog", "off"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KAHOOK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	t.Fatalf("run kahook: %v", err)
	return "", 0
}

// TestStateDirRefusedAsGiven (hostile review F1, F7a): a state dir
// written with ".." (here through a symlink into a user's home, where
// the kernel's "link/.." is the home, not the dir the text shows) and a
// state dir that is, or lies below, a regular file are bad input: every
// command that records state (notify MASTER, sync, ipvs apply, reload)
// exits 2 with a message naming the path and what is wrong, whether the
// dir came from --state-dir, KAHOOK_STATE_DIR or global_defs state_dir
// (file:line, also in `config check`), and nothing is created anywhere.
// A release still removes the VIP (exit 1: not recorded).
func TestStateDirRefusedAsGiven(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "sdref")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, base string) string // returns the state dir
		want  string
	}{
		{"dot-dot through a user's symlink", func(t *testing.T, base string) string {
			home := filepath.Join(base, "home")
			for _, d := range []string{home, filepath.Join(home, "sub")} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(d, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			}
			link := filepath.Join(base, "ulink")
			if err := os.Symlink(filepath.Join(home, "sub"), link); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(link, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return link + "/../st"
		}, `has a ".." component`},
		{"relative", func(t *testing.T, base string) string {
			return "relative/st"
		}, "is not an absolute path"},
		{"regular file", func(t *testing.T, base string) string {
			p := filepath.Join(base, "file")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a directory"},
		{"below a regular file", func(t *testing.T, base string) string {
			p := filepath.Join(base, "file")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(p, "sub")
		}, "not a directory"},
	} {
		for _, via := range []string{"--state-dir", "KAHOOK_STATE_DIR", "state_dir"} {
			for _, args := range [][]string{
				{"notify", "master", "VI_1"},
				{"sync", "--deadline", "1s", "VI_1"},
				{"ipvs", "apply"},
				{"reload"},
				{"config", "check"},
				{"notify", "backup", "VI_1"},
			} {
				release := len(args) > 1 && args[1] == "backup"
				if via != "state_dir" && args[0] == "config" {
					continue // config check does not use the state dir
				}
				if via == "state_dir" && (tc.want != `has a ".." component` || release) {
					// A config does not know what is at the path; a
					// release when the config does not load is
					// notify's TestReleaseNeverNeedsTheConfig.
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%s", tc.name, via, strings.Join(args, " ")), func(t *testing.T) {
					base := t.TempDir()
					dir := tc.setup(t, base)
					conf := filepath.Join(base, "kahook.conf")
					text := statedirConf
					var flags, env []string
					switch via {
					case "--state-dir":
						flags = []string{"--state-dir", dir}
					case "KAHOOK_STATE_DIR":
						env = []string{"KAHOOK_STATE_DIR=" + dir}
					case "state_dir":
						text = "global_defs {\n    state_dir " + dir + "\n}\n" + statedirConf
						// A config that does not load has no state_dir: a
						// release then reads --state-dir (else the host's
						// /run/kahook).
						flags = []string{"--state-dir", filepath.Join(t.TempDir(), "st")}
					}
					if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
					if release {
						if out, err := ns.Run("ip", "addr", "replace", "192.0.2.10/32", "dev", "lo"); err != nil {
							t.Fatalf("bind the VIP: %v: %s", err, out)
						}
					}
					before := tree(t, base)
					out, code := runIn(t, ns, bin, env, append(append([]string{"--config", conf}, flags...), args...)...)
					if after := tree(t, base); !slices.Equal(before, after) {
						t.Errorf("created something: before %q, after %q\n%s", before, after, out)
					}
					want := tc.want
					if via == "state_dir" {
						want = conf + `:2: state_dir "` + dir + `" ` + want
					}
					if release {
						if addrs, _ := ns.Run("ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(addrs, "192.0.2.10/32") {
							t.Errorf("the release left the VIP bound (exit %d):\n%s", code, out)
						}
						if code != 1 || !strings.Contains(out, "releasing") || !strings.Contains(out, want) {
							t.Errorf("exit %d, want 1, released anyway, saying %q:\n%s", code, want, out)
						}
						return
					}
					if code != 2 || !strings.Contains(out, want) || strings.Contains(out, "chown") {
						t.Errorf("exit %d, want 2 saying %q (no chown advice):\n%s", code, want, out)
					}
				})
			}
		}
	}
}

// TestEmptyConfigPath (hostile review F7b): an empty config path (an
// empty --config or KAHOOK_CONFIG, or an empty `config check` FILE) is a
// usage error saying the path is empty, not a file named "" that is
// missing; a release still releases without the config.
func TestEmptyConfigPath(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "emptyc")
	const want = "config file path is empty"
	for _, args := range [][]string{
		{"reload"},
		{"config", "check"},
		{"notify", "master", "VI_1"},
		{"sync", "VI_1"},
		{"ipvs", "apply"},
		{"ipvs", "diff"},
		{"doctor", "--no-live"},
		{"release", "VI_1"},
		{"release", "--all"},
	} {
		for _, via := range []string{"--config", "KAHOOK_CONFIG", "argument"} {
			if via == "argument" && args[0] != "config" {
				continue
			}
			t.Run(via+"/"+strings.Join(args, " "), func(t *testing.T) {
				stateDir := filepath.Join(t.TempDir(), "state")
				var flags, env []string
				switch via {
				case "--config":
					flags = []string{"--config", ""}
				case "KAHOOK_CONFIG":
					env = []string{"KAHOOK_CONFIG="}
				}
				full := append(append([]string{"--state-dir", stateDir}, flags...), args...)
				if via == "argument" {
					full = append(full, "")
				}
				out, code := runIn(t, ns, bin, env, full...)
				wantCode := 2
				if args[0] == "release" {
					wantCode = 1 // released without the config, not recorded
					if !strings.Contains(out, "releasing kahook's VIPs without it") {
						t.Errorf("no release without the config:\n%s", out)
					}
				}
				if code != wantCode || !strings.Contains(out, want) || strings.Contains(out, `config file "" is missing`) {
					t.Errorf("exit %d, want %d saying %q:\n%s", code, wantCode, want, out)
				}
			})
		}
	}
}
