package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/notify"
	"github.com/kahook/kahook/pool"
	"github.com/kahook/kahook/vip"
)

func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "validate kahook.conf and apply its IPVS services and VIPs for the instances this node is MASTER for (keepalived's ExecReload)",
		UsageText: "kahook reload\n\n" +
			"   A config that does not validate changes nothing and exits 2 (logged). On a node that is\n" +
			"   MASTER for no instance it only validates. The table is diffed, never flushed, and keeps\n" +
			"   the pool's health decisions; then VIPs the config now names are bound and announced,\n" +
			"   and VIPs it no longer names are removed. Without the default kahook.conf (a node\n" +
			"   where keepalived does not use kahook) and with no VIP kahook bound, it does nothing.",
		Action: func(c *cli.Context) error {
			e := getEnv(c)
			if err := maxArgs(c, 0); err != nil {
				return err
			}
			if _, err := os.Lstat(e.configPath); errors.Is(err, os.ErrNotExist) {
				// keepalived's ExecReload drop-in runs on every node
				// kahook is installed on, also where keepalived.conf
				// does not use it: without the default kahook.conf and
				// without addresses kahook bound there is nothing to
				// reload, and keepalived's reload must not fail for it
				// (as `release --all`). A missing --config, or VIPs
				// kahook bound with no config to reload them from, is
				// an error that says the file is missing.
				if !e.configSet {
					if marked, merr := vip.Marked(); merr == nil && len(marked) == 0 {
						e.log.Debug("no kahook config: nothing to reload", "config", e.configPath)
						return nil
					}
				}
				msg := missingConfig(e.configPath)
				e.log.Error("reload refused: kahook.conf is missing; nothing changed", "config", e.configPath)
				return usage("reload: %s", msg)
			}
			cfg, err := e.loadConfig()
			if err != nil {
				e.log.Error("reload refused: kahook.conf does not validate; nothing changed", "config", e.configPath, "error", err.Error())
				return err
			}
			eng, err := e.engineFor(cfg, nil)
			if err != nil {
				return err
			}
			// What a MASTER event would refuse (a missing interface, an
			// unsafe state dir) is refused here, before anything changes.
			if err := eng.ValidateReload(); err != nil {
				var bad *notify.BadInputError
				if errors.As(err, &bad) {
					e.log.Error("reload refused; nothing changed", "error", err.Error())
					return usage("reload: %v", err)
				}
				return failed(err)
			}
			if err := eng.Store.Prepare(); err != nil {
				e.log.Error("reload refused; nothing changed", "error", err.Error())
				return stateFailed(err)
			}
			// IPVS first, so that a VIP the reload binds has its
			// services; the VIPs are not held back by an IPVS failure
			// (as in a MASTER transition). Both act only where the node
			// still holds the instance (Holds).
			res, ipvsErr := pool.Reload(c.Context, cfg, eng.Store, func() (ipvs.Kernel, error) { return ipvs.Open() }, e.log, ipvsDeadline, eng.Holds)
			if res == nil {
				res = &pool.ReloadResult{}
			}
			vres, vipErr := eng.ReloadVIPs(c.Context)
			for _, r := range vres {
				res.VIPChanges += r.Changed
			}
			if e.json {
				_ = printJSON(e.stdout, res)
			}
			return failed(errors.Join(ipvsErr, vipErr))
		},
	}
}
