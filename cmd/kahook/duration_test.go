package main

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestTimeFlagsOneRule: every duration-like flag of every command takes
// a bare number of seconds and a Go duration alike (`sync --deadline 8`
// and `check tcp --connect-timeout 2s` both parse), and a value of
// neither form is a usage error naming the flag with two dashes and the
// forms accepted. The bound check, which runs before the command acts,
// shows how each form was read: 1 second past the bound, as a number
// and as a duration, gives the same message in seconds.
func TestTimeFlagsOneRule(t *testing.T) {
	n := 0
	leaves(nil, newApp(io.Discard, io.Discard).Commands, func(path []string, cmd *cli.Command) {
		for _, f := range cmd.Flags {
			name, _ := flagName(f)
			switch x := libFlag(f).(type) {
			case *cli.DurationFlag, *cli.Float64Flag:
				t.Errorf("%s --%s: a %T, not timeFlag: it reads time by another rule", strings.Join(path, " "), name, x)
				continue
			case *cli.GenericFlag:
				if _, ok := x.Value.(*timeValue); !ok {
					continue
				}
			default:
				continue
			}
			n++
			max := maxFlags[name]
			if max == 0 {
				t.Errorf("--%s has no bound in maxFlags", name)
				continue
			}
			t.Run(strings.Join(path, " ")+" --"+name, func(t *testing.T) {
				over := fmt.Sprintf("at most %v seconds, got %v seconds", max, max+1)
				for _, v := range []string{fmt.Sprint(max + 1), fmt.Sprintf("%vs", max+1), fmt.Sprintf("%dms", int64(max+1)*1000)} {
					code, _, errs := kahook(append(append([]string{}, path...), "--"+name, v)...)
					if code != 2 || !strings.Contains(errs, "--"+name+": "+over) {
						t.Errorf("--%s %s: exit %d, want 2 with %q:\n%s", name, v, code, over, errs)
					}
				}
				code, _, errs := kahook(append(append([]string{}, path...), "--"+name, "8x")...)
				want := `invalid value "8x" for flag --` + name + ": expected seconds (8, 0.5) or a duration (8s, 500ms, 1m30s)"
				if code != 2 || !strings.Contains(errs, want) {
					t.Errorf("--%s 8x: exit %d, want 2 with %q:\n%s", name, code, want, errs)
				}
			})
		}
	})
	if n < 10 {
		t.Errorf("%d duration-like flags found, want the 10 or more kahook has", n)
	}
	// Both forms run a check: a refused connect is a failed check (1),
	// not a usage error (2).
	for _, v := range []string{"2", "0.5", "2s", "500ms"} {
		if code, _, errs := kahook("check", "tcp", "--connect-timeout", v, "--retry", "1", "--delay-before-retry", v, "127.0.0.1:1"); code != 1 {
			t.Errorf("check tcp --connect-timeout %s: exit %d, want 1:\n%s", v, code, errs)
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		secs float64
		ok   bool
	}{
		{"8", 8, true}, {"0.5", 0.5, true}, {"8s", 8, true}, {"500ms", 0.5, true}, {"1m30s", 90, true},
		{"0", 0, true}, {"-1", -1, true}, {"99999999999", 99999999999, true},
		{"8x", 0, false}, {"", 0, false}, {"nan", 0, false}, {"inf", 0, false}, {"1e400", 0, false}, {"9999999999h", 0, false},
		{"5e-10", 0, false}, {"0.0000000001", 0, false}, {"1e-9", 1e-9, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, secs, err := parseTime(tc.in)
			if (err == nil) != tc.ok || secs != tc.secs {
				t.Errorf("parseTime(%q) = %v, %v, %v; want %v seconds, ok %v", tc.in, d, secs, err, tc.secs, tc.ok)
			}
			if tc.ok && secs < 1e9 && d.Seconds() != secs {
				t.Errorf("parseTime(%q): duration %v is not %v seconds", tc.in, d, secs)
			}
		})
	}
}
