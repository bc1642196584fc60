package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/vip"
)

func vipCommand() *cli.Command {
	devFlag := &cli.StringFlag{Name: "dev", Value: "lo", Usage: "interface the VIPs are on"}
	labelFlag := &cli.StringFlag{Name: "label", Usage: "address label, e.g. lo:vip (must start with the interface name)"}
	forceFlag := &cli.BoolFlag{Name: "force", Usage: "act on addresses that are no VIP of the config"}
	return &cli.Command{
		Name:  "vip",
		Usage: "add, remove or list VIPs (/32 or /128) on an interface",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "bind VIPs (idempotent: a present VIP is left alone)",
				ArgsUsage: "IP[/LEN]...",
				Flags:     []cli.Flag{devFlag, labelFlag, forceFlag},
				Action:    func(c *cli.Context) error { return vipChange(c, true) },
			},
			{
				Name:      "del",
				Usage:     "remove VIPs (idempotent: an absent VIP is no error)",
				ArgsUsage: "IP...",
				Flags:     []cli.Flag{devFlag, forceFlag},
				Action:    func(c *cli.Context) error { return vipChange(c, false) },
			},
			{
				Name:  "list",
				Usage: "list the addresses on the interface",
				Flags: []cli.Flag{devFlag},
				Action: func(c *cli.Context) error {
					e := getEnv(c)
					m, err := vip.NewManager(e.log)
					if err != nil {
						return failed(err)
					}
					list, err := m.List(c.String("dev"))
					if errors.Is(err, vip.ErrNoInterface) {
						return usage("%v", err)
					}
					if err != nil {
						return failed(err)
					}
					if e.json {
						return printJSON(e.stdout, emptyIfNil(list))
					}
					for _, p := range list {
						fmt.Fprintln(e.stdout, p)
					}
					return nil
				},
			},
		},
	}
}

func vipChange(c *cli.Context, add bool) error {
	e := getEnv(c)
	if c.NArg() == 0 {
		return usage("vip: expected at least one IP")
	}
	dev, label := c.String("dev"), c.String("label")
	if label != "" && !strings.HasPrefix(label, dev) {
		return usage("vip: label %q must start with the interface name %q", label, dev)
	}
	var addrs []vip.Addr
	for _, s := range c.Args().Slice() {
		p, err := parseVIP(s)
		if err != nil {
			return usage("vip: %v", err)
		}
		a := vip.Addr{Prefix: p, Dev: dev, Label: label}
		if err := a.Check(); err != nil {
			return usage("vip: %v", err)
		}
		addrs = append(addrs, a)
	}
	if !c.Bool("force") {
		// kahook removes and adds only what its config calls a VIP, so a
		// typo cannot take a node's real address away.
		cfg, err := e.loadConfig()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if !configHasVIP(cfg, a.Prefix.Addr()) {
				return usage("vip: %s is not a VIP of any instance or realserver block in %q (use --force to act anyway)", a.Prefix.Addr(), cfg.Path)
			}
		}
	}
	m, err := vip.NewManager(e.log)
	if err != nil {
		return failed(err)
	}
	changes, err := m.Ensure(addrs, add, e.dryRun)
	if errors.Is(err, vip.ErrNoInterface) {
		return usage("%v", err)
	}
	if e.dryRun || e.json {
		if e.json {
			_ = printJSON(e.stdout, emptyIfNil(changes))
		} else {
			for _, ch := range changes {
				fmt.Fprintln(e.stdout, ch)
			}
		}
	}
	return failed(err)
}

// parseVIP reads a VIP flag or argument: an address (a host prefix) or a
// prefix. An IPv4-mapped IPv6 address is refused as the config refuses it
// in virtual_ipaddress (keepalived reads it as IPv6): binding the IPv4
// address instead would not be what was written.
func parseVIP(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address", s)
		}
		p = vip.HostPrefix(a)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped IPv6 address: write %s", s, p.Addr().Unmap())
	}
	return p, nil
}

func configHasVIP(cfg *config.Config, a netip.Addr) bool {
	for _, in := range cfg.Instances {
		for _, v := range in.VIPs {
			if v.Prefix.Addr() == a {
				return true
			}
		}
	}
	if cfg.RealServer != nil {
		for _, v := range cfg.RealServer.VIPs {
			if v.Prefix.Addr() == a {
				return true
			}
		}
	}
	return false
}
