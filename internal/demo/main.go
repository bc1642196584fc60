// Command demo is `make demo`: a real keepalived failover driving kahook
// in network namespaces, narrated. Two directors run Debian's keepalived
// with kahook as their notify script; two LVS-DR real servers answer with
// their name; a client requests the VIP every 20 ms while the master's
// keepalived is killed. It needs root and a kernel with IPVS (`make demo`
// runs it inside the VM harness when the host has none), and removes
// everything it created, also on Ctrl-C.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
	say("10 requests to %s answered by %v", lab.HTTPURL, seen)
	arp, err := x.ARPAnswers()
	if err != nil {
		return err
	}
	say("who answers ARP for %s (asked from the client): %v", lab.VIP, arp)

	section("3. failover: a's keepalived crashes (SIGKILL to all its processes)")
	probe, err := x.StartProbe("probe")
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	killed := time.Now()
	x.Keepalived(x.A).KillGroup(syscall.SIGKILL)
	say("killed every keepalived process on a; the client keeps requesting every 20 ms")
	if err := x.WaitState(x.B, "MASTER", 60*time.Second); err != nil {
		return err
	}
	rec, done = x.Timing(x.B)
	say("b is MASTER: keepalived noticed after %v (3 missed adverts); kahook's transition took %v",
		rec.Sub(killed).Round(time.Millisecond), done.Sub(rec).Round(time.Microsecond))
	time.Sleep(3 * time.Second)
	probe.Stop()
	st := lab.ReadProbe(probe)
	if st.Answers["rs1"] == 0 || st.Answers["rs2"] == 0 {
		return fmt.Errorf("client answers %v: expected both real servers", st.Answers)
	}
	if !st.LastAnswer.After(killed) || x.NeighbourOfVIP() != "b" {
		return errors.New("the client does not reach the VIP through b")
	}
	say("client: %d requests, answers %v, %d failed", st.Total, st.Answers, st.Failures)
	say("client: longest time without an answer: %v", st.Outage.Round(time.Millisecond))
	say("client's neighbour entry for %s now points to %s (gratuitous ARP from b)", lab.VIP, x.NeighbourOfVIP())
	arp, err = x.ARPAnswers()
	if err != nil {
		return err
	}
	say("a's keepalived died without running a notify script: a still has the VIP: %v, IPVS rules: %v; ARP for %s answered by %v",
		x.HasVIP(x.A), x.Rules(x.A) != "", lab.VIP, arp)
	say("systemd runs keepalived.service's ExecStopPost whenever keepalived exits; kahook's drop-in makes it")
	say("'kahook release --all' (packaging/systemd/keepalived.service.d/kahook-release.conf). The lab has no systemd: run it on a")
	if _, err := x.Release(x.A); err != nil {
		return err
	}
	if arp, err = x.ARPAnswers(); err != nil {
		return err
	}
	say("a released: VIP bound: %v, IPVS rules: %v; ARP for %s answered by %v", x.HasVIP(x.A), x.Rules(x.A) != "", lab.VIP, arp)
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
	say("a is MASTER again (higher priority, preempt); b is BACKUP")
	say("end state: %s", snap)
	if len(snap.ARP) != 1 || snap.ARP[0] != "a" || snap.IPVS["b"] || !snap.IPVS["a"] {
		return fmt.Errorf("unexpected end state: %s", snap)
	}
	return nil
}
