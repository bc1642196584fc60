package notify

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/state"
)

// FIFOStats counts what a FIFO reader did. An event handled without an
// error counts as Applied, or, with the engine's DryRun, as Planned
// (nothing applied).
type FIFOStats struct {
	Lines   int `json:"lines"`
	Applied int `json:"applied"`
	Planned int `json:"planned"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

// FIFODrain bounds how long ReadFIFO goes on reading after its context
// ends. keepalived 2.2.7, stopping, SIGTERMs its notify_fifo_script,
// writes the STOP lines about 12 ms later and closes the FIFO about 1 s
// after that (its sample script waits for them too): a reader that
// stopped at the SIGTERM would lose the STOP and leave the VIPs up.
const FIFODrain = 2 * time.Second

// ReadFIFO applies keepalived's FIFO lines strictly in order until EOF.
// Lines end with '\n' or, in some keepalived versions, NUL. A malformed
// line, or one for an instance kahook does not know (the FIFO carries
// every instance and group), is logged and skipped. With e.ConfigErr
// or e.RefuseMaster set, MASTER lines are refused (logged at error
// level, counted as failed, nothing changed); with e.ConfigErr, every
// other INSTANCE line is released without the config
// (ReleaseWithoutConfig, counted as failed: not recorded) and GROUP lines
// are skipped. When ctx ends
// (SIGTERM) it keeps reading and applying until EOF (keepalived closes
// the FIFO) or no data arrived for FIFODrain, whichever comes first
// (lines already in the pipe are all applied, however long that takes); a
// line being applied is always finished, so a SIGTERM never leaves half a
// transition. r should be an *os.File of the FIFO (its read deadline
// bounds the drain); any other reader is abandoned after FIFODrain.
// signalled, when not zero, is when the signal came (the caller saw it
// before calling, while waiting for keepalived to open the FIFO): the
// drain bound then runs from that instant, so the whole run ends at most
// FIFODrain after the signal, however the wait was split.
func ReadFIFO(ctx context.Context, r io.Reader, e *Engine, log *slog.Logger, signalled time.Time) (FIFOStats, error) {
	var st FIFOStats
	lines := make(chan string, 64)
	readErr := make(chan error, 1)
	dr := &drainReader{r: r}
	dr.d, _ = r.(interface{ SetReadDeadline(time.Time) error })
	go func() {
		br := bufio.NewReader(dr)
		for {
			line, err := readRecord(br)
			if err != nil && line != "" {
				// A line cut off by EOF is not a complete event.
				log.Warn("FIFO ended inside a line; not applied", "partial", line)
				line = ""
			}
			if line != "" {
				lines <- line
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				close(lines)
				readErr <- err
				return
			}
		}
	}()
	done := ctx.Done()
	var drainEnd <-chan time.Time
	for {
		select {
		case <-done:
			// SIGTERM: drain until EOF, bounded.
			done = nil
			log.Debug("FIFO reader: signalled; applying what keepalived still writes until it closes the FIFO", "bound", FIFODrain)
			from := time.Now()
			if !signalled.IsZero() && signalled.Before(from) {
				from = signalled
			}
			if dr.d != nil {
				end := from.Add(FIFODrain)
				dr.until.Store(end.UnixNano())
				if dr.d.SetReadDeadline(end) == nil {
					continue
				}
			}
			drainEnd = time.After(time.Until(from.Add(FIFODrain)))
		case <-drainEnd:
			log.Warn("FIFO reader: stopped after the drain bound, keepalived had not closed the FIFO", "bound", FIFODrain)
			return st, nil
		case line, ok := <-lines:
			if !ok {
				err := <-readErr
				if errors.Is(err, os.ErrDeadlineExceeded) {
					log.Warn("FIFO reader: stopped after the drain bound, keepalived had not closed the FIFO", "bound", FIFODrain)
					err = nil
				}
				return st, err
			}
			st.Lines++
			fl, err := ParseFIFOLine(line)
			if err != nil {
				st.Skipped++
				log.Warn("FIFO line skipped", "line", line, "err", err)
				continue
			}
			switch fl.Kind {
			case "VS", "RS":
				st.Skipped++
				log.Info("keepalived LVS event", "line", fl.Text)
				continue
			}
			ev := fl.Event
			ev.Key = state.NowEvent()
			ev.Received = time.Now()
			if refuse := cmp.Or(e.ConfigErr, e.RefuseMaster); refuse != nil && ev.State == Master {
				st.Failed++
				log.Error("FIFO MASTER line refused: nothing changed", "line", line, "err", refuse)
				continue
			}
			if e.ConfigErr != nil {
				if fl.Kind != "INSTANCE" && !stateKnows(e.Store, ev.Name) {
					// A group's instances have lines of their own; a
					// group the state knows (a kahook instance named
					// after its sync group) is released below.
					st.Skipped++
					log.Info("FIFO group line skipped: the config does not load", "line", line)
					continue
				}
				// Always an error: the release is partial, not recorded.
				st.Failed++
				err := ReleaseWithoutConfig(e.Store, e.VIPs, []string{ev.Name}, false, fl.Kind == "GROUP", e.ConfigErr, log)
				log.Error("FIFO event released without the config", "line", line, "err", err)
				continue
			}
			if e.Cfg.Instance(ev.Name) == nil {
				st.Skipped++
				log.Debug("FIFO event for an instance kahook does not manage", "name", ev.Name, "state", ev.State)
				continue
			}
			// Finish the transition even if SIGTERM arrives meanwhile.
			e.LockFailed = nil
			_, err = e.Handle(context.WithoutCancel(ctx), ev)
			if e.LockFailed != nil {
				// A release went ahead without the run lock: record it
				// under the lock (and undo what a run that held it may
				// have bound meanwhile) before the next line, as
				// `notify` does.
				_, err = e.Settle(context.WithoutCancel(ctx), []Event{ev})
			}
			if err != nil {
				st.Failed++
				log.Error("FIFO event failed", "line", line, "err", err)
				continue
			}
			if e.DryRun {
				st.Planned++
				continue
			}
			st.Applied++
		}
	}
}

// CheckFIFO opens path without blocking and checks it before anything
// is read: it must be a FIFO and, when running as root, owned by root and
// not writable by a non-root group or by others (keepalived's script
// security rule: every line is applied as root). A refused path is a
// *BadInputError. The caller closes the returned file.
func CheckFIFO(path string) (*os.File, error) {
	// lstat first: opening a device has side effects (a tty, /dev/ptmx),
	// and a symlink is not keepalived's FIFO.
	var lst unix.Stat_t
	if err := unix.Lstat(path, &lst); err != nil {
		return nil, fmt.Errorf("open FIFO %s: %w", path, &os.PathError{Op: "lstat", Path: path, Err: err})
	}
	if lst.Mode&unix.S_IFMT != unix.S_IFIFO {
		return nil, &BadInputError{fmt.Sprintf("%s is not a FIFO but a %s (keepalived's notify_fifo creates one): refusing to open it", path, kindOf(lst.Mode))}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open FIFO %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("open FIFO %s: %w", path, err)
	}
	mode := st.Mode & 0o7777
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFIFO:
		err = &BadInputError{fmt.Sprintf("%s is not a FIFO (keepalived's notify_fifo creates one)", path)}
	case os.Geteuid() != 0:
	case st.Uid != 0:
		err = &BadInputError{fmt.Sprintf("FIFO %s is owned by uid %d, not root: refusing it (every line would be applied as root; chown root %s, or let keepalived create it)", path, st.Uid, path)}
	case (st.Gid != 0 && mode&0o020 != 0) || mode&0o002 != 0:
		err = &BadInputError{fmt.Sprintf("FIFO %s is writable by non-root users (mode %04o): refusing it (chmod go-w %s)", path, mode, path)}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readRecord reads up to '\n' or NUL.
func readRecord(br *bufio.Reader) (string, error) {
	var buf []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return string(buf), err
		}
		if c == '\n' || c == 0 {
			if len(buf) == 0 {
				continue
			}
			return string(buf), nil
		}
		buf = append(buf, c)
	}
}

// kindOf names a file type for messages.
func kindOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	}
	return "file"
}

// fifoGrace is how long a read after the drain bound still waits: lines
// already in the pipe are read (and applied) however long applying the
// ones before them took; FIFODrain bounds waiting for new data only.
const fifoGrace = 100 * time.Millisecond

// drainReader sets, once draining (until != 0), each read's deadline to
// the drain bound or fifoGrace from now, whichever is later.
type drainReader struct {
	r     io.Reader
	d     interface{ SetReadDeadline(time.Time) error }
	until atomic.Int64 // unix ns; 0: not draining
}

func (dr *drainReader) Read(p []byte) (int, error) {
	if u := dr.until.Load(); u != 0 && dr.d != nil {
		dl := time.Unix(0, u)
		if g := time.Now().Add(fifoGrace); g.After(dl) {
			dl = g
		}
		_ = dr.d.SetReadDeadline(dl)
	}
	return dr.r.Read(p)
}
