package main

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
	"github.com/kahook/kahook/vip"
)

// dryRunConf: an instance on lo (present in every namespace) with a
// virtual server, and a realserver block.
const dryRunConf = `
instance VI_1 {
    interface lo
    virtual_ipaddress { 192.0.2.10 }
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_kind DR
    real_server 198.51.100.11 80 { TCP_CHECK { } }
}
realserver {
    interface lo
    virtual_ipaddress { 192.0.2.20 }
}
`

// tree lists every path under dir (relative), sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(dir, p); rel != "." {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestDryRunCreatesNothing: every command that honours --dry-run, and
// the read-only `ipvs diff`, creates nothing: no state dir, no lock, no
// state or managed-services file, no --persist file (README: "--dry-run
// prints the plan, changes and creates nothing"). The state dir's parent
// (and the rest of the test's directory) is listed before and after each
// run, in a fresh network namespace. Whether the run succeeds does not
// matter here (on a host without IPVS the IPVS commands fail after
// reading): what it leaves behind does.
func TestDryRunCreatesNothing(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "dry")
	for _, args := range [][]string{
		{"--dry-run", "notify", "master", "VI_1"},
		{"--dry-run", "notify", "backup", "VI_1"},
		{"--dry-run", "notify", "INSTANCE", "VI_1", "MASTER", "100"},
		{"--dry-run", "release", "--all"},
		{"--dry-run", "release", "VI_1"},
		{"--dry-run", "ipvs", "apply"},
		{"--dry-run", "ipvs", "apply", "VI_1"},
		{"--dry-run", "ipvs", "diff"},
		{"ipvs", "diff"},
		{"ipvs", "diff", "--exit-code", "VI_1"},
		{"--dry-run", "ipvs", "flush"},
		{"--dry-run", "ipvs", "flush", "--all"},
		{"--dry-run", "vip", "add", "192.0.2.10"},
		{"--dry-run", "vip", "del", "192.0.2.10"},
		{"--dry-run", "sysctl", "apply", "--role", "director", "-i", "lo"},
		{"--dry-run", "sysctl", "apply", "--role", "realserver", "-i", "lo", "--persist", "--persist-file", "{dir}/var/60-kahook.conf"},
		{"--dry-run", "realserver", "up"},
		{"--dry-run", "realserver", "down", "--vip", "192.0.2.30", "-i", "lo"},
		{"--dry-run", "doctor", "--no-live"},
		{"doctor"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "kahook.conf")
			if err := os.WriteFile(conf, []byte(dryRunConf), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "var"), 0o755); err != nil {
				t.Fatal(err)
			}
			stateDir := filepath.Join(dir, "var", "kahook")
			before := tree(t, dir)
			full := []string{bin, "--syslog", "off", "--config", conf, "--state-dir", stateDir}
			for _, a := range args {
				full = append(full, strings.ReplaceAll(a, "{dir}", dir))
			}
			out, err := ns.Run(full...)
			if after := tree(t, dir); !slices.Equal(before, after) {
				t.Errorf("kahook %s created %q (before: %q; run: %v)\n%s", strings.Join(args, " "), after, before, err, out)
			}
		})
	}
}

// TestDryRunReleasePrintsPlan: `--dry-run release` prints its plan in the
// text form `--dry-run notify` prints (notify.WritePlan), one per
// instance, not only with --json.
func TestDryRunReleasePrintsPlan(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "drrel")
	dir := t.TempDir()
	conf := filepath.Join(dir, "kahook.conf")
	// No virtual server: the plan does not depend on IPVS.
	if err := os.WriteFile(conf, []byte("instance VI_1 {\n interface lo\n virtual_ipaddress { 192.0.2.10 }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ns.MustRun("ip", "addr", "add", "192.0.2.10/32", "dev", "lo")
	base := []string{bin, "--syslog", "off", "--config", conf, "--state-dir", filepath.Join(dir, "state")}
	for _, args := range [][]string{{"release", "--all"}, {"release", "VI_1"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := ns.Command(append(append(append([]string{}, base...), "--dry-run"), args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
			}
			notifyOut, err := ns.Command(append(append(append([]string{}, base...), "--dry-run", "--log-level", "error"), "notify", "stop", "VI_1")...).Output()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stdout.String(), "VI_1 STOP (dry run):\n") || !strings.Contains(stdout.String(), "192.0.2.10/32") {
				t.Errorf("no text plan on stdout:\n%s", stdout.String())
			}
			if stdout.String() != string(notifyOut) {
				t.Errorf("release's plan differs from notify stop's:\n--- release\n%s--- notify\n%s", stdout.String(), notifyOut)
			}
		})
	}
	if out := ns.MustRun("ip", "-4", "addr", "show", "dev", "lo"); !strings.Contains(out, "192.0.2.10/32") {
		t.Errorf("a dry run removed the VIP:\n%s", out)
	}
}

