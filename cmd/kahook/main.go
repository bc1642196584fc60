// Command kahook is what keepalived runs instead of hand-written notify
// and check scripts. This package only wires flags to packages: no logic
// lives here.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/logging"
	"github.com/kahook/kahook/state"
)

// Stamped by -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	shortRunGC()
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// runMemoryLimit bounds a run's heap while its GC is off (shortRunGC):
// the runtime collects as usual only when the heap nears it. 1,000
// services x 10 (issue 18's bench) re-apply with under 40 MiB.
const runMemoryLimit = 1 << 30

// shortRunGC turns the GC off for a run, up to runMemoryLimit. kahook
// runs for milliseconds to seconds and exits; its heap is mostly the
// config and the IPVS table, live to the end, so collecting finds almost
// nothing: re-applying 1,000 x 10 in the VM spent about 120 ms of CPU in
// the GC's mark workers at GOGC=400 (issue 18). The runs that live as
// long as keepalived or a MASTER state (the FIFO reader, garp --follow
// and garp --refresh) collect again (longRunGC). GOGC and GOMEMLIMIT
// from the environment still win.
func shortRunGC() { setGC(-1, runMemoryLimit) }

// longRunGC restores collection for a run that lives as long as
// keepalived or a MASTER state (the FIFO reader; the gratuitous ARP
// follower of garp_master_refresh and garp --refresh, whose rounds
// allocate about 32 KB a second at a 1 s refresh): GOGC=400, no memory
// limit of kahook's own; GOGC and GOMEMLIMIT from the environment still
// win.
func longRunGC() { setGC(400, math.MaxInt64) }

// setGC sets the GC target (percent; -1: off) and the memory limit
// (bytes) kahook chooses, unless the environment chose them: GOGC leaves
// both as the runtime read them, GOMEMLIMIT the limit.
func setGC(percent int, limit int64) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(percent)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}

// Exit codes (DESIGN.md): 0 done/healthy, 1 failed/unhealthy, 2 usage or
// config error. Checks with --dynamic exit 2+weight, and 1 for a usage
// error (dynamicUsage).
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	envMetadata = "env"
)

// run executes the app and turns its error into an exit code; it never
// calls os.Exit itself so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	return run1(newApp(stdout, stderr), args, stderr)
}

// run1 is run with app; a notify or fifo refused for its command line is
// run again as a release (rescueRelease), once.
func run1(app *cli.App, args []string, stderr io.Writer) int {
	unknown := ""
	app.CommandNotFound = func(_ *cli.Context, name string) { unknown = name }
	err := app.Run(args)
	if unknown != "" && err == nil {
		err = usage("unknown command %q (kahook --help lists them)", unknown)
	}
	e, _ := app.Metadata[envMetadata].(*env)
	if e != nil {
		defer e.close()
	}
	// Under --dynamic, only a check's verdict may exit 0 or 2+: see
	// dynamicUsage.
	dynamic := dynamicArgv(args) && (e == nil || !e.verdict)
	if err == nil && !dynamic {
		return exitOK
	}
	code := exitUsage // anything but an ExitCoder is a usage error from flag parsing
	var ec cli.ExitCoder
	if err == nil {
		err, code = cli.Exit("", exitOK), exitOK
	} else if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	if dynamic && code != exitFailed {
		err, code = dynamicUsage(err, code), exitFailed
	}
	if _, rescued := app.Metadata[rescueMetadata]; code == exitUsage && !rescued {
		if c, ok := rescueRelease(args, err, app.Writer, app.ErrWriter); ok {
			return c
		}
	}
	// The message carries values from argv, the config, FIFO lines and
	// the network: each of its lines (a config's errors are one per
	// file:line, see exitLines) on one output line, control characters
	// escaped.
	var lines []string
	var ml exitLines
	if errors.As(err, &ml) {
		lines = ml.lines
	} else if msg := err.Error(); msg != "" {
		lines = []string{msg}
	}
	for i := range lines {
		lines[i] = escapeControl(lines[i])
		fmt.Fprintln(stderr, "kahook:", lines[i])
	}
	if e != nil && len(lines) > 0 {
		e.logFinal(code, strings.Join(lines, "; "))
	}
	return code
}

// exitLines is an exit error whose message is several lines kahook
// itself put together (one per config error or problem, each with
// file:line): printed one per line, each escaped on its own.
type exitLines struct {
	lines []string
	code  int
}

