package notify

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/kahook/kahook/state"
)

// FIFOStats counts what a FIFO reader did.
type FIFOStats struct {
	Lines   int `json:"lines"`
	Applied int `json:"applied"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

// ReadFIFO applies keepalived's FIFO lines strictly in order until EOF or
// ctx ends. Lines end with '\n' or, in some keepalived versions, NUL. A
// malformed line, or one for an instance kahook does not know (the FIFO
// carries every instance and group), is logged and skipped; a line being
// applied when ctx ends is finished first, so a SIGTERM never leaves half
// a transition.
func ReadFIFO(ctx context.Context, r io.Reader, e *Engine, log *slog.Logger) (FIFOStats, error) {
	var st FIFOStats
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		br := bufio.NewReader(r)
		for {
			line, err := readRecord(br)
			if err != nil && line != "" {
				// A line cut off by EOF is not a complete event.
				log.Warn("FIFO ended inside a line; not applied", "partial", line)
				line = ""
			}
			if line != "" {
				select {
				case lines <- line:
				case <-ctx.Done():
					readErr <- nil
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				readErr <- err
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return st, nil
		case err := <-readErr:
			return st, err
		case line := <-lines:
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
			if e.Cfg.Instance(ev.Name) == nil {
				st.Skipped++
				log.Debug("FIFO event for an instance kahook does not manage", "name", ev.Name, "state", ev.State)
				continue
			}
			// Finish the transition even if SIGTERM arrives meanwhile.
			if _, err := e.Handle(context.WithoutCancel(ctx), ev); err != nil {
				st.Failed++
				log.Error("FIFO event failed", "line", line, "err", err)
				continue
			}
			st.Applied++
		}
	}
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
