package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/sysctl"
	"github.com/kahook/kahook/vip"
)

func realserverCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "vip", Usage: "VIP to bind on lo (repeatable; default: the config's realserver block)"},
		&cli.StringFlag{Name: "interface", Aliases: []string{"i"}, Usage: "interface ARP requests arrive on (default: the realserver block's)"},
		&cli.StringFlag{Name: "proc-sys", Value: "/proc/sys", Hidden: true},
	}
	return &cli.Command{
		Name:  "realserver",
		Usage: "LVS-DR/TUN real server: ARP sysctls first, then the VIPs on lo (down: VIPs off)",
		Subcommands: []*cli.Command{
			{Name: "up", Usage: "realserver sysctls on all, lo and the interface, then the VIPs on lo", Flags: flags,
				Action: func(c *cli.Context) error { return realserver(c, true) }},
			{Name: "down", Usage: "remove the VIPs (sysctls stay: they are harmless without VIPs)", Flags: flags,
				Action: func(c *cli.Context) error { return realserver(c, false) }},
		},
	}
}

func realserver(c *cli.Context, up bool) error {
	e := getEnv(c)
	iface := c.String("interface")
	var addrs []vip.Addr
	for _, s := range c.StringSlice("vip") {
		p, err := parseVIP(s)
		if err != nil {
			return usage("realserver: %v", err)
		}
		if p.Bits() != p.Addr().BitLen() {
			return usage("realserver: %s: a VIP on lo must be /%d", p, p.Addr().BitLen())
		}
		addrs = append(addrs, vip.Addr{Prefix: p, Dev: "lo"})
	}
	if len(addrs) == 0 || iface == "" {
		cfg, err := e.loadConfig()
		if err != nil {
			return err
		}
		node := cfg.RealServer
		if node == nil {
			return usage("realserver: no --vip given and no 'realserver { }' block in %q", cfg.Path)
		}
		if iface == "" {
			iface = node.Interface
		}
		if len(addrs) == 0 {
			for _, v := range node.VIPs {
				addrs = append(addrs, vip.Addr{Prefix: v.Prefix, Dev: v.Dev, Label: v.Label})
			}
		}
	}
	if up && iface == "" {
		return usage("realserver up: --interface is required (the realserver block has none)")
	}
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
	out := realserverJSON{Sysctls: []sysctl.Change{}, VIPs: []vip.Change{}, DryRun: e.dryRun}
	if up {
		// Sysctls before the VIPs: a VIP on lo with arp_ignore 0 is
		// answered (and stolen from the director) the moment it is added.
		changes, err := fs.Ensure(config.RoleRealServer, iface, e.dryRun, e.log)
		out.Sysctls = emptyIfNil(changes)
		if e.dryRun && !e.json {
			for _, ch := range changes {
				fmt.Fprintf(e.stdout, "would set net.ipv4.conf.%s.%s %d -> %d\n", ch.Iface, ch.Knob, ch.From, ch.Value.Value)
			}
		}
		if err != nil {
			if e.json {
				_ = printJSON(e.stdout, out)
			}
			return failed(err)
		}
	}
	changes, err := m.Ensure(addrs, up, e.dryRun)
	if errors.Is(err, vip.ErrNoInterface) {
		return usage("%v", err)
	}
	out.VIPs = emptyIfNil(changes)
	if e.json {
		_ = printJSON(e.stdout, out)
	} else if e.dryRun {
		for _, ch := range changes {
			fmt.Fprintf(e.stdout, "would %s %s\n", ch.Op, ch.Addr)
		}
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
