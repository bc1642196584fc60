package main

import (
	"context"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/pool"
	"github.com/kahook/kahook/state"
)

func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "validate kahook.conf and apply its IPVS services for the instances this node is MASTER for (keepalived's ExecReload)",
		UsageText: "kahook reload\n\n" +
			"   A config that does not validate changes nothing and exits 2 (logged). On a node that is\n" +
			"   MASTER for no instance it only validates. The table is diffed, never flushed, and keeps\n" +
			"   the pool's health decisions.",
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
			store, err := state.Open(e.resolveStateDir(cfg))
			if err != nil {
				return failed(err)
			}
			lock, err := store.LockWithin(c.Context, 30*time.Second)
			if err != nil {
				return failed(err)
			}
			defer lock.Unlock()
			st, err := store.Load()
			if err != nil {
				return failed(err)
			}
			vss, masters := pool.ReloadServers(cfg, st)
			if len(masters) == 0 {
				e.log.Debug("reload: config valid; MASTER for no instance, nothing to apply", "config", cfg.Path)
				return nil
			}
			if len(vss) == 0 {
				e.log.Debug("reload: config valid; the MASTER instances have no virtual servers", "instances", strings.Join(masters, ","))
				return nil
			}
			h, err := ipvs.Open()
			if err != nil {
				return failed(err)
			}
			m := &ipvs.Manager{K: h, Cfg: cfg, StateDir: store.Dir, Log: e.log, Members: pool.Members(st)}
			ctx, cancel := context.WithTimeout(c.Context, ipvsDeadline)
			defer cancel()
			n, err := m.LoadAll(ctx, vss, false)
			if err != nil {
				return failed(err)
			}
			if n > 0 {
				e.log.Info("reload applied", "instances", strings.Join(masters, ","), "ipvs_changes", n)
			}
			return nil
		},
	}
}
