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
// The words are read leniently (rescueArgv): flags kahook does not know
// or cannot parse are left out, and notify's event is the last words that
// read as one (keepalived appends TYPE NAME STATE PRIORITY to a `notify`
// script; a priority that does not parse does not matter to a release).
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
	if !errors.As(err, &ae) {
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
// the event: for notify, the last words that parse as `STATE INSTANCE`
// or `INSTANCE|GROUP NAME STATE PRIORITY` with a release state (BACKUP,
// FAULT, STOP, DELETED); for fifo, the FIFO's path (fifoWord).
// ok is false for any other command, or no such words.
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
	commands := map[string]bool{}
	for _, c := range app.Commands {
		for _, n := range c.Names() {
			commands[n] = true
		}
		if c.Name == "notify" || c.Name == "fifo" {
			addFlags(c.Flags)
		}
	}
	keep := map[string]bool{"config": true, "config-id": true, "state-dir": true, "log-level": true, "syslog": true, "syslog-addr": true}
	var kept []string
	dryRun := false
	cmd := ""
	var words []string
	rest := args[1:]
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
				return nil, false // another command
			}
			// Before the command: an unknown flag's value.
			continue
		}
		name, value, inline := strings.Cut(strings.TrimLeft(w, "-"), "=")
		withValue, known := takesValue[name]
		if !known {
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
	var event []string
	switch cmd {
	case "notify":
		event = releaseWords(words)
	case "fifo":
		event = fifoWord(words)
	}
	if event == nil {
		return nil, false
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

// releaseWords are the last words of ws that notify.ParseArgs reads as
// an event, when that event is a release, else nil. The typed form
// (INSTANCE|GROUP NAME STATE PRIORITY, its priority made 0 when it does
// not parse) wins: a MASTER line is never read as a release of a name
// found elsewhere on it.
func releaseWords(ws []string) []string {
	parse := func(cand []string) (notify.Event, bool) {
		ev, err := notify.ParseArgs(cand)
		return ev, err == nil
	}
	for i := len(ws) - 4; i >= 0; i-- {
		cand := slices.Clone(ws[i : i+4])
		ev, ok := parse(cand)
		if !ok {
			cand[3] = "0"
			ev, ok = parse(cand)
		}
		if ok {
			if ev.State == notify.Master {
				return nil
			}
			return cand
		}
	}
	for i := len(ws) - 2; i >= 0; i-- {
		if ev, ok := parse(ws[i : i+2]); ok {
			if ev.State == notify.Master {
				return nil
			}
			return slices.Clone(ws[i : i+2])
		}
	}
	return nil
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
