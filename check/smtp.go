package check

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SMTP is SMTP_CHECK: a 220 banner, then HELO answered with 250, then QUIT.
type SMTP struct {
	Conn
	HeloName string
}

func (s SMTP) String() string { return "SMTP_CHECK " + s.Addr.String() }

func (s SMTP) Check(ctx context.Context) Result {
	return timed(func() Result {
		c, err := s.dial(ctx)
		if err != nil {
			return failf("connect %s: %v", s.Addr, err)
		}
		defer c.Close()
		if err := c.SetDeadline(s.exchangeDeadline(ctx)); err != nil {
			return failf("%v", err)
		}
		r := bufio.NewReader(io.LimitReader(c, 64<<10))
		if code, line, err := smtpReply(r); err != nil || code != 220 {
			return failf("bad greeting banner %q: %v", line, err)
		}
		helo := s.HeloName
		if helo == "" {
			helo = "localhost"
		}
		if _, err := fmt.Fprintf(c, "HELO %s\r\n", helo); err != nil {
			return failf("send HELO: %v", err)
		}
		if code, line, err := smtpReply(r); err != nil || code != 250 {
			return failf("bad HELO response %q: %v", line, err)
		}
		fmt.Fprint(c, "QUIT\r\n")
		return ok("SMTP server answered")
	})
}

// smtpReply reads a (possibly multi-line "250-...") reply.
func smtpReply(r *bufio.Reader) (int, string, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, strings.TrimSpace(line), fmt.Errorf("read: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			return 0, line, fmt.Errorf("short reply")
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return 0, line, fmt.Errorf("no status code")
		}
		if len(line) > 3 && line[3] == '-' {
			continue
		}
		return code, line, nil
	}
}
