package check

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Agent is HAProxy's agent-check: connect, optionally send a string, read
// one line of words. "up"/"ready" healthy, "drain" healthy at weight 0,
// "down"/"fail"/"stopped"/"maint" not healthy, "N%" a weight of
// MaxWeight; other words (maxconn:N, comments) are ignored.
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
		buf := make([]byte, 1024)
		n, err := io.ReadAtLeast(c, buf, 1)
		if err != nil && n == 0 {
			return failf("no answer: %v", err)
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\n")
		return ParseAgent(line, a.MaxWeight)
	})
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
