package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
)

// keepalived 2.2.7 reads the numbers of its config with C's strtoul family
// (lib/parser.c: read_unsigned, read_int, read_decimal_unsigned_long_func
// behind read_timer; lib/utils.c: inet_stosockaddr for ports, inet_stor
// for group range ends). kahook reads them to the same value and accepts
// and refuses the same words, except where keepalived reads a word to a
// value its writer cannot have meant (errNumDeliberate; README,
// "Deliberate differences").

var (
	errNumInvalid  = errors.New("not a number")
	errNumNegative = errors.New("negative")
	errNumRange    = errors.New("out of range")
	// errNumDeliberate wraps the refusals of words keepalived accepts.
	errNumDeliberate = errors.New("kahook refuses what keepalived misreads")
)

// whiteSpace is keepalived's WHITE_SPACE (lib/parser.c) and C's isspace.
const whiteSpace = " \t\f\n\r\v"

// trimLeftSpace is strings.TrimLeft(s, whiteSpace) and onlyDigits is
// strings.Trim(s, "0123456789") == "" (true for ""), as loops: the
// library builds its cutset on every call, and every number of a config
// comes through here (a fifth of parsing 1,000 services x 10).
func trimLeftSpace(s string) string {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return s[i:]
}

// isSpace: c is in whiteSpace.
func isSpace(c byte) bool { return c == ' ' || ('\t' <= c && c <= '\r') }

func onlyDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// maxTimer is the longest time kahook holds, in microseconds (1e9 s).
const maxTimer = 1e15

// strtoull is C's strtoull(s, &end, base) for base 10 or 16 (glibc): it
// skips leading white space, takes one '+' or '-' (a '-' negates the
// result modulo 2^64), for base 16 an optional 0x or 0X before a hex
// digit, then the digits. rest is what follows the digits, or all of s
// when there are none; erange is C's ERANGE (the value is then
// math.MaxUint64).
func strtoull(s string, base uint64) (v uint64, erange bool, rest string) {
	t := trimLeftSpace(s)
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if base == 16 && len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') && digitValue(t[2]) < 16 {
		t = t[2:]
	}
	i := 0
	for ; i < len(t); i++ {
		d := digitValue(t[i])
		if d >= base {
			break
		}
		if v > (math.MaxUint64-d)/base {
			erange = true
		}
		v = v*base + d
	}
	if i == 0 {
		return 0, false, s
	}
	switch {
	case erange:
		v = math.MaxUint64
	case neg:
		v = -v
	}
	return v, erange, t[i:]
}

// digitValue is c's value as a digit of base up to 16 (16 and more: none).
func digitValue(c byte) uint64 {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0')
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10
	}
	return 16
}

// plainNumber: s is what a writer means by a number: optional leading
// white space (inside quotes), one optional sign (a '-' only where
// negative allows it), and at least one decimal digit, alone.
func plainNumber(s string, negative bool) bool {
	t := trimLeftSpace(s)
	if t != "" && (t[0] == '+' || (negative && t[0] == '-')) {
		t = t[1:]
	}
	return t != "" && onlyDigits(t)
}

// readUnsigned reads a number as keepalived's read_unsigned (base 10):
// leading white space, an optional '+', decimal digits (leading zeros
// allowed: "010" is 10); a '-' is refused (errNumNegative), so are other
// characters (errNumInvalid) and values above 4294967295 (errNumRange).
// keepalived reads an empty word ("" or blanks in quotes) as 0; kahook
// refuses it (errNumDeliberate).
func readUnsigned(s string) (uint64, error) {
	t := trimLeftSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, errNumNegative
	}
	v, erange, rest := strtoull(t, 10)
	switch {
	case rest != "":
		return 0, errNumInvalid
	case erange || v > math.MaxUint32:
		return 0, errNumRange
	case !plainNumber(s, false):
		return 0, errNoDigits
	}
	return v, nil
}

// errNoDigits is readUnsigned's and readInt's refusal of a word without
// digits.
var errNoDigits = fmt.Errorf("%w: it has no digits (keepalived reads it as 0): write 0", errNumDeliberate)

