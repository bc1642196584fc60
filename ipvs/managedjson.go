package ipvs

import (
	"math"
	"net/netip"
	"strings"
)

// decodeManaged reads the managed-services file in the JSON saveManaged
// writes (an array of {"key": {"fwmark", "family", "protocol", "addr",
// "port"}, "owner"}) without encoding/json's reflection, which took most
// of reading the file of 1,000 services (issue 18). It accepts only a
// strict subset of what encoding/json reads into []managedEntry: those
// field names exactly, each at most once, non-negative integers without
// fraction or exponent that fit their field, printable ASCII strings
// without escapes, addresses netip.Addr's UnmarshalText takes. ok is false
// for anything else, and the caller then gives the text to json.Unmarshal:
// what the file means never depends on which of the two read it
// (TestDecodeManagedAgreesWithJSON).
func decodeManaged(data []byte) (list []managedEntry, ok bool) {
	// One string for the file: owners and addresses are parts of it.
	d := managedDecoder{b: string(data)}
	if !d.byte('[') {
		return nil, false
	}
	list = make([]managedEntry, 0, strings.Count(d.b, "{")/2) // an entry and its key
	if d.byte(']') {
		return []managedEntry{}, d.end()
	}
	for {
		e, ok := d.entry()
		if !ok {
			return nil, false
		}
		list = append(list, e)
		if d.byte(']') {
			return list, d.end()
		}
		if !d.byte(',') {
			return nil, false
		}
	}
}

type managedDecoder struct {
	b string
	i int
}

func (d *managedDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte consumes c after blanks, if it is next.
func (d *managedDecoder) byte(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end reports whether only blanks are left.
func (d *managedDecoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// str reads a string of printable ASCII without escapes.
func (d *managedDecoder) str() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.b[start : d.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return "", false
		}
		d.i++
	}
	return "", false
}

// uint reads a non-negative JSON integer (no fraction, no exponent) up
// to max.
func (d *managedDecoder) uint(max uint64) (uint64, bool) {
	d.ws()
	start := d.i
	var v uint64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		digit := uint64(d.b[d.i] - '0')
		if v > (max-digit)/10 {
			return 0, false
		}
		v = v*10 + digit
		d.i++
	}
	n := d.i - start
	if n == 0 || (n > 1 && d.b[start] == '0') {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return v, true
}

// fields reads the members of an object: field reads the value of the
// member named name and returns the member's number (0-31), or -1 for an
// unknown name or a bad value. A name given twice is refused.
func (d *managedDecoder) fields(field func(name string) int) bool {
	if !d.byte('{') {
		return false
	}
	if d.byte('}') {
		return true
	}
	var seen uint32
	for {
		name, ok := d.str()
		if !ok || !d.byte(':') {
			return false
		}
		id := field(name)
		if id < 0 || seen&(1<<id) != 0 {
			return false
		}
		seen |= 1 << id
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

func (d *managedDecoder) entry() (managedEntry, bool) {
	var e managedEntry
	ok := d.fields(func(name string) int {
		switch name {
		case "key":
			k, ok := d.key()
			e.Key = k
			return okID(0, ok)
		case "owner":
			s, ok := d.str()
			e.Owner = s
			return okID(1, ok)
		}
		return -1
	})
	return e, ok
}

func okID(id int, ok bool) int {
	if !ok {
		return -1
	}
	return id
}

func (d *managedDecoder) key() (ServiceKey, bool) {
	var k ServiceKey
	ok := d.fields(func(name string) int {
		switch name {
		case "fwmark":
			v, ok := d.uint(math.MaxUint32)
			k.FWMark = uint32(v)
			return okID(0, ok)
		case "family":
			v, ok := d.uint(math.MaxInt32)
			k.Family = int(v)
			return okID(1, ok)
		case "protocol":
			v, ok := d.uint(math.MaxUint16)
			k.Protocol = Protocol(v)
			return okID(2, ok)
		case "addr":
			// netip.Addr's UnmarshalText, which encoding/json uses,
			// without its copy of the text.
			s, ok := d.str()
			if !ok {
				return -1
			}
			if s != "" {
				a, err := netip.ParseAddr(s)
				if err != nil {
					return -1
				}
				k.Addr = a
			}
			return 3
		case "port":
			v, ok := d.uint(math.MaxUint16)
			k.Port = uint16(v)
			return okID(4, ok)
		}
		return -1
	})
	return k, ok
}
