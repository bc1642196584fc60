// Command benchlab measures failover in the e2e lab for `make bench`: for
// kahook and for a plain shell notify script, N rounds of "build the lab,
// let a become MASTER, start the client, fail a, wait for b", recording
// what the client saw and how long keepalived and the notify script took.
// One JSON line per round. With -survivors it measures instead what a
// stateful failover keeps (issue 19 item 5): one JSON line per setup,
// keepalived's own virtual_server handling, kahook's default and kahook
// with `backup { ipvs remove }`. Test tooling, not shipped.
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
	survivors := flag.Bool("survivors", false, "measure what a stateful failover keeps (lvs_sync_daemon, persistence), one line per setup")
	flag.Parse()
	if *survivors {
		for _, s := range survivorSetups {
			json.NewEncoder(os.Stdout).Encode(runSurvivors(*kahook, *labweb, s.name, s.opts))
		}
		return
	}
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

// survivorConns and survivorPersistence are issue 19's measurement: 20
// long-lived connections, 8 persistence sessions (lab.SessionAddrs).
const (
	survivorConns       = 20
	survivorPersistence = 300
)

var survivorSetups = []struct {
	name string
	opts lab.Options
}{
	{"survivors/keepalived", lab.Options{KeepalivedVS: true, SyncDaemon: true, Persistence: survivorPersistence}},
	{"survivors/kahook-default", lab.Options{SyncDaemon: true, Persistence: survivorPersistence}},
	{"survivors/kahook-ipvs-remove", lab.Options{SyncDaemon: true, Persistence: survivorPersistence, BackupIPVS: "remove"}},
}

type survivors struct {
	Name            string `json:"name"`
	Conns           int    `json:"conns_kept"`
	ConnsTotal      int    `json:"conns_total"`
	Sessions        int    `json:"sessions_kept"`
	SessionsTotal   int    `json:"sessions_total"`
	ActiveConns     int    `json:"active_conns_new_master"`
	ConnEntries     int    `json:"established_entries_new_master"`
	TemplatesBefore int    `json:"templates_on_backup_before"`
	Error           string `json:"error,omitempty"`
}

func runSurvivors(kahook, labweb, name string, o lab.Options) survivors {
	r := survivors{Name: name}
	l, err := lab.New(kahook, labweb)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer l.Close()
	x, err := lab.BuildLVS(l, o)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	s, err := x.MeasureSurvivors(survivorConns)
	if err != nil {
		r.Error = err.Error()
	}
	r.Conns, r.ConnsTotal, r.Sessions, r.SessionsTotal = s.Conns, s.ConnsTotal, s.Sessions, s.SessionsTotal
	r.ActiveConns, r.ConnEntries, r.TemplatesBefore = s.ActiveConns, s.ConnEntries, s.TemplatesBefore
	fmt.Fprintf(os.Stderr, "%s: %s\n", name, s)
	return r
}
