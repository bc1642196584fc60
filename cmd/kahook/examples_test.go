package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/testbin"
)

// TestExampleCommandsAreAccepted: every kahook command line in the
// packaged keepalived.conf examples (notify, notify_fifo_script,
// vrrp_script, misc_path), with the words keepalived appends, passes the
// CLI's argument and flag checks. The actions are replaced, so nothing
// runs; a flag written after an argument (refused with exit 2, which
// keepalived would read as a failed script) fails here.
func TestExampleCommandsAreAccepted(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testbin.RepoRoot(), "packaging", "examples", "*", "keepalived.conf"))
	line := regexp.MustCompile(`^\s*(notify|notify_master|notify_backup|notify_fault|notify_stop|notify_fifo_script|script|misc_path)\s+"(/usr/sbin/kahook[^"]*)"`)
	appended := map[string][]string{
		"notify":             {"INSTANCE", "VI_1", "MASTER", "100"}, // keepalived's generic notify
		"notify_fifo_script": {"/run/keepalived.fifo"},
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(string(data), "\n") {
			m := line.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			n++
			argv, err := config.SplitCommand(m[2])
			if err != nil {
				t.Fatalf("%s:%d: %v", f, i+1, err)
			}
			args := append(append([]string{"kahook"}, argv[1:]...), appended[m[1]]...)
			app := newApp(io.Discard, io.Discard)
			ran := false
			leaves(nil, app.Commands, func(_ []string, c *cli.Command) {
				c.Action = func(*cli.Context) error { ran = true; return nil }
			})
			if err := app.Run(args); err != nil || !ran {
				t.Errorf("%s:%d: %q refused: %v", filepath.Base(filepath.Dir(f)), i+1, strings.Join(args[1:], " "), err)
			}
		}
	}
	if n < 6 {
		t.Errorf("only %d kahook command lines found in %v", n, files)
	}
}
