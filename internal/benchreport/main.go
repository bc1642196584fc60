// Command benchreport turns the JSON lines of bench/host.sh and bench/vm.sh
// into bench/RESULTS.md: each kahook figure next to the tool a user would
// otherwise use, measured in the same run, with the ratio. Test tooling.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type timing struct {
	Name     string  `json:"name"`
	Runs     int     `json:"runs"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	MaxRSSKB int64   `json:"max_rss_kb"`
	UserMS   float64 `json:"user_ms_mean"`
	SysMS    float64 `json:"sys_ms_mean"`
}

type round struct {
	Name        string  `json:"name"`
	Mode        string  `json:"mode"`
	OutageMS    float64 `json:"outage_ms"`
	DetectionMS float64 `json:"detection_ms"`
	NotifyMS    float64 `json:"notify_ms"`
	Failed      int     `json:"failed_requests"`
	Error       string  `json:"error"`
}

func main() {
	out := flag.String("o", "bench/RESULTS.md", "output")
	machine := flag.String("machine", "", "machine description")
	flag.Parse()
	t := map[string]timing{}
	var rounds []round
	var survivors []survivor
	for _, f := range flag.Args() {
		file, err := os.Open(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "{") {
				continue
			}
			if strings.Contains(line, `"name":"survivors/`) {
				var v survivor
				if json.Unmarshal([]byte(line), &v) == nil {
					survivors = append(survivors, v)
				}
				continue
			}
			if strings.Contains(line, `"mode"`) {
				var r round
				if json.Unmarshal([]byte(line), &r) == nil {
					rounds = append(rounds, r)
				}
				continue
			}
			var x timing
			if json.Unmarshal([]byte(line), &x) == nil && x.Name != "" {
				t[x.Name] = x
			}
		}
		file.Close()
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Benchmark results")
	w("")
	w("Reproduce with `make bench` (as root; `bench/run.sh`). Each kahook figure")
	w("stands next to the tool a user would otherwise use, measured in the same run.")
	w("Times are medians of repeated runs (wall clock, including process start).")
	w("")
	w("Machine: %s", *machine)
	w("")
	w("Host parts run on the host kernel. The IPVS parts run in the VM harness")
	w("(Debian's 6.1 kernel under qemu TCG, i.e. software CPU emulation): their")
	w("absolute times are several times slower than on hardware; the ratios")
	w("compare tools inside the same VM run.")
	if h, v := t["check/kahook-tcp"], t["check/kahook-tcp-vm"]; h.MedianMS > 0 && v.MedianMS > 0 {
		w("The same `kahook check tcp` on loopback takes %s on the host and %s in the", msf(h.MedianMS), msf(v.MedianMS))
		w("VM: the VM is about %s slower for a short kahook run.", ratio(v.MedianMS, h.MedianMS))
	}
	w("")

	w("## notify master (issue 3)")
	w("")
	w("`kahook notify master VI_1` (VIPs on lo, director sysctls on all/lo/eth0,")
	w("one round of gratuitous ARP, both forms, per VIP) against")
	w("`bench/notify-shell.sh master` (`sysctl -w`, then per VIP `ip addr add` and")
	w("`arping -U -S VIP -c 1 -w 0`: one request-form frame per VIP). Each run starts from")
	w("BACKUP; both run through `ip netns exec`.")
	w("")
	w("| VIPs | kahook | shell script | shell / kahook |")
	w("| ---: | ---: | ---: | ---: |")
	for _, n := range []string{"1", "16", "256"} {
		k, s := t["notify/kahook/"+n], t["notify/shell/"+n]
		w("| %s | %s | %s | %s |", n, msf(k.MedianMS), msf(s.MedianMS), ratio(s.MedianMS, k.MedianMS))
	}
	w("")
	w("The BACKUP/STOP path (`kahook notify backup`, from MASTER; keepalived kills a")
	w("STOP script after about one second): %s for 1 VIP, %s for 16, %s for 256.",
		msf(t["notify/kahook-backup/1"].MedianMS), msf(t["notify/kahook-backup/16"].MedianMS), msf(t["notify/kahook-backup/256"].MedianMS))
	w("")

	w("## checks (issue 5, issue 18: process start)")
	w("")
	w("One invocation each against a loopback HTTP server (`bin/labweb`); each")
	w("pair alternates round by round (`benchtool -alternate`), %d runs each.", t["check/kahook-tcp"].Runs)
	w("`BENCH_HOST_ONLY=checks bench/host.sh` reruns only this part.")
	w("")
	w("| command | median | min - max | peak RSS |")
	w("| --- | ---: | ---: | ---: |")
	for _, n := range []struct{ key, label string }{
		{"check/kahook-tcp", "`kahook check tcp 127.0.0.1:PORT`"},
		{"check/bash-tcp", "`bash -c 'exec 3<>/dev/tcp/127.0.0.1/PORT'`"},
		{"check/kahook-http", "`kahook check http http://127.0.0.1:PORT/`"},
		{"check/curl", "`curl -sf -o /dev/null http://127.0.0.1:PORT/`"},
	} {
		x := t[n.key]
		w("| %s | %.2f ms | %.2f - %.2f ms | %s |", n.label, x.MedianMS, x.MinMS, x.MaxMS, kb(x.MaxRSSKB))
	}
	kh, curl := t["check/kahook-http"], t["check/curl"]
	kt, bt := t["check/kahook-tcp"], t["check/bash-tcp"]
	w("")
	w("* `kahook check tcp` / bash `/dev/tcp` = %s (target at most 1.0x: %s).", ratio2(kt.MedianMS, bt.MedianMS), verdict(kt.MedianMS <= bt.MedianMS))
	w("* `kahook check http` / `curl` = %s (target at most 0.5x: %s).", ratio2(kh.MedianMS, curl.MedianMS), verdict(kh.MedianMS <= 0.5*curl.MedianMS))
	w("* Peak RSS of `kahook check http`: %s (target under 15 MB: %s).", kb(kh.MaxRSSKB), verdict(kh.MaxRSSKB > 0 && kh.MaxRSSKB < 15*1024))
	w("")

	w("## IPVS: 1,000 services x 10 destinations (issue 4, in the VM)")
	w("")
	w("| | kahook `ipvs apply` | `ipvsadm-restore` | shell: one `ipvsadm` per rule |")
	w("| --- | ---: | ---: | ---: |")
	w("| load from empty | %s | %s | %s |", msf(t["ipvs/kahook-load"].MedianMS), msf(t["ipvs/restore-load"].MedianMS), msf(t["ipvs/shell-load"].MedianMS))
	w("| re-apply unchanged | %s | %s (`ipvsadm -C` + restore) | - |", msf(t["ipvs/kahook-reapply"].MedianMS), msf(t["ipvs/restore-reapply"].MedianMS))
	kl, rl := t["ipvs/kahook-load"], t["ipvs/restore-load"]
	kr, rr := t["ipvs/kahook-reapply"], t["ipvs/restore-reapply"]
	w("")
	w("* From empty: restore / kahook = %s (target: kahook no slower than ipvsadm-restore: %s).", ratio(rl.MedianMS, kl.MedianMS), verdict(kl.MedianMS <= rl.MedianMS))
	w("* Unchanged re-apply: restore / kahook = %s (target at least 10x: %s). kahook reads the table, plans nothing and writes nothing; a restore has to flush (dropping service) and reload.", ratio(rr.MedianMS, kr.MedianMS), verdict(kr.MedianMS*10 <= rr.MedianMS))
	w("* Shell script / kahook from empty = %s.", ratio(t["ipvs/shell-load"].MedianMS, kl.MedianMS))
	w("")

	w("## sync: one pass, all real servers healthy (issue 6, in the VM)")
	w("")
	w("TCP_CHECK against listeners in a backend namespace; the pass reads the")
	w("table, plans nothing and writes nothing.")
	w("")
	w("| real servers | pass median | peak RSS | CPU per pass (user+sys) |")
	w("| ---: | ---: | ---: | ---: |")
	for _, n := range []string{"10", "100", "1000"} {
		x := t["sync/"+n]
		w("| %s | %s | %s | %s |", n, msf(x.MedianMS), kb(x.MaxRSSKB), msf(x.UserMS+x.SysMS))
	}
	w("")
	if x, v, h := t["sync/1000"], t["check/kahook-tcp-vm"], t["check/kahook-tcp"]; x.MedianMS > 0 && v.MedianMS > 0 && h.MedianMS > 0 {
		w("keepalived's default vrrp_script interval is 1 s. Under TCG the 1,000-server")
		w("pass takes %s; divided by the VM slowdown measured above (%s) that is", msf(x.MedianMS), ratio(v.MedianMS, h.MedianMS))
		w("about %s on hardware: a rough estimate, not a measurement (no IPVS on this", msf(x.MedianMS*h.MedianMS/v.MedianMS))
		w("host's kernel).")
		w("")
	}

	w("## failover in the lab (issue 7, in the VM)")
	w("")
	w("Two keepalived directors (advert_int 1), LVS-DR to two real servers, a")
	w("client requesting the VIP every 20 ms. Medians over the rounds. Detection")
	w("is from the failure to the start of the notify run on b; transition is the")
	w("notify run itself (kahook: IPVS, VIP, sysctls, first gratuitous ARP round;")
	w("shell: `bench/lab-notify.sh` with ipvsadm, ip, sysctl and arping).")
	w("")
	w("| failure | notify | rounds | client outage | keepalived detection | notify transition | failed requests |")
	w("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
	type key struct{ mode, name string }
	groups := map[key][]round{}
	var order []key
	errs := 0
	for _, r := range rounds {
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
		w("| %s | %s | %d | %s | %s | %s | %.0f |", k.mode, k.name, len(rs), msf(median(out)), msf(median(det)), msf(median(nt)), median(fail))
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
	writeSurvivors(w, survivors)
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
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
	return fmt.Sprintf("%.1f ms", v)
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
	return fmt.Sprintf("%.2fx", a/b)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// survivor is one line of `benchlab -survivors`.
type survivor struct {
	Name          string `json:"name"`
	Conns         int    `json:"conns_kept"`
	ConnsTotal    int    `json:"conns_total"`
	Sessions      int    `json:"sessions_kept"`
	SessionsTotal int    `json:"sessions_total"`
	Active        int    `json:"active_conns_new_master"`
	Error         string `json:"error"`
}

func writeSurvivors(w func(string, ...any), rows []survivor) {
	if len(rows) == 0 {
		return
	}
	w("")
	w("## stateful failover survivors (issue 19 item 5, in the VM)")
	w("")
	w("Two keepalived 2.2.7 directors with `lvs_sync_daemon eth0 VI_1`, LVS-DR,")
	w("`persistence_timeout 300`; 20 long-lived keep-alive connections and 8")
	w("persistence sessions (8 client addresses, one request each) through the")
	w("master, which then fails as a whole node (keepalived SIGKILLed, link down).")
	w("Counted on the new master: connections that go on answering, sessions that")
	w("reach the same real server as before, ActiveConn over its real servers")
	w("(`ipvsadm -Ln`). `bin/benchlab -survivors`; the VM test")
	w("`internal/lab` TestVMStatefulFailoverSurvivors asserts the same.")
	w("")
	w("| setup | connections kept | persistence sessions kept | active conns on the new master |")
	w("| --- | ---: | ---: | ---: |")
	for _, r := range rows {
		if r.Error != "" {
			w("| %s | failed: %s | | |", strings.TrimPrefix(r.Name, "survivors/"), r.Error)
			continue
		}
		w("| %s | %d/%d | %d/%d | %d |", strings.TrimPrefix(r.Name, "survivors/"), r.Conns, r.ConnsTotal, r.Sessions, r.SessionsTotal, r.Active)
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
}
