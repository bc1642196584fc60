package main

import (
	"errors"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/notify"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/vip"
)

// releaseCommand is what keepalived.service's kahook drop-in runs as
// ExecStopPost: whenever keepalived exits, by a clean stop, a crash or
// SIGKILL, every instance gets the STOP transition (the config's
// backup { } actions), so a dead keepalived never leaves its node
// answering ARP for a VIP. After a clean stop keepalived's own STOP
// notify has already done it, and this run changes nothing. A config
// that does not load never blocks it: the VIPs the state recorded and
// every address carrying kahook's marker go, and it exits 1
// (notify.ReleaseWithoutConfig).
func releaseCommand() *cli.Command {
	return &cli.Command{
		Name:      "release",
		Usage:     "apply the STOP transition to instances (--all: every instance of the config; keepalived.service's ExecStopPost)",
		ArgsUsage: "--all | INSTANCE...",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "every instance of the config"},
		},
		Action: func(c *cli.Context) error {
			e := getEnv(c)
			received := time.Now()
			key, err := state.ProcessEvent()
			if err != nil {
				return failed(err)
			}
			for _, a := range c.Args().Slice() {
				if len(a) > 1 && a[0] == '-' {
					// urfave/cli reads no flag after the first
					// argument: "--config" would be an instance name.
					return usage("release: %q after the instance names: flags go before them (kahook [flags] release [--all | INSTANCE...])", a)
				}
			}
			if c.Bool("all") == (c.NArg() > 0) {
				return usage("release: give --all or instance names (not both)")
			}
			if _, err := os.Stat(e.configPath); errors.Is(err, os.ErrNotExist) && !e.configSet && c.Bool("all") {
				// The drop-in runs on every keepalived stop, also on nodes
				// where kahook is installed but not configured: nothing to
				// do, unless addresses kahook bound are still there (the
				// config was deleted since).
				if marked, err := vip.Marked(); err == nil && len(marked) == 0 {
					e.log.Debug("no kahook config: nothing to release", "config", e.configPath)
					return nil
				}
				return e.releaseWithoutConfig(nil, true, false, err)
			}
			cfg, err := e.loadConfig() // once: its problems are logged once
			if err != nil {
				// A release never depends on the config loading.
				return e.releaseWithoutConfig(c.Args().Slice(), c.Bool("all"), false, err)
			}
			eng, err := e.engineFor(cfg, nil)
			if err != nil {
				return err
			}
			names := c.Args().Slice()
			if c.Bool("all") {
				for _, in := range eng.Cfg.Instances {
					names = append(names, in.Name)
				}
			}
			for _, n := range names {
				if _, err := eng.Validate(notify.Event{Name: n, State: notify.Stop}); err != nil {
					return usage("release: %v", err)
				}
			}
			var errs []error
			var evs []notify.Event
			for _, n := range names {
				ev := notify.Event{Name: n, State: notify.Stop, Source: "release", Key: key, Received: received}
				evs = append(evs, ev)
				res, err := eng.Handle(c.Context, ev)
				if err != nil {
					errs = append(errs, err)
				}
				e.printResult(res)
			}
			if eng.LockFailed != nil {
				// Released without the lock: the second pass under it
				// decides the exit code.
				_, err := eng.Settle(c.Context, evs)
				return failed(err)
			}
			return failed(errors.Join(errs...))
		},
	}
}
