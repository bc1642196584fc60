package main

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
)

// timeValue is the value of every duration-like flag of kahook
// (--connect-timeout, --delay-before-retry, --misc-timeout, genhash
// --timeout, sync --deadline and --drain-timeout, garp --interval,
// --delay and --refresh, arp probe --timeout, doctor --probe-timeout):
// one rule for all of them, since an operator types `8` where one flag
// wanted `8s` and `2s` where another wanted `2`. A bare number is
// seconds (keepalived's unit for connect_timeout, delay_before_retry,
// misc_timeout, genhash -t: 8, 0.5); a Go duration (8s, 500ms, 1m30s)
// is that duration. Non-finite values are refused; the bounds
// (negative, zero, maxFlags) are checkNumericFlags', on secs (a number
// of seconds too big for a time.Duration is kept there, so the bound
// names it).
type timeValue struct {
	d    time.Duration
	secs float64
}

// errBelowNanosecond refuses a positive time that rounds to 0.
var errBelowNanosecond = errors.New("a positive time below a nanosecond")

// errTimeForm is what a duration-like flag accepts, for its error.
var errTimeForm = errors.New("expected seconds (8, 0.5) or a duration (8s, 500ms, 1m30s)")

func (v *timeValue) Set(s string) error {
	d, secs, err := parseTime(s)
	if err != nil {
		return err
	}
	v.d, v.secs = d, secs
	return nil
}

// String is the default shown by --help: whole seconds as 60s, else a
// Go duration (300ms, 1.5s).
func (v *timeValue) String() string {
	if v == nil {
		return ""
	}
	if v.d%time.Second == 0 {
		return strconv.FormatInt(int64(v.d/time.Second), 10) + "s"
	}
	return v.d.String()
}

// parseTime reads a bare number of seconds or a Go duration; secs is
// the value in seconds (d saturates where secs is beyond a Duration).
func parseTime(s string) (d time.Duration, secs float64, err error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, 0, errTimeForm
		}
		switch limit := float64(math.MaxInt64) / float64(time.Second); {
		case f > limit:
			return math.MaxInt64, f, nil
		case f < -limit:
			return math.MinInt64, f, nil
		}
		d := time.Duration(f * float64(time.Second))
		if f > 0 && d == 0 {
			// Positive in seconds but 0 as a Duration: the bounds,
			// checked on secs, would let it through as 0 (no timeout).
			return 0, 0, errBelowNanosecond
		}
		return d, f, nil
	}
	d, err = time.ParseDuration(s)
	if err != nil {
		return 0, 0, errTimeForm
	}
	return d, d.Seconds(), nil
}

// timeFlag is a duration-like flag (timeValue) with its default; its
// help names the accepted forms.
func timeFlag(name string, aliases []string, def time.Duration, usage string) *cli.GenericFlag {
	return &cli.GenericFlag{Name: name, Aliases: aliases, Value: &timeValue{def, def.Seconds()},
		Usage: usage + " (`TIME`: seconds, 5 or 0.5, or a duration, 500ms or 1m)"}
}

// flagTime is the value of the duration-like flag name (timeFlag) in c.
func flagTime(c *cli.Context, name string) time.Duration {
	if v, ok := c.Generic(name).(*timeValue); ok {
		return v.d
	}
	return 0
}

// flagDashes matches a flag named in Go's flag package errors
// ("invalid value "8x" for flag -deadline", "flag provided but not
// defined: -bogus", "flag needs an argument: -deadline").
// Compiled on first use: a regular expression compiled at package init
// is paid by every run, `check tcp` included (issue 18, process start).
var flagDashes = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(flag(?: provided but not defined:| needs an argument:)?) -([A-Za-z0-9][A-Za-z0-9-]+)`)
})

// flagParseError is a flag-parse error as kahook writes flags: a long
// name with two dashes (--deadline), a one-letter one with one (-c).
func flagParseError(err error) string {
	return flagDashes().ReplaceAllString(err.Error(), "$1 --$2")
}
