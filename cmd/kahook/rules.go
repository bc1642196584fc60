package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/logging"
)

// finishCommands applies the rules every command shares, so no command
// can forget one (issue 15 case 8, issue 17 item 1):
//   - a command with subcommands refuses a missing or unknown subcommand
//     (exit 2): run as a vrrp_script, `kahook check` must not read as
//     healthy;
//   - a command takes at most as many arguments as its ArgsUsage names
//     (none without ArgsUsage; "..." means any number);
//   - numeric flags are never negative, and the timeouts, counts and
//     weights in positiveFlags are above 0;
//   - the global flags also work after the command's name;
//   - a usage error goes to stderr without the help text.
//
// All of it runs before the command's action, so a refused command has
// changed and created nothing.
func finishCommands(cmds []*cli.Command) {
	globalNames := map[string]bool{}
	for _, f := range globalFlags(true, nil) {
		name, aliases := flagName(f)
		globalNames[name] = true
		for _, a := range aliases {
			globalNames[a] = true
		}
	}
	for _, cmd := range cmds {
		if why, ok := noDryRun[cmd.Name]; ok {
			cmd.Description = strings.TrimSpace(cmd.Description + "\n\nNo --dry-run (refused, exit 2): " + why + ".")
		}
		for _, sub := range cmd.Subcommands {
			if why, ok := noDryRun[cmd.Name+" "+sub.Name]; ok {
				sub.Description = strings.TrimSpace(sub.Description + "\n\nNo --dry-run (refused, exit 2): " + why + ".")
			}
		}
	}
	finishCommandsIn(cmds, globalNames, map[string][]cli.Flag{})
}

