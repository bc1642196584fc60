package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxAgentReply bounds an agent's reply line, in bytes: HAProxy reads the
// reply into its check buffer (tune.bufsize, 16384 bytes by default) and
// a line not ended within it is not a reply ("Ignoring incomplete line
// from agent": src/tcpcheck.c, tcpcheck_agent_expect_reply, with
// last_read set once the buffer is full).
const MaxAgentReply = 16384

// Agent is HAProxy's agent-check: connect, optionally send a string, read
// one line of words, ended by the first CR or LF (HAProxy's
// doc/configuration.txt, "agent-check"), however many TCP segments it
// comes in, within the exchange deadline and MaxAgentReply bytes. "up"/
// "ready" healthy, "drain" healthy at weight 0, "down"/"fail"/"stopped"/
// "maint" not healthy, "N%" a weight of MaxWeight; other words
// (maxconn:N, comments) are ignored. A line that does not end (the
// connection closes first, the deadline passes, or MaxAgentReply bytes
// come without an end of line) is invalid: the check fails.
type Agent struct {
	Conn
	Send      string
	MaxWeight int
}

func (a Agent) String() string { return "agent " + a.Addr.String() }

func (a Agent) Check(ctx context.Context) Result {
	return timed(func() Result {
		c, err := a.dial(ctx)
		if err != nil {
			return failf("connect %s: %v", a.Addr, err)
		}
		defer c.Close()
		if err := c.SetDeadline(a.exchangeDeadline(ctx)); err != nil {
			return failf("%v", err)
		}
		if a.Send != "" {
			if _, err := io.WriteString(c, a.Send); err != nil {
				return failf("send: %v", err)
			}
		}
		line, err := readAgentLine(c)
		if err != nil {
			return failf("agent: %v", err)
		}
		return ParseAgent(line, a.MaxWeight)
	})
}

// readAgentLine reads up to the first CR or LF, at most MaxAgentReply
// bytes, and returns the line without it. A NUL before the end of line,
// EOF, an error (the deadline) or a full buffer first is an error, as
// HAProxy ignores such a line.
func readAgentLine(r io.Reader) (string, error) {
	buf := make([]byte, MaxAgentReply)
	n := 0
	for {
		m, err := r.Read(buf[n:])
		if i := bytes.IndexAny(buf[n:n+m], "\r\n\x00"); i >= 0 {
			if buf[n+i] == 0 {
				return "", fmt.Errorf("reply %q has a NUL before its end of line", clip(buf[:n+i]))
			}
			return string(buf[:n+i]), nil
		}
		n += m
		switch {
		case n == len(buf):
			return "", fmt.Errorf("reply has no end of line in its first %d bytes", n)
		case errors.Is(err, io.EOF) && n == 0:
			return "", errors.New("no answer: connection closed")
		case errors.Is(err, io.EOF):
			return "", fmt.Errorf("incomplete reply %q: connection closed before the end of line", clip(buf[:n]))
		case err != nil && n == 0:
			return "", fmt.Errorf("no answer: %w", err)
		case err != nil:
			return "", fmt.Errorf("incomplete reply %q: %w", clip(buf[:n]), err)
		}
	}
}

// clip shortens an agent's text for a message.
func clip(b []byte) string {
	const keep = 64
	if len(b) > keep {
		return string(b[:keep]) + "..."
	}
	return string(b)
}

// ParseAgent maps an agent-check reply.
func ParseAgent(line string, maxWeight int) Result {
	if maxWeight <= 0 {
		maxWeight = 100
	}
	state, weight := "", Unchanged
	for _, w := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
		if strings.HasPrefix(w, "#") {
			break
		}
		switch lw := strings.ToLower(w); {
		case lw == "up" || lw == "ready" || lw == "drain" || lw == "down" || lw == "fail" || lw == "stopped" || lw == "maint":
			state = lw
		case strings.HasSuffix(lw, "%"):
			v, err := parseWeight(lw, maxWeight)
			if err != nil {
				return failf("agent: %v", err)
			}
			weight = v
		}
	}
	switch state {
	case "down", "fail", "stopped", "maint":
		return failf("agent says %s", state)
	case "drain":
		r := ok("agent says drain")
		r.Weight = 0
		return r
	case "", "up", "ready":
		if state == "" && weight == Unchanged {
			return failf("agent reply %q has no state or weight", strings.TrimSpace(line))
		}
		r := ok(fmt.Sprintf("agent says %q", strings.TrimSpace(line)))
		r.Weight = weight
		return r
	}
	return failf("agent reply %q", line)
}
