// Command benchtool times commands for `make bench`: N runs (after an
// optional untimed prepare command each), wall time statistics and the
// peak resident set size of the timed process (from wait4's rusage), as
// one JSON line. It is test tooling, not shipped.
//
//	benchtool -name kahook-notify -n 20 -prepare 'kahook notify backup VI_1' -- kahook notify master VI_1
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
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 || *name == "" {
		fmt.Fprintln(os.Stderr, "usage: benchtool -name NAME [-n N] [-prepare CMD] -- COMMAND...")
		os.Exit(2)
	}
	var walls []float64
	res := result{Name: *name}
	var user, sys float64
	for i := 0; i < *warm+*n; i++ {
		if *prepare != "" {
			if out, err := exec.Command("sh", "-c", *prepare).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "prepare: %v\n%s", err, out)
				os.Exit(1)
			}
		}
		cmd := exec.Command(args[0], args[1:]...)
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		if err != nil {
			if !*allowFail {
				fmt.Fprintf(os.Stderr, "%v: %v\n", args, err)
				os.Exit(1)
			}
			res.Failures++
		}
		if i < *warm {
			continue
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		res.MaxRSSKB = max(res.MaxRSSKB, ru.Maxrss)
		user += float64(time.Duration(ru.Utime.Nano()).Microseconds()) / 1000
		sys += float64(time.Duration(ru.Stime.Nano()).Microseconds()) / 1000
		walls = append(walls, float64(wall.Microseconds())/1000)
	}
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
	res.UserMS, res.SysMS = user/float64(len(walls)), sys/float64(len(walls))
	json.NewEncoder(os.Stdout).Encode(res)
}
