// Command benchlab measures failover in the e2e lab for `make bench`: for
// kahook and for a plain shell notify script, N rounds of "build the lab,
// let a become MASTER, start the client, fail a, wait for b", recording
// what the client saw and how long keepalived and the notify script took.
// One JSON line per round. Test tooling, not shipped.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/kahook/kahook/internal/lab"
)

type round struct {
	Name        string  `json:"name"`
	Mode        string  `json:"mode"`
	Round       int     `json:"round"`
	OutageMS    float64 `json:"outage_ms"`
	DetectionMS float64 `json:"detection_ms"`
	NotifyMS    float64 `json:"notify_ms"`
	Failed      int     `json:"failed_requests"`
	Requests    int     `json:"requests"`
	Error       string  `json:"error,omitempty"`
}

func main() {
	kahook := flag.String("kahook", "bin/kahook", "kahook binary")
	labweb := flag.String("labweb", "bin/labweb", "lab web server")
	shell := flag.String("shell", "bench/lab-notify.sh", "shell notify script")
	n := flag.Int("n", 10, "rounds per notify implementation and mode")
	modes := flag.String("modes", "sigkill,linkdown", "failures to inject")
	flag.Parse()
	for _, mode := range splitComma(*modes) {
		for _, impl := range []struct{ name, notify string }{{"kahook", ""}, {"shell", *shell}} {
			for i := 0; i < *n; i++ {
				r := runRound(*kahook, *labweb, impl.name, impl.notify, mode)
				r.Round = i
				json.NewEncoder(os.Stdout).Encode(r)
			}
		}
	}
}

func splitComma(s string) []string {
	var out []string
	cur := ""
	for _, c := range s {
		if c == ',' {
			out = append(out, cur)
			cur = ""
			continue
		}
		cur += string(c)
	}
	return append(out, cur)
}

func runRound(kahook, labweb, name, notify, mode string) round {
	r := round{Name: name, Mode: mode}
	l, err := lab.New(kahook, labweb)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer l.Close()
	x, err := lab.BuildLVS(l, lab.Options{Notify: notify, GARPDelay: 2})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	if err := x.WaitState(x.A, "MASTER", time.Minute); err != nil {
		r.Error = err.Error()
		return r
	}
	if err := x.WaitState(x.B, "BACKUP", time.Minute); err != nil {
		r.Error = err.Error()
		return r
	}
	probe, err := x.StartProbe("probe")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	time.Sleep(time.Second)
	failed := time.Now()
	switch mode {
	case "sigkill":
		// A crash of keepalived: every process at once.
		x.Keepalived(x.A).KillGroup(syscall.SIGKILL)
	case "linkdown":
		// The director drops off the network: it can no longer forward.
		if _, err := x.A.Run("ip", "link", "set", "eth0", "down"); err != nil {
			r.Error = err.Error()
			return r
		}
	default:
		r.Error = fmt.Sprintf("unknown mode %q", mode)
		return r
	}
	if err := x.WaitState(x.B, "MASTER", time.Minute); err != nil {
		r.Error = err.Error()
		return r
	}
	received, done := x.Timing(x.B)
	time.Sleep(3 * time.Second)
	probe.Stop()
	st := lab.ReadProbe(probe)
	r.OutageMS = ms(st.Outage)
	r.DetectionMS = ms(received.Sub(failed))
	r.NotifyMS = ms(done.Sub(received))
	r.Failed, r.Requests = st.Failures, st.Total
	if st.LastAnswer.Before(received) {
		r.Error = "the client got no answer after the failover"
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
