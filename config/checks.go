package config

import (
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// check reads one checker block with keepalived's defaults: retry 1
// (MISC_CHECK 0), delay_before_retry 1 s (HTTP/SSL 3 s), connect_timeout
// and delay_loop from the real server, then the virtual server.
func (b *builder) check(n *Node, vs *VirtualServer, rs *RealServer, inh rsInherit) (*Check, bool) {
	kind := CheckKind(n.Key)
	ck := &Check{
		Pos:              n.Pos,
		Kind:             kind,
		Retry:            unset,
		DelayBeforeRetry: unset,
		Alpha:            rs.Alpha,
	}
	ck.Conn.Timeout = pick(inh.connectTimeout, vs.ConnectTimeout)
	ck.DelayLoop = pick(inh.delayLoop, vs.DelayLoop)
	ck.Warmup = pick(inh.warmup, vs.Warmup)
	switch kind {
	case CheckHTTP, CheckSSL:
		ck.HTTP = &HTTPCheck{Protocol: "1.0"}
	case CheckSMTP:
		ck.SMTP = &SMTPCheck{HeloName: "localhost"}
	case CheckMisc:
		ck.Misc = &MiscCheck{}
	}
	ok := true
	for _, c := range n.Children {
		if b.commonCheckKey(c, ck) {
			continue
		}
		switch {
		case ck.HTTP != nil:
			ok = b.httpKey(c, ck) && ok
		case ck.SMTP != nil:
			ok = b.smtpKey(c, ck) && ok
		case ck.Misc != nil:
			ok = b.miscKey(c, ck) && ok
		default:
			b.skip(c, string(kind))
		}
	}
	defRetry, defDelay := 1, time.Second
	switch kind {
	case CheckMisc:
		defRetry = 0
	case CheckHTTP, CheckSSL:
		defDelay = 3 * time.Second
	}
	if ck.Retry == unset {
		ck.Retry = pickInt(inh.retry, vs.Retry, defRetry)
	}
	if ck.DelayBeforeRetry == unset {
		ck.DelayBeforeRetry = pick(inh.delayBeforeRetry, pick(vs.DelayBeforeRetry, defDelay))
	}
	if ck.HTTP != nil && len(ck.HTTP.URLs) == 0 {
		b.errorf(n.Pos, "%s: no url { path ... } block", kind)
		ok = false
	}
	if ck.Misc != nil {
		if ck.Misc.Path == "" {
			b.errorf(n.Pos, "MISC_CHECK: missing misc_path")
			ok = false
		}
		if ck.Misc.Timeout == 0 {
			ck.Misc.Timeout = ck.DelayLoop // keepalived: misc_timeout defaults to delay_loop
		}
	}
	return ck, ok
}

func pick(v, def time.Duration) time.Duration {
	if v == unset {
		return def
	}
	return v
}

func pickInt(vals ...int) int {
	for _, v := range vals {
		if v != unset {
			return v
		}
	}
	return 0
}

// commonCheckKey handles the keywords every checker shares; it reports
// whether it knew the keyword.
func (b *builder) commonCheckKey(c *Node, ck *Check) bool {
	connKeys := ck.Misc == nil // MISC_CHECK has no connection keywords
	switch c.Key {
	case "retry", "nb_get_retry":
		if v, ok := b.intArg(c, 0, 1<<31-1, "retry count"); ok {
			ck.Retry = v
		}
	case "delay_before_retry":
		if d, ok := b.timer(c, 0, 0); ok {
			ck.DelayBeforeRetry = d
		}
	case "warmup":
		if d, ok := b.timer(c, 0, 0); ok {
			ck.Warmup = d
		}
	case "delay_loop":
		if d, ok := b.timer(c, time.Microsecond, 0); ok {
			ck.DelayLoop = d
		}
	case "alpha":
		ck.Alpha = b.flag(c)
	case "log_all_failures", "bind_if", "fwmark":
		b.skip(c, string(ck.Kind))
	default:
		if connKeys && b.connKey(c, &ck.Conn) {
			return true
		}
		return false
	}
	return true
}

// connKey reads connect_ip/connect_port/bindto/bind_port/connect_timeout.
func (b *builder) connKey(c *Node, conn *Conn) bool {
	switch c.Key {
	case "connect_ip":
		if a, ok := b.addrOne(c, "address"); ok {
			conn.IP = a
		}
	case "connect_port":
		if len(c.Args) == 0 {
			b.errorf(c.Pos, "connect_port: missing port")
		} else if p, ok := b.portArg(c, 0); ok {
			if p == 0 {
				b.errorf(c.Pos, "connect_port: port 0 is not a port to connect to (keepalived: 1-65535)")
			}
			conn.Port = p
		}
	case "bindto":
		if a, ok := b.addrOne(c, "address"); ok {
			conn.BindTo = a
		}
	case "bind_port":
		if p, ok := b.portArg(c, 0); ok {
			conn.BindPort = p
		}
	case "connect_timeout":
		if d, ok := b.timer(c, time.Microsecond, MaxConnectTimeout); ok {
			conn.Timeout = d
		}
	default:
		return false
	}
	return true
}

func (b *builder) httpKey(c *Node, ck *Check) bool {
	h := ck.HTTP
	switch c.Key {
	case "url":
		if !b.needBlock(c) {
			return false
		}
		u, ok := b.url(c)
		if ok {
			h.URLs = append(h.URLs, u)
		}
		return ok
	case "virtualhost":
		if s, ok := b.one(c, "a host name"); ok {
			h.Virtualhost = s
		}
	case "http_protocol":
		s, ok := b.one(c, "1.0, 1.0C or 1.1")
		if !ok {
			return false
		}
		switch s {
		case "1.0", "1.1":
			h.Protocol = s
		case "1.0C", "1.0c":
			h.Protocol = "1.0C"
		default:
			b.errorf(c.Pos, "http_protocol: %q is not 1.0, 1.0C or 1.1", s)
			return false
		}
	case "enable_sni":
		h.EnableSNI = b.flag(c)
	default:
		b.skip(c, string(ck.Kind))
	}
	return true
}

func (b *builder) url(n *Node) (URL, bool) {
	u := URL{Pos: n.Pos, StatusCode: DefaultHTTPStatusCodes}
	ok := true
	for _, c := range n.Children {
		switch c.Key {
		case "path":
			if s, good := b.one(c, "a path"); good {
				u.Path = s
			}
		case "digest":
			if u.Digest != "" {
				// keepalived's digest_handler keeps the first.
				b.problemf(c.Pos, "digest given twice in one url block (keepalived: \"Digest is a duplicate\"): the first one counts")
				continue
			}
			s, good := b.one(c, "an MD5 digest")
			if !good {
				ok = false
				continue
			}
			if _, err := hex.DecodeString(s); err != nil || len(s) != 32 {
				b.errorf(c.Pos, "digest: %q is not 32 hexadecimal characters (an MD5 digest, as genhash prints it)", s)
				ok = false
				continue
			}
			u.Digest = strings.ToLower(s)
		case "status_code":
			spec := strings.Join(c.Args, " ")
			if _, good := ParseStatusCodes(spec); !good {
				b.errorf(c.Pos, "status_code: %q is not a list of codes or ranges within 100-599", spec)
				ok = false
				continue
			}
			u.StatusCode = spec
		case "virtualhost":
			if s, good := b.one(c, "a host name"); good {
				u.Virtualhost = s
			}
		default:
			b.skip(c, "url")
		}
	}
	if u.Path == "" {
		b.errorf(n.Pos, "url: missing path")
		return u, false
	}
	return u, ok
}

func (b *builder) smtpKey(c *Node, ck *Check) bool {
	switch c.Key {
	case "helo_name":
		if s, ok := b.one(c, "a name"); ok {
			ck.SMTP.HeloName = s
		}
	case "host":
		if !b.needBlock(c) {
			return false
		}
		h := Conn{Timeout: ck.Conn.Timeout}
		for _, hc := range c.Children {
			if !b.connKey(hc, &h) {
				b.skip(hc, "SMTP_CHECK host")
			}
		}
		ck.SMTP.Hosts = append(ck.SMTP.Hosts, h)
	default:
		b.skip(c, string(ck.Kind))
	}
	return true
}

func (b *builder) miscKey(c *Node, ck *Check) bool {
	m := ck.Misc
	switch c.Key {
	case "misc_path":
		if len(c.Args) == 0 {
			b.errorf(c.Pos, "misc_path: missing command")
			return false
		}
		m.Path = strings.Join(c.Args, " ")
		if _, err := SplitCommand(m.Path); err != nil {
			b.errorf(c.Pos, "misc_path: %v", err)
			return false
		}
	case "misc_timeout":
		d, ok := b.timer(c, time.Microsecond, 0)
		if !ok {
			return false
		}
		m.Timeout = d
	case "misc_dynamic":
		m.Dynamic = b.flag(c)
	case "user":
		if s, ok := b.one(c, "a user name"); ok {
			m.User = s
		}
	default:
		b.skip(c, string(ck.Kind))
	}
	return true
}

// SplitCommand splits a script line into words as keepalived does
// (alloc_strvec_quoted_escaped): blanks separate words, single or double
// quotes group, a backslash escapes the next character.
func SplitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("command ends with a lone backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("command has an unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
