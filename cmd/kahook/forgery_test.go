package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNoForgedLogLines feeds values with newlines and carriage returns
// (an instance name from argv, a config path, a FIFO line, a program
// name) to kahook with syslog on, and checks that neither stderr nor
// syslog gets a line that starts with the forged text (issue 15 case 7).
func TestNoForgedLogLines(t *testing.T) {
	const forged = "level=ERROR msg=forged"
	dir := t.TempDir()
	conf := filepath.Join(dir, "kahook.conf")
	os.WriteFile(conf, []byte(refuseConf), 0o644)
	fifo := filepath.Join(dir, "fifo")
	for _, tc := range []struct {
		name string
		args []string
		fifo string // written into the FIFO, then closed
		exit int
		conf string // the config's text, when not the common one
	}{
		{"notify instance with a newline", []string{"notify", "master", "VI_1\n" + forged}, "", 2, ""},
		{"notify instance with a carriage return", []string{"notify", "master", "VI_1\r" + forged}, "", 2, ""},
		{"generic notify instance with a newline", []string{"notify", "INSTANCE", "VI_1\n" + forged, "MASTER", "100"}, "", 2, ""},
		{"notify state with a newline", []string{"notify", "master\n" + forged, "VI_1"}, "", 2, ""},
		{"ipvs apply instance with a newline", []string{"ipvs", "apply", "VI_1\n" + forged}, "", 2, ""},
		{"sync instance with a newline", []string{"sync", "VI_1\n" + forged}, "", 2, ""},
		{"config path with a newline", []string{"--config", conf + "\n" + forged, "config", "check"}, "", 2, ""},
		{"check misc program with a newline", []string{"check", "misc", "--", "/nonexistent\n" + forged}, "", 1, ""},
		{"stray argument with a newline", []string{"version", "x\n" + forged}, "", 2, ""},
		{"FIFO line with a carriage return", []string{"fifo", fifo}, "INSTANCE VI_1\r" + forged + " MASTER 100\nINSTANCE \"VI_9\r" + forged + "\" BACKUP 50\n", 0, ""},
		{"config word with a carriage return", []string{"config", "check"}, "", 2, "virtual_server 10.0.0.1 80 {\n  lb_kind X\r" + forged + "\n}\n"},
		{"config name with a terminal escape", []string{"notify", "master", "VI_1"}, "", 2, "instance VI\x1b]0;x\x07_1 {\n interface lo\n}\n\n" + forged + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "log")
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if tc.fifo != "" {
				os.Remove(fifo)
				if err := syscall.Mkfifo(fifo, 0o600); err != nil {
					t.Fatal(err)
				}
				go func() {
					f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
					if err == nil {
						f.WriteString(tc.fifo)
						f.Close()
					}
				}()
			}
			cfg := conf
			if tc.conf != "" {
				cfg = filepath.Join(t.TempDir(), "kahook.conf")
				os.WriteFile(cfg, []byte(tc.conf), 0o644)
			}
			args := append([]string{"kahook", "--syslog", "on", "--syslog-addr", sock, "--config", cfg, "--state-dir", filepath.Join(t.TempDir(), "state")}, tc.args...)
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			if code != tc.exit {
				t.Errorf("exit %d, want %d\n%s", code, tc.exit, stderr.String())
			}
			conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			var syslog []string
			buf := make([]byte, 8192)
			for {
				n, err := conn.Read(buf)
				if err != nil {
					break
				}
				syslog = append(syslog, string(buf[:n]))
			}
			if len(syslog) == 0 && tc.exit == exitUsage {
				t.Errorf("nothing reached syslog (a refused run's error goes there too)")
			}
			t.Logf("stderr:\n%s\nsyslog:\n%s", stderr.String(), strings.Join(syslog, ""))
			for where, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "syslog": strings.Join(syslog, "")} {
				if i := strings.IndexFunc(text, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }); i >= 0 {
					t.Errorf("%s has a raw control character %q at %d:\n%q", where, text[i], i, text)
				}
				for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' }) {
					// syslog lines start with <PRI>timestamp kahook[pid]: .
					if _, after, ok := strings.Cut(line, "]: "); ok && where == "syslog" {
						line = after
					}
					if strings.HasPrefix(line, forged) || strings.HasPrefix(line, "kahook: "+forged) {
						t.Errorf("%s has a forged line %q:\n%s", where, line, text)
					}
				}
			}
		})
	}
}
