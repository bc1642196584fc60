package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/notify"
	"github.com/kahook/kahook/pool"
)

func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "validate kahook.conf and apply its IPVS services and VIPs for the instances this node is MASTER for (keepalived's ExecReload)",
		UsageText: "kahook reload\n\n" +
			"   A config that does not validate changes nothing and exits 2 (logged). On a node that is\n" +
			"   MASTER for no instance it only validates. The table is diffed, never flushed, and keeps\n" +
			"   the pool's health decisions; then VIPs the config now names are bound and announced,\n" +
			"   and VIPs it no longer names are removed.",
		Action: func(c *cli.Context) error {
			e := getEnv(c)
			if err := maxArgs(c, 0); err != nil {
				return err
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
				return failed(err)
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
