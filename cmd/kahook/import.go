package main

import (
	"fmt"
	"strings"

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
			// What the draft flags and the operator must act on goes to
			// stderr too: a draft redirected to a file is not read first.
			notes := importconf.ConfigIDNotes(path, config.Options{ConfigID: e.configID})
			notes = append(notes, importconf.ProblemNotes(path, config.Options{ConfigID: e.configID})...)
			for _, u := range append(append(notes, importconf.Fixmes(tree)...), importconf.Unowned(path, tree)...) {
				fmt.Fprintln(e.stderr, "kahook: warning:", escapeControl(u))
			}
			draft := importconf.Draft
			if c.Bool("keepalived") {
				draft = importconf.DraftKeepalived
			}
			if !e.json {
				return failed(draft(e.stdout, path, tree, notes...))
			}
			var out strings.Builder
			if err := draft(&out, path, tree, notes...); err != nil {
				return failed(err)
			}
			return printJSON(e.stdout, importJSON{Source: path, Config: out.String()})
		},
	}
}

// importJSON is `import --json`: the drafted kahook.conf as one string.
type importJSON struct {
	Source string `json:"source"`
	Config string `json:"config"`
}
