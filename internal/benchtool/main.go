// Command benchtool times commands for `make bench`: N runs (after an
// optional untimed prepare command each), wall time statistics and the
// peak resident set size of the timed process (from wait4's rusage), as
// one JSON line. It is test tooling, not shipped.
//
//	benchtool -name kahook-notify -n 20 -prepare 'kahook notify backup VI_1' -- kahook notify master VI_1
//	benchtool -alternate -n 30 -- kahook-tcp kahook check tcp 127.0.0.1:80 :: bash-tcp bash -c 'exec 3<>/dev/tcp/127.0.0.1/80'
//
// With -alternate, each round runs every command once (the first of the
// round rotating), so the tools compared share the machine's slow spells.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"
)

type result struct {
	Name     string  `json:"name"`
	Runs     int     `json:"runs"`
	MedianMS float64 `json:"median_ms"`
	MeanMS   float64 `json:"mean_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	MaxRSSKB int64   `json:"max_rss_kb"`
	UserMS   float64 `json:"user_ms_mean"`
	SysMS    float64 `json:"sys_ms_mean"`
	Failures int     `json:"failures"`
}

func main() {
	name := flag.String("name", "", "result name")
	n := flag.Int("n", 20, "timed runs")
	warm := flag.Int("warmup", 2, "untimed runs first")
	prepare := flag.String("prepare", "", "shell command run (untimed) before each run")
	allowFail := flag.Bool("allow-fail", false, "count non-zero exits instead of aborting")
	alt := flag.Bool("alternate", false, "the arguments are NAME COMMAND... groups separated by '::', run in alternating rounds")
	flag.Parse()
	args := flag.Args()
	var groups []*series
	if *alt {
		for _, g := range splitGroups(args) {
			if len(g) < 2 {
				usage()
			}
			groups = append(groups, &series{res: result{Name: g[0]}, argv: g[1:]})
		}
	} else if len(args) > 0 && *name != "" {
		groups = []*series{{res: result{Name: *name}, argv: args}}
	}
	if len(groups) == 0 {
		usage()
	}
	// Round by round, each command once, the first of the round rotating:
	// a slow spell of a shared machine then hits every command alike.
	for i := 0; i < *warm+*n; i++ {
		for j := range groups {
			g := groups[(i+j)%len(groups)]
			if *prepare != "" {
				if out, err := exec.Command("sh", "-c", *prepare).CombinedOutput(); err != nil {
					fmt.Fprintf(os.Stderr, "prepare: %v\n%s", err, out)
					os.Exit(1)
				}
			}
			g.run(i >= *warm, *allowFail)
		}
	}
	for _, g := range groups {
		json.NewEncoder(os.Stdout).Encode(g.result())
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool -name NAME [-n N] [-prepare CMD] -- COMMAND...\n       benchtool -alternate [-n N] -- NAME COMMAND... :: NAME COMMAND...")
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

// series is one command's timings.
type series struct {
	res       result
	argv      []string
	walls     []float64
	user, sys float64
}

func (s *series) run(timed, allowFail bool) {
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		if !allowFail {
			fmt.Fprintf(os.Stderr, "%v: %v\n", s.argv, err)
			os.Exit(1)
		}
		s.res.Failures++
	}
	if !timed {
		return
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	s.res.MaxRSSKB = max(s.res.MaxRSSKB, ru.Maxrss)
	s.user += float64(time.Duration(ru.Utime.Nano()).Microseconds()) / 1000
	s.sys += float64(time.Duration(ru.Stime.Nano()).Microseconds()) / 1000
	s.walls = append(s.walls, float64(wall.Microseconds())/1000)
}

func (s *series) result() result {
	res, walls := s.res, s.walls
	sort.Float64s(walls)
	res.Runs = len(walls)
	res.MinMS, res.MaxMS = walls[0], walls[len(walls)-1]
	res.MedianMS = walls[len(walls)/2]
	if len(walls)%2 == 0 {
		res.MedianMS = (walls[len(walls)/2-1] + walls[len(walls)/2]) / 2
	}
	sum := 0.0
	for _, w := range walls {
		sum += w
	}
	res.MeanMS = sum / float64(len(walls))
	res.UserMS, res.SysMS = s.user/float64(len(walls)), s.sys/float64(len(walls))
	return res
}
