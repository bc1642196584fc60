package lab

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SessionAddrs are the client's extra addresses, one persistence session
// each (persistence is per client address).
var SessionAddrs = []string{"10.9.0.61", "10.9.0.62", "10.9.0.63", "10.9.0.64", "10.9.0.65", "10.9.0.66", "10.9.0.67", "10.9.0.68"}

// Survivors is what a stateful failover kept, counted on the new master.
type Survivors struct {
	// Conns of ConnsTotal long-lived connections (HTTP keep-alive, one
	// request every 500 ms) kept answering through the new master.
	Conns, ConnsTotal int
	// Sessions of SessionsTotal client addresses reached the same real
	// server after the failover as before (persistence kept).
	Sessions, SessionsTotal int
	// ActiveConns is the sum of ActiveConn over the new master's real
	// servers (`ipvsadm -Ln`) once the connections went on through it.
	ActiveConns int
	// ConnEntries is the ESTABLISHED entries of `ipvsadm -Lnc` on the new
	// master at that time (bound to a real server or not).
	ConnEntries int
	// TemplatesBefore is the persistence templates (`ipvsadm -Lnc` entries
	// with client port 0) the backup held just before the failover: they
	// arrive with or without the service; only with it are they bound to
	// a real server and used.
	TemplatesBefore int
	// BackupEntries is the backup's `ipvsadm -Lnc` just before the failover.
	BackupEntries string
	// Before and After are the real server each session address reached.
	Before, After map[string]string
}

func (s Survivors) String() string {
	return fmt.Sprintf("connections %d/%d, persistence sessions %d/%d, ActiveConn on the new master %d (ESTABLISHED entries %d), templates on the backup before %d; sessions before %v after %v",
		s.Conns, s.ConnsTotal, s.Sessions, s.SessionsTotal, s.ActiveConns, s.ConnEntries, s.TemplatesBefore, s.Before, s.After)
}

// keepLog is what the client's `labweb -keep` printed: per connection the
// time of its last answer and whether it failed (and when).
type keepLog struct {
	last   map[int]time.Time
	failed map[int]time.Time
	why    map[int]string
}

func readKeep(p *Proc) keepLog {
	k := keepLog{last: map[int]time.Time{}, failed: map[int]time.Time{}, why: map[int]string{}}
	for _, line := range strings.Split(p.Output(), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		ns, err1 := strconv.ParseInt(f[0], 10, 64)
		i, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			continue
		}
		t := time.Unix(0, ns)
		if f[2] == "-" {
			k.failed[i] = t
			k.why[i] = strings.Join(f[3:], " ")
			continue
		}
		k.last[i] = t
	}
	return k
}

