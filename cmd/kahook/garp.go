package main

import (
	"context"
	"fmt"
	"net/netip"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/arp"
	"github.com/kahook/kahook/notify"
	"github.com/kahook/kahook/state"
)

func garpCommand() *cli.Command {
	return &cli.Command{
		Name:      "garp",
		Usage:     "send gratuitous ARP (request and reply forms; unsolicited NA for IPv6)",
		ArgsUsage: "IP...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "interface", Aliases: []string{"i"}, Usage: "interface to send on"},
			&cli.IntFlag{Name: "repeat", Value: 5, Usage: "rounds per burst (garp_master_repeat)"},
			timeFlag("interval", nil, 300*time.Millisecond, "time between rounds of a burst"),
			timeFlag("delay", nil, 0, "second burst after this (garp_master_delay; 0 = none)"),
			timeFlag("refresh", nil, 0, "repeat a burst this often (garp_master_refresh; 0 = never)"),
			// Internal: the background rest of a MASTER transition.
			&cli.StringFlag{Name: "follow", Hidden: true},
			&cli.StringFlag{Name: "event", Hidden: true},
			&cli.Int64Flag{Name: "start", Hidden: true},
		},
		Action: func(c *cli.Context) error {
			if c.String("follow") != "" || flagTime(c, "refresh") > 0 {
				// garp_master_refresh: it lives as long as MASTER.
				longRunGC()
			}
			e := getEnv(c)
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if name := c.String("follow"); name != "" {
				return garpFollow(ctx, c, e, name)
			}
			if c.String("interface") == "" || c.NArg() == 0 {
				return usage("garp: expected --interface IF and at least one IP")
			}
			var ips []netip.Addr
			for _, s := range c.Args().Slice() {
				a, err := netip.ParseAddr(s)
				if err != nil {
					return usage("garp: %q is not an IP address", s)
				}
				ips = append(ips, a.Unmap())
			}
			client, ifi, err := arp.Dial(c.String("interface"))
			if err != nil {
				return usage("garp: %v", err)
			}
			defer client.Close()
			a := &arp.Announcer{W: client, MAC: ifi.HardwareAddr, Log: e.log}
			for _, ip := range ips {
				if ip.Is6() {
					if na, err := arp.DialNA(ifi); err == nil {
						a.NA = na
						defer na.Close()
					}
					break
				}
			}
			sched := arp.Schedule{Repeat: c.Int("repeat"), Interval: flagTime(c, "interval"), Delay: flagTime(c, "delay"), Refresh: flagTime(c, "refresh"), RefreshRepeat: 1}
			if sched.Repeat < 1 {
				return usage("garp: --repeat must be at least 1")
			}
			sent, err := a.Run(ctx, ips, sched, time.Now(), 0, nil)
			e.log.Info("gratuitous ARP sent", "interface", ifi.Name, "frames", sent)
			if e.json {
				_ = printJSON(e.stdout, map[string]any{"interface": ifi.Name, "frames": sent})
			}
			return failed(err)
		},
	}
}

func garpFollow(ctx context.Context, c *cli.Context, e *env, name string) error {
	key, err := notify.ParseKey(c.String("event"))
	if err != nil {
		return usage("garp: %v", err)
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	store, err := state.Open(e.resolveStateDir(cfg))
	if err != nil {
		return failed(err)
	}
	store.Log = e.log
	start := time.Unix(0, c.Int64("start"))
	if c.Int64("start") == 0 {
		start = time.Now()
	}
	if err := notify.Follow(ctx, cfg, store, name, key, start, e.log); err != nil {
		return failed(fmt.Errorf("background gratuitous ARP for %q: %w", name, err))
	}
	return nil
}
