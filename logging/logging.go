// Package logging sets up kahook's slog logger: text on stderr and, since
// keepalived throws away what its scripts print, the same lines to syslog
// (ident kahook, facility daemon).
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/sys/unix"
)

// Options configure New.
type Options struct {
	Level  slog.Level
	Stderr io.Writer
	// Syslog: "auto" (when stderr is not a terminal), "on" or "off".
	Syslog string
	// SyslogAddr is the syslog socket ("" for the system's /dev/log).
	SyslogAddr string
}

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: expected debug, info, warn or error", s)
	}
	return l, nil
}

// New returns the logger and a function that closes the syslog connection.
func New(opts Options) (*slog.Logger, func()) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	text := slog.NewTextHandler(opts.Stderr, &slog.HandlerOptions{
		Level: opts.Level,
		// The time is syslog's job; a terminal reader wants the message.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	handlers := []slog.Handler{text}
	closer := func() {}
	useSyslog := opts.Syslog == "on" || (opts.Syslog != "off" && !isTerminal(opts.Stderr))
	if useSyslog {
		network := ""
		if opts.SyslogAddr != "" {
			network = "unixgram"
		}
		ls := &lazySyslog{network: network, addr: opts.SyslogAddr}
		handlers = append(handlers, &syslogHandler{ls: ls, level: opts.Level})
		closer = ls.close
	}
	if len(handlers) == 1 {
		return slog.New(text), closer
	}
	return slog.New(fanout(handlers)), closer
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// fanout sends each record to every handler that wants it.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var first error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// lazySyslog connects to syslog at the first line that reaches it, so a
// run that logs nothing at its level (a healthy check every interval, an
// unchanged notify) opens no socket. A missing /dev/log (containers, test
// namespaces) is not an error: stderr still gets every line.
type lazySyslog struct {
	network, addr string

	mu     sync.Mutex
	w      *syslog.Writer
	closed bool // closed, or the dial failed: drop syslog lines
}

func (l *lazySyslog) writer() *syslog.Writer {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil && !l.closed {
		w, err := syslog.Dial(l.network, l.addr, syslog.LOG_DAEMON|syslog.LOG_INFO, "kahook")
		if err != nil {
			l.closed = true
			return nil
		}
		l.w = w
	}
	return l.w
}

func (l *lazySyslog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w != nil {
		_ = l.w.Close()
		l.w = nil
	}
	l.closed = true
}

// syslogHandler writes "msg key=value ..." at the record's severity.
type syslogHandler struct {
	ls    *lazySyslog
	level slog.Level
	attrs []slog.Attr
}

func (h *syslogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *syslogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if hasUnprintable(r.Message) {
		b.WriteString(strconv.Quote(r.Message))
	} else {
		b.WriteString(r.Message)
	}
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%s", a.Key, quote(a.Value.String()))
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	msg := b.String()
	w := h.ls.writer()
	if w == nil {
		return nil
	}
	switch {
	case r.Level >= slog.LevelError:
		return w.Err(msg)
	case r.Level >= slog.LevelWarn:
		return w.Warning(msg)
	case r.Level >= slog.LevelInfo:
		return w.Info(msg)
	default:
		return w.Debug(msg)
	}
}

func (h *syslogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

func (h *syslogHandler) WithGroup(string) slog.Handler { return h }

// quote quotes a value that is empty, has a separator, or has a control
// or other unprintable character: a newline in an instance name or a FIFO
// line must never start a forged syslog line (issue 15 case 7).
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"=") || hasUnprintable(s) {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// Discard is a logger that drops everything (for library callers and tests).
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func hasUnprintable(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) })
}
