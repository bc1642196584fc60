package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/notify"
)

// argvError is a usage error in the words of the command line itself: a
// flag urfave/cli refused (unknown, a value that does not parse, a value
// missing) or notify's arguments. rescueRelease may read past it; an
// error found later (in the config, the system) is not one.
type argvError struct{ error }

func (e argvError) Unwrap() error { return e.error }

// rescueMetadata is the app metadata key of the problem a rescued run
// starts with (setupEnv records it as a flag problem).
const rescueMetadata = "rescue"

// rescueRelease runs again, as a release, a `notify` or `fifo` command
// line refused for its words (argvError), so that no flag or argument
// kahook cannot parse stops a release (DESIGN.md's fail safe: when in
// doubt, release). The case it is for: keepalived.conf written for
// another kahook version (a flag this one does not know, after a
// downgrade), or a hand-edited notify line with a typo. keepalived
// discards a script's output and its exit code, so a refused BACKUP would
// leave the VIP bound with nothing but a log line.
//
// The words are read leniently, but never in doubt (rescueArgv): flags
// kahook does not know or cannot parse are left out, and notify's event
// is keepalived's TYPE NAME STATE PRIORITY at the end of the line (a
// priority that does not parse does not matter to a release) or notify's
// own STATE INSTANCE as its last words, alone on the line.
// The rescued run starts with the refusal as a flag problem: it is logged
// at error level, a MASTER transition (notify master, a FIFO MASTER line)
// is refused as for any flag problem (refuseMaster), and the run exits 1
// at best. A `notify master` line is not rescued: it exits 2 as before,
// nothing changed. A --dry-run anywhere on the line keeps the rescue a
// dry run.
//
// It returns the rescued run's exit code and true, or false when args
// are not a release it can read (err then stands as it is).
func rescueRelease(args []string, err error, stdout, stderr io.Writer) (int, bool) {
	var ae argvError
	if !errors.As(err, &ae) || isTerminal(stderr) {
		// At a terminal an operator reads the refusal and types the line
		// again; keepalived runs its scripts without one.
		return 0, false
	}
	rescued, ok := rescueArgv(args)
	if !ok {
		return 0, false
	}
	app := newApp(stdout, stderr)
	app.Metadata[rescueMetadata] = fmt.Sprintf("command line refused: %v; run as %q instead (a release is never stopped by its command line)",
		err, strings.Join(rescued[1:], " "))
	code := run1(app, rescued, stderr)
	return max(code, exitFailed), true
}

// rescueArgv reads a refused command line as `notify` or `fifo`, keeping
// only what a release needs: the global flags that say where (--config,
// --config-id, --state-dir), how to log (--log-level, --syslog,
// --syslog-addr) and --dry-run, each as given (a value kahook cannot use
// is then a flag problem of the rescued run, which releases anyway), and
// the event (typedEvent or stateInstance; for fifo, fifoWord). ok is
// false for any other command, a line asking for help, or no event it can
// read without doubt.
func rescueArgv(args []string) (out []string, ok bool) {
	if len(args) < 2 {
		return nil, false
	}
	app := newApp(io.Discard, io.Discard)
	// takesValue: every flag of the app and of notify and fifo, by name
	// and alias; true when it takes a value (all but the boolean ones).
	takesValue := map[string]bool{}
	canonical := map[string]string{}
	addFlags := func(fs []cli.Flag) {
		for _, f := range fs {
			name, aliases := flagName(f)
			_, isBool := libFlag(f).(*cli.BoolFlag)
			for _, n := range append([]string{name}, aliases...) {
				takesValue[n] = !isBool
				canonical[n] = name
			}
		}
	}
	addFlags(app.Flags)
	commands := map[string]bool{"help": true, "h": true} // urfave/cli adds help when it runs
	for _, c := range app.Commands {
		for _, n := range c.Names() {
			commands[n] = true
		}
		if c.Name == "notify" || c.Name == "fifo" {
			addFlags(c.Flags)
		}
	}
	rest := args[1:]
	// keepalived appends TYPE NAME STATE PRIORITY to a `notify` script's
	// line: when the line ends so, those four words are the event, and
	// none of them is a flag's value.
	var event []string
	if typed, master := typedEvent(rest); typed != nil || master {
		if master {
			return nil, false
		}
		event, rest = typed, rest[:len(rest)-4]
	}
	keep := map[string]bool{"config": true, "config-id": true, "state-dir": true, "log-level": true, "syslog": true, "syslog-addr": true}
	var kept []string
	dryRun := false
	cmd := ""
	var words []string
	for i := 0; i < len(rest); i++ {
		w := rest[i]
		if w == "--" {
			words = append(words, rest[i+1:]...)
			break
		}
		if len(w) < 2 || w[0] != '-' {
			switch {
			case cmd != "":
				words = append(words, w)
			case w == "notify" || w == "fifo":
				cmd = w
			case commands[w]:
				return nil, false // another command, or help
			}
			// Before the command: an unknown flag's value.
			continue
		}
		name, value, inline := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if name == "help" || name == "h" {
			return nil, false
		}
		withValue, known := takesValue[name]
		if !known {
			if dryLike(w) {
				return nil, false // a dry run mistyped: never a real release
			}
			continue // unknown: left out, and taken as taking no value
		}
		if withValue && !inline {
			if i+1 >= len(rest) {
				continue // its value is missing
			}
			i++
			value = rest[i]
		}
		switch n := canonical[name]; {
		case n == "dry-run":
			// Any form but an explicit false keeps it a dry run.
			if b, err := strconv.ParseBool(value); !inline || err != nil || b {
				dryRun = true
			}
		case keep[n]:
			kept = append(kept, "--"+n+"="+value)
		}
	}
	switch cmd {
	case "":
		return nil, false
	case "notify":
		if event == nil {
			event = stateInstance(words)
		} else if eventWords(words) {
			return nil, false // another event before keepalived's
		}
	case "fifo":
		if event != nil {
			return nil, false // keepalived's notify words on a fifo line
		}
		event = fifoWord(words)
	}
	if event == nil {
		return nil, false
	}
	// A word left out that looks like an attempted dry run (-N, --dryrun,
	// an em dash pasted for "--"): no rescue, since a dry run's preview
	// must never become a real release.
	for _, w := range words {
		if dryLike(w) && !slices.Contains(event, w) {
			return nil, false
		}
	}
	out = []string{args[0]}
	if dryRun {
		out = append(out, "--dry-run")
	}
	out = append(out, kept...)
	out = append(out, cmd)
	if slices.ContainsFunc(event, func(w string) bool { return strings.HasPrefix(w, "-") }) {
		out = append(out, "--")
	}
	return append(out, event...), true
}

