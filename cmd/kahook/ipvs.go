package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// ipvsDeadline bounds every IPVS run: moby/ipvs retries EAGAIN forever.
const ipvsDeadline = 20 * time.Second

func ipvsCommand() *cli.Command {
	allFlag := &cli.BoolFlag{Name: "all", Usage: "not only kahook's services: every service in the kernel"}
	return &cli.Command{
		Name:  "ipvs",
		Usage: "show, diff, apply or flush the IPVS table",
		Subcommands: []*cli.Command{
			{
				Name:  "show",
				Usage: "print the kernel's table like `ipvsadm -Ln` (--rules: like `ipvsadm -Sn`)",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "rules", Usage: "ipvsadm-save form"}},
				Action: func(c *cli.Context) error {
					e := getEnv(c)
					h, err := ipvs.Open()
					if err != nil {
						return failed(err)
					}
					ctx, cancel := context.WithTimeout(c.Context, ipvsDeadline)
					defer cancel()
					t, err := ipvs.Read(ctx, h)
					if err != nil {
						return failed(err)
					}
					switch {
					case e.json:
						return printJSON(e.stdout, tableJSON(t))
					case c.Bool("rules"):
						return ipvs.WriteRules(e.stdout, t)
					default:
						return ipvs.WriteList(e.stdout, t)
					}
				},
			},
			{
				Name:      "diff",
				Usage:     "print the changes `ipvs apply` would make (nothing is applied); exit 0 either way",
				ArgsUsage: "[INSTANCE]",
				Flags:     []cli.Flag{allFlag},
				Action:    func(c *cli.Context) error { return ipvsApply(c, true) },
			},
			{
				Name:      "apply",
				Usage:     "make the kernel hold the config's services (or one instance's): diffed, never flushed",
				ArgsUsage: "[INSTANCE]",
				Flags:     []cli.Flag{allFlag},
				Action:    func(c *cli.Context) error { return ipvsApply(c, false) },
			},
			{
				Name:  "flush",
				Usage: "remove the services kahook manages (--all: every service, like `ipvsadm -C`)",
				Flags: []cli.Flag{allFlag},
				Action: func(c *cli.Context) error {
					e := getEnv(c)
					if c.Bool("all") {
						h, err := ipvs.Open()
						if err != nil {
							return failed(err)
						}
						ctx, cancel := context.WithTimeout(c.Context, ipvsDeadline)
						defer cancel()
						t, err := ipvs.Read(ctx, h)
						if err != nil {
							return failed(err)
						}
						if !e.dryRun {
							err = ipvs.FlushAll(ctx, h, e.log)
						}
						switch {
						case e.json:
							_ = printJSON(e.stdout, flushJSON{Services: len(t), DryRun: e.dryRun})
						case e.dryRun:
							fmt.Fprintf(e.stdout, "would flush every IPVS service (%d)\n", len(t))
						}
						return failed(err)
					}
					m, unlock, err := e.ipvsManager(c.Context, "")
					if err != nil {
						return err
					}
					defer unlock()
					if e.dryRun {
						if e.json {
							return printJSON(e.stdout, flushJSON{DryRun: true})
						}
						fmt.Fprintln(e.stdout, "would remove the services of", e.configPath)
						return nil
					}
					ctx, cancel := context.WithTimeout(c.Context, ipvsDeadline)
					defer cancel()
					n, err := m.Flush(ctx)
					if e.json {
						_ = printJSON(e.stdout, flushJSON{Services: n})
					}
					return failed(err)
				},
			},
		},
	}
}

func ipvsApply(c *cli.Context, diffOnly bool) error {
	e := getEnv(c)
	name := c.Args().First()
	m, unlock, err := e.ipvsManager(c.Context, name)
	if err != nil {
		return err
	}
	defer unlock()
	vss := m.Cfg.VirtualServers
	if name != "" {
		vss = m.Cfg.ServersOf(name)
	}
	ctx, cancel := context.WithTimeout(c.Context, ipvsDeadline)
	defer cancel()
	if diffOnly || e.dryRun {
		plan, err := m.PlanLoad(ctx, vss, c.Bool("all"))
		if err != nil {
			return failed(err)
		}
		if e.json {
			return printJSON(e.stdout, changesJSON(plan.Changes))
		}
		for _, ch := range plan.Changes {
			fmt.Fprintln(e.stdout, ch)
		}
		return nil
	}
	plan, err := m.PlanLoad(ctx, vss, c.Bool("all"))
	if err != nil {
		return failed(err)
	}
	n, err := m.Apply(ctx, plan, vss)
	if e.json {
		_ = printJSON(e.stdout, changesJSON(plan.Changes[:n]))
	}
	return failed(err)
}

// ipvsManager loads the config, checks the instance (if not ""), takes
// the run lock and opens IPVS.
func (e *env) ipvsManager(ctx context.Context, instance string) (*ipvs.Manager, func(), error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if instance != "" && cfg.Instance(instance) == nil {
		return nil, nil, usage("ipvs: no instance %q in %q", instance, cfg.Path)
	}
	store, err := state.Open(e.resolveStateDir(cfg))
	if err != nil {
		return nil, nil, failed(err)
	}
	lock, err := store.LockWithin(ctx, 30*time.Second)
	if err != nil {
		return nil, nil, failed(err)
	}
	h, err := ipvs.Open()
	if err != nil {
		lock.Unlock()
		return nil, nil, failed(err)
	}
	m := &ipvs.Manager{K: h, Cfg: cfg, StateDir: store.Dir, Log: e.log, Members: poolMembers(cfg, store.Dir)}
	return m, lock.Unlock, nil
}

// flushJSON is `ipvs flush --json`: how many services were removed (or,
// with --dry-run --all, would be).
type flushJSON struct {
	Services int  `json:"services_removed"`
	DryRun   bool `json:"dry_run"`
}