func (e exitLines) Error() string { return strings.Join(e.lines, "\n") }
func (e exitLines) ExitCode() int { return e.code }

// causedLines is exitLines made from another error, which errors.As
// still finds (a config's ErrorList, for `config check --json`).
type causedLines struct {
	exitLines
	cause error
}

func (e causedLines) Unwrap() []error { return []error{e.exitLines, e.cause} }

// errorLines splits a config.ErrorList into its errors; any other error
// is one line.
func errorLines(err error) []string {
	var list config.ErrorList
	if errors.As(err, &list) {
		out := make([]string, len(list))
		for i, e := range list {
			out[i] = e.Error()
		}
		return out
	}
	return []string{err.Error()}
}

// logFinal sends the final error to syslog too (when --syslog sends the
// logs there): keepalived discards what its scripts print, so a refused
// `notify` would otherwise leave no trace.
func (e *env) logFinal(code int, msg string) {
	if e.syslog == "off" || (e.syslog == "auto" && isTerminal(e.stderr)) {
		return
	}
	log, closeLog := logging.New(logging.Options{Level: slog.LevelError, Stderr: io.Discard, Syslog: "on", SyslogAddr: e.syslogAddr})
	defer closeLog()
	log.Error("kahook failed", "exit", code, "error", msg)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "kahook",
		Usage:                "keepalived notify/check hook: VIPs, ARP sysctls, gratuitous ARP, IPVS and health checks",
		Description:          "The global options work before or after the command: kahook config check --json FILE.",
		Version:              version,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		HideVersion:          true,
		// kahook decides its own exit codes in run().
		ExitErrHandler: func(*cli.Context, error) {},
		Metadata:       map[string]any{},
		Flags:          globalFlags(true, nil),
		Commands: []*cli.Command{
			notifyCommand(),
			fifoCommand(),
			releaseCommand(),
			checkCommand(),
			syncCommand(),
			reloadCommand(),
			ipvsCommand(),
			vipCommand(),
			sysctlCommand(),
			realserverCommand(),
			garpCommand(),
			arpCommand(),
			genhashCommand(),
			doctorCommand(),
			importCommand(),
			configCommand(),
			completionCommand(),
			versionCommand(),
			manCommand(),
		},
	}
	finishCommands(app.Commands)
	namedFlags(app.Flags)
	namedFlagsIn(app.Commands)
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return argvError{usage("%s", flagParseError(err))} }
	return app
}

// globalCategory marks the commands' copies of the global flags.
const globalCategory = "global options (also accepted before the command)"

// globalFlags are kahook's global flags. The app has them (with their
// environment variables, root true); every command has them again
// (without: an explicit flag must win over the environment), minus the
// names and aliases the command already uses (`ipvs show -c` is ipvsadm's
// connection list, not --config). The copies are hidden: help and the man
// page list the global options once.
func globalFlags(root bool, taken map[string]bool) []cli.Flag {
	env := func(name string) []string {
		if root {
			return []string{name}
		}
		return nil
	}
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: config.DefaultPath, Usage: "kahook config `FILE`", EnvVars: env("KAHOOK_CONFIG")},
		&cli.BoolFlag{Name: "json", Usage: "print results as JSON"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: dryRunUsage()},
		&cli.StringFlag{Name: "syslog", Value: "auto", Usage: "also log to syslog: auto (when stderr is not a terminal), on, off"},
		&cli.StringFlag{Name: "syslog-addr", Hidden: true, Usage: "syslog unixgram socket (tests)"},
		&cli.StringFlag{Name: "state-dir", Usage: "state and lock `DIR` (default: global_defs state_dir, else " + config.DefaultStateDir + ")", EnvVars: env("KAHOOK_STATE_DIR")},
		&cli.StringFlag{Name: "config-id", Usage: "id selecting '@id' config lines (keepalived -i; default: short host name)"},
	}
	if root {
		return flags
	}
	var out []cli.Flag
	for _, f := range flags {
		if name, _ := flagName(f); taken[name] {
			continue
		}
		switch f := f.(type) {
		case *cli.StringFlag:
			f.Aliases = slices.DeleteFunc(f.Aliases, func(a string) bool { return taken[a] })
			f.Category, f.Hidden = globalCategory, true
		case *cli.BoolFlag:
			f.Aliases = slices.DeleteFunc(f.Aliases, func(a string) bool { return taken[a] })
			f.Category, f.Hidden = globalCategory, true
		}
		out = append(out, f)
	}
	return out
}

