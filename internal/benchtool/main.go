// Command benchtool times commands for `make bench`: N runs (after an
// optional untimed prepare command each), wall time statistics, CPU
// (user+sys, from wait4's rusage) and the peak resident set size of the
// timed process, as one JSON line per command. It is test tooling, not
// shipped.
//
//	benchtool -name kahook-notify -n 20 -prepare 'kahook notify backup VI_1' -- kahook notify master VI_1
//	benchtool -alternate -n 30 -- kahook-tcp kahook check tcp 127.0.0.1:80 :: bash-tcp bash -c 'exec 3<>/dev/tcp/127.0.0.1/80'
//
// With -alternate, each round runs every command once (the first of the
// round rotating), so the tools compared share the machine's slow spells.
// A group may start, after its name, with options of its own, each one
// argument:
//
//	prepare=CMD  untimed shell command before each of its runs (instead of -prepare)
//	verify=CMD   untimed shell command after each of its runs (instead of -verify);
//	             a non-zero exit aborts benchtool with exit 1 (a wrong table is not a result)
//	pid=FILE     the CPU measured is that of the running process whose pid FILE
//	             holds: SIGCONT before the run, SIGSTOP after, its utime+stime
//	             from /proc/PID/stat (the command, e.g. `sleep 20`, only sets the
//	             window); for a daemon such as keepalived's checker process
//
// -counter CMD runs a shell command printing one integer before and after
// each timed run; the differences (e.g. the TCP connections the real
// servers accepted) give count and CPU per 1,000 counted events.
//
// -garp-netns NS -garp-if IF -garp-vips 'IP...' watches IF in NS with a
// packet socket (benchtool -arpwatch IF, started once) and, per run, takes
// the kernel receive timestamp of the first gratuitous ARP (sender IP =
// target IP, request or reply form) for each VIP at or after the run's
// start: garp_first (the first VIP announced) and garp_all (the last VIP's
// first announcement: every VIP up and announced), from the start of the
// timed process. Put IF at the far end of a veth pair from the announcing
// interface: the timestamp is then the instant the frame was sent.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kahook/kahook/internal/benchfmt"
)

// stats and result are the JSON line benchfmt defines (benchreport reads it).
type (
	stats  = benchfmt.Stats
	result = benchfmt.Result
)

