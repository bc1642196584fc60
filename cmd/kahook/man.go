//go:build !urfave_cli_no_docs

package main

// The man page generator. urfave/cli's ToMan and the markdown-to-roff
// library behind it (go-md2man, blackfriday) are compiled only without the
// urfave_cli_no_docs tag. The shipped binary is built with that tag
// (Makefile, scripts/package.sh, internal/testbin, vm/vm.sh): blackfriday's
// package initialisation alone was 60% of the instructions of every
// `kahook check tcp` run. scripts/package.sh generates the page with a
// development build (`go run ./cmd/kahook man`), so the page still comes
// from the command tree and cannot disagree with it.

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// manCommand prints kahook(8) in roff.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the kahook(8) man page (roff; development builds only)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			page, err := c.App.ToManWithSection(8)
			if err != nil {
				return failed(err)
			}
			fmt.Fprint(getEnv(c).stdout, page)
			return nil
		},
	}
}
