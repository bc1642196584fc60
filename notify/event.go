// Package notify runs VRRP transitions: what keepalived asks for with
// notify_master/backup/fault/stop, the generic notify, and the FIFO of
// notify_fifo_script. A transition binds or removes the VIPs, sets the
// ARP sysctls, loads or removes the IPVS services and sends gratuitous
// ARP, in an order that never lets the node answer ARP for a VIP it does
// not serve, under one lock, newest event first.
package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kahook/kahook/state"
)

// States keepalived reports (state.VRRP).
const (
	Master  = state.Master
	Backup  = state.Backup
	Fault   = state.Fault
	Stop    = state.Stop
	Deleted = state.Deleted
)

// Event is one transition for an instance (or sync group).
type Event struct {
	Name     string         `json:"name"`
	Group    bool           `json:"group,omitempty"`
	State    state.VRRP     `json:"state"`
	Priority int            `json:"priority"`
	Key      state.EventKey `json:"key"`
	Source   string         `json:"source"`
	Received time.Time      `json:"received"`
}

// IsMaster reports whether the event makes the node active.
func (e Event) IsMaster() bool { return e.State == Master }

// ParseArgs reads either keepalived form:
//
//	master|backup|fault|stop NAME            (notify_master "kahook notify master VI_1")
//	INSTANCE|GROUP NAME STATE PRIORITY       (notify "kahook notify": keepalived appends these)
func ParseArgs(args []string) (Event, error) {
	switch len(args) {
	case 2:
		st, ok := normState(args[0])
		if !ok {
			return Event{}, fmt.Errorf("unknown state %q: expected master, backup, fault or stop", args[0])
		}
		if args[1] == "" {
			return Event{}, fmt.Errorf("missing instance name")
		}
		return Event{Name: args[1], State: st, Source: "notify"}, nil
	case 4:
		return parseTyped(args[0], args[1], args[2], args[3], "notify")
	}
	return Event{}, fmt.Errorf("expected 'STATE INSTANCE' or 'INSTANCE|GROUP NAME STATE PRIORITY', got %d arguments", len(args))
}

func parseTyped(typ, name, st, prio, source string) (Event, error) {
	ev := Event{Name: name, Source: source}
	switch typ {
	case "INSTANCE":
	case "GROUP":
		ev.Group = true
	default:
		return ev, fmt.Errorf("unknown type %q: expected INSTANCE or GROUP", typ)
	}
	if name == "" {
		return ev, fmt.Errorf("missing instance name")
	}
	s, ok := normState(st)
	if !ok {
		return ev, fmt.Errorf("unknown state %q: expected MASTER, BACKUP, FAULT, STOP or DELETED", st)
	}
	ev.State = s
	p, err := strconv.Atoi(prio)
	if err != nil || p < 0 || p > 255 {
		return ev, fmt.Errorf("priority %q: expected 0-255", prio)
	}
	ev.Priority = p
	return ev, nil
}

func normState(s string) (state.VRRP, bool) {
	switch state.VRRP(strings.ToUpper(s)) {
	case Master:
		return Master, true
	case Backup:
		return Backup, true
	case Fault:
		return Fault, true
	case Stop:
		return Stop, true
	case Deleted:
		return Deleted, true
	}
	return "", false
}

// FIFOLine is one line of keepalived's notify FIFO.
type FIFOLine struct {
	Kind  string // INSTANCE, GROUP, VS or RS
	Event Event  // INSTANCE and GROUP lines
	Text  string // the line as read
}

// ParseFIFOLine reads `INSTANCE "VI_1" MASTER 100`, `GROUP "G1" BACKUP 0`,
// and the LVS lines `VS [10.0.0.1]:tcp:80 UP` and
// `RS [10.0.0.11]:tcp:80 [10.0.0.1]:tcp:80 DOWN` (which kahook only logs).
// Newer keepalived states kahook does not act on (MASTER_RX_LOWER_PRI...)
// are an error the caller logs and skips.
func ParseFIFOLine(line string) (FIFOLine, error) {
	line = strings.TrimRight(line, "\x00\r\n")
	out := FIFOLine{Text: line}
	f := strings.Fields(line)
	if len(f) == 0 {
		return out, fmt.Errorf("empty line")
	}
	out.Kind = f[0]
	switch f[0] {
	case "INSTANCE", "GROUP":
		if len(f) != 4 {
			return out, fmt.Errorf("malformed %s line %q: expected %s \"NAME\" STATE PRIORITY", f[0], line, f[0])
		}
		name, err := strconv.Unquote(f[1])
		if err != nil {
			return out, fmt.Errorf("malformed %s line %q: name must be quoted", f[0], line)
		}
		ev, err := parseTyped(f[0], name, f[2], f[3], "fifo")
		if err != nil {
			return out, fmt.Errorf("malformed line %q: %w", line, err)
		}
		out.Event = ev
		return out, nil
	case "VS":
		if len(f) != 3 {
			return out, fmt.Errorf("malformed VS line %q", line)
		}
		return out, nil
	case "RS":
		if len(f) != 4 {
			return out, fmt.Errorf("malformed RS line %q", line)
		}
		return out, nil
	}
	return out, fmt.Errorf("unknown FIFO line %q", line)
}