// env is what every command needs from the global flags.
type env struct {
	log        *slog.Logger
	close      func()
	stdout     io.Writer
	stderr     io.Writer
	configPath string
	configSet  bool // --config given (else a missing default file may be fine)
	configID   string
	json       bool
	dryRun     bool
	stateDir   string
	syslog     string // --syslog, --syslog-addr: where the final error goes too
	syslogAddr string
	// verdict: a check ran and its result is the exit code (runCheck).
	verdict bool
	// problems: flag problems of a command that may release, which
	// went on with a safe value (flagProblem).
	problems []string
	// configErr: a flag (--config, KAHOOK_CONFIG, --config-id) made the
	// config unusable for a command that may release: loadConfig
	// returns it, so the release goes on without the config.
	configErr error
	// listsProblems: the command prints the config's problems itself
	// (config check, doctor), so loadConfig does not log them too.
	listsProblems bool
}

func getEnv(c *cli.Context) *env {
	return c.App.Metadata[envMetadata].(*env)
}

// loadConfig reads --config; a bad config is exit 2 with file:line.
func (e *env) loadConfig() (*config.Config, error) {
	if e.configErr != nil {
		return nil, exitLines{[]string{e.configErr.Error()}, exitUsage}
	}
	if _, err := os.Lstat(e.configPath); errors.Is(err, os.ErrNotExist) {
		// Said as such, not as a validation error deep in a path check.
		return nil, exitLines{[]string{missingConfig(e.configPath)}, exitUsage}
	}
	// As root, each file is checked (keepalived's script security rule)
	// before it is opened.
	cfg, err := config.Load(e.configPath, config.Options{ConfigID: e.configID, Secure: os.Geteuid() == 0})
	if err != nil {
		return nil, causedLines{exitLines{errorLines(err), exitUsage}, err}
	}
	for _, p := range cfg.Problems {
		// keepalived reports these and reads past them; so does kahook
		// (`config check` and `doctor` list them: no log line then).
		if e.listsProblems {
			break
		}
		e.log.Warn("config problem (skipped, as keepalived skips it)", "pos", p.Pos.String(), "problem", p.Msg)
	}
	for _, s := range cfg.Skipped {
		e.log.Debug("skipped keyword kahook does not use", "pos", s.Pos.String(), "keyword", s.Keyword, "in", s.Context)
	}
	return cfg, nil
}

// missingConfig is the error line for a config file that does not exist,
// or for an empty path (an empty --config or KAHOOK_CONFIG, or an empty
// `config check` FILE): said as such, not as a file "" that is missing.
func missingConfig(path string) string {
	if path == "" {
		return fmt.Sprintf("config file path is empty: give a FILE (--config FILE or KAHOOK_CONFIG), or leave both out for the default %s", config.DefaultPath)
	}
	return fmt.Sprintf("config file %q is missing (--config FILE or KAHOOK_CONFIG; default %s)", path, config.DefaultPath)
}

// resolveStateDir: --state-dir, else the config's state_dir.
func (e *env) resolveStateDir(cfg *config.Config) string {
	if e.stateDir != "" {
		return e.stateDir
	}
	if cfg != nil && cfg.Global.StateDir != "" {
		return cfg.Global.StateDir
	}
	return config.DefaultStateDir
}

// stateFailed is failed for an error preparing the state dir, except
// that an unsafe one (state.UnsafeError: a path a non-root user can
// change, refused before anything is created) is bad input, exit 2, as
// for a MASTER transition and reload.
func stateFailed(err error) error {
	var unsafe *state.UnsafeError
	if errors.As(err, &unsafe) {
		return usage("%v", err)
	}
	return failed(err)
}

func failed(err error) error {
	if err == nil {
		return nil
	}
	return cli.Exit(err.Error(), exitFailed)
}

func usage(format string, args ...any) error {
	return cli.Exit(fmt.Sprintf(format, args...), exitUsage)
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print version, commit and Go version",
		Action: func(c *cli.Context) error {
			e := getEnv(c)
			if e.json {
				return printJSON(e.stdout, map[string]string{"version": version, "commit": commit, "go": runtime.Version()})
			}
			fmt.Fprintf(e.stdout, "kahook %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