// readInt reads a number as keepalived's read_int (strtol, base 10):
// leading white space, an optional sign, decimal digits; values outside
// a 32-bit int are errNumRange. An empty word is refused as readUnsigned
// refuses it.
func readInt(s string) (int64, error) {
	t := trimLeftSpace(s)
	neg := strings.HasPrefix(t, "-")
	if neg {
		t = "+" + t[1:] // the magnitude, with strtol's rules after a sign
	}
	v, erange, rest := strtoull(t, 10)
	switch {
	case rest != "":
		return 0, errNumInvalid
	case erange || v > math.MaxInt32+1 || (!neg && v > math.MaxInt32):
		return 0, errNumRange
	case !plainNumber(s, true):
		return 0, errNoDigits
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

// serverPort reads the port of a virtual_server, real_server,
// sorry_server or virtual_server_group entry as keepalived does: a word of
// zeros only ("", "0", "00") is no port (0, alloc_vs/alloc_rs); anything
// else goes to read_unsigned in [1, 65535] (inet_stosockaddr), so "+80"
// and "080" are 80 while "+0" is refused.
func serverPort(s string) (uint16, error) {
	if strings.Count(s, "0") == len(s) {
		return 0, nil
	}
	v, err := readUnsigned(s)
	if errors.Is(err, errNumDeliberate) || (err == nil && (v < 1 || v > 65535)) {
		return 0, errNumRange // keepalived too: 0 is below 1
	}
	return uint16(v), err
}

// readTimer reads keepalived's decimal seconds into microseconds as
// read_decimal_unsigned_long_func with 6 decimals does: a leading '-' is
// refused; the decimal point is dropped and zeros added up to 6 decimals,
// and the result goes to strtoull (so leading white space and a '+' are
// accepted: "+1.5" is 1500000 µs). More than 6 decimals: tooPrecise
// (keepalived reports it, -t fails) and the value is rounded up when the
// 7th decimal is 5 or more. keepalived also reads words without digits
// ("", ".") as 0, a sign after the point (".+5" is 0.05 s) and a '-'
// after blanks (" -5" is 2^64 - 5000000 µs): kahook refuses those
// (errNumDeliberate).
func readTimer(s string) (us uint64, tooPrecise bool, err error) {
	if strings.HasPrefix(s, "-") {
		return 0, false, errNumNegative
	}
	whole, frac, _ := strings.Cut(s, ".")
	roundUp := false
	dropped := ""
	if len(frac) > 6 {
		tooPrecise, roundUp, dropped = true, frac[6] >= '5', frac[6:]
		frac = frac[:6]
	}
	v, erange, rest := strtoull(whole+frac+strings.Repeat("0", 6-len(frac)), 10)
	switch {
	case rest != "" || !onlyDigits(dropped):
		return 0, tooPrecise, errNumInvalid
	case erange:
		return 0, tooPrecise, errNumRange
	}
	t := strings.TrimPrefix(trimLeftSpace(s), "+")
	w, f, _ := strings.Cut(t, ".")
	if w+f == "" || !onlyDigits(w+f) {
		return 0, tooPrecise, fmt.Errorf("%w: keepalived reads it as %d µs: write the time as [+]SECONDS[.FRACTION]", errNumDeliberate, v)
	}
	if roundUp {
		v++
	}
	return v, tooPrecise, nil
}

// rangeEnd reads the end of a virtual_server_group range "A-END" (a
// number, not an address) as keepalived's inet_stor does: strtoul in base
// 10 for IPv4, 16 for IPv6 (where a 0x is allowed), at most 255 or
// 0xffff. errNumInvalid: characters after the number; errNumRange: too
// large (a '-' wraps around, so it is too large too).
func rangeEnd(s string, ipv6 bool) (uint64, error) {
	base, max := uint64(10), uint64(255)
	if ipv6 {
		base, max = 16, 0xffff
	}
	v, erange, rest := strtoull(s, base)
	switch {
	case rest != "":
		return 0, errNumInvalid
	case erange || v > max:
		return 0, errNumRange
	}
	return v, nil
}

// prefixLen reads the LEN of a virtual_server_group entry "A/LEN" as
// keepalived's alloc_vsg_entry does (strtoul, base 10, into an unsigned):
// 1 to bits. keepalived truncates the value to 32 bits, so "/4294967320"
// and "/-4294967272" are /24 there: kahook refuses those
// (errNumDeliberate), and words without digits keepalived refuses too.
func prefixLen(s string, bits int) (int, error) {
	v, _, rest := strtoull(s, 10)
	m := uint32(v)
	switch {
	case rest != "" || m == 0 || int(m) > bits:
		return 0, errNumInvalid
	case v > math.MaxUint32 || !plainNumber(s, false):
		return 0, fmt.Errorf("%w: keepalived truncates it to /%d: write /%d", errNumDeliberate, m, m)
	}
	return int(m), nil
}

// statusCodes checks the words of a url's status_code as keepalived's
// status_code_handler reads each one: strtoul in base 10 for the first
// code, and after a '-' for the last, into an unsigned; the word must end
// there, and both codes must be in 100-599 with first <= last. So "+200"
// and "0200-299" pass and "200,201" does not (one word, and ',' ends no
// number). keepalived truncates a code to 32 bits ("4294967496" is 200
// there, and so is "-4294967096"): kahook refuses those
// (errNumDeliberate).
func statusCodes(words []string) error {
	for _, w := range words {
		first, _, rest := strtoull(w, 10)
		last, wide := first, first > math.MaxUint32 || !plainNumber(w[:len(w)-len(rest)], false)
		if strings.HasPrefix(rest, "-") {
			r := rest[1:]
			last, _, rest = strtoull(r, 10)
			wide = wide || last > math.MaxUint32 || !plainNumber(r[:len(r)-len(rest)], false)
		}
		lo, hi := uint32(first), uint32(last)
		switch {
		case rest != "" || lo < 100 || lo > 599 || hi < 100 || hi > 599 || lo > hi:
			return fmt.Errorf("%q: %w", w, errNumInvalid)
		case wide:
			return fmt.Errorf("%q: %w: keepalived truncates it to %d-%d", w, errNumDeliberate, lo, hi)
		}
	}
	return nil
}

// digestBytes reads a url's digest as keepalived's digest_handler does:
// 32 characters, read as 16 pairs, each with strtoul in base 16, which
// must take both characters. A pair like "+f", " f" or "-f" passes there
// (0x0f, 0x0f, 0xf1): kahook refuses those (errNumDeliberate) and takes
// hex digits only, as genhash prints them.
func digestBytes(s string) error {
	if len(s) != 32 {
		return errNumInvalid
	}
	plain := true
	for i := 0; i < 32; i += 2 {
		pair := s[i : i+2]
		if _, _, rest := strtoull(pair, 16); rest != "" {
			return errNumInvalid
		}
		plain = plain && digitValue(pair[0]) < 16 && digitValue(pair[1]) < 16
	}
	if !plain {
		return fmt.Errorf("%w: keepalived reads a sign or blank in a pair of hex digits", errNumDeliberate)
	}
	return nil
}

// strtol0 is C's strtol(s, &end, 0) as keepalived's ~SEQ reads its
// numbers: leading white space, a sign, then 0x and hex digits, 0 and
// octal digits, or decimal digits. rest is what follows the number (all
// of s when there is none); erange: beyond a 64-bit long (C clamps).
func strtol0(s string) (v int64, erange bool, rest string) {
	t := trimLeftSpace(s)
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := uint64(10)
	switch {
	case len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') && digitValue(t[2]) < 16:
		base = 16
	case strings.HasPrefix(t, "0"):
		base = 8
	}
	if t == "" || digitValue(t[0]) >= base { // no digits (blanks after the sign too)
		return 0, false, s
	}
	u, erange, rest := strtoull(t, base)
	switch {
	case erange || (neg && u > 1<<63) || (!neg && u > math.MaxInt64):
		return 0, true, rest
	case neg:
		return -int64(u), false, rest
	}
	return int64(u), false, rest
}

// inetAton reads an IPv4 address as glibc's getaddrinfo does with
// AI_NUMERICHOST and AF_INET (__inet_aton_exact, as keepalived's
// pgr_handler reads a netmask): one to four parts separated by '.', each
// decimal, octal (a leading 0) or hex (0x); the last part fills the
// remaining bytes ("24" is 0.0.0.24, "255.255.255" is 255.255.0.255,
// "255.16777215" is 255.255.255.255); nothing else around it. ok is
// false where glibc refuses the word (measured with Python's
// socket.getaddrinfo on glibc 2.36).
func inetAton(s string) (a netip.Addr, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return a, false
	}
	var vals [4]uint64
	for i, p := range parts {
		base := uint64(10)
		switch {
		case len(p) > 1 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" {
			return a, false
		}
		var v uint64
		for j := 0; j < len(p); j++ {
			d := digitValue(p[j])
			if d >= base {
				return a, false
			}
			v = v*base + d
			if v > math.MaxUint32 {
				return a, false
			}
		}
		vals[i] = v
	}
	last := len(parts) - 1
	if vals[last] >= 1<<(8*(4-last)) && last > 0 || vals[last] > math.MaxUint32 {
		return a, false
	}
	var u uint64
	for i := 0; i < last; i++ {
		if vals[i] > 0xff {
			return a, false
		}
		u |= vals[i] << (8 * (3 - i))
	}
	u |= vals[last]
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}), true
}