func main() {
	name := flag.String("name", "", "result name")
	n := flag.Int("n", 20, "timed runs")
	warm := flag.Int("warmup", 2, "untimed runs first")
	prepare := flag.String("prepare", "", "shell command run (untimed) before each run")
	verify := flag.String("verify", "", "shell command run (untimed) after each run; non-zero exit aborts")
	counter := flag.String("counter", "", "shell command printing an integer, run before and after each timed run")
	allowFail := flag.Bool("allow-fail", false, "count non-zero exits instead of aborting")
	alt := flag.Bool("alternate", false, "the arguments are NAME [OPTION=...] COMMAND... groups separated by '::', run in alternating rounds")
	garpNS := flag.String("garp-netns", "", "network namespace of -garp-if")
	garpIf := flag.String("garp-if", "", "interface to watch for gratuitous ARP")
	garpVIPs := flag.String("garp-vips", "", "space-separated VIPs whose gratuitous ARP ends a run")
	garpWait := flag.Duration("garp-wait", time.Minute, "longest wait for the gratuitous ARP, from a run's start")
	arpwatch := flag.String("arpwatch", "", "internal: print 'UNIXNANO SENDER TARGET' per ARP frame received on this interface")
	flag.Parse()
	if *arpwatch != "" {
		if err := watchARP(*arpwatch); err != nil {
			fmt.Fprintln(os.Stderr, "arpwatch:", err)
			os.Exit(1)
		}
		return
	}
	args := flag.Args()
	var groups []*series
	if *alt {
		for _, g := range splitGroups(args) {
			s, err := parseGroup(g)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				usage()
			}
			groups = append(groups, s)
		}
	} else if len(args) > 0 && *name != "" {
		groups = []*series{{res: result{Name: *name}, argv: args}}
	}
	if len(groups) == 0 {
		usage()
	}
	var garp *arpWatcher
	if *garpIf != "" {
		var err error
		if garp, err = startARPWatch(*garpNS, *garpIf, strings.Fields(*garpVIPs)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer garp.stop()
	}
	for _, g := range groups {
		if g.prepare == "" {
			g.prepare = *prepare
		}
		if g.verify == "" {
			g.verify = *verify
		}
	}
	// Round by round, each command once, the first of the round rotating:
	// a slow spell of a shared machine then hits every command alike.
	for i := 0; i < *warm+*n; i++ {
		for j := range groups {
			g := groups[(i+j)%len(groups)]
			if err := g.run(i >= *warm, *allowFail, *counter, garp, *garpWait); err != nil {
				fmt.Fprintf(os.Stderr, "benchtool: %s: %v\n", g.res.Name, err)
				if garp != nil {
					garp.stop()
				}
				os.Exit(1)
			}
		}
	}
	for _, g := range groups {
		json.NewEncoder(os.Stdout).Encode(g.result())
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool -name NAME [-n N] [-prepare CMD] [-verify CMD] -- COMMAND...\n       benchtool -alternate [-n N] -- NAME [prepare=CMD] [verify=CMD] [pid=FILE] COMMAND... :: NAME ...")
	os.Exit(2)
}

// splitGroups splits the arguments at each "::".
func splitGroups(args []string) [][]string {
	var groups [][]string
	cur := []string{}
	for _, a := range args {
		if a == "::" {
			groups = append(groups, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, a)
	}
	return append(groups, cur)
}

// parseGroup reads NAME [prepare=CMD] [verify=CMD] [pid=FILE] COMMAND...
func parseGroup(g []string) (*series, error) {
	if len(g) < 2 {
		return nil, fmt.Errorf("group %q: want NAME COMMAND", g)
	}
	s := &series{res: result{Name: g[0]}}
	rest := g[1:]
	for len(rest) > 0 {
		k, v, ok := strings.Cut(rest[0], "=")
		if !ok {
			break
		}
		switch k {
		case "prepare":
			s.prepare = v
		case "verify":
			s.verify = v
		case "pid":
			s.pidFile = v
		default:
			ok = false
		}
		if !ok {
			break
		}
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return nil, fmt.Errorf("group %s: no command", g[0])
	}
	s.argv = rest
	return s, nil
}

// series is one command's timings.
type series struct {
	res                      result
	argv                     []string
	prepare, verify, pidFile string
	walls, cpus, perK        []float64
	garpFirst, garpAll       []float64
	user, sys                float64
}

func shell(cmd string) error {
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%q: %w\n%s", cmd, err, out)
	}
	return nil
}

func count(cmd string) (int64, error) {
	out, err := exec.Command("sh", "-c", cmd).Output()
	if err != nil {
		return 0, fmt.Errorf("counter %q: %w", cmd, err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("counter %q: %w", cmd, err)
	}
	return v, nil
}

func (s *series) run(timed, allowFail bool, counter string, garp *arpWatcher, garpWait time.Duration) error {
	if s.prepare != "" {
		if err := shell(s.prepare); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	var before int64
	if timed && counter != "" {
		var err error
		if before, err = count(counter); err != nil {
			return err
		}
	}
	var pid int
	var user0, sys0 float64
	if s.pidFile != "" {
		var err error
		if pid, err = readPid(s.pidFile); err != nil {
			return err
		}
		if user0, sys0, err = procCPU(pid); err != nil {
			return err
		}
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			return fmt.Errorf("continue %d: %w", pid, err)
		}
	}
	if garp != nil {
		garp.drain()
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var cpu float64
	if pid != 0 {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			return fmt.Errorf("stop %d: %w", pid, err)
		}
		// Let the stop land, and connections it had under way finish,
		// before reading the counters.
		time.Sleep(300 * time.Millisecond)
		user1, sys1, err := procCPU(pid)
		if err != nil {
			return err
		}
		if timed {
			s.user += user1 - user0
			s.sys += sys1 - sys0
		}
		cpu = user1 - user0 + sys1 - sys0
	}
	if err != nil {
		if !allowFail {
			return fmt.Errorf("%v: %w", s.argv, err)
		}
		s.res.Failures++
	}
	var first, all float64
	if garp != nil {
		var gerr error
		if first, all, gerr = garp.wait(start, garpWait); gerr != nil {
			return gerr
		}
	}
	if s.verify != "" {
		if err := shell(s.verify); err != nil {
			return fmt.Errorf("verify after the run: %w", err)
		}
		if timed {
			s.res.Verified++
		}
	}
	if !timed {
		return nil
	}
	if pid == 0 {
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		s.res.MaxRSSKB = max(s.res.MaxRSSKB, ru.Maxrss)
		u := float64(time.Duration(ru.Utime.Nano()).Microseconds()) / 1000
		sy := float64(time.Duration(ru.Stime.Nano()).Microseconds()) / 1000
		s.user += u
		s.sys += sy
		cpu = u + sy
	}
	s.cpus = append(s.cpus, cpu)
	if counter != "" {
		after, err := count(counter)
		if err != nil {
			return err
		}
		d := after - before
		s.res.Count += d
		if d > 0 {
			s.perK = append(s.perK, cpu*1000/float64(d))
		}
	}
	if garp != nil {
		s.garpFirst, s.garpAll = append(s.garpFirst, first), append(s.garpAll, all)
	}
	s.walls = append(s.walls, float64(wall.Microseconds())/1000)
	return nil
}

func (s *series) result() result {
	res := s.res
	res.WallMS = s.walls
	walls := append([]float64(nil), s.walls...)
	sort.Float64s(walls)
	res.Runs = len(walls)
	w := summarize(walls)
	res.MinMS, res.MaxMS, res.MedianMS = w.Min, w.Max, w.Median
	sum := 0.0
	for _, w := range walls {
		sum += w
	}
	res.MeanMS = sum / float64(len(walls))
	res.UserMS, res.SysMS = s.user/float64(len(walls)), s.sys/float64(len(walls))
	res.CPUMS = summarize(s.cpus)
	for _, c := range s.cpus {
		res.CPUTotalMS += c
	}
	res.CPUPer1000MS = summarize(s.perK)
	res.GARPFirstMS = summarize(s.garpFirst)
	res.GARPAllMS = summarize(s.garpAll)
	return res
}

// summarize returns the median, min and max of v, nil for none.
func summarize(v []float64) *stats {
	if len(v) == 0 {
		return nil
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	r := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	return &stats{Median: r(m), Min: r(s[0]), Max: r(s[len(s)-1])}
}

func readPid(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read pid from %s: %w", file, err)
	}
	return pid, nil
}

// procCPU returns the utime and stime of pid in ms (/proc/PID/stat fields
// 14 and 15, in clock ticks of 1/100 s: the USER_HZ of every Linux
// architecture Go builds for except alpha and ia64).
func procCPU(pid int) (user, sys float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read cpu time: %w", err)
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("read cpu time: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("read cpu time: bad /proc/%d/stat", pid)
	}
	return ut * 10, st * 10, nil
}

// arpFrame is one ARP frame seen by the watcher.
type arpFrame struct {
	at             time.Time
	sender, target string
}

// arpWatcher reads the lines of a benchtool -arpwatch child.
type arpWatcher struct {
	cmd    *exec.Cmd
	frames chan arpFrame
	vips   []string
	seen   []arpFrame
}

func startARPWatch(ns, ifname string, vips []string) (*arpWatcher, error) {
	if len(vips) == 0 {
		return nil, fmt.Errorf("-garp-if needs -garp-vips")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start arp watch: %w", err)
	}
	argv := []string{self, "-arpwatch", ifname}
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start arp watch: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start arp watch: %w", err)
	}
	w := &arpWatcher{cmd: cmd, frames: make(chan arpFrame, 100000), vips: vips}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 1 && f[0] == "ready" {
				close(ready)
				continue
			}
			if len(f) != 3 {
				continue
			}
			ns, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				continue
			}
			w.frames <- arpFrame{at: time.Unix(0, ns), sender: f[1], target: f[2]}
		}
		close(w.frames)
	}()
	select {
	case <-ready:
		return w, nil
	case <-time.After(10 * time.Second):
		w.stop()
		return nil, fmt.Errorf("arp watch on %s: not ready after 10 s", ifname)
	}
}

