//go:build urfave_cli_no_docs

package main

import "github.com/urfave/cli/v2"

// manCommand in the shipped build (-tags urfave_cli_no_docs, see man.go):
// the man pages are generated at package time by a development build, so
// the markdown and roff libraries stay out of every run's start-up.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print a man page (only in a development build: go run ./cmd/kahook man 8|5)",
		ArgsUsage: "[8|5]", // as the development build's: `man 8` gets the message below
		Hidden:    true,
		Action: func(*cli.Context) error {
			return usage("man: this build has no man page generator; the packages ship kahook(8) and kahook.conf(5), or run in kahook's source tree: go run ./cmd/kahook man 8|5")
		},
	}
}
