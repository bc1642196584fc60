package main

import (
	"encoding/json"
	"errors"
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
					return e.configErrorsJSON(err)
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
					return e.configErrorsJSON(usage("%s", strings.Join(unsafe, "\n")))
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

// configErrors is `config check --json` for a config that does not
// load: its errors, each at file:line where it has one, so a script
// reading stdout gets JSON either way.
type configErrors struct {
	Path   string        `json:"path"`
	Errors []configError `json:"errors"`
}

type configError struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Msg  string `json:"msg"`
}

// configErrorsJSON prints err as configErrors under --json and returns
// it (its exit code and stderr lines are as without --json).
func (e *env) configErrorsJSON(err error) error {
	if !e.json {
		return err
	}
	out := configErrors{Path: e.configPath, Errors: []configError{}}
	var list config.ErrorList
	var one *config.Error
	switch {
	case errors.As(err, &list):
		for _, x := range list {
			out.Errors = append(out.Errors, configError{File: x.Pos.File, Line: x.Pos.Line, Msg: x.Msg})
		}
	case errors.As(err, &one):
		out.Errors = append(out.Errors, configError{File: one.Pos.File, Line: one.Pos.Line, Msg: one.Msg})
	default:
		var ml exitLines
		if errors.As(err, &ml) {
			for _, l := range ml.lines {
				out.Errors = append(out.Errors, configError{Msg: l})
			}
		} else {
			out.Errors = append(out.Errors, configError{Msg: err.Error()})
		}
	}
	if perr := printJSON(e.stdout, out); perr != nil {
		return perr
	}
	return err
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
