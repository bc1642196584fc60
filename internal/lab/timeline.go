package lab

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Answer is one request of the client's probe: when, and which real
// server answered ("" = the request failed).
type Answer struct {
	At     time.Time
	Server string
}

// Answers parses a probe's log ("UNIXNANO NAME" or "UNIXNANO -" a line).
func Answers(log string) []Answer {
	var out []Answer
	for _, line := range strings.Split(log, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		a := Answer{At: time.Unix(0, ns)}
		if f[1] != "-" {
			a.Server = f[1]
		}
		out = append(out, a)
	}
	return out
}

// Sample is which director the client sent its requests to at a moment
// (its neighbour entry for the VIP; "" = none or unknown).
type Sample struct {
	At       time.Time
	Director string
}

// Mark is an event drawn under the timeline.
type Mark struct {
	At   time.Time
	Text string
}

// Sampler records the client's neighbour entry for the VIP every period
// until Stop: which director the client's requests go to (in LVS-DR the
// real server answers directly, so the reply does not say).
type Sampler struct {
	mu      sync.Mutex
	samples []Sample
	stop    chan struct{}
	done    chan struct{}
}

// SampleDirector starts a Sampler.
func (x *LVS) SampleDirector(period time.Duration) *Sampler {
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			d := x.NeighbourOfVIP()
			s.mu.Lock()
			s.samples = append(s.samples, Sample{At: time.Now(), Director: d})
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the samples.
func (s *Sampler) Stop() []Sample {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// Timeline draws the client's view from start to end in columns of step:
//
//	director  aaaaaaaaaaa??bbbbbbbbbbbbbbbb
//	answers   ########xxxxx!###############
//	          ^kill      ^b MASTER
//
// director: the director the client's neighbour entry pointed to (the
// last sample in the column; '?' none, '.' no sample yet). answers: '#'
// every request answered, '!' some failed, 'x' all failed, ' ' none made.
// Marks are drawn as '^' under their column with their text after it,
// one line each when they would overlap.
func Timeline(start, end time.Time, step time.Duration, answers []Answer, samples []Sample, marks []Mark) string {
	if step <= 0 || !end.After(start) {
		return ""
	}
	n := int((end.Sub(start) + step - 1) / step)
	col := func(t time.Time) int { return int(t.Sub(start) / step) }
	dir := make([]byte, n)
	for i := range dir {
		dir[i] = '.'
	}
	cur := byte('.')
	si := 0
	for i := 0; i < n; i++ {
		for si < len(samples) && col(samples[si].At) <= i {
			if col(samples[si].At) >= 0 {
				cur = '?'
				if samples[si].Director != "" {
					cur = samples[si].Director[0]
				}
			}
			si++
		}
		dir[i] = cur
	}
	ok := make([]int, n)
	bad := make([]int, n)
	for _, a := range answers {
		c := col(a.At)
		if c < 0 || c >= n {
			continue
		}
		if a.Server == "" {
			bad[c]++
		} else {
			ok[c]++
		}
	}
	ans := make([]byte, n)
	for i := range ans {
		switch {
		case ok[i] == 0 && bad[i] == 0:
			ans[i] = ' '
		case bad[i] == 0:
			ans[i] = '#'
		case ok[i] == 0:
			ans[i] = 'x'
		default:
			ans[i] = '!'
		}
	}
	const pad = "          "
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s%s\n", "time", ruler(n, step))
	fmt.Fprintf(&b, "%-10s%s\n", "director", dir)
	fmt.Fprintf(&b, "%-10s%s\n", "answers", strings.TrimRight(string(ans), " "))
	line := []byte{}
	for _, m := range marks {
		c := min(max(col(m.At), 0), n-1)
		if len(line) > c {
			b.WriteString(pad + strings.TrimRight(string(line), " ") + "\n")
			line = line[:0]
		}
		for len(line) < c {
			line = append(line, ' ')
		}
		line = append(line, '^')
		line = append(line, m.Text...)
		line = append(line, ' ')
	}
	if len(line) > 0 {
		b.WriteString(pad + strings.TrimRight(string(line), " ") + "\n")
	}
	return b.String()
}

// ruler labels every 10th column with its offset in seconds.
func ruler(n int, step time.Duration) string {
	r := []byte(strings.Repeat(" ", n))
	for i := 0; i < n; i += 10 {
		label := strconv.FormatFloat((time.Duration(i)*step).Seconds(), 'f', -1, 64) + "s"
		if i+len(label) > n {
			break
		}
		r[i] = '|'
		copy(r[i+1:], label)
	}
	return strings.TrimRight(string(r), " ")
}

// Table prints the snapshot as one aligned row per director: kahook's
// applied VRRP state, the VIP bound, IPVS rules loaded, ARP for the VIP
// answered (asked from the client), the effective ARP sysctls; and where
// the client's neighbour entry for the VIP points.
func (s Snapshot) Table(directors []string) string {
	yes := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	answers := map[string]bool{}
	for _, a := range s.ARP {
		answers[a] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %-8s %-4s %-5s %-13s %s\n", "node", "state", "VIP", "IPVS", "answers ARP", "sysctls (effective on eth0)")
	for _, d := range directors {
		st := s.State[d]
		if st == "" {
			st = "-"
		}
		fmt.Fprintf(&b, "%-6s %-8s %-4s %-5s %-13s %s\n", d, st, yes(s.VIP[d]), yes(s.IPVS[d]), yes(answers[d]), s.Sysctls[d])
	}
	for _, a := range s.ARP {
		if _, ok := s.State[a]; !ok {
			fmt.Fprintf(&b, "%-6s %-8s %-4s %-5s %-13s\n", a, "-", "?", "?", "yes")
		}
	}
	neigh := s.Neighbour
	if neigh == "" {
		neigh = "none"
	}
	fmt.Fprintf(&b, "client's neighbour entry for %s -> %s", VIP, neigh)
	return b.String()
}
