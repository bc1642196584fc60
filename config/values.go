package config

import (
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Typed readers of keyword arguments. Each reports a file:line error and
// returns ok=false on a bad value, so the caller keeps its default.

func (b *builder) arg(n *Node, i int, what string) (string, bool) {
	if i >= len(n.Args) {
		b.errorf(n.Pos, "%s: missing %s", n.Key, what)
		return "", false
	}
	return n.Args[i], true
}

// one reads the single value of a keyword. keepalived reads only the
// words it needs and ignores the rest, so "path / status_code 200" on one
// line silently loses the status_code; kahook says so instead.
func (b *builder) one(n *Node, what string) (string, bool) {
	s, ok := b.arg(n, 0, what)
	if ok && len(n.Args) > 1 {
		b.errorf(n.Pos, "%s expects one value, got %q (put each keyword on its own line: keepalived would ignore the rest)", n.Key, strings.Join(n.Args, " "))
		return "", false
	}
	return s, ok
}

// timer reads keepalived's decimal seconds ("5", "1.5") as its read_timer
// does (readTimer). A value with more than six decimals is a problem
// (keepalived -t reports it) and is rounded as keepalived rounds it.
func (b *builder) timer(n *Node, min, max time.Duration) (time.Duration, bool) {
	s, ok := b.one(n, "a time in seconds")
	if !ok {
		return 0, false
	}
	us, tooPrecise, err := readTimer(s)
	if err == nil && us == math.MaxUint64 {
		err = errNumRange // above keepalived's TIMER_MAXIMUM, ULONG_MAX - 1
	}
	if err == nil && us > maxTimer {
		if max == 0 {
			// keepalived takes any timer up to ULONG_MAX microseconds;
			// kahook holds at most 1e9 s (31 years) and says so.
			b.warnf(n.Pos, "%s: %s s is more than 1e9 s: kahook uses 1e9 s", n.Key, s)
			us = maxTimer
		} else {
			err = errNumRange
		}
	}
	d := time.Duration(us) * time.Microsecond
	if err == nil && (d < min || (max > 0 && d > max)) {
		err = errNumRange
	}
	if err != nil {
		switch {
		case errors.Is(err, errNumDeliberate):
			b.errorf(n.Pos, "%s: %q: %v", n.Key, s, err)
		case max > 0:
			b.errorf(n.Pos, "%s: %q is not a time in seconds between %v and %v", n.Key, s, min.Seconds(), max.Seconds())
		default:
			b.errorf(n.Pos, "%s: %q is not a time in seconds (at least %v)", n.Key, s, min.Seconds())
		}
		return 0, false
	}
	if tooPrecise {
		b.problemf(n.Pos, "%s: %q has more than 6 decimals (keepalived: \"has too many decimal places\"): keepalived and kahook round it to %v s", n.Key, s, d.Seconds())
	}
	return d, true
}

// uintArg reads an unsigned integer in [min, max] from argument i, as
// keepalived's read_unsigned does (readUnsigned).
func (b *builder) uintArg(n *Node, i int, min, max uint64, what string) (uint64, bool) {
	s, ok := b.arg(n, i, what)
	if !ok {
		return 0, false
	}
	v, err := readUnsigned(s)
	if errors.Is(err, errNumDeliberate) && min == 0 {
		b.errorf(n.Pos, "%s: %q: %v", n.Key, s, err)
		return 0, false
	}
	if err != nil || v < min || v > max {
		b.errorf(n.Pos, "%s: %q is not a valid %s (%d-%d)", n.Key, s, what, min, max)
		return 0, false
	}
	return v, true
}

func (b *builder) intArg(n *Node, min, max int, what string) (int, bool) {
	if _, ok := b.one(n, what); !ok {
		return 0, false
	}
	v, ok := b.uintArg(n, 0, uint64(min), uint64(max), what)
	return int(v), ok
}

// addrOne reads a keyword whose single value is an address.
func (b *builder) addrOne(n *Node, what string) (netip.Addr, bool) {
	if _, ok := b.one(n, what); !ok {
		return netip.Addr{}, false
	}
	return b.addrArg(n, 0, what)
}

// addr reads an IPv4 or IPv6 address.
func (b *builder) addrArg(n *Node, i int, what string) (netip.Addr, bool) {
	s, ok := b.arg(n, i, what)
	if !ok {
		return netip.Addr{}, false
	}
	a, ok := inetAddr(s)
	if !ok {
		b.errorf(n.Pos, "%s: %q is not a valid IP address", n.Key, s)
		return netip.Addr{}, false
	}
	b.warnAddrSuffix(n, s, a)
	return a, true
}

// warnAddrSuffix warns when an address was written with a prefix or
// range after it, which keepalived (and kahook, as keepalived) leaves
// out: `real_server 198.51.100.12-20 80` is the one server
// 198.51.100.12, not nine.
func (b *builder) warnAddrSuffix(n *Node, text string, a netip.Addr) {
	if strings.ContainsAny(text, "-/") {
		b.warnf(n.Pos, "%s %s: keepalived reads only the address %s (what follows '-' or '/' is left out), and so does kahook: one address, not a range or prefix", n.Key, text, a)
	}
}

// inetAddr reads an address as keepalived's inet_stosockaddr
// (lib/utils.c) reads a server's, connect_ip's or bindto's: IPv6 when it
// holds a ':' (::ffff:10.0.0.1 is an IPv6 address there, not IPv4, and
// stays one here), anything from its first '-', else from its first '/',
// left out (10.0.0.1/24 and 10.0.0.1-20 are 10.0.0.1), and the rest as
// inet_pton reads it (no zone, no leading zeros in IPv4).
func inetAddr(s string) (netip.Addr, bool) {
	six := strings.Contains(s, ":")
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s = s[:i]
	} else if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is6() != six {
		return netip.Addr{}, false
	}
	return a, true
}