// finishCommandsIn is finishCommands; the commands whose own flags take
// the same global names (most take none) share one set of global flag
// copies (copies: keyed by the names taken), so every run builds a few
// sets instead of one per command (issue 18: start-up cost).
func finishCommandsIn(cmds []*cli.Command, globalNames map[string]bool, copies map[string][]cli.Flag) {
	for _, cmd := range cmds {
		cmd.OnUsageError = func(c *cli.Context, err error, _ bool) error {
			return argvError{usage("%s: %s", commandName(c), flagParseError(err))}
		}
		if len(cmd.Subcommands) > 0 {
			finishCommandsIn(cmd.Subcommands, globalNames, copies)
			if cmd.Action == nil {
				cmd.Action = noSubcommand
			}
			continue
		}
		var taken map[string]bool
		key := ""
		take := func(n string) {
			if globalNames[n] {
				if taken == nil {
					taken = map[string]bool{}
				}
				taken[n] = true
				key += n + " "
			}
		}
		for _, f := range cmd.Flags {
			name, aliases := flagName(f)
			take(name)
			for _, a := range aliases {
				take(a)
			}
		}
		g, ok := copies[key]
		if !ok {
			g = globalFlags(false, taken)
			copies[key] = g
		}
		cmd.Flags = append(cmd.Flags, g...)
		if action := cmd.Action; action != nil {
			cmd.Action = func(c *cli.Context) error {
				return getEnv(c).withFlagProblems(action(c))
			}
		}
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			set := newSetFlags(c)
			if err := setupEnv(c, set); err != nil {
				return err
			}
			if err := checkArgCount(c); err != nil {
				return err
			}
			if why, ok := noDryRun[commandName(c)]; ok && getEnv(c).dryRun {
				return usage("%s: no --dry-run (%s)", commandName(c), why)
			}
			if err := checkNumericFlags(c, set); err != nil {
				return err
			}
			if err := checkStringFlags(c, set); err != nil {
				return err
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
	}
}

// noDryRun are the commands (by path: "check misc") that act and have no dry run: refused with
// --dry-run (exit 2, nothing done), since `--dry-run` promises that
// nothing changes. The value says what to use instead.
var noDryRun = map[string]string{
	"sync":   "a pass checks and applies; `kahook check` runs one check, `kahook ipvs diff` shows the IPVS changes",
	"reload": "a reload applies; `kahook config check` validates, `kahook ipvs diff` shows the IPVS changes",
	"garp":   "it sends; `kahook arp probe` only asks",
	// The other checks only read (connect, send a probe, read a file)
	// and run as usual under --dry-run; a MISC_CHECK's program can do
	// anything.
	"check misc": "it runs the program, which may change anything",
}

// dryRunUsage is the help text of the global --dry-run: what it
// promises, and the commands of noDryRun that refuse it.
func dryRunUsage() string {
	names := make([]string, 0, len(noDryRun))
	for n := range noDryRun {
		names = append(names, n)
	}
	slices.Sort(names)
	return "print what would change; change and create nothing (no state dir, no lock); " +
		strings.Join(names, ", ") + " act and have no dry run: they refuse it (exit 2)"
}

// commandName is the command's path without the program: "ipvs show".
func commandName(c *cli.Context) string {
	return strings.TrimPrefix(c.Command.HelpName, c.App.Name+" ")
}

// noSubcommand is the action of a command that only groups subcommands.
func noSubcommand(c *cli.Context) error {
	var names []string
	for _, s := range c.Command.Subcommands {
		if !s.Hidden && s.Name != "help" {
			names = append(names, s.Name)
		}
	}
	want := strings.Join(names, ", ")
	if c.Args().Present() {
		return usage("%s: unknown subcommand %q (expected one of: %s)", commandName(c), c.Args().First(), want)
	}
	return usage("%s: expected a subcommand (one of: %s)", commandName(c), want)
}

// checkArgCount refuses arguments beyond what the command's ArgsUsage
// names: a flag written after an argument is not parsed as a flag, and
// kahook never ignores a word silently.
func checkArgCount(c *cli.Context) error {
	if strings.Contains(c.Command.ArgsUsage, "...") {
		return nil
	}
	if n := len(strings.Fields(c.Command.ArgsUsage)); c.NArg() > n {
		if n == 0 {
			return usage("%s: takes no arguments, got %q", commandName(c), c.Args().Slice())
		}
		return maxArgs(c, n)
	}
	return nil
}

// positiveFlags must be above 0 when given: a zero timeout, count or
// weight is never what an operator means (check misc turned 0 into 60 s).
var positiveFlags = map[string]bool{
	"connect-timeout": true, "misc-timeout": true, "timeout": true, "deadline": true,
	"workers": true, "tries": true, "max-weight": true, "max-body": true, "repeat": true,
	"rise": true, "fall": true,
}

// maxFlags bound numeric flags, in the flag's unit (seconds for
// durations and for float seconds): a bigger value is a typo or an attack
// (`sync --workers 100000000` burned a core for 24 minutes, `check tcp
// --retry 1000000000` never ends, `--misc-timeout 99999999999` overflowed
// a time.Duration). README, "Security model", lists them.
var maxFlags = map[string]float64{
	"workers": 10000, "retry": 100, "tries": 100, "repeat": 100, "rise": 1000, "fall": 1000,
	"connect-timeout": 3600, "misc-timeout": 3600, "timeout": 3600, "delay-before-retry": 3600,
	"deadline": 3600, "probe-timeout": 3600, "interval": 3600, "delay": 3600,
	"refresh": 86400, "drain-timeout": 86400,
	"max-body": 64 << 20, "max-weight": 65535,
	"connect-port": 65535, "bind-port": 65535, "port": 65535,
	"min-reply-length": 65535, "max-reply-length": 65535,
}

// checkNumericFlags refuses negative numbers in every numeric flag the
// command has, and 0 in positiveFlags.
func checkNumericFlags(c *cli.Context, set setFlags) error {
	for _, f := range c.Command.Flags {
		name, _ := flagName(f)
		if !set.isSet(c, f) {
			continue
		}
		var v float64
		unit := ""
		switch libFlag(f).(type) {
		case *cli.IntFlag:
			v = float64(c.Int(name))
		case *cli.Int64Flag:
			v = float64(c.Int64(name))
		case *cli.Float64Flag:
			v = c.Float64(name)
		case *cli.DurationFlag:
			v = float64(c.Duration(name)) / float64(time.Second)
		case *cli.GenericFlag:
			tv, ok := c.Generic(name).(*timeValue)
			if !ok {
				continue
			}
			v, unit = tv.secs, " seconds"
		default:
			continue
		}
		switch {
		case v < 0:
			return usage("--%s: must not be negative, got %v%s", name, v, unit)
		case v == 0 && positiveFlags[name]:
			return usage("--%s: must be above 0", name)
		case maxFlags[name] > 0 && v > maxFlags[name]:
			return usage("--%s: at most %v%s, got %v%s", name, maxFlags[name], unit, v, unit)
		}
	}
	return nil
}

// controlAllowed are the string flags whose value may hold control
// characters: the agent check's --send (it may end in a newline).
var controlAllowed = map[string]bool{"send": true}

// checkStringFlags refuses, in every string flag given (the global ones
// wherever they were given): control characters (a CR LF in --helo-name
// would inject SMTP commands, a newline in --config-id or a path forges
// lines), except in controlAllowed; an interface name (--interface,
// --dev) that is not a valid Linux name (config.ValidIfName: "../x" would
// reach outside /proc/sys/net/ipv4/conf); a --state-dir that is not an
// absolute path (keepalived runs its scripts in /).
func checkStringFlags(c *cli.Context, set setFlags) error {
	for _, f := range c.Command.Flags {
		name, _ := flagName(f)
		x, given := set.globalContext(c, name)
		if !given {
			continue
		}
		var vals []string
		switch libFlag(f).(type) {
		case *cli.StringFlag:
			vals = []string{x.String(name)}
		case *cli.StringSliceFlag:
			vals = x.StringSlice(name)
		default:
			continue
		}
		for _, v := range vals {
			if !controlAllowed[name] && strings.ContainsFunc(v, isControl) {
				if !mayRelease(commandName(c)) {
					return usage("--%s: %q contains a control character", name, v)
				}
				e := getEnv(c)
				switch name {
				case "log-level", "syslog":
					continue // setupEnv used a safe value
				case "config", "config-id":
					// Released without the config, as when it is
					// missing (releaseWithoutConfig).
					e.configErr = fmt.Errorf("--%s: %q contains a control character: not using the config", name, v)
					e.log.Error("flag problem: releasing without the config (when in doubt, release)", "problem", e.configErr.Error())
				default:
					// --state-dir: the state dir refuses it where it
					// is used (config.CheckStateDirPath) and a release
					// goes ahead without it.
					e.flagProblem(fmt.Sprintf("--%s: %q contains a control character", name, v))
				}
				continue
			}
			switch name {
			case "interface", "dev":
				if err := config.ValidIfName(v); err != nil {
					return usage("--%s: %v", name, err)
				}
			case "state-dir":
				// An empty KAHOOK_STATE_DIR means the default; a
				// relative dir would depend on the working directory.
				// A command that may release (notify, fifo, release)
				// is not stopped here: a release never depends on the
				// state dir, which refuses such a path where it is
				// used (config.CheckStateDirPath), and releases anyway.
				if mayRelease(commandName(c)) {
					break
				}
				if v != "" && !filepath.IsAbs(v) {
					return usage("--state-dir: %q is not an absolute path", v)
				}
				if env, ok := os.LookupEnv("KAHOOK_STATE_DIR"); v == "" && (!ok || env != "") {
					return usage("--state-dir: empty path (leave the flag out for the default)")
				}
			}
		}
	}
	return nil
}

// globalContext is the context whose value of the global flag name
// counts: the innermost one where it was given (`kahook config check
// --json` and `kahook --json config check` mean the same), else c itself
// for the default; given says whether it was given anywhere.
func (s setFlags) globalContext(c *cli.Context, name string) (x *cli.Context, given bool) {
	for _, x := range c.Lineage() {
		if x.Command == nil {
			continue
		}
		if f := findFlag(x.Command.Flags, name); f != nil && s.isSet(x, f) {
			return x, true
		}
	}
	return c, false
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if n, _ := flagName(f); n == name {
			return f
		}
	}
	return nil
}

