// Package sysctl owns the ARP sysctls of LVS nodes: arp_ignore and
// arp_announce under net.ipv4.conf.{all,lo,IFACE}.
//
// The kernel takes max(conf/all, conf/IFACE) for both knobs, so setting a
// value on lo or on the interface alone is not enough when all holds a
// bigger one, and setting it on lo alone (the most common mistake) does
// nothing for the interface ARP requests arrive on.
package sysctl

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/config"
)

// Knobs kahook manages.
const (
	ArpIgnore   = "arp_ignore"
	ArpAnnounce = "arp_announce"
)

// Setting is one knob's value for a role, and why.
type Setting struct {
	Knob   string
	Value  int
	Reason string
}

// Roles is the table of values per role. Every value is written to all,
// lo and the announce interface, so that max(all, IFACE) is the value
// itself whatever was there before.
var Roles = map[config.Role][]Setting{
	config.RoleDirector: {
		{ArpIgnore, 0, "the active director must answer ARP for VIPs bound to lo through the announce interface; arp_ignore>=1 answers only for addresses on the interface the request came in on"},
		{ArpAnnounce, 2, "ARP requests the node sends use the interface's own address, never a VIP, so neighbours are not taught a VIP's MAC by a node that may lose it"},
	},
	config.RoleRealServer: {
		{ArpIgnore, 1, "a real server must not answer ARP for VIPs on lo: answer only for addresses configured on the interface the request arrived on"},
		{ArpAnnounce, 2, "a real server must never use a VIP as the sender address of its own ARP requests, which would steal the VIP from the director"},
	},
}

// Interfaces are the conf directories a role is written to.
func Interfaces(iface string) []string {
	out := []string{"all", "lo"}
	if iface != "" && iface != "all" && iface != "lo" {
		out = append(out, iface)
	}
	return out
}

// Value is one knob on one interface.
type Value struct {
	Iface string `json:"interface"`
	Knob  string `json:"knob"`
	Value int    `json:"value"`
	// reason is why the role wants it (Desired sets it): a knob with the
	// same value in two roles has a reason per role.
	reason string
}

func (v Value) Key() string { return v.Iface + "." + v.Knob }

// Desired lists the values a role needs on all, lo and iface.
func Desired(role config.Role, iface string) ([]Value, error) {
	settings, ok := Roles[role]
	if !ok {
		return nil, fmt.Errorf("unknown sysctl role %q (director or realserver)", role)
	}
	var out []Value
	for _, ifc := range Interfaces(iface) {
		for _, s := range settings {
			out = append(out, Value{Iface: ifc, Knob: s.Knob, Value: s.Value, reason: s.Reason})
		}
	}
	return out, nil
}

// Change is a write the plan needs, with the value it replaces.
type Change struct {
	Value
	From   int    `json:"from"`
	Reason string `json:"reason"`
}

// String is the change as every kahook plan prints it:
// "sysctl net.ipv4.conf.all.arp_ignore 0 -> 1".
func (c Change) String() string {
	return fmt.Sprintf("sysctl net.ipv4.conf.%s.%s %d -> %d", c.Iface, c.Knob, c.From, c.Value.Value)
}

// Plan returns the writes that make current equal desired, in desired's
// order. current maps Value.Key() to the value read; a value that equals
// the desired one plans nothing.
func Plan(desired []Value, current map[string]int) []Change {
	var out []Change
	for _, d := range desired {
		cur, ok := current[d.Key()]
		if ok && cur == d.Value {
			continue
		}
		reason := d.reason
		if reason == "" {
			reason = reasonFor(d.Knob, d.Value)
		}
		out = append(out, Change{Value: d, From: cur, Reason: reason})
	}
	return out
}

// reasonFor is the reason for a value that does not come from Desired:
// the first role (in a fixed order) that sets it.
func reasonFor(knob string, value int) string {
	for _, role := range []config.Role{config.RoleDirector, config.RoleRealServer} {
		for _, s := range Roles[role] {
			if s.Knob == knob && s.Value == value {
				return s.Reason
			}
		}
	}
	return "explicit value"
}

// FS reads and writes the knobs under a /proc/sys root; tests point Root
// at a temp dir for pure cases and use the real one inside a namespace.
type FS struct {
	Root string
}

// ProcSys is the real /proc/sys.
var ProcSys = FS{Root: "/proc/sys"}

