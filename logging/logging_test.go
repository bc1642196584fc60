package logging

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSyslog: lines reach syslog with ident kahook, facility daemon and
// the record's severity, as well as stderr; debug lines only when asked.
func TestSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var stderr bytes.Buffer
	log, closeLog := New(Options{Level: slog.LevelInfo, Stderr: &stderr, Syslog: "on", SyslogAddr: sock})
	log.Info("VIP added", "vip", "10.0.0.1/32", "dev", "lo")
	log.Error("transition step failed", "err", "no IPVS")
	log.Debug("not at info level")
	closeLog()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	var got []string
	buf := make([]byte, 2048)
	for len(got) < 2 {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read syslog: %v (got %q)", err, got)
		}
		got = append(got, string(buf[:n]))
	}
	// <PRI> = facility daemon (3) * 8 + severity: info 6 -> 30, err 3 -> 27.
	if !strings.HasPrefix(got[0], "<30>") || !strings.Contains(got[0], "kahook[") || !strings.Contains(got[0], "VIP added vip=10.0.0.1/32 dev=lo") {
		t.Errorf("info line: %q", got[0])
	}
	if !strings.HasPrefix(got[1], "<27>") || !strings.Contains(got[1], `err="no IPVS"`) {
		t.Errorf("error line: %q", got[1])
	}
	if !strings.Contains(stderr.String(), "level=INFO msg=\"VIP added\"") || strings.Contains(stderr.String(), "not at info level") {
		t.Errorf("stderr: %q", stderr.String())
	}
}

// TestSyslogAutoOffOnTerminal: "auto" uses syslog only when stderr is not
// a terminal; a buffer is not one, "off" never does.
func TestSyslogOff(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	log, closeLog := New(Options{Level: slog.LevelInfo, Stderr: &bytes.Buffer{}, Syslog: "off", SyslogAddr: sock})
	log.Info("hello")
	closeLog()
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := conn.Read(make([]byte, 100)); err == nil {
		t.Errorf("syslog off still sent %d bytes", n)
	}
}

// TestSyslogQuotesControlCharacters: a value or message with a newline
// (an instance name from argv, a FIFO line) stays on one syslog line, so
// it cannot forge another (issue 15 case 7).
func TestSyslogQuotesControlCharacters(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	log, closeLog := New(Options{Level: slog.LevelInfo, Stderr: &bytes.Buffer{}, Syslog: "on", SyslogAddr: sock})
	log.Info("event", "instance", "VI_1\nforged")
	log.Info("line\nforged", "k", "v")
	closeLog()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	for _, want := range []string{`event instance="VI_1\nforged"`, `"line\nforged" k=v`} {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read syslog: %v", err)
		}
		if got := strings.TrimSuffix(string(buf[:n]), "\n"); !strings.Contains(got, want) || strings.Contains(got, "\n") {
			t.Errorf("syslog line %q: want %s on one line", got, want)
		}
	}
}

// TestSyslogConnectsAtFirstLine: the syslog socket is opened when the
// first line reaches it, not when the logger is made, so a run that logs
// nothing (a healthy check every interval) opens no socket; a syslog that
// appears between the two still gets the line.
func TestSyslogConnectsAtFirstLine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	log, closeLog := New(Options{Level: slog.LevelInfo, Stderr: &bytes.Buffer{}, Syslog: "on", SyslogAddr: sock})
	defer closeLog()
	log.Debug("below the level: no line, no socket")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	log.Warn("first line")
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "first line") {
		t.Fatalf("syslog got %q, %v", buf[:n], err)
	}
}