// setFlags holds, per context of a run, the names of the flags given
// there (on the command line or, for the app's flags, from the
// environment): what cli.Context.IsSet answers, without its cost. IsSet
// looks the flag up by name through every command's flags, and cli v2's
// Flag.Names() runs a regular expression per name: the flag checks of
// one `kahook check tcp` called it some 2,000 times, 80% of the run's
// instructions (issue 18).
type setFlags map[*cli.Context]map[string]bool

// newSetFlags records the flags given in c and its ancestors.
func newSetFlags(c *cli.Context) setFlags {
	s := setFlags{}
	for _, x := range c.Lineage() {
		if x.Command == nil {
			continue
		}
		names := map[string]bool{}
		// LocalFlagNames: the names the command line set in x's flag
		// set, and every name of a flag set from the environment.
		for _, n := range x.LocalFlagNames() {
			names[n] = true
		}
		s[x] = names
	}
	return s
}

// isSet says whether flag f of x's command was given in x (under any of
// its names), as x.IsSet(f's name) does.
func (s setFlags) isSet(x *cli.Context, f cli.Flag) bool {
	name, aliases := flagName(f)
	if s[x][name] {
		return true
	}
	for _, a := range aliases {
		if s[x][a] {
			return true
		}
	}
	return false
}

// flagName is f.Names() (the name, then the aliases) without its cost:
// cli v2 passes each name through a regular expression that cuts
// v1-style "name, alias" strings, and kahook has none (TestFlagNames
// checks every flag of the tree).
func flagName(f cli.Flag) (name string, aliases []string) {
	switch f := libFlag(f).(type) {
	case *cli.StringFlag:
		return f.Name, f.Aliases
	case *cli.BoolFlag:
		return f.Name, f.Aliases
	case *cli.IntFlag:
		return f.Name, f.Aliases
	case *cli.Int64Flag:
		return f.Name, f.Aliases
	case *cli.UintFlag:
		return f.Name, f.Aliases
	case *cli.Float64Flag:
		return f.Name, f.Aliases
	case *cli.DurationFlag:
		return f.Name, f.Aliases
	case *cli.StringSliceFlag:
		return f.Name, f.Aliases
	case *cli.GenericFlag:
		return f.Name, f.Aliases
	}
	names := f.Names()
	return names[0], names[1:]
}