// typedEvent reads the last four words of a line as keepalived's
// `INSTANCE|GROUP NAME STATE PRIORITY` (a priority that starts as a
// number but does not parse made 0: a release does not use it). It returns them when they are a
// release, master true when they are a MASTER, and neither when the line
// does not end so.
func typedEvent(ws []string) (event []string, master bool) {
	if len(ws) < 4 {
		return nil, false
	}
	cand := slices.Clone(ws[len(ws)-4:])
	if cand[0] != "INSTANCE" && cand[0] != "GROUP" {
		return nil, false
	}
	ev, err := notify.ParseArgs(cand)
	if err != nil {
		// Only a priority that starts as a number (100x, 1e2) is taken
		// for a bad one: `INSTANCE VI_2 backup VI_1` is not an event.
		if p := cand[3]; p == "" || p[0] < '0' || p[0] > '9' {
			return nil, false
		}
		cand[3] = "0"
		if ev, err = notify.ParseArgs(cand); err != nil {
			return nil, false
		}
	}
	if ev.State == notify.Master {
		return nil, true
	}
	return cand, false
}

// stateInstance reads notify's own form, `STATE INSTANCE`, as the last
// two words, and only when nothing else on the line could be an event: no
// other state word (a MASTER anywhere means no rescue: `notify master VI_1
// backup VI_2` is not a release of VI_2) and no INSTANCE or GROUP word.
// It returns nil otherwise, or when the state is not a release.
func stateInstance(ws []string) []string {
	if len(ws) < 2 || eventWords(ws[:len(ws)-2]) || eventWords(ws[len(ws)-1:]) {
		return nil
	}
	cand := ws[len(ws)-2:]
	ev, err := notify.ParseArgs(cand)
	if err != nil || ev.State == notify.Master {
		return nil
	}
	return slices.Clone(cand)
}

// fifoWord is the FIFO's path among a fifo line's words: the last one
// that names a FIFO (keepalived appends the path it made to
// notify_fifo_script's line), or nil when none does.
func fifoWord(ws []string) []string {
	for i := len(ws) - 1; i >= 0; i-- {
		if fi, err := os.Stat(ws[i]); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			return ws[i : i+1]
		}
	}
	return nil
}

// eventWords: ws hold a word of an event (a state, INSTANCE or GROUP).
func eventWords(ws []string) bool {
	for _, w := range ws {
		switch strings.ToUpper(w) {
		case "INSTANCE", "GROUP", "MASTER", "BACKUP", "FAULT", "STOP", "DELETED":
			return true
		}
	}
	return false
}

// dryLike: w, without its leading dashes (ASCII or typographic) and case,
// is -n or holds "dry": an attempted --dry-run kahook did not read as one.
func dryLike(w string) bool {
	t := strings.ToLower(strings.TrimLeft(w, "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"))
	return t == "n" || strings.Contains(t, "dry")
}
