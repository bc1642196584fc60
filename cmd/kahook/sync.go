package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/pool"
	"github.com/kahook/kahook/state"
)

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "one health-checked pass over an instance's IPVS pool (exit 0 while quorum holds: usable as a vrrp_script)",
		UsageText: "kahook sync [INSTANCE]\n\n" +
			"   On a node that is not MASTER for the instance it runs the checks and records the health\n" +
			"   and quorum (a new MASTER loads only servers that are up) without touching IPVS.",
		ArgsUsage: "[INSTANCE]",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "rise", Value: 1, Usage: "consecutive passing passes before a down server is back"},
			&cli.IntFlag{Name: "fall", Value: 1, Usage: "consecutive failing passes before a server is taken out"},
			timeFlag("deadline", nil, 10*time.Second, "bound on the whole pass; checks still running have no verdict"),
			timeFlag("drain-timeout", nil, 60*time.Second, "longest a failed server stays at weight 0 for its connections (0: remove at once)"),
			&cli.IntFlag{Name: "workers", Value: 100, Usage: "checks run at once (TCP_CHECKs on one poll loop, the other checkers on as many goroutines)"},
			&cli.StringFlag{Name: "textfile", Usage: "write Prometheus metrics to DIR/kahook_INSTANCE.prom (node_exporter textfile collector)"},
		},
		Action: func(c *cli.Context) error {
			e := getEnv(c)
			if err := maxArgs(c, 1); err != nil {
				return err
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			name := c.Args().First()
			if name == "" {
				if len(cfg.Instances) != 1 {
					return usage("sync: name the instance (the config has %d)", len(cfg.Instances))
				}
				name = cfg.Instances[0].Name
			}
			if cfg.Instance(name) == nil {
				return usage("sync: no instance %q in %q", name, cfg.Path)
			}
			store, err := state.Open(e.resolveStateDir(cfg))
			if err != nil {
				return stateFailed(err)
			}
			rep, err := pool.Run(c.Context, pool.Options{
				Cfg: cfg, Store: store, Instance: name,
				Workers: c.Int("workers"), Deadline: flagTime(c, "deadline"), DrainTimeout: flagTime(c, "drain-timeout"),
				MaintenanceDir: cfg.Global.MaintenanceDir,
				Debounce:       pool.Debounce{Rise: c.Int("rise"), Fall: c.Int("fall")},
				OpenIPVS:       func() (ipvs.Kernel, error) { return ipvs.Open() },
				Log:            e.log,
			})
			if rep != nil && e.json {
				_ = printJSON(e.stdout, toSyncJSON(rep))
			}
			if err != nil {
				return failed(err)
			}
			if dir := c.String("textfile"); dir != "" && rep.Master {
				st, _ := store.Load()
				if err := pool.WriteTextfile(dir, rep, st.Pools[name]); err != nil {
					return failed(err)
				}
			}
			if rep.Exit != 0 {
				return cli.Exit("", rep.Exit)
			}
			return nil
		},
	}
}

// syncJSON is pool.Report with the pass's duration in seconds and [] for
// empty lists.
type syncJSON struct {
	*pool.Report
	DurationNS *struct{} `json:"duration_ns,omitempty"` // hides the report's nanoseconds
	Duration   float64   `json:"duration_seconds"`
}

func toSyncJSON(r *pool.Report) syncJSON {
	c := *r
	c.Servers, c.Quorum, c.Changes = emptyIfNil(c.Servers), emptyIfNil(c.Quorum), emptyIfNil(c.Changes)
	return syncJSON{Report: &c, Duration: r.Duration.Seconds()}
}
