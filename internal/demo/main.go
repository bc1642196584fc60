// Command demo is `make demo`: a real keepalived failover driving kahook
// in network namespaces, narrated. Two directors run Debian's keepalived
// with kahook as their notify script; two LVS-DR real servers answer with
// their name; a client requests the VIP every 20 ms while the master's
// keepalived is killed, and again while the whole master goes down (its
// link and keepalived at once); each failover is drawn as a timeline of
// the client's answers, and the state as a table per director. It needs root and a kernel with IPVS (`make demo`
// runs it inside the VM harness when the host has none), and removes
// everything it created, also on Ctrl-C.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/kahook/kahook/internal/lab"
)

func main() {
	kahook := flag.String("kahook", "bin/kahook", "kahook binary")
	labweb := flag.String("labweb", "bin/labweb", "lab web server binary")
	flag.Parse()
	os.Exit(run(*kahook, *labweb))
}

func say(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func section(title string) { fmt.Printf("\n== %s\n", title) }

func run(kahook, labweb string) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo: needs root (network namespaces, IPVS)")
		return 2
	}
	section("kahook demo: keepalived failover driving kahook (LVS-DR, network namespaces)")
	l, err := lab.New(kahook, labweb)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	l.Say = say
	say("lab namespaces: %s-*", l.Prefix())
	// Ctrl-C or SIGTERM: tear the lab down, then exit.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		say("%v: cleaning up", s)
		l.Close()
		os.Exit(130)
	}()
	code := 0
	if err := story(l); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		code = 1
	}
	section("cleaning up")
	prefix := l.Prefix()
	if err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "demo: cleanup:", err)
		code = 1
	}
	if left := lab.Leftovers(prefix); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "demo: left behind: %v\n", left)
		code = 1
	} else {
		say("lab removed: no namespaces, links or processes left")
	}
	return code
}