// portArg reads a server port from argument i as keepalived's
// inet_stosockaddr callers do (serverPort): a missing argument, or one of
// zeros only, is no port (0); anything else must be a port 1-65535
// (keepalived accepts "virtual_server IP" and "real_server IP" alone).
func (b *builder) portArg(n *Node, i int) (uint16, bool) {
	if i >= len(n.Args) {
		return 0, true
	}
	p, err := serverPort(n.Args[i])
	if errors.Is(err, errNumDeliberate) {
		b.errorf(n.Pos, "%s: port %q: %v", n.Key, n.Args[i], err)
		return 0, false
	}
	if err != nil {
		b.errorf(n.Pos, "%s: port %q out of range (1-65535, or 0 written as zeros only)", n.Key, n.Args[i])
		return 0, false
	}
	return p, true
}

// flag reads an optional on/off argument; a bare keyword means on.
func (b *builder) flag(n *Node) bool {
	if len(n.Args) == 0 {
		return true
	}
	switch strings.ToLower(n.Args[0]) {
	case "on", "true", "yes":
		return true
	case "off", "false", "no":
		return false
	}
	b.errorf(n.Pos, "%s: %q is not on/off, true/false or yes/no", n.Key, n.Args[0])
	return false
}

// smtpAlert checks smtp_alert's optional argument as keepalived's
// vs_smtp_alert_handler and rs_smtp_alert_handler do (check_true_false:
// true, on, yes, false, off or no, case as written): another is reported
// and read past. kahook sends no mail, so the value is not used.
func (b *builder) smtpAlert(n *Node, block string) {
	if len(n.Args) == 0 || trueFalse(n.Args[0]) {
		return
	}
	b.problemf(n.Pos, "Invalid %s smtp_alert parameter %s (keepalived reports it and reads past it)", block, n.Args[0])
}

// trueFalse: s is a word keepalived's check_true_false (lib/parser.c)
// reads, case as written.
func trueFalse(s string) bool {
	switch s {
	case "true", "on", "yes", "false", "off", "no":
		return true
	}
	return false
}

// switchOn reads a virtual_server switch keepalived 2.2.7 turns on
// whatever follows it (vs_inhibit_handler, vs_alpha_handler,
// omega_handler, hasuspend_handler take no argument: "inhibit_on_failure
// off" is on there, and `keepalived -t` says nothing): on, with a warning
// when an argument is given. The real_server forms read on/off (flag).
func (b *builder) switchOn(n *Node) bool {
	if len(n.Args) > 0 {
		b.warnf(n.Pos, "virtual_server %s takes no argument: keepalived turns it on whatever follows (%q), and so does kahook; remove the argument, or the line to leave it off", n.Key, strings.Join(n.Args, " "))
	}
	return true
}

// oneOf reads argument 0 and checks it against the allowed words.
func (b *builder) oneOf(n *Node, upper bool, allowed ...string) (string, bool) {
	what := "" // the message is built only when an argument is missing
	if len(n.Args) == 0 {
		what = "one of " + strings.Join(allowed, ", ")
	}
	s, ok := b.one(n, what)
	if !ok {
		return "", false
	}
	if upper {
		s = strings.ToUpper(s)
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	b.errorf(n.Pos, "%s: unknown value %q, expected one of %s", n.Key, n.Args[0], strings.Join(allowed, ", "))
	return "", false
}

// ParseStatusCodes reads keepalived's status_code forms ("200", "200-299",
// several of them) into a set; ok is false on a malformed or out-of-range
// entry (valid codes are 100-599).
func ParseStatusCodes(spec string) (StatusSet, bool) {
	var set StatusSet
	fields := strings.FieldsFunc(spec, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	if len(fields) == 0 {
		return set, false
	}
	for _, f := range fields {
		lo, hi, isRange := strings.Cut(f, "-")
		min, err1 := strconv.Atoi(lo)
		max := min
		var err2 error
		if isRange {
			max, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || min < 100 || max > 599 || min > max {
			return set, false
		}
		for c := min; c <= max; c++ {
			set.set(c)
		}
	}
	return set, true
}

// StatusSet is a set of HTTP status codes 100-599.
type StatusSet struct{ bits [8]uint64 }

func (s *StatusSet) set(code int) { s.bits[(code-100)/64] |= 1 << ((code - 100) % 64) }

// Has reports whether code is in the set.
func (s StatusSet) Has(code int) bool {
	if code < 100 || code > 599 {
		return false
	}
	return s.bits[(code-100)/64]&(1<<((code-100)%64)) != 0
}