// TestIPVSDiffExitCodeError: with --exit-code, 1 means "differs" (as in
// diff(1) and git diff --exit-code), so an error exits 2, never 1. Here
// the error is reading a kernel without IPVS.
func TestIPVSDiffExitCodeError(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS: the error case needs one without (the VM test covers exit 0 and 1)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "kahook.conf")
	if err := os.WriteFile(conf, []byte(dryRunConf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"ipvs", "diff", "--exit-code"}, exitUsage},
		{[]string{"ipvs", "diff"}, exitFailed}, // without --exit-code: kahook's 1 for a failure
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := kahook(append([]string{"--dry-run", "--config", conf, "--state-dir", filepath.Join(dir, "state")}, tc.args...)...)
			if code != tc.want || !strings.Contains(errs, "IPVS") {
				t.Errorf("exit %d, want %d (an error reading IPVS)\n%s%s", code, tc.want, out, errs)
			}
		})
	}
}

// TestReloadWithoutConfig: keepalived's ExecReload drop-in runs `kahook
// reload` on every node kahook is installed on. Without the default
// kahook.conf (keepalived.conf does not use kahook) and without addresses
// kahook bound, it does nothing and exits 0, so keepalived's reload does
// not fail; with kahook's addresses still bound, or with a --config that
// does not exist, it exits 2 saying the file is missing (not that it
// "does not validate"), and creates nothing.
func TestReloadWithoutConfig(t *testing.T) {
	if _, err := os.Stat(config.DefaultPath); err == nil {
		t.Skip(config.DefaultPath + " exists on this host")
	}
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "rlnc")
	dir := t.TempDir()
	missing := filepath.Join(dir, "none", "kahook.conf")
	reload := func(args ...string) (int, string) {
		cmd := ns.Command(append([]string{bin, "--syslog", "off", "--state-dir", filepath.Join(dir, "state")}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), stdout.String() + stderr.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, stdout.String() + stderr.String()
	}
	if code, out := reload("reload"); code != 0 || out != "" {
		t.Errorf("reload without the default kahook.conf: exit %d, want 0 and silence:\n%s", code, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		mark bool
	}{
		{"missing --config", []string{"--config", missing, "reload"}, false},
		{"default config missing, kahook's VIP bound", []string{"reload"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mark {
				// As kahook binds an instance's VIP: with its marker.
				err := ns.Do(func() error {
					m, err := vip.NewManager(slog.New(slog.DiscardHandler))
					if err != nil {
						return err
					}
					m.Mark = true
					_, err = m.Ensure([]vip.Addr{{Prefix: netip.MustParsePrefix("192.0.2.77/32"), Dev: "lo"}}, true, false)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				defer ns.Run("ip", "addr", "del", "192.0.2.77/32", "dev", "lo")
			}
			code, out := reload(tc.args...)
			if code != 2 || !strings.Contains(out, "is missing") || strings.Contains(out, "does not validate") {
				t.Errorf("exit %d, want 2 saying the config file is missing:\n%s", code, out)
			}
			if got := tree(t, dir); len(got) != 0 {
				t.Errorf("a refused reload created %q", got)
			}
		})
	}
}

// TestDryRunHelpNamesRefusers: --help's --dry-run line names every
// command that refuses it (noDryRun), and each of those says so in its
// own help.
func TestDryRunHelpNamesRefusers(t *testing.T) {
	_, out, _ := kahook("--help")
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "--dry-run") {
			line = l
		}
	}
	for name := range noDryRun {
		if !strings.Contains(line, name) {
			t.Errorf("--help's --dry-run line does not name %s:\n%s", name, line)
		}
		if _, sub, _ := kahook(append(strings.Fields(name), "--help")...); !strings.Contains(sub, "No --dry-run") {
			t.Errorf("kahook %s --help does not say it refuses --dry-run:\n%s", name, sub)
		}
	}
}

// TestUnsafeStateDirParentCreatesNothing: a state dir to be created in a
// directory a non-root user owns, or others can write without the sticky
// bit, is refused before anything is made there (README's security
// model: the config rule for every directory above the state dir): exit
// 2 (bad input), nothing created, by every command that creates the
// state dir.
func TestUnsafeStateDirParentCreatesNothing(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "unsp")
	for _, parent := range []struct {
		name string
		mode os.FileMode
		uid  int
	}{{"owned by a user", 0o755, 65534}, {"writable by others", 0o777, 0}} {
		for _, args := range [][]string{
			{"notify", "master", "VI_1"},
			{"ipvs", "apply"},
			{"sync", "--deadline", "1s", "VI_1"},
			{"reload"},
		} {
			t.Run(parent.name+"/"+strings.Join(args, " "), func(t *testing.T) {
				dir := t.TempDir()
				conf := filepath.Join(dir, "kahook.conf")
				if err := os.WriteFile(conf, []byte(dryRunConf), 0o644); err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, "var")
				if err := os.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, parent.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(p, parent.uid, 0); err != nil {
					t.Fatal(err)
				}
				cmd := ns.Command(append([]string{bin, "--syslog", "off", "--config", conf, "--state-dir", filepath.Join(p, "kahook")}, args...)...)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out.String(), "unsafe state dir") {
					t.Errorf("exit %v, want 2 and the unsafe state dir named:\n%s", err, out.String())
				}
				if got := tree(t, p); len(got) != 0 {
					t.Errorf("created %q in the unsafe directory\n%s", got, out.String())
				}
			})
		}
	}
}
