package main

import (
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestFlagsHaveUsage: every visible flag of every command says in --help
// what it does (check file's --absent and --present had none), and
// realserver down's --vip says it removes the VIP, not binds it.
func TestFlagsHaveUsage(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	leaves(nil, app.Commands, func(path []string, c *cli.Command) {
		for _, f := range c.Flags {
			df, ok := f.(cli.DocGenerationFlag)
			if !ok || !f.(cli.VisibleFlag).IsVisible() {
				continue
			}
			name := strings.Join(path, " ") + " --" + f.Names()[0]
			t.Run(name, func(t *testing.T) {
				if strings.TrimSpace(df.GetUsage()) == "" {
					t.Errorf("%s has no usage text", name)
				}
			})
		}
	})
	want := map[string]string{"up": "VIP to bind on lo", "down": "VIP to remove from lo"}
	for _, c := range app.Commands {
		if c.Name != "realserver" {
			continue
		}
		for _, sub := range c.Subcommands {
			for _, f := range sub.Flags {
				if f.Names()[0] == "vip" && !strings.HasPrefix(f.(cli.DocGenerationFlag).GetUsage(), want[sub.Name]) {
					t.Errorf("realserver %s --vip: %q, want %q...", sub.Name, f.(cli.DocGenerationFlag).GetUsage(), want[sub.Name])
				}
			}
		}
	}
}
