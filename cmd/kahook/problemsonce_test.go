package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestConfigProblemsLoggedOnce: a release (notify BACKUP, FAULT, STOP,
// release) reads the config once, so each of its problems is logged once,
// as for MASTER; it read the config twice (once to know whether to
// release without it, once for the engine), logging every problem twice
// and parsing a large config twice on the failover path. Dry runs in a
// namespace.
func TestConfigProblemsLoggedOnce(t *testing.T) {
	bin := testbin.Kahook(t)
	ns := netnstest.New(t, "prb1")
	dir := t.TempDir()
	conf := filepath.Join(dir, "kahook.conf")
	// The virtual server has no real servers: keepalived ignores it (a
	// problem), and so does kahook.
	text := "instance VI_1 {\n interface lo\n virtual_ipaddress { 192.0.2.10 }\n}\n" +
		"virtual_server 192.0.2.10 80 {\n protocol TCP\n lb_algo rr\n lb_kind DR\n}\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{bin, "--syslog", "off", "--dry-run", "--config", conf, "--state-dir", filepath.Join(dir, "state")}
	for _, args := range [][]string{{"notify", "master", "VI_1"}, {"notify", "backup", "VI_1"}, {"notify", "fault", "VI_1"}, {"notify", "stop", "VI_1"}, {"release", "VI_1"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := ns.Command(append(append([]string{}, base...), args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
			}
			if n := strings.Count(stderr.String(), "has no real servers"); n != 1 {
				t.Errorf("the config's problem logged %d times, want once:\n%s", n, stderr.String())
			}
		})
	}
}
