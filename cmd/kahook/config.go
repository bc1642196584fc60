package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "validate a kahook.conf",
		Subcommands: []*cli.Command{{
			Name:      "check",
			Usage:     "validate FILE (default --config) and print a summary; --json prints the model",
			ArgsUsage: "[FILE]",
			Action: func(c *cli.Context) error {
				e := getEnv(c)
				if c.NArg() > 1 {
					return usage("config check takes at most one FILE")
				}
				if c.NArg() == 1 {
					e.configPath = c.Args().First()
				}
				e.listsProblems = true
				cfg, err := e.loadConfig()
				if err != nil {
					return err
				}
				// A MISC_CHECK program that breaks the script-security
				// rule is a config error; a missing one is left to doctor.
				var unsafe []string
				for _, p := range check.ScriptProblems(cfg) {
					if p.Unsafe() {
						unsafe = append(unsafe, p.Error())
					}
				}
				if len(unsafe) > 0 {
					return usage("%s", strings.Join(unsafe, "\n"))
				}
				if e.json {
					if err := printJSONSeconds(e.stdout, cfg); err != nil {
						return err
					}
					return problemsExit(cfg)
				}
				printSummary(e.stdout, config.Summarize(cfg))
				return problemsExit(cfg)
			},
		}},
	}
}

// problemsExit: what `keepalived -t` reports fails `config check` too
// (exit 2, each problem with file:line), though running commands read
// past it as keepalived does.
func problemsExit(cfg *config.Config) error {
	if len(cfg.Problems) == 0 {
		return nil
	}
	msgs := make([]string, len(cfg.Problems))
	for i, p := range cfg.Problems {
		msgs[i] = p.String()
	}
	msgs = append(msgs, fmt.Sprintf("%s: %d problem(s) (keepalived reports those of its own blocks too; running commands skip what is invalid, as keepalived does)", cfg.Path, cfg.ProblemCount()))
	return exitLines{msgs, exitUsage}
}

func printSummary(w io.Writer, s config.Summary) {
	status := "OK"
	if s.Problems > 0 {
		status = fmt.Sprintf("%d problem(s)", s.Problems)
	}
	fmt.Fprintf(w, "%s: %s\n", s.Path, status)
	fmt.Fprintf(w, "  instances:       %d\n", s.Instances)
	fmt.Fprintf(w, "  VIPs:            %d\n", s.VIPs)
	fmt.Fprintf(w, "  virtual servers: %d\n", s.VirtualServers)
	fmt.Fprintf(w, "  real servers:    %d\n", s.RealServers)
	fmt.Fprintf(w, "  sorry servers:   %d\n", s.SorryServers)
	fmt.Fprintf(w, "  checks:          %d\n", s.Checks)
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