func (f FS) path(iface, knob string) (string, error) {
	if iface != "all" && iface != "default" {
		if err := config.ValidIfName(iface); err != nil {
			return "", err
		}
	}
	return filepath.Join(f.Root, "net", "ipv4", "conf", iface, knob), nil
}

// maxKnob bounds what is read from a knob: /proc/sys values are a few
// bytes.
const maxKnob = 64

// openKnob opens a knob file without following a symlink in its last
// component and without blocking (O_NONBLOCK), after lstat shows a
// regular file (every /proc/sys entry is one: a FIFO, device or symlink
// is refused before it is opened, opening a device has side effects) and
// checks again with fstat on the descriptor.
func openKnob(path string, flags int) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a regular file: refusing it", path)
	}
	fd, err := unix.Open(path, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is not a regular file: refusing it", path)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Get reads one knob. iface must be "all", "default" or a valid Linux
// interface name (config.ValidIfName); the file must be a regular file.
func (f FS) Get(iface, knob string) (int, error) {
	path, err := f.path(iface, knob)
	if err != nil {
		return 0, fmt.Errorf("read net.ipv4.conf.%s.%s: %w", iface, knob, err)
	}
	data, err := func() ([]byte, error) {
		file, err := openKnob(path, unix.O_RDONLY)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		buf := make([]byte, maxKnob)
		n, err := io.ReadFull(file, buf)
		if err == nil {
			return nil, fmt.Errorf("%s holds more than %d bytes", path, maxKnob)
		}
		if err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, err
		}
		return buf[:n], nil
	}()
	if err != nil {
		if os.IsNotExist(err) && iface != "all" && iface != "lo" {
			return 0, fmt.Errorf("read net.ipv4.conf.%s.%s: interface %s does not exist", iface, knob, iface)
		}
		return 0, fmt.Errorf("read net.ipv4.conf.%s.%s: %w", iface, knob, err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("parse net.ipv4.conf.%s.%s: %w", iface, knob, err)
	}
	return v, nil
}

// Set writes one knob, with the rules of Get; it never creates a file.
func (f FS) Set(iface, knob string, v int) error {
	err := func() error {
		path, err := f.path(iface, knob)
		if err != nil {
			return err
		}
		file, err := openKnob(path, unix.O_WRONLY|unix.O_TRUNC)
		if err != nil {
			return err
		}
		if _, err := file.Write([]byte(strconv.Itoa(v) + "\n")); err != nil {
			file.Close()
			return err
		}
		return file.Close()
	}()
	if err != nil {
		return fmt.Errorf("set net.ipv4.conf.%s.%s=%d: %w", iface, knob, v, err)
	}
	return nil
}

// Read returns the current value of every knob in vals, keyed by Key().
func (f FS) Read(vals []Value) (map[string]int, error) {
	cur := make(map[string]int, len(vals))
	for _, v := range vals {
		n, err := f.Get(v.Iface, v.Knob)
		if err != nil {
			return nil, err
		}
		cur[v.Key()] = n
	}
	return cur, nil
}

// Effective is what the kernel uses on one interface: max(all, IFACE).
type Effective struct {
	Iface       string `json:"interface"`
	ArpIgnore   int    `json:"arp_ignore"`
	ArpAnnounce int    `json:"arp_announce"`
	OwnIgnore   int    `json:"own_arp_ignore"`
	OwnAnnounce int    `json:"own_arp_announce"`
	AllIgnore   int    `json:"all_arp_ignore"`
	AllAnnounce int    `json:"all_arp_announce"`
}

// EffectiveOf computes the kernel's view of iface from the values of all
// and of iface itself.
func EffectiveOf(iface string, all, own map[string]int) Effective {
	return Effective{
		Iface:       iface,
		OwnIgnore:   own[ArpIgnore],
		OwnAnnounce: own[ArpAnnounce],
		AllIgnore:   all[ArpIgnore],
		AllAnnounce: all[ArpAnnounce],
		ArpIgnore:   max(all[ArpIgnore], own[ArpIgnore]),
		ArpAnnounce: max(all[ArpAnnounce], own[ArpAnnounce]),
	}
}

// Finding is a problem with the effective values for a role.
type Finding struct {
	Iface    string `json:"interface"`
	Severity string `json:"severity"` // FAIL or WARN
	Problem  string `json:"problem"`
	Fix      string `json:"fix"`
}

// Judge says what is wrong with an interface's effective values for a
// role: a director that cannot answer for VIPs on lo, a real server that
// leaks them.
func Judge(role config.Role, e Effective) []Finding {
	var out []Finding
	switch role {
	case config.RoleDirector:
		if e.ArpIgnore >= 1 {
			out = append(out, Finding{e.Iface, "FAIL",
				fmt.Sprintf("effective arp_ignore is %d (all=%d, %s=%d): VIPs bound to lo are never answered on %s", e.ArpIgnore, e.AllIgnore, e.Iface, e.OwnIgnore, e.Iface),
				"kahook sysctl apply --role director --interface " + e.Iface})
		}
	case config.RoleRealServer:
		if e.ArpIgnore < 1 {
			out = append(out, Finding{e.Iface, "FAIL",
				fmt.Sprintf("effective arp_ignore is %d (all=%d, %s=%d): this node answers ARP for VIPs on lo and steals them from the director", e.ArpIgnore, e.AllIgnore, e.Iface, e.OwnIgnore),
				"kahook sysctl apply --role realserver --interface " + e.Iface})
		}
		if e.ArpAnnounce < 2 {
			out = append(out, Finding{e.Iface, "FAIL",
				fmt.Sprintf("effective arp_announce is %d (all=%d, %s=%d): ARP requests may carry a VIP as sender and poison neighbours", e.ArpAnnounce, e.AllAnnounce, e.Iface, e.OwnAnnounce),
				"kahook sysctl apply --role realserver --interface " + e.Iface})
		}
	}
	return out
}

// Show reads all, lo and iface and returns their effective values.
func (f FS) Show(iface string) ([]Effective, error) {
	read := func(ifc string) (map[string]int, error) {
		m := map[string]int{}
		for _, k := range []string{ArpIgnore, ArpAnnounce} {
			v, err := f.Get(ifc, k)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	}
	all, err := read("all")
	if err != nil {
		return nil, err
	}
	var out []Effective
	for _, ifc := range Interfaces(iface) {
		own, err := read(ifc)
		if err != nil {
			return nil, err
		}
		out = append(out, EffectiveOf(ifc, all, own))
	}
	return out, nil
}

// DropIn renders an /etc/sysctl.d file that sets every value explicitly.
// Interface names with a dot (VLANs) use the slash form sysctl.d accepts.
func DropIn(role config.Role, vals []Value) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by kahook (sysctl apply --role %s --persist).\n", role)
	b.WriteString("# The kernel uses max(conf/all, conf/IFACE): all, lo and the interface are\n# set explicitly so a reset of one of them at boot cannot undo the role.\n")
	sorted := append([]Value(nil), vals...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Knob < sorted[j].Knob })
	for _, v := range sorted {
		if strings.Contains(v.Iface, ".") {
			fmt.Fprintf(&b, "net/ipv4/conf/%s/%s = %d\n", v.Iface, v.Knob, v.Value)
		} else {
			fmt.Fprintf(&b, "net.ipv4.conf.%s.%s = %d\n", v.Iface, v.Knob, v.Value)
		}
	}
	return []byte(b.String())
}

