// Command benchreport turns the JSON lines of bench/host.sh and bench/vm.sh
// (bench/out/*.jsonl) into bench/RESULTS.md: each kahook figure next to the
// tool a user would otherwise use, measured in the same run, with medians,
// the min-max spread and the ratio against issue 18's goals. Test tooling.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kahook/kahook/internal/benchfmt"
)

// stats and timing are the JSON line bin/benchtool prints.
type (
	stats  = benchfmt.Stats
	timing = benchfmt.Result
)

type round struct {
	Name        string  `json:"name"`
	Mode        string  `json:"mode"`
	OutageMS    float64 `json:"outage_ms"`
	DetectionMS float64 `json:"detection_ms"`
	NotifyMS    float64 `json:"notify_ms"`
	Failed      int     `json:"failed_requests"`
	Error       string  `json:"error"`
}

// data is every line read: timings by name, the lab's rounds, and every
// line as a generic object by name (the last of a name wins).
type data struct {
	t      map[string]timing
	rounds []round
	raw    map[string]map[string]any
	order  []string
}

func read(files []string) (*data, error) {
	d := &data{t: map[string]timing{}, raw: map[string]map[string]any{}}
	for _, f := range files {
		file, err := os.Open(f)
		if err != nil {
			return nil, fmt.Errorf("read results: %w", err)
		}
		sc := bufio.NewScanner(file)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			name, _ := m["name"].(string)
			if _, ok := m["mode"]; ok && !strings.HasPrefix(name, "survivors/") {
				var r round
				if json.Unmarshal([]byte(line), &r) == nil {
					d.rounds = append(d.rounds, r)
				}
				continue
			}
			if name == "" {
				continue
			}
			if _, ok := d.raw[name]; !ok {
				d.order = append(d.order, name)
			}
			d.raw[name] = m
			var x timing
			if json.Unmarshal([]byte(line), &x) == nil && x.Runs > 0 {
				d.t[name] = x
			}
		}
		file.Close()
	}
	return d, nil
}