// MeasureSurvivors runs the stateful failover of issue 19 item 5 on a lab
// built with SyncDaemon and Persistence: a MASTER, b BACKUP; conns
// long-lived connections and one short request per SessionAddrs address
// through a; once b holds the synchronised connections, a fails as a
// whole node (keepalived SIGKILLed, then its link down); counted on b
// once it is MASTER and the connections went on (or died).
func (x *LVS) MeasureSurvivors(conns int) (Survivors, error) {
	s := Survivors{ConnsTotal: conns, SessionsTotal: len(SessionAddrs), Before: map[string]string{}, After: map[string]string{}}
	if err := x.WaitState(x.A, "MASTER", time.Minute); err != nil {
		return s, err
	}
	if err := x.WaitState(x.B, "BACKUP", time.Minute); err != nil {
		return s, err
	}
	for _, a := range SessionAddrs {
		if _, err := x.Client.Run("ip", "addr", "add", a+"/24", "dev", "eth0"); err != nil {
			return s, err
		}
	}
	// The master's services may come a moment after its state.
	var lastErr error
	for i := 0; i < 100; i++ {
		if _, lastErr = x.Get(); lastErr == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if lastErr != nil {
		return s, fmt.Errorf("no answer through the VIP before the failover: %w", lastErr)
	}
	keep, err := x.Client.Start("keep", x.Labweb, "-keep", VIP+":80", "-conns", strconv.Itoa(conns), "-interval", "500ms", "-timeout", "60s")
	if err != nil {
		return s, err
	}
	for _, a := range SessionAddrs {
		name, err := x.getFrom(a)
		if err != nil {
			return s, fmt.Errorf("session %s before the failover: %w", a, err)
		}
		s.Before[a] = name
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && len(readKeep(keep).last) < conns {
		time.Sleep(200 * time.Millisecond)
	}
	if k := readKeep(keep); len(k.last) < conns || len(k.failed) > 0 {
		return s, fmt.Errorf("before the failover %d of %d connections answered, %d failed: %s", len(k.last), conns, len(k.failed), lastLines(keep.Output(), 5))
	}
	// The backup's sync daemon has the connections (the master sends its
	// buffer at least every 2 s); then one more flush for the templates.
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && x.connEntries(x.B, "ESTABLISHED") < conns {
		time.Sleep(500 * time.Millisecond)
	}
	if n := x.connEntries(x.B, "ESTABLISHED"); n < conns {
		out, _ := x.B.Run("ipvsadm", "-Lnc")
		return s, fmt.Errorf("the backup holds %d of %d synchronised connections (is the sync daemon running?):\n%s", n, conns, out)
	}
	time.Sleep(3 * time.Second)
	s.TemplatesBefore = x.connEntries(x.B, "template")
	s.BackupEntries, _ = x.B.Run("ipvsadm", "-Lnc")

	x.Keepalived(x.A).KillGroup(syscall.SIGKILL)
	if _, err := x.A.Run("ip", "link", "set", "eth0", "down"); err != nil {
		return s, err
	}
	if err := x.WaitState(x.B, "MASTER", time.Minute); err != nil {
		return s, err
	}
	master := time.Now()
	// Every connection answers through b or fails (TCP retransmits back
	// off to a few seconds across the outage).
	deadline = time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		k := readKeep(keep)
		done := 0
		for i := 0; i < conns; i++ {
			if k.last[i].After(master) || !k.failed[i].IsZero() {
				done++
			}
		}
		if done == conns {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	k := readKeep(keep)
	for i := 0; i < conns; i++ {
		if k.last[i].After(master) && k.failed[i].IsZero() {
			s.Conns++
		}
	}
	s.ActiveConns = x.activeConns(x.B)
	s.ConnEntries = x.connEntries(x.B, "ESTABLISHED")
	for _, a := range SessionAddrs {
		name, err := x.getFrom(a)
		if err != nil {
			name = "-"
		}
		s.After[a] = name
		if name == s.Before[a] {
			s.Sessions++
		}
	}
	keep.Stop()
	return s, nil
}

// getFrom makes one request through the VIP from the client's address a.
func (x *LVS) getFrom(a string) (string, error) {
	out, err := x.Client.Run("curl", "-s", "-m", "5", "--interface", a, HTTPURL)
	return strings.TrimSpace(out), err
}

// connEntries counts d's `ipvsadm -Lnc` connection entries for the VIP
// in state (the persistence templates, client port 0, for "template").
func (x *LVS) connEntries(d *Node, state string) int {
	out, _ := d.Run("ipvsadm", "-Lnc")
	n := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 6 || !strings.HasPrefix(f[4], VIP+":") {
			continue
		}
		template := strings.HasSuffix(f[3], ":0")
		if (state == "template" && template) || (!template && f[2] == state) {
			n++
		}
	}
	return n
}

// activeConns sums ActiveConn over d's real servers (`ipvsadm -Ln`).
func (x *LVS) activeConns(d *Node) int {
	out, _ := d.Run("ipvsadm", "-Ln")
	n := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 6 && f[0] == "->" {
			if v, err := strconv.Atoi(f[4]); err == nil {
				n += v
			}
		}
	}
	return n
}