func story(l *lab.Lab) error {
	x, err := lab.BuildLVS(l, lab.Options{GARPDelay: 2})
	if err != nil {
		return err
	}
	say("keepalived started on a (priority 150) and b (priority 100), notify = kahook notify")

	section("1. election")
	if err := x.WaitState(x.A, "MASTER", 60*time.Second); err != nil {
		return err
	}
	if err := x.WaitState(x.B, "BACKUP", 60*time.Second); err != nil {
		return err
	}
	rec, done := x.Timing(x.A)
	say("a is MASTER: kahook bound %s on lo, set director sysctls (%s), loaded IPVS and sent gratuitous ARP in %v",
		lab.VIP, x.Sysctls(x.A), done.Sub(rec).Round(time.Microsecond))
	for _, line := range strings.Split(x.Rules(x.A), "\n") {
		say("    a: ipvsadm %s", line)
	}
	say("b is BACKUP: VIP bound: %v, IPVS rules: %v", x.HasVIP(x.B), x.Rules(x.B) != "")

	section("2. the client reaches the real servers through the VIP")
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		name, err := x.Get()
		if err != nil {
			return fmt.Errorf("request through the VIP: %w", err)
		}
		seen[name]++
	}
	say("10 requests to %s answered by %s", lab.HTTPURL, counts(seen))
	arp, err := x.ARPAnswers()
	if err != nil {
		return err
	}
	say("who answers ARP for %s (asked from the client): %s", lab.VIP, names(arp))

	section("3. failover: a's keepalived crashes (SIGKILL to all its processes)")
	w, err := startWatch(x, "probe-crash")
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	killed := w.mark("a's keepalived killed")
	x.Keepalived(x.A).KillGroup(syscall.SIGKILL)
	say("killed every keepalived process on a; the client keeps requesting every 20 ms")
	if err := x.WaitState(x.B, "MASTER", 60*time.Second); err != nil {
		return err
	}
	rec, done = x.Timing(x.B)
	w.markAt(done, "b MASTER")
	say("b is MASTER: keepalived noticed after %v (3 missed adverts); kahook's transition took %v",
		rec.Sub(killed).Round(time.Millisecond), done.Sub(rec).Round(time.Microsecond))
	time.Sleep(3 * time.Second)
	st := w.stop()
	if st.Answers["rs1"] == 0 || st.Answers["rs2"] == 0 {
		return fmt.Errorf("client answers %v: expected both real servers", st.Answers)
	}
	if !st.LastAnswer.After(killed) || x.NeighbourOfVIP() != "b" {
		return errors.New("the client does not reach the VIP through b")
	}
	say("client: %d requests, answered by %s, %d failed", st.Total, counts(st.Answers), st.Failures)
	say("client: longest time without an answer: %v", st.Outage.Round(time.Millisecond))
	say("client's neighbour entry for %s now points to %s (gratuitous ARP from b)", lab.VIP, x.NeighbourOfVIP())
	arp, err = x.ARPAnswers()
	if err != nil {
		return err
	}
	say("a's keepalived died without running a notify script: a still has the VIP: %v, IPVS rules: %v; ARP for %s answered by %s",
		x.HasVIP(x.A), x.Rules(x.A) != "", lab.VIP, names(arp))
	say("systemd runs keepalived.service's ExecStopPost whenever keepalived exits; kahook's drop-in makes it")
	say("'kahook release --all' (packaging/systemd/keepalived.service.d/kahook-release.conf). The lab has no systemd: the demo runs it on a by hand, after the takeover")
	if _, err := x.Release(x.A); err != nil {
		return err
	}
	if arp, err = x.ARPAnswers(); err != nil {
		return err
	}
	say("a released: VIP bound: %v, IPVS rules: %v; ARP for %s answered by %s", x.HasVIP(x.A), x.Rules(x.A) != "", lab.VIP, names(arp))
	if x.HasVIP(x.A) || len(arp) != 1 || arp[0] != "b" {
		return fmt.Errorf("after the release want only b answering ARP, got %v (VIP on a: %v)", arp, x.HasVIP(x.A))
	}
	say("only b answers ARP for %s now", lab.VIP)

	section("4. keepalived comes back on a (as systemd restarts it)")
	if err := x.StartKeepalived(x.A); err != nil {
		return err
	}
	if err := x.WaitState(x.A, "MASTER", 60*time.Second); err != nil {
		return err
	}
	if err := x.WaitState(x.B, "BACKUP", 60*time.Second); err != nil {
		return err
	}
	snap, err := x.Observe()
	if err != nil {
		return err
	}
	say("a is MASTER again (higher priority, preempt); b is BACKUP:")
	table(snap)
	if len(snap.ARP) != 1 || snap.ARP[0] != "a" || snap.IPVS["b"] || !snap.IPVS["a"] {
		return fmt.Errorf("unexpected end state: %s", snap)
	}

	section("5. whole-node failure: a loses its link and its keepalived at once (a power cut)")
	if w, err = startWatch(x, "probe-node"); err != nil {
		return err
	}
	time.Sleep(time.Second)
	down := w.mark("a down")
	x.Keepalived(x.A).KillGroup(syscall.SIGKILL)
	if _, err := x.A.Run("ip", "link", "set", "eth0", "down"); err != nil {
		return err
	}
	say("a's link is down and its keepalived is gone: nothing on a can react; the client keeps requesting")
	if err := x.WaitState(x.B, "MASTER", 60*time.Second); err != nil {
		return err
	}
	rec, done = x.Timing(x.B)
	w.markAt(done, "b MASTER")
	say("b is MASTER: keepalived noticed after %v (3 missed adverts); kahook's transition took %v",
		rec.Sub(down).Round(time.Millisecond), done.Sub(rec).Round(time.Microsecond))
	time.Sleep(3 * time.Second)
	st = w.stop()
	if !st.LastAnswer.After(done) || x.NeighbourOfVIP() != "b" {
		return errors.New("the client does not reach the VIP through b after a's link went down")
	}
	say("client: %d requests, answered by %s, %d failed", st.Total, counts(st.Answers), st.Failures)
	say("client: longest time without an answer: %v", st.Outage.Round(time.Millisecond))
	if snap, err = x.Observe(); err != nil {
		return err
	}
	say("with a cut off (the state kahook last applied there, its VIP and IPVS rules are stale and unreachable), b serves alone:")
	table(snap)
	if len(snap.ARP) != 1 || snap.ARP[0] != "b" || !snap.IPVS["b"] || !snap.VIP["b"] {
		return fmt.Errorf("unexpected state with a down: %s", snap)
	}

	section("6. a boots again and takes over (preempt)")
	// A reboot starts with no VIP, no IPVS rules and an empty /run (the
	// state dir): the lab clears them before the link comes back, or a
	// would answer ARP for its stale VIP.
	if _, err := x.A.Run("ipvsadm", "-C"); err != nil {
		return err
	}
	if _, err := x.A.Run("ip", "addr", "del", lab.VIP+"/32", "dev", "lo"); err != nil {
		return err
	}
	if err := os.RemoveAll(x.StateDir(x.A)); err != nil {
		return err
	}
	if _, err := x.A.Run("ip", "link", "set", "eth0", "up"); err != nil {
		return err
	}
	if err := x.StartKeepalived(x.A); err != nil {
		return err
	}
	say("a is up: empty IPVS table, no VIP, link up, keepalived started")
	if err := x.WaitState(x.A, "MASTER", 60*time.Second); err != nil {
		return err
	}
	if err := x.WaitState(x.B, "BACKUP", 60*time.Second); err != nil {
		return err
	}
	if snap, err = x.Observe(); err != nil {
		return err
	}
	say("end state:")
	table(snap)
	if len(snap.ARP) != 1 || snap.ARP[0] != "a" || snap.IPVS["b"] || !snap.IPVS["a"] || snap.VIP["b"] {
		return fmt.Errorf("unexpected end state: %s", snap)
	}
	return nil
}