func main() {
	out := flag.String("o", "bench/RESULTS.md", "output")
	machine := flag.String("machine", "", "machine description")
	flag.Parse()
	d, err := read(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, []byte(render(d, *machine)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func render(d *data, machine string) string {
	t := d.t
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Benchmark results")
	w("")
	w("Reproduce with `make bench` (as root; `bench/run.sh`: `bench/host.sh` on the")
	w("host, then every part of `bench/vm.sh` in one boot of the VM harness). Each")
	w("section names the command that reruns only its part. Each kahook figure stands")
	w("next to the tool a user would otherwise use, measured in the same run, the")
	w("tools alternating round by round (`bin/benchtool -alternate`: every round runs")
	w("each tool once, the first of the round rotating), so a slow spell of the")
	w("shared machine hits them alike. Figures are medians with the min - max spread")
	w("over the rounds (wall clock of the whole process, including its start).")
	w("")
	w("Machine: %s.", machine)
	var parts []string
	for _, name := range d.order {
		if part, ok := strings.CutPrefix(name, "run/"); ok {
			parts = append(parts, fmt.Sprintf("%s %v (%v)", part, d.raw[name]["date"], d.raw[name]["kahook"]))
		}
	}
	if len(parts) > 0 {
		// A partial run (BENCH_PARTS, BENCH_ONLY) keeps the other parts'
		// results: each part says when and with which kahook it ran.
		w("Parts, when they ran and with which kahook: %s.", strings.Join(parts, "; "))
	}
	if vm := d.raw["machine/vm"]; vm != nil {
		w("VM: Debian's kernel %v under qemu TCG (software CPU emulation), %v vCPUs, %v MiB.", vm["kernel"], vm["cpus"], vm["mem_mb"])
		if small, _ := vm["small"].(string); small != "" {
			w("")
			w("**A TRIAL RUN (BENCH_SMALL=1: 100 x 10 services, 100 real servers): not a result.**")
		}
	}
	w("")
	var errs []string
	for _, name := range d.order {
		if strings.HasPrefix(name, "error/") {
			errs = append(errs, fmt.Sprint(d.raw[name]["error"]))
		}
	}
	if len(errs) > 0 {
		w("**THIS RUN FAILED IN PART: %s.** The failed parts' figures are missing or partial.", strings.Join(errs, "; "))
		w("")
	}
	w("The IPVS parts run in the VM (the host kernel has no IPVS). Under TCG")
	w("absolute times are several times those on hardware and one run varies by")
	w("up to 2x, so single runs prove nothing: read the ratios between tools of the")
	w("same rounds.")
	if h, v := t["check/kahook-tcp"], t["check/kahook-tcp-vm"]; h.MedianMS > 0 && v.MedianMS > 0 {
		w("The same `kahook check tcp` on loopback takes %s on the host and %s in the", msf(h.MedianMS), msf(v.MedianMS))
		w("VM: the VM is about %s slower for a short kahook run.", ratio(v.MedianMS, h.MedianMS))
	}
	w("")
	goals(&b, d)
	hostNotify(&b, t)
	checks(&b, t)
	ipvsPart(&b, d)
	notifyPart(&b, d)
	syncPart(&b, d)
	labPart(&b, d)
	survivorsPart(&b, d)
	return b.String()
}

// goals is issue 18's summary table.
func goals(b *strings.Builder, d *data) {
	t := d.t
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	w("## Issue 18's goals at a glance")
	w("")
	w("| goal | kahook | reference | ratio (median of the medians; per-round range) | verdict |")
	w("| --- | ---: | ---: | ---: | --- |")
	row := func(goal, a, ref string, limit float64) {
		x, y := t[a], t[ref]
		if x.Runs == 0 || y.Runs == 0 {
			w("| %s | n/a | n/a | n/a | not measured |", goal)
			return
		}
		r := x.MedianMS / y.MedianMS
		w("| %s | %s | %s | %s (%s) | %s |", goal, spread(x), spread(y), ratioVs(x.MedianMS, y.MedianMS, limit), pairRange(x, y), verdict(r <= limit))
	}
	row("IPVS load from empty <= 0.5x `ipvsadm-restore` (VM)", "ipvs/kahook-load", "ipvs/restore-load", 0.5)
	row("unchanged re-apply <= 0.05x `ipvsadm -C` + restore (VM)", "ipvs/kahook-reapply", "ipvs/restore-reapply", 0.05)
	row("`check tcp` <= 1.0x bash `/dev/tcp` (host)", "check/kahook-tcp", "check/bash-tcp", 1.0)
	row("`check http` <= 0.5x curl (host)", "check/kahook-http", "check/curl", 0.5)
	k, ka := t["sync/kahook"], t["sync/keepalived"]
	if k.CPUPer1000MS != nil && ka.CPUPer1000MS != nil {
		r := k.CPUPer1000MS.Median / ka.CPUPer1000MS.Median
		w("| `sync` CPU per 1,000 TCP_CHECKs <= keepalived's checker (VM) | %s | %s | %s | %s |", st(k.CPUPer1000MS), st(ka.CPUPer1000MS), ratioVs(k.CPUPer1000MS.Median, ka.CPUPer1000MS.Median, 1), verdict(r <= 1))
	} else {
		w("| `sync` CPU per 1,000 TCP_CHECKs <= keepalived's checker (VM) | n/a | n/a | n/a | not measured |")
	}
	if c, s := t["notify/kahook-cold"], t["notify/shell-cold"]; c.GARPAllMS != nil && s.GARPAllMS != nil {
		w("| `notify master`, 16 VIPs + the services, cold (VM; reported, no goal) | %s | %s (shell) | %.2fx | - |", st(c.GARPAllMS), st(s.GARPAllMS), c.GARPAllMS.Median/s.GARPAllMS.Median)
	}
	if c, s := t["notify/kahook-warm"], t["notify/shell-warm"]; c.GARPAllMS != nil && s.GARPAllMS != nil {
		w("| `notify master`, warm (VM; reported, no goal) | %s | %s (shell) | %.2fx | - |", st(c.GARPAllMS), st(s.GARPAllMS), c.GARPAllMS.Median/s.GARPAllMS.Median)
	}
	w("")
}

func hostNotify(b *strings.Builder, t map[string]timing) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	if t["notify/kahook/1"].Runs == 0 {
		return
	}
	w("## notify master on the host, VIPs only (issue 3)")
	w("")
	w("`kahook notify master VI_1` (VIPs on lo, director sysctls on all/lo/eth0,")
	w("one round of gratuitous ARP, both forms, per VIP) against")
	w("`bench/notify-shell.sh master` (`sysctl -w`, then per VIP `ip addr add` and")
	w("`arping -U -S VIP -c 1 -w 0`: one request-form frame per VIP), alternating")
	w("round by round. Each run starts from BACKUP; both run through `ip netns exec`;")
	w("no IPVS (see the VM part below). *Announced*: from the start to the last VIP's")
	w("first gratuitous ARP, as defined in the VM notify part below.")
	w("Rerun: `bench/host.sh` (as root; also runs the checks).")
	w("")
	w("| VIPs | rounds | kahook: process | kahook: all announced | shell: process | shell: all announced | shell / kahook (announced) |")
	w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, n := range []string{"1", "16", "256"} {
		k, s := t["notify/kahook/"+n], t["notify/shell/"+n]
		r := "n/a"
		if k.GARPAllMS != nil && s.GARPAllMS != nil {
			r = ratio(s.GARPAllMS.Median, k.GARPAllMS.Median)
		}
		w("| %s | %d | %s | %s | %s | %s | %s |", n, k.Runs, spread(k), st(k.GARPAllMS), spread(s), st(s.GARPAllMS), r)
	}
	w("")
	w("The BACKUP/STOP path (`kahook notify backup`, from MASTER; keepalived kills a")
	w("STOP script after about one second): %s for 1 VIP, %s for 16, %s for 256.",
		msf(t["notify/kahook-backup/1"].MedianMS), msf(t["notify/kahook-backup/16"].MedianMS), msf(t["notify/kahook-backup/256"].MedianMS))
	w("")
}

func checks(b *strings.Builder, t map[string]timing) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	if t["check/kahook-tcp"].Runs == 0 {
		return
	}
	w("## checks on the host (issue 5, issue 18: process start)")
	w("")
	w("One invocation each against a loopback HTTP server (`bin/labweb`); each")
	w("group alternates round by round (the first of a round rotating), %d runs each.", t["check/kahook-tcp"].Runs)
	w("Rerun: `BENCH_HOST_ONLY=checks bench/host.sh` (as root).")
	w("")
	w("| command | median (min - max) | peak RSS |")
	w("| --- | ---: | ---: |")
	for _, n := range []struct{ key, label string }{
		{"check/kahook-tcp", "`kahook check tcp 127.0.0.1:PORT`"},
		{"check/bash-tcp", "`bash -c 'exec 3<>/dev/tcp/127.0.0.1/PORT'`"},
		{"check/go-dial", "`gofloor 127.0.0.1:PORT` (Go: net.Dialer connect only)"},
		{"check/go-empty", "`gofloor` (Go: start and exit)"},
		{"check/kahook-http", "`kahook check http http://127.0.0.1:PORT/`"},
		{"check/curl", "`curl -sf -o /dev/null http://127.0.0.1:PORT/`"},
	} {
		x := t[n.key]
		w("| %s | %s | %s |", n.label, spread(x), kb(x.MaxRSSKB))
	}
	kh, curl := t["check/kahook-http"], t["check/curl"]
	kt, bt := t["check/kahook-tcp"], t["check/bash-tcp"]
	w("")
	w("* `kahook check tcp` / bash `/dev/tcp` = %s, per-round range %s (target at most 1.0x: %s).", ratioVs(kt.MedianMS, bt.MedianMS, 1), pairRange(kt, bt), verdict(kt.MedianMS <= bt.MedianMS))
	if gd, ge := t["check/go-dial"], t["check/go-empty"]; gd.Runs > 0 && ge.Runs > 0 {
		w("* The Go floor, same rounds: a Go program that only starts and exits takes %s (%s bash's connect, per-round range %s);", msf(ge.MedianMS), ratio2(ge.MedianMS, bt.MedianMS), pairRange(ge, bt))
		w("  one that only connects through net.Dialer %s (%s bash, per-round range %s); kahook's check is %s that connect-only program.", msf(gd.MedianMS), ratio2(gd.MedianMS, bt.MedianMS), pairRange(gd, bt), ratio2(kt.MedianMS, gd.MedianMS))
	}
	w("* `kahook check http` / `curl` = %s, per-round range %s (target at most 0.5x: %s).", ratioVs(kh.MedianMS, curl.MedianMS, 0.5), pairRange(kh, curl), verdict(kh.MedianMS <= 0.5*curl.MedianMS))
	w("* Peak RSS of `kahook check http`: %s (target under 15 MB: %s).", kb(kh.MaxRSSKB), verdict(kh.MaxRSSKB > 0 && kh.MaxRSSKB < 15*1024))
	w("")
}

func ipvsPart(b *strings.Builder, d *data) {
	t := d.t
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	kl, rl := t["ipvs/kahook-load"], t["ipvs/restore-load"]
	if kl.Runs == 0 && rl.Runs == 0 {
		return
	}
	size := d.raw["ipvs/size"]
	w("## IPVS: %v services x 10 destinations (issue 4, issue 18; in the VM)", num(size, "services"))
	w("")
	w("The config (generated by `gen_services` in `bench/vm.sh`) is shaped like a")
	w("real director's: %v services on %v VIPs (ports 80 and 443), schedulers",
		num(size, "services"), fmt.Sprint(intOf(size, "services")/2))
	w("wrr/wlc/rr/sh, every third persistent, every fourth NAT (real port 8080), weights")
	w("1-5, and real-server addresses that differ per service (%v distinct", num(size, "distinct_real_servers"))
	w("addresses, %v destinations). The reference table is kahook's first load as", num(size, "destinations"))
	w("`ipvsadm -Sn` saves it, which is also `ipvsadm-restore`'s input. After")
	w("every load and re-apply of either tool the table is compared with it (sorted")
	w("`ipvsadm -Sn`; a difference aborts the part): %d comparisons, all identical.", kl.Verified+rl.Verified+t["ipvs/kahook-reapply"].Verified+t["ipvs/restore-reapply"].Verified)
	w("Each load starts from `ipvsadm -C` (untimed); one untimed round comes first.")
	w("Rerun: `BENCH_ONLY=vm BENCH_PARTS=ipvs make bench`.")
	w("")
	w("| | kahook `ipvs apply` | `ipvsadm-restore` | kahook / restore | goal |")
	w("| --- | ---: | ---: | ---: | --- |")
	kr, rr := t["ipvs/kahook-reapply"], t["ipvs/restore-reapply"]
	w("| load from empty, %d rounds | %s | %s | %s (rounds %s) | <= 0.5x: %s |", kl.Runs, spread(kl), spread(rl), ratioVs(kl.MedianMS, rl.MedianMS, 0.5), pairRange(kl, rl), verdictIf(kl, rl, 0.5))
	w("| re-apply unchanged, %d rounds | %s | %s (`ipvsadm -C` + restore) | %s (rounds %s) | <= 0.05x: %s |", kr.Runs, spread(kr), spread(rr), ratioVs(kr.MedianMS, rr.MedianMS, 0.05), pairRange(kr, rr), verdictIf(kr, rr, 0.05))
	w("")
	rp, rs := t["ipvs/read-proc"], t["ipvs/read-save"]
	w("One read of the same table (the floor of a re-apply, which must read it):")
	w("`cat /proc/net/ip_vs` %s, `ipvsadm -Sn` %s (%d rounds, alternating).", spread(rp), spread(rs), rp.Runs)
	if kr.MedianMS > 0 && rp.MedianMS > 0 && rs.MedianMS > 0 {
		w("kahook's unchanged re-apply takes %s the `/proc` read and %s `ipvsadm -Sn`;", ratio2(kr.MedianMS, rp.MedianMS), ratio2(kr.MedianMS, rs.MedianMS))
		w("the goal of 0.05x a restore is %s here.", msf(0.05*rr.MedianMS))
	}
	split := reapplySplit(d.raw["ipvs/reapply-split"])
	ks, kp := t["ipvs/kahook-start"], t["ipvs/kahook-parse"]
	if ks.Runs > 0 && kp.Runs > 0 && len(split["read"]) > 0 {
		w("")
		w("Where kahook's unchanged re-apply goes, same boot (each command through `ip netns exec`,")
		w("as every command of this part): process start (`kahook version`,")
		w("alternating with the reads above) %s; start, parse and checks of the config", spread(ks))
		w("(`kahook config check`) %s; and, from %d re-applies with `--log-level debug`", spread(kp), len(split["read"]))
		w("(the \"IPVS planned\" line), building the desired table %s, reading the table", spreadOf(split["desired"]))
		w("(one generic netlink dump of the services, then one of the destinations per")
		w("service: IPVS has no dump of all destinations, and `/proc/net/ip_vs` lacks the")
		w("thresholds, tunnel settings and address family the plan compares) %s, planning %s.", spreadOf(split["read"]), spreadOf(split["plan"]))
		if rr.MedianMS > 0 {
			read, start := median(split["read"]), ks.MedianMS
			parse := kp.MedianMS - start
			w("The read runs under the run lock while the config parses (`ipvs apply`'s early read, on a node")
			w("whose state dir exists), so the read above is timed beside the parse, each slowing the other on the")
			w("VM's two CPUs: a re-apply is about the start, then the longer of the read and of the parse")
			w("followed by the desired table (built while the read finishes), then the plan. The start and the")
			w("read beside the parse together take %s, %.3fx a restore, against a goal of 0.05x, %s. The parse", msf(start+read), (start+read)/rr.MedianMS, msf(0.05*rr.MedianMS))
			w("alone (`config check` less the start) takes %s, the desired table %s and the plan %s;", msf(parse), msf(median(split["desired"])), msf(median(split["plan"])))
			if rest := kr.MedianMS - start - read - median(split["plan"]); rest >= 0 {
				w("the rest of the re-apply (%s) is not broken down.", msf(rest))
			} else {
				// Medians of different runs: their sum can pass the whole's.
				w("the start, the read and the plan's medians add up to %s more than the re-apply's median", msf(-rest))
				w("(medians of different runs): nothing is left to break down.")
			}
		}
	}
	w("")
}

// reapplySplit reads the durations of the "IPVS planned" debug lines
// (desired=, read=, plan=, as Go durations) into milliseconds per key.
func reapplySplit(m map[string]any) map[string][]float64 {
	out := map[string][]float64{}
	lines, _ := m["lines"].([]any)
	for _, l := range lines {
		s, _ := l.(string)
		for _, f := range strings.Fields(s) {
			k, v, ok := strings.Cut(f, "=")
			if !ok || (k != "desired" && k != "read" && k != "plan") {
				continue
			}
			if dur, err := time.ParseDuration(v); err == nil {
				out[k] = append(out[k], float64(dur)/float64(time.Millisecond))
			}
		}
	}
	return out
}

func notifyPart(b *strings.Builder, d *data) {
	t := d.t
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	if t["notify/kahook-cold"].Runs == 0 && t["notify/shell-cold"].Runs == 0 {
		return
	}
	w("## notify master with 16 VIPs and the services (issue 18; in the VM)")
	w("")
	w("One instance with 16 VIPs and %v services x 10 destinations (the IPVS part's", num(d.raw["ipvs/size"], "services"))
	w("shape, the services spread over the 16 VIPs), from BACKUP to MASTER, all four")
	w("alternating round by round, each run from an empty table and no VIP (`ipvsadm -C`,")
	w("VIPs deleted) followed by the BACKUP transition of its variant:")
	w("")
	w("* *kahook cold*: `backup { ipvs remove }` (explicit in the config; the default")
	w("  where nothing is persistent or synchronised); `notify master` loads the table,")
	w("  then the VIPs, sysctls, ARP.")
	w("* *kahook warm*: `backup { ipvs load }` (the default where connections are")
	w("  synchronised: the BACKUP keeps the services loaded; not for two-node DR);")
	w("  `notify master` reads the table, finds it right, and brings up the VIPs.")
	w("* *shell cold*: `bench/notify-shell.sh master` with `IPVS_RULES`:")
	w("  `ipvsadm-restore`, `sysctl -w`, then per VIP `ip addr add` and `arping -U -S VIP -c 1`.")
	w("* *shell warm*: the same script without `IPVS_RULES` (the table restored by")
	w("  the BACKUP step): sysctls, `ip addr add`, `arping`.")
	w("")
	w("Both use `garp_master_repeat 1` (kahook: one round, request and reply form,")
	w("per VIP; the script: one request-form frame per VIP). **Transition** = from")
	w("the start of the notify process to the moment every VIP is up and has had its")
	w("first gratuitous ARP sent: a packet socket on the far end of the instance")
	w("interface's veth (`benchtool -garp-if`) takes the kernel receive timestamp")
	w("(SO_TIMESTAMPNS) of each ARP frame whose sender IP equals its target IP;")
	w("per run, the first such frame of each VIP; the transition is the last VIP's.")
	w("*First ARP* is the first VIP's. After every run the table is compared with")
	w("the reference and all 16 VIPs must be on lo. %d rounds, no untimed round (one", t["notify/kahook-cold"].Runs)
	w("round of the four takes over two minutes under TCG).")
	w("Rerun: `BENCH_ONLY=vm BENCH_PARTS=notify make bench`.")
	w("")
	w("| variant | transition (all VIPs announced) | first ARP | process exit | CPU |")
	w("| --- | ---: | ---: | ---: | ---: |")
	for _, n := range []struct{ key, label string }{
		{"notify/kahook-cold", "kahook, cold"},
		{"notify/shell-cold", "shell script, cold"},
		{"notify/kahook-warm", "kahook, warm"},
		{"notify/shell-warm", "shell script, warm"},
	} {
		x := t[n.key]
		w("| %s | %s | %s | %s | %s |", n.label, st(x.GARPAllMS), st(x.GARPFirstMS), spread(x), st(x.CPUMS))
	}
	w("")
	kc, sc, kw, sw := t["notify/kahook-cold"], t["notify/shell-cold"], t["notify/kahook-warm"], t["notify/shell-warm"]
	if kc.GARPAllMS != nil && sc.GARPAllMS != nil {
		w("* Cold: kahook / shell = %.2fx.", kc.GARPAllMS.Median/sc.GARPAllMS.Median)
	}
	if kw.GARPAllMS != nil && sw.GARPAllMS != nil {
		w("* Warm: kahook / shell = %.2fx.", kw.GARPAllMS.Median/sw.GARPAllMS.Median)
	}
	if kc.GARPAllMS != nil && kw.GARPAllMS != nil {
		w("* kahook warm / kahook cold = %.2fx: what keeping the services loaded on the", kw.GARPAllMS.Median/kc.GARPAllMS.Median)
		w("  BACKUP saves the outage.")
	}
	w("")
}

func syncPart(b *strings.Builder, d *data) {
	t := d.t
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	k, ka := t["sync/kahook"], t["sync/keepalived"]
	if k.Runs == 0 && ka.Runs == 0 {
		return
	}
	sv := d.raw["sync/servers"]
	w("## sync: CPU per 1,000 TCP_CHECKs against keepalived's checker (issue 18; in the VM)")
	w("")
	w("%v healthy real servers (100 addresses x 10 ports, `bin/labweb` in one", num(sv, "real_servers"))
	w("namespace), one virtual server (NAT) with a `TCP_CHECK { connect_timeout 1 }`")
	w("per real server, checked from two namespaces: kahook (`kahook sync VI_1` on a")
	w("MASTER, one pass over every real server per run, started as keepalived starts a")
	w("`vrrp_script`: CPU = user+sys of the process from wait4's rusage, start-up")
	w("included) and %v's checker process (`keepalived -n -l -D -C`, the same", sv["keepalived"])
	w("`virtual_server` block with `delay_loop 5`; CPU = utime+stime of its checker")
	w("child from /proc/PID/stat, 10 ms ticks). They alternate: each round lets")
	w("keepalived's checker run for a 20 s window (SIGCONT ... SIGSTOP), then runs one")
	w("kahook pass. Checks are counted at the servers: the TCP connections their")
	w("namespace accepted in the window (PassiveOpens in its /proc/net/snmp); each")
	w("TCP_CHECK is one connection. Rerun: `BENCH_ONLY=vm BENCH_PARTS=sync make bench`.")
	w("")
	w("| checker | rounds | checks counted | CPU per round | CPU per 1,000 checks, per round | all rounds: CPU / checks |")
	w("| --- | ---: | ---: | ---: | ---: | ---: |")
	w("| kahook `sync` | %d | %d | %s | %s | %s |", k.Runs, k.Count, st(k.CPUMS), st(k.CPUPer1000MS), perK(k))
	w("| keepalived checker | %d | %d | %s | %s | %s |", ka.Runs, ka.Count, st(ka.CPUMS), st(ka.CPUPer1000MS), perK(ka))
	w("")
	if k.CPUPer1000MS != nil && ka.CPUPer1000MS != nil {
		r := k.CPUPer1000MS.Median / ka.CPUPer1000MS.Median
		w("kahook / keepalived = %s CPU per 1,000 checks (medians of the rounds; goal at most 1.0x: %s).", ratioVs(k.CPUPer1000MS.Median, ka.CPUPer1000MS.Median, 1), verdict(r <= 1))
		if k.Count > 0 && ka.Count > 0 && k.CPUTotalMS > 0 && ka.CPUTotalMS > 0 {
			w("Over all rounds (sum of CPU / sum of checks): %.2fx.", (k.CPUTotalMS/float64(k.Count))/(ka.CPUTotalMS/float64(ka.Count)))
		}
		w("A kahook pass takes %s wall (peak RSS %s).", spread(k), kb(k.MaxRSSKB))
		if k.Count > 0 && ka.Count > 0 && (k.UserMS+k.SysMS) > 0 && (ka.UserMS+ka.SysMS) > 0 {
			// UserMS and SysMS are means per round.
			per := func(ms float64, r benchfmt.Result) float64 { return ms * float64(r.Runs) * 1000 / float64(r.Count) }
			w("User / system CPU per 1,000 checks over all rounds: kahook %.0f / %.0f ms, keepalived's checker %.0f / %.0f ms",
				per(k.UserMS, k), per(k.SysMS, k), per(ka.UserMS, ka), per(ka.SysMS, ka))
			w("(the system part is mostly the kernel's side of the TCP connections, which both pay; kahook's user")
			w("part includes its start, the config's parse and the state file's load and save, once per pass).")
		}
	}
	w("")
}

func labPart(b *strings.Builder, d *data) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	if len(d.rounds) == 0 {
		return
	}
	w("## failover in the lab (issue 7; in the VM)")
	w("")
	w("Two keepalived directors (advert_int 1), LVS-DR to two real servers, a")
	w("client requesting the VIP every 20 ms. Medians over the rounds. Detection")
	w("is from the failure to the start of the notify run on b; transition is the")
	w("notify run itself (kahook: IPVS, VIP, sysctls, first gratuitous ARP round;")
	w("shell: `bench/lab-notify.sh` with ipvsadm, ip, sysctl and arping).")
	w("Rerun: `BENCH_ONLY=vm BENCH_PARTS=lab make bench`.")
	w("")
	w("| failure | notify | rounds | client outage | keepalived detection | notify transition | failed requests |")
	w("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
	type key struct{ mode, name string }
	groups := map[key][]round{}
	var order []key
	errs := 0
	for _, r := range d.rounds {
		if r.Error != "" {
			errs++
			continue
		}
		k := key{r.Mode, r.Name}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	for _, k := range order {
		rs := groups[k]
		var out, det, nt, fail []float64
		for _, r := range rs {
			out, det, nt, fail = append(out, r.OutageMS), append(det, r.DetectionMS), append(nt, r.NotifyMS), append(fail, float64(r.Failed))
		}
		w("| %s | %s | %d | %s | %s | %s | %.0f |", k.mode, k.name, len(rs), spreadOf(out), spreadOf(det), spreadOf(nt), median(fail))
	}
	if errs > 0 {
		w("")
		w("%d rounds failed and are not counted.", errs)
	}
	w("")
	w("*sigkill*: every keepalived process of the master is killed. The old")
	w("master ran no notify and keeps forwarding, so the client barely notices;")
	w("b's gratuitous ARP moves it. *linkdown*: the master drops off the")
	w("network; the client's outage is keepalived's detection (three adverts)")
	w("plus the notify transition plus the time for the gratuitous ARP to land.")
	w("")
}

// survivorsPart renders the lines of `benchlab -survivors` (named
// survivors/SETUP).
func survivorsPart(b *strings.Builder, d *data) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	var names []string
	for _, n := range d.order {
		if strings.HasPrefix(n, "survivors/") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	w("## stateful failover survivors (issue 19 item 5; in the VM)")
	w("")
	w("Two keepalived 2.2.7 directors with `lvs_sync_daemon eth0 VI_1`, LVS-DR,")
	w("`persistence_timeout 300`; 20 long-lived keep-alive connections and 8")
	w("persistence sessions (8 client addresses, one request each) through the")
	w("master, which then fails as a whole node (keepalived SIGKILLed, link down).")
	w("Counted on the new master: connections that go on answering, sessions that")
	w("reach the same real server as before, ActiveConn over its real servers")
	w("(`ipvsadm -Ln`). `bin/benchlab -survivors`; the VM test")
	w("`internal/lab` TestVMStatefulFailoverSurvivors asserts the same.")
	w("Rerun: `BENCH_ONLY=vm BENCH_PARTS=survivors make bench`.")
	w("")
	w("| setup | connections kept | persistence sessions kept | active conns on the new master |")
	w("| --- | ---: | ---: | ---: |")
	for _, n := range names {
		m := d.raw[n]
		setup := strings.TrimPrefix(n, "survivors/")
		if e, _ := m["error"].(string); e != "" {
			w("| %s | failed: %s | | |", setup, e)
			continue
		}
		w("| %s | %s/%s | %s/%s | %s |", setup, num(m, "conns_kept"), num(m, "conns_total"), num(m, "sessions_kept"), num(m, "sessions_total"), num(m, "active_conns_new_master"))
	}
	w("")
	w("*keepalived*: its own `virtual_server` (the checker process keeps IPVS")
	w("loaded in every VRRP state). *kahook-default*: the backup keeps the")
	w("services loaded because a sync daemon or persistence is configured.")
	w("*kahook-ipvs-remove*: `backup { ipvs remove }`, the old default: the")
	w("synchronised connections stay unbound (they still forward, but count on")
	w("no real server) and the persistence templates arrive unbound and are")
	w("discarded on first use, so sessions are scheduled afresh (whether one")
	w("lands where it was is up to where the new round robin starts).")
	w("")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func msf(v float64) string {
	if v == 0 {
		return "n/a"
	}
	if v >= 1000 {
		return fmt.Sprintf("%.2f s", v/1000)
	}
	if v >= 10 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// spread is "median (min - max)" of a timing's wall times.
func spread(x timing) string {
	if x.Runs == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s (%s - %s)", msf(x.MedianMS), msf(x.MinMS), msf(x.MaxMS))
}

func st(s *stats) string {
	if s == nil {
		return "n/a"
	}
	return fmt.Sprintf("%s (%s - %s)", msf(s.Median), msf(s.Min), msf(s.Max))
}

func spreadOf(v []float64) string {
	if len(v) == 0 {
		return "n/a"
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return fmt.Sprintf("%s (%s - %s)", msf(median(s)), msf(s[0]), msf(s[len(s)-1]))
}

// pairRange is the min - max of the per-round ratios a_i / b_i (the runs
// of alternating tools in round order).
func pairRange(a, b timing) string {
	n := min(len(a.WallMS), len(b.WallMS))
	if n == 0 {
		return "n/a"
	}
	lo, hi := 0.0, 0.0
	for i := 0; i < n; i++ {
		if b.WallMS[i] == 0 {
			return "n/a"
		}
		r := a.WallMS[i] / b.WallMS[i]
		if i == 0 || r < lo {
			lo = r
		}
		if i == 0 || r > hi {
			hi = r
		}
	}
	return ratioDigits(lo) + " - " + ratioDigits(hi) + "x"
}

// ratioDigits prints a ratio with two decimals, three below 0.1 (so a
// ratio of 0.054 against a goal of 0.05x does not print as 0.05).
func ratioDigits(r float64) string {
	if r < 0.1 {
		return fmt.Sprintf("%.3f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// ratioVs prints a/b, a ratio beside its verdict against limit (a goal
// of at most limit x), as ratio2 does, with up to four more decimals
// while the printed figure would fall on the other side of the limit
// than r: 0.5004 against a goal of 0.5x prints as 0.5004x beside
// "not met", not as 0.50x. Without a or b it prints n/a.
func ratioVs(a, b, limit float64) string {
	if a == 0 || b == 0 {
		return "n/a"
	}
	r := a / b
	s := ratioDigits(r)
	prec := len(s) - strings.IndexByte(s, '.') - 1
	for i := 0; i < 4; i++ {
		if p, err := strconv.ParseFloat(s, 64); err == nil && (p <= limit) == (r <= limit) {
			break
		}
		prec++
		s = strconv.FormatFloat(r, 'f', prec, 64)
	}
	return s + "x"
}

// perK is the CPU ms per 1,000 counted events over all runs.
func perK(x timing) string {
	if x.Count == 0 || x.CPUTotalMS == 0 {
		return "n/a"
	}
	return msf(x.CPUTotalMS * 1000 / float64(x.Count))
}

func kb(v int64) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB", float64(v)/1024)
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fx", a/b)
}

// ratio2 is ratio with two decimals, for targets near 1.0x.
func ratio2(a, b float64) string {
	if a == 0 || b == 0 {
		return "n/a"
	}
	return ratioDigits(a/b) + "x"
}

func num(m map[string]any, k string) string {
	if m == nil {
		return "?"
	}
	if v, ok := m[k].(float64); ok {
		return fmt.Sprintf("%.0f", v)
	}
	return "?"
}

func intOf(m map[string]any, k string) int {
	if v, ok := m[k].(float64); ok {
		return int(v)
	}
	return 0
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func verdictIf(a, b timing, limit float64) string {
	if a.Runs == 0 || b.Runs == 0 {
		return "n/a"
	}
	return verdict(a.MedianMS <= limit*b.MedianMS)
}