// setupEnv reads the global flags wherever they were given, checks them
// and builds the env the command's action uses.
func setupEnv(c *cli.Context, set setFlags) error {
	gc := func(name string) *cli.Context { x, _ := set.globalContext(c, name); return x }
	str := func(name string) string { return gc(name).String(name) }
	flag := func(name string) bool { return gc(name).Bool(name) }
	// A command that may release is not stopped by a flag it cannot
	// use: the problem is logged at error level once the logger is up,
	// a safe value is used instead, and the run exits 1 (flagProblem).
	releasing := mayRelease(commandName(c))
	var problems []string
	level, err := logging.ParseLevel(str("log-level"))
	if err != nil {
		if !releasing {
			return usage("--log-level: %v", err)
		}
		level = slog.LevelInfo
		problems = append(problems, fmt.Sprintf("--log-level: %v (using info)", err))
	}
	syslog := str("syslog")
	switch syslog {
	case "auto", "on", "off":
	default:
		if !releasing {
			return usage("--syslog: expected auto, on or off, got %q", syslog)
		}
		problems = append(problems, fmt.Sprintf("--syslog: expected auto, on or off, got %q (using auto)", syslog))
		syslog = "auto"
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	_, configSet := set.globalContext(c, "config")
	log, closeLog := logging.New(logging.Options{Level: level, Stderr: stderr, Syslog: syslog, SyslogAddr: str("syslog-addr")})
	e := &env{
		log: log, close: closeLog, stdout: stdout, stderr: stderr,
		configPath: str("config"), configSet: configSet, configID: str("config-id"),
		json: flag("json"), dryRun: flag("dry-run"), stateDir: str("state-dir"),
		syslog: syslog, syslogAddr: str("syslog-addr"),
	}
	c.App.Metadata[envMetadata] = e
	if p, ok := c.App.Metadata[rescueMetadata].(string); ok {
		problems = append([]string{p}, problems...)
	}
	for _, p := range problems {
		e.flagProblem(p)
	}
	return nil
}

// flagProblem records and logs (error level) a flag problem of a
// command that may release: the run goes on with a safe value, a MASTER
// transition is refused (refuseMaster), and the run exits 1
// (withFlagProblems).
func (e *env) flagProblem(msg string) {
	e.problems = append(e.problems, msg)
	e.log.Error("flag problem: going on with a safe value, a release is never stopped by a flag (when in doubt, release)", "problem", msg)
}

// refuseMaster is why a MASTER transition must not run (exit 2, nothing
// changed): a flag problem, or a config made unusable by a flag; nil
// when there is none.
func (e *env) refuseMaster() error {
	lines := slices.Clone(e.problems)
	if e.configErr != nil {
		lines = append(lines, e.configErr.Error())
	}
	if len(lines) == 0 {
		return nil
	}
	return exitLines{append(lines, "refusing MASTER: a MASTER transition never runs on a flag kahook could not use"), exitUsage}
}

// withFlagProblems is a command's result with its flag problems: an
// action that succeeded or failed (exit 1) exits 1 and prints them; a
// usage error (exit 2) stays as it is.
func (e *env) withFlagProblems(err error) error {
	if e == nil || len(e.problems) == 0 {
		return err
	}
	var ec cli.ExitCoder
	if err != nil && (!errors.As(err, &ec) || ec.ExitCode() != exitFailed) {
		return err
	}
	lines := slices.Clone(e.problems)
	if err != nil {
		var ml exitLines
		if errors.As(err, &ml) {
			lines = append(lines, ml.lines...)
		} else if msg := err.Error(); msg != "" {
			lines = append(lines, msg)
		}
	}
	return exitLines{lines, exitFailed}
}

// escapeControl makes a message safe to print as one line: control
// characters (a newline in an instance name from argv, a FIFO line, a
// config word) are written as Go escapes, so no value can start a forged
// log line (issue 15 case 7).
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := fmt.Sprintf("%q", string(r))
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029'
}

// mayRelease: the command may run a release (BACKUP, FAULT, STOP), which
// no flag about the state dir may stop.
func mayRelease(name string) bool {
	first, _, _ := strings.Cut(name, " ")
	return first == "notify" || first == "fifo" || first == "release"
}
