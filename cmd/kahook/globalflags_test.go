package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// leaves lists every runnable command of the app as its word path.
func leaves(prefix []string, cmds []*cli.Command, visit func([]string, *cli.Command)) {
	for _, c := range cmds {
		if c.Name == "help" {
			continue
		}
		path := append(append([]string{}, prefix...), c.Name)
		if len(c.Subcommands) > 0 {
			leaves(path, c.Subcommands, visit)
			continue
		}
		visit(path, c)
	}
}

// TestGlobalFlagsAfterEachCommand (issue 17 item 1): every global flag,
// by name and by its short alias, works after every command's name, means
// the same as before it, and the one nearer the command wins. The
// commands' actions are replaced by one that records what they would
// see; the flag parsing and checks are the app's own.
func TestGlobalFlagsAfterEachCommand(t *testing.T) {
	type seen struct {
		configPath, configID, stateDir, syslog string
		configSet, json, dryRun, debug         bool
	}
	probe := func(args []string) (seen, int, string) {
		var got seen
		var stderr strings.Builder
		app := newApp(io.Discard, &stderr)
		leaves(nil, app.Commands, func(_ []string, c *cli.Command) {
			c.Action = func(c *cli.Context) error {
				e := getEnv(c)
				got = seen{e.configPath, e.configID, e.stateDir, e.syslog, e.configSet, e.json, e.dryRun, e.log.Enabled(context.Background(), slog.LevelDebug)}
				return nil
			}
		})
		code := exitOK
		if err := app.Run(append([]string{"kahook"}, args...)); err != nil {
			code = exitUsage
			stderr.WriteString(err.Error())
		}
		return got, code, stderr.String()
	}
	all := seen{configPath: "/x/k.conf", configID: "lb1", stateDir: "/x/state", syslog: "off", configSet: true, json: true, dryRun: true, debug: true}
	long := []string{"--config", "/x/k.conf", "--config-id", "lb1", "--state-dir", "/x/state", "--syslog", "off", "--json", "--dry-run", "--log-level", "debug"}
	t.Setenv("KAHOOK_CONFIG", "/env/k.conf")
	t.Setenv("KAHOOK_STATE_DIR", "/env/state")
	n := 0
	leaves(nil, newApp(io.Discard, io.Discard).Commands, func(path []string, cmd *cli.Command) {
		n++
		name := strings.Join(path, " ")
		t.Run(name, func(t *testing.T) {
			all, long := all, long
			_, actsOnly := noDryRun[name] // refused with --dry-run (TestNoDryRunRefused)
			if actsOnly {
				all.dryRun = false
				long = slices.DeleteFunc(slices.Clone(long), func(s string) bool { return s == "--dry-run" })
			}
			after := append(append([]string{}, path...), long...)
			if got, code, errs := probe(after); code != 0 || got != all {
				t.Errorf("kahook %s %s: exit %d %s\n got %+v\nwant %+v", name, strings.Join(long, " "), code, errs, got, all)
			}
			before := append(append([]string{}, long...), path...)
			if got, code, errs := probe(before); code != 0 || got != all {
				t.Errorf("flags before the command: exit %d %s\n got %+v\nwant %+v", code, errs, got, all)
			}
			// The flag nearer the command wins over the global one,
			// and an explicit flag over the environment.
			both := append(append([]string{"--config", "/outer.conf", "--log-level", "error"}, path...), "--config", "/inner.conf", "--log-level", "debug")
			if got, _, errs := probe(both); got.configPath != "/inner.conf" || !got.debug {
				t.Errorf("inner flags lost: %+v %s", got, errs)
			}
			if got, _, _ := probe(path); got.configPath != "/env/k.conf" || got.stateDir != "/env/state" || !got.configSet || got.json {
				t.Errorf("defaults and environment: %+v", got)
			}
			// Short aliases, unless the command uses the letter itself.
			var short []string
			want := seen{configPath: "/env/k.conf", stateDir: "/env/state", syslog: "auto", configSet: true}
			if !hasAlias(cmd, "c") {
				short = append(short, "-c", "/s.conf")
				want.configPath = "/s.conf"
			}
			if !hasAlias(cmd, "n") && !actsOnly {
				short = append(short, "-n")
				want.dryRun = true
			}
			if got, code, errs := probe(append(append([]string{}, path...), short...)); code != 0 || got != want {
				t.Errorf("short flags %v: exit %d %s\n got %+v\nwant %+v", short, code, errs, got, want)
			}
		})
	})
	if n < 20 {
		t.Errorf("only %d commands found", n)
	}
}

// hasAlias: the command's own flags (not the global ones) use name.
func hasAlias(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		if cf, ok := f.(interface{ GetCategory() string }); ok && cf.GetCategory() == globalCategory {
			continue
		}
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// TestJSONAfterTheCommand: `kahook config check --json FILE` prints the
// same JSON as `kahook --json config check FILE` (the example).
func TestJSONAfterTheCommand(t *testing.T) {
	c1, before, e1 := kahook("--json", "config", "check", "testdata/director.conf")
	c2, after, e2 := kahook("config", "check", "--json", "testdata/director.conf")
	// director.conf has problems keepalived -t reports too (no protocol):
	// config check prints the model and exits 2 both ways.
	if c1 != 2 || c2 != 2 || before != after || !strings.HasPrefix(after, "{") {
		t.Errorf("exit %d/%d %s%s\nbefore:\n%.200s\nafter:\n%.200s", c1, c2, e1, e2, before, after)
	}
}

// TestFlagNames: flagName, the cheap f.Names() the flag checks use, and
// the Names() of the named* flags the app is built with (issue 18) give
// the same names as cli's own Names() (libFlag) for every flag of every
// command, global copies included; every flag is in its named* form.
func TestFlagNames(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			name, aliases := flagName(f)
			lib := libFlag(f)
			want := lib.Names()
			for _, got := range [][]string{append([]string{name}, aliases...), f.Names()} {
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s: %q, cli's Names() = %q", where, got, want)
				}
			}
			if bf, ok := f.(*cli.BoolFlag); ok && bf.Hidden {
				continue // kept for cli's completion, which hides only these
			}
			if lib == f && want[0] != "help" {
				t.Errorf("%s: flag --%s (%T) is not in a named* form: cli runs a regular expression per name per lookup", where, want[0], f)
			}
		}
	}
	check("kahook", app.Flags)
	n := 0
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			n += len(c.Flags)
			check(prefix+c.Name, c.Flags)
			walk(prefix+c.Name+" ", c.Subcommands)
		}
	}
	walk("kahook ", app.Commands)
	t.Logf("%d flags", n)
	if n < 200 {
		t.Errorf("only %d flags found", n)
	}
}
