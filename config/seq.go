package config

import (
	"fmt"
	"strconv"
	"strings"
)

// assignment is one definition a sequence sets before a line.
type assignment struct{ name, value string }

// sequence expands keepalived's sequence blocks (keepalived.conf(5),
// "Sequence blocks"; lib/parser.c add_seq, add_lst): the rest of the line
// is read once per value with the definitions set, which stay set
// afterwards as in keepalived.
//
//	~SEQ(VAR, END)  ~SEQ(VAR, START, END)  ~SEQ(VAR, START, STEP, END)
//	~SEQx(...) prints the values in hex (IPv6 addresses)
//	~LST(VAR, V1, V2, ...)  ~LST({A, B}, {a1, b1}, {a2, b2}, ...)
func (lx *lexer) sequence(pos Pos, text string, multiDef *string, depth int) {
	var runs [][]assignment
	var body string
	var err error
	if strings.HasPrefix(text, "~SEQ") {
		runs, body, err = lx.parseSeq(text)
	} else {
		runs, body, err = parseLst(text)
	}
	if err != nil {
		lx.errorf(pos, "%v", err)
		return
	}
	for _, run := range runs {
		for _, a := range run {
			lx.defs[a.name] = a.value
		}
		lx.processLine(pos, body, multiDef, depth+1)
	}
}

// maxSequence bounds one sequence (a typo like ~SEQ(i, 1, 1000000000)).
const maxSequence = 65536

func (lx *lexer) parseSeq(text string) ([][]assignment, string, error) {
	p := text[4:]
	hex := strings.HasPrefix(p, "x")
	if hex {
		p = p[1:]
	}
	p = strings.TrimLeft(p, " \t")
	if !strings.HasPrefix(p, "(") {
		return nil, "", fmt.Errorf("invalid ~SEQ specification %q: expected '('", text)
	}
	closing := strings.IndexByte(p, ')')
	if closing < 0 {
		return nil, "", fmt.Errorf("invalid ~SEQ specification %q: no ')'", text)
	}
	args := strings.Split(p[1:closing], ",")
	body := strings.TrimLeft(p[closing+1:], " \t")
	name := strings.TrimSpace(args[0])
	if name == "" || strings.ContainsAny(name, " \t") || len(args) < 2 || len(args) > 4 {
		return nil, "", fmt.Errorf("invalid ~SEQ definition %q: expected ~SEQ(VAR, [START, [STEP,]] END)", text)
	}
	nums := make([]int64, 0, 3)
	for _, a := range args[1:] {
		// keepalived expands definitions in the numbers (replace_param).
		a, _ = lx.expand(strings.TrimSpace(a))
		// keepalived reads it with strtol(p, &p, 0): 0x hex, 0 octal,
		// decimal, blanks and tabs around it.
		v, erange, rest := strtol0(a)
		if strings.Trim(rest, " \t") != "" {
			return nil, "", fmt.Errorf("invalid ~SEQ definition %q: %q is not a number", text, a)
		}
		if erange || strings.Trim(a, whiteSpace) == "" {
			// keepalived reads a missing number as 0 and clamps one
			// beyond 64 bits.
			return nil, "", fmt.Errorf("invalid ~SEQ definition %q: %q is not a number within 64 bits: %w", text, a, errNumDeliberate)
		}
		nums = append(nums, v)
	}
	var start, step, end int64
	switch len(nums) {
	case 1:
		end = nums[0]
		start, step = 1, 1
		if end < 0 {
			start = -1
		}
		if end < 1 {
			step = -1
		}
	case 2:
		start, end, step = nums[0], nums[1], 1
		if start > end {
			step = -1
		}
	case 3:
		start, step, end = nums[0], nums[1], nums[2]
		if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
			return nil, "", fmt.Errorf("invalid ~SEQ values %q", text)
		}
	}
	if hex && (start < 0 || end < 0) {
		return nil, "", fmt.Errorf("~SEQx is only valid for positive numbers: %q", text)
	}
	var runs [][]assignment
	for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
		if len(runs) >= maxSequence {
			return nil, "", fmt.Errorf("~SEQ %q: more than %d lines", text, maxSequence)
		}
		s := strconv.FormatInt(v, 10)
		if hex {
			s = strconv.FormatInt(v, 16)
		}
		runs = append(runs, []assignment{{name, s}})
	}
	return runs, body, nil
}

// parseLst reads ~LST(VAR, V1, V2...) and ~LST({A, B}, {a1, b1}, ...);
// missing values of a set are empty.
func parseLst(text string) ([][]assignment, string, error) {
	bad := func(why string) error { return fmt.Errorf("invalid ~LST specification %q: %s", text, why) }
	p := strings.TrimLeft(text[4:], " \t")
	if !strings.HasPrefix(p, "(") {
		return nil, "", bad("expected '('")
	}
	closing := strings.IndexByte(p, ')')
	if closing < 0 {
		return nil, "", bad("no ')'")
	}
	inner, body := p[1:closing], strings.TrimLeft(p[closing+1:], " \t")
	groups, err := splitSets(inner)
	if err != nil {
		return nil, "", bad(err.Error())
	}
	if len(groups) < 2 {
		return nil, "", bad("expected names and at least one value")
	}
	names := groups[0]
	for _, n := range names {
		if n == "" {
			return nil, "", bad("empty name")
		}
	}
	var runs [][]assignment
	for _, vals := range groups[1:] {
		if len(vals) > len(names) {
			return nil, "", bad("a set has more values than names")
		}
		run := make([]assignment, len(names))
		for i, n := range names {
			run[i] = assignment{name: n}
			if i < len(vals) {
				run[i].value = vals[i]
			}
		}
		runs = append(runs, run)
	}
	return runs, body, nil
}

// splitSets splits "A, B, C" into one-word sets and "{A, B}, {c, d}" into
// sets of several words.
func splitSets(s string) ([][]string, error) {
	var out [][]string
	s = strings.TrimSpace(s)
	for s != "" {
		if s[0] == '{' {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return nil, fmt.Errorf("'{' without '}'")
			}
			var set []string
			for _, w := range strings.Split(s[1:end], ",") {
				set = append(set, strings.TrimSpace(w))
			}
			out = append(out, set)
			s = strings.TrimSpace(s[end+1:])
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			out = append(out, []string{strings.TrimSpace(s[:end])})
			s = strings.TrimSpace(s[end:])
		}
		if s != "" {
			if s[0] != ',' {
				return nil, fmt.Errorf("expected ','")
			}
			s = strings.TrimSpace(s[1:])
		}
	}
	return out, nil
}
