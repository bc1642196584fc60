package main

import "github.com/urfave/cli/v2"

// notImplemented registers a command whose issue has not landed: it is
// visible in --help and fails with exit 2, never a silent success.
func notImplemented(name, usageText string, sub ...string) *cli.Command {
	act := func(c *cli.Context) error {
		return usage("%s: not implemented yet", c.Command.FullName())
	}
	cmd := &cli.Command{Name: name, Usage: usageText + " (not implemented yet)", Action: act}
	for _, s := range sub {
		cmd.Subcommands = append(cmd.Subcommands, &cli.Command{Name: s, Usage: "(not implemented yet)", Action: act})
	}
	return cmd
}

func doctorCommand() *cli.Command {
	return notImplemented("doctor", "lint keepalived.conf and kahook.conf, check live state")
}
func importCommand() *cli.Command {
	return notImplemented("import", "print a kahook.conf drafted from a keepalived.conf")
}