func (w *arpWatcher) stop() {
	if w.cmd.Process != nil {
		w.cmd.Process.Kill()
		w.cmd.Wait()
	}
}

// drain forgets the frames received so far.
func (w *arpWatcher) drain() {
	w.seen = nil
	for {
		select {
		case <-w.frames:
		default:
			return
		}
	}
}

// wait returns, in ms from start, the first gratuitous ARP of any VIP and
// the time by which every VIP had had its first one.
func (w *arpWatcher) wait(start time.Time, limit time.Duration) (first, all float64, err error) {
	firstOf := map[string]time.Time{}
	want := map[string]bool{}
	for _, v := range w.vips {
		want[v] = true
	}
	deadline := time.After(limit)
	for len(firstOf) < len(want) {
		select {
		case f, ok := <-w.frames:
			if !ok {
				return 0, 0, fmt.Errorf("arp watch ended")
			}
			if f.sender != f.target || !want[f.sender] || f.at.Before(start) {
				continue
			}
			if _, ok := firstOf[f.sender]; !ok {
				firstOf[f.sender] = f.at
			}
		case <-deadline:
			return 0, 0, fmt.Errorf("gratuitous ARP: %d of %d VIPs announced within %v of the start", len(firstOf), len(want), limit)
		}
	}
	var lo, hi time.Time
	for _, t := range firstOf {
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	msOf := func(t time.Time) float64 { return float64(t.Sub(start).Microseconds()) / 1000 }
	return msOf(lo), msOf(hi), nil
}

// watchARP prints "UNIXNANO SENDER TARGET" for every ARP frame received on
// ifname, with the kernel's receive timestamp (SO_TIMESTAMPNS), after a
// line "ready".
func watchARP(ifname string) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	const ethPARP = 0x0806
	proto := int(htons(ethPARP))
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, proto)
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	// A burst of hundreds of VIPs' frames must not overflow the queue
	// while this process prints (root: SO_RCVBUFFORCE passes rmem_max).
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 64<<20); err != nil {
		return fmt.Errorf("SO_RCVBUFFORCE: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPARP), Ifindex: ifi.Index}); err != nil {
		return fmt.Errorf("bind %s: %w", ifname, err)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	buf := make([]byte, 2048)
	oob := make([]byte, 256)
	for {
		n, oobn, _, _, err := syscall.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		at := time.Now()
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
					nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
					at = time.Unix(sec, nsec)
				}
			}
		}
		// Ethernet header (14 bytes), then ARP for IPv4 over Ethernet:
		// sender IP at 14+14, target IP at 14+24.
		p := buf[:n]
		if len(p) < 14+28 || binary.BigEndian.Uint16(p[12:14]) != ethPARP {
			continue
		}
		a := p[14:]
		if binary.BigEndian.Uint16(a[2:4]) != 0x0800 || a[4] != 6 || a[5] != 4 {
			continue
		}
		fmt.Fprintf(out, "%d %s %s\n", at.UnixNano(), net.IP(a[14:18]), net.IP(a[24:28]))
		out.Flush()
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
