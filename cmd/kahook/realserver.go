package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/notify"
	"github.com/kahook/kahook/sysctl"
	"github.com/kahook/kahook/vip"
)

func realserverCommand() *cli.Command {
	flags := func(vipUsage string) []cli.Flag {
		return []cli.Flag{
			&cli.StringSliceFlag{Name: "vip", Usage: vipUsage + " (repeatable; default: the config's realserver block)"},
			&cli.StringFlag{Name: "interface", Aliases: []string{"i"}, Usage: "interface ARP requests arrive on (default: the realserver block's)"},
			&cli.StringFlag{Name: "proc-sys", Value: "/proc/sys", Hidden: true},
		}
	}
	return &cli.Command{
		Name:  "realserver",
		Usage: "LVS-DR/TUN real server: ARP sysctls first, then the VIPs on lo (down: VIPs off)",
		Subcommands: []*cli.Command{
			{Name: "up", Usage: "realserver sysctls on all, lo and the interface, then the VIPs on lo", Flags: flags("VIP to bind on lo"),
				Action: func(c *cli.Context) error { return realserver(c, true) }},
			{Name: "down", Usage: "remove the VIPs (sysctls stay: they are harmless without VIPs)", Flags: flags("VIP to remove from lo"),
				Action: func(c *cli.Context) error { return realserver(c, false) }},
		},
	}
}

func realserver(c *cli.Context, up bool) error {
	e := getEnv(c)
	iface := c.String("interface")
	// The node as an instance of its own whose plan is RealServerSteps.
	node := &config.Instance{Name: "realserver"}
	for _, s := range c.StringSlice("vip") {
		p, err := parseVIP(s)
		if err != nil {
			return usage("realserver: %v", err)
		}
		if err := (vip.Addr{Prefix: p, Dev: "lo"}).Check(); err != nil {
			return usage("realserver: %v", err)
		}
		node.VIPs = append(node.VIPs, config.VIP{Prefix: p, Dev: "lo"})
	}
	if len(node.VIPs) == 0 || iface == "" {
		cfg, err := e.loadConfig()
		if err != nil {
			return err
		}
		block := cfg.RealServer
		if block == nil {
			missing := "--vip and --interface"
			switch {
			case len(node.VIPs) > 0:
				missing = "--interface (the interface ARP requests arrive on)"
			case iface != "":
				missing = "--vip"
			}
			return usage("realserver: no %s given and no 'realserver { }' block in %q", missing, cfg.Path)
		}
		if iface == "" {
			iface = block.Interface
		}
		if len(node.VIPs) == 0 {
			node.VIPs = block.VIPs
		}
	}
	if up && iface == "" {
		return usage("realserver up: --interface is required (the realserver block has none)")
	}
	node.Interface = iface
	fs := sysctl.FS{Root: c.String("proc-sys")}
	if iface != "" {
		if _, err := os.Stat(fs.Root + "/net/ipv4/conf/" + iface); err != nil {
			return usage("realserver: interface %q does not exist", iface)
		}
	}
	m, err := vip.NewManager(e.log)
	if err != nil {
		return failed(err)
	}
	eng := &notify.Engine{VIPs: m, Sysctl: fs, Log: e.log, DryRun: e.dryRun}
	res, err := eng.Run(c.Context, node, notify.RealServerSteps(up))
	if errors.Is(err, vip.ErrNoInterface) {
		return usage("%v", err)
	}
	if e.json {
		_ = printJSON(e.stdout, toRealserverJSON(res))
	} else if e.dryRun {
		notify.WritePlan(e.stdout, fmt.Sprintf("realserver %s (dry run)", map[bool]string{true: "up", false: "down"}[up]), res.Steps)
	}
	return failed(err)
}

// realserverJSON is `realserver up|down --json`: the changes made (with
// --dry-run: that would be made), in the order they are made.
type realserverJSON struct {
	Sysctls []sysctl.Change `json:"sysctls"`
	VIPs    []vip.Change    `json:"vips"`
	DryRun  bool            `json:"dry_run"`
}

func toRealserverJSON(res *notify.Result) realserverJSON {
	out := realserverJSON{Sysctls: []sysctl.Change{}, VIPs: []vip.Change{}, DryRun: res.DryRun}
	for _, s := range res.Steps {
		for _, c := range s.Changes {
			switch {
			case c.Sysctl != nil:
				out.Sysctls = append(out.Sysctls, *c.Sysctl)
			case c.VIP != nil:
				out.VIPs = append(out.VIPs, *c.VIP)
			}
		}
	}
	return out
}