// counts prints answer counts as "rs1 12, rs2 11" (sorted by name).
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	if len(parts) == 0 {
		return "nobody"
	}
	return strings.Join(parts, ", ")
}

// names prints node names as "a, b" ("nobody" when none).
func names(list []string) string {
	if len(list) == 0 {
		return "nobody"
	}
	return strings.Join(list, ", ")
}

// table prints a snapshot as aligned rows, indented under the log.
func table(s lab.Snapshot) {
	for _, line := range strings.Split(s.Table([]string{"a", "b"}), "\n") {
		fmt.Printf("%14s  %s\n", "", line)
	}
}

// watch is the client's view of a failover: its probe's answers and the
// director its neighbour entry points to, drawn as a timeline at the end.
type watch struct {
	x       *lab.LVS
	probe   *lab.Proc
	sampler *lab.Sampler
	start   time.Time
	marks   []lab.Mark
}

// startWatch starts a probe named name (its own log: one name a watch).
func startWatch(x *lab.LVS, name string) (*watch, error) {
	p, err := x.StartProbe(name)
	if err != nil {
		return nil, err
	}
	return &watch{x: x, probe: p, sampler: x.SampleDirector(100 * time.Millisecond), start: time.Now()}, nil
}

func (w *watch) mark(text string) time.Time {
	now := time.Now()
	w.markAt(now, text)
	return now
}

func (w *watch) markAt(at time.Time, text string) {
	w.marks = append(w.marks, lab.Mark{At: at, Text: text})
}

// stop ends the probe, prints the timeline and returns the probe's stats.
func (w *watch) stop() lab.ProbeStats {
	samples := w.sampler.Stop()
	w.probe.Stop()
	end := time.Now()
	step := 100 * time.Millisecond
	for end.Sub(w.start)/step > 72 {
		step += 50 * time.Millisecond
	}
	say("the client's view, one column per %v (director: where its requests went; answers: # all answered, ! some failed, x none):", step)
	for _, line := range strings.Split(strings.TrimRight(lab.Timeline(w.start, end, step, lab.Answers(w.probe.Output()), samples, w.marks), "\n"), "\n") {
		fmt.Printf("%14s  %s\n", "", line)
	}
	return lab.ReadProbe(w.probe)
}
