package main

import (
	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/importconf"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "print a kahook.conf drafted from a keepalived.conf (one instance per vrrp_instance, the virtual_server blocks)",
		ArgsUsage: "KEEPALIVED_CONF",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "keepalived", Usage: "print the keepalived.conf that goes with the draft instead (placeholder VIPs, kahook notify, kahook sync as a tracked vrrp_script)"},
		},
		Action: func(c *cli.Context) error {
			e := getEnv(c)
			if c.NArg() != 1 {
				return usage("import: expected the keepalived.conf to read")
			}
			path := c.Args().First()
			tree, _, err := config.ParseTree(path, config.Options{ConfigID: e.configID})
			if err != nil {
				return usage("%v", err)
			}
			if c.Bool("keepalived") {
				return failed(importconf.DraftKeepalived(e.stdout, path, tree))
			}
			return failed(importconf.Draft(e.stdout, path, tree))
		},
	}
}