// DropInPath is where --persist writes.
const DropInPath = "/etc/sysctl.d/60-kahook.conf"

// Ensure reads the knobs a role needs on all, lo and iface, writes only
// those that differ and logs each write. It returns what it changed (or,
// with dryRun, what it would change).
func (f FS) Ensure(role config.Role, iface string, dryRun bool, log *slog.Logger) ([]Change, error) {
	changes, err := f.Plan(role, iface)
	if err != nil || dryRun {
		return changes, err
	}
	for i, c := range changes {
		if err := f.Apply(role, c, log); err != nil {
			return changes[:i], err
		}
	}
	return changes, nil
}

// Plan reads the knobs a role needs on all, lo and iface and returns the
// writes that differ, changing nothing.
func (f FS) Plan(role config.Role, iface string) ([]Change, error) {
	desired, err := Desired(role, iface)
	if err != nil {
		return nil, err
	}
	cur, err := f.Read(desired)
	if err != nil {
		return nil, err
	}
	return Plan(desired, cur), nil
}

// Apply makes one planned write and logs it (role: why, for the log).
func (f FS) Apply(role config.Role, c Change, log *slog.Logger) error {
	if err := f.Set(c.Iface, c.Knob, c.Value.Value); err != nil {
		return err
	}
	log.Info("sysctl changed", "key", "net.ipv4.conf."+c.Iface+"."+c.Knob, "from", c.From, "to", c.Value.Value, "role", string(role))
	return nil
}
