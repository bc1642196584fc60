package config

import (
	"errors"
	"math"
	"net/netip"
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
	case CheckUDP:
		ck.UDP = &UDPCheck{MaxReplyLength: 255}
	case CheckDNS:
		ck.DNS = &DNSCheck{Type: "SOA"}
	case CheckFile:
		ck.File = &FileCheck{}
	}
	ok := true
	// keepalived's destination starts as the real server's address
	// (queue_checker), except in SMTP_CHECK's own block, where it stays
	// unset until the block's end (smtp_check_handler).
	st := newConnState(rs, kind == CheckSMTP)
	for _, c := range n.Children {
		if b.commonCheckKey(c, ck, &st) {
			continue
		}
		switch {
		case ck.HTTP != nil:
			ok = b.httpKey(c, ck) && ok
		case ck.SMTP != nil:
			ok = b.smtpKey(c, ck, rs) && ok
		case ck.Misc != nil:
			ok = b.miscKey(c, ck) && ok
		case ck.UDP != nil:
			ok = b.udpKey(c, ck) && ok
		case ck.DNS != nil:
			ok = b.dnsKey(c, ck) && ok
		case ck.File != nil:
			ok = b.fileKey(c, ck) && ok
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
	case CheckDNS:
		// check_dns.c: DNS_DEFAULT_RETRY 3, delay_before_retry defaults
		// to delay_loop.
		defRetry, defDelay = 3, ck.DelayLoop
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
	if ck.File != nil {
		ok = b.resolveTrackFile(n, ck.File) && ok
	}
	mainUsed := ck.SMTP == nil || smtpMainUsed(ck, &st)
	if ck.SMTP != nil && st.dst == 0 {
		b.smtpDefaultDst(n, &ck.Conn, &st)
	}
	if ck.Misc == nil && ck.File == nil && mainUsed && !b.linkLocalHasIf(n, ck.Conn, rs) {
		return ck, false // an SMTP_CHECK's host blocks go with it
	}
	if ck.SMTP != nil && mainUsed && len(ck.SMTP.Hosts) > 0 {
		// keepalived checks the block's own connection as well as each
		// host's: one checker each.
		ck.SMTP.Hosts = append([]Conn{ck.Conn}, ck.SMTP.Hosts...)
	}
	if ck.UDP != nil && ck.UDP.MinReplyLength > ck.UDP.MaxReplyLength {
		b.errorf(n.Pos, "UDP_CHECK min_reply_length %d > max_reply_length %d: the check would always fail", ck.UDP.MinReplyLength, ck.UDP.MaxReplyLength)
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
func (b *builder) commonCheckKey(c *Node, ck *Check, st *connState) bool {
	connKeys := ck.Misc == nil && ck.File == nil // MISC_CHECK, FILE_CHECK: no connection keywords
	switch c.Key {
	case "retry", "nb_get_retry":
		if v, ok := b.intArg(c, 0, math.MaxUint32, "retry count"); ok {
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
	case "log_all_failures":
		b.skip(c, string(ck.Kind))
	default:
		if connKeys && b.connKey(c, &ck.Conn, st) {
			return true
		}
		return false
	}
	return true
}

// connState is what keepalived's conn_opts_t knows of a checker's
// address families while it reads the block (check_api.c): dst is the
// family (4 or 6) of the destination so far, the real server's address
// from the block's start, then each connect_ip taken (0: none yet, in
// SMTP_CHECK's own block); bind is bindto's (0: none). Families are
// keepalived's: an address with a ':' is IPv6 (::ffff:10.0.0.1 too).
type connState struct {
	dst, bind int
	rs        netip.Addr // the real server's address
	ip        string     // the connect_ip taken, as written ("": none)
	bindText  string     // bindto as written
	// timeout and fwmark: the block set connect_timeout, or a fwmark
	// other than 0 (SMTP_CHECK's own block: see smtpMainUsed).
	timeout, fwmark bool
}

// newConnState is a checker block's connState: its destination is real
// server rs (SMTP_CHECK's own block: none).
func newConnState(rs *RealServer, smtp bool) connState {
	if smtp {
		return connState{rs: rs.Addr}
	}
	return connState{dst: familyOf(rs.Addr), rs: rs.Addr}
}

// dstText names the destination so far, for messages.
func (st *connState) dstText() string {
	if st.ip != "" {
		return "connect_ip " + st.ip
	}
	return "real server " + st.rs.String()
}

// familyOf is a's address family as keepalived's inet_stosockaddr reads
// it: 4 or 6 (0 for no address).
func familyOf(a netip.Addr) int {
	switch {
	case !a.IsValid():
		return 0
	case a.Is4():
		return 4
	}
	return 6
}

// textFamily is the family keepalived gives an address as written: IPv6
// when it holds a ':'.
func textFamily(s string) int {
	if strings.Contains(s, ":") {
		return 6
	}
	return 4
}

// connKey reads connect_ip/connect_port/bindto/bind_port/bind_if/
// connect_timeout/fwmark. A connect_ip or bindto whose address family
// differs from the other's (bindto: from the destination so far, the real
// server's address when there is no connect_ip) is a problem, as
// keepalived 2.2.7's co_ip_handler and co_srcip_handler report it
// ("does not match address family ... - skipping"): such a bindto is
// dropped and the check runs without a source address, as keepalived
// runs it; such a connect_ip is ignored, and the check goes where it went
// before that line (keepalived then never runs the check: README,
// "Deliberate differences").
func (b *builder) connKey(c *Node, conn *Conn, st *connState) bool {
	switch c.Key {
	case "connect_ip":
		a, ok := b.addrOne(c, "address")
		if !ok {
			break
		}
		if fam := textFamily(c.Arg(0)); st.bind != 0 && fam != st.bind {
			b.problemf(c.Pos, "connect_ip %s does not match the address family of bindto %s (keepalived: \"connect_ip address %s does not match address family of bindto - skipping\"): ignored; the check connects to %s", c.Arg(0), st.bindText, c.Arg(0), st.dstText())
			break
		}
		conn.IP = a
		st.dst, st.ip = textFamily(c.Arg(0)), c.Arg(0)
	case "connect_port":
		if len(c.Args) == 0 {
			b.errorf(c.Pos, "connect_port: missing port")
		} else if p, ok := b.uintArg(c, 0, 1, 65535, "port"); ok {
			conn.Port = uint16(p) // keepalived's co_port_handler: 1-65535
		}
	case "bindto":
		a, ok := b.addrOne(c, "address")
		if !ok {
			break
		}
		if fam := textFamily(c.Arg(0)); st.dst != 0 && fam != st.dst {
			b.problemf(c.Pos, "bindto %s does not match the address family of %s (keepalived: \"bindto address %s does not match address family of connect_ip - skipping\"): dropped, as keepalived drops it; the check runs without a source address", c.Arg(0), st.dstText(), c.Arg(0))
			conn.BindTo, st.bind = netip.Addr{}, 0 // keepalived: bindto.ss_family = AF_UNSPEC
			break
		}
		conn.BindTo, st.bind, st.bindText = a, textFamily(c.Arg(0)), c.Arg(0)
	case "bind_port":
		if p, ok := b.uintArg(c, 0, 1, 65535, "port"); ok {
			conn.BindPort = uint16(p) // keepalived's co_srcport_handler: 1-65535
		}
	case "connect_timeout":
		if d, ok := b.timer(c, time.Microsecond, MaxConnectTimeout); ok {
			conn.Timeout = d
			st.timeout = true
		}
	case "fwmark":
		// keepalived's co_fwmark_handler (read_unsigned_strvec, 0 to
		// UINT_MAX): the mark goes on the check's socket (SO_MARK, as
		// keepalived's socket_bind_connect and udp_bind_connect set it).
		// A mark other than 0 makes SMTP_CHECK's own block a check of
		// its own (smtpMainUsed).
		a, ok := b.one(c, "a mark")
		if !ok {
			break // missing, or more than one value: an error
		}
		v, err := readUnsigned(a)
		if err != nil || v > math.MaxUint32 {
			b.problemf(c.Pos, "Invalid fwmark connection value '%s' (keepalived reports it and reads past it): ignored", a)
			break
		}
		conn.FWMark = uint32(v)
		st.fwmark = v != 0
	case "bind_if":
		if s, ok := b.one(c, "an interface name"); ok {
			if len(s) > maxIfNameLen {
				// keepalived's co_srcif_handler: IFNAMSIZ - 1.
				b.problemf(c.Pos, "bind_if: interface name %s is too long (keepalived: \"Interface name %s is too long - ignoring\"): ignored", s, s)
				break
			}
			conn.BindIf = s
		}
	default:
		return false
	}
	return true
}

// maxIfNameLen is the longest interface name (IFNAMSIZ - 1).
const maxIfNameLen = 15

// smtpDefaultDst applies what keepalived's smtp_check_end_handler does
// for an SMTP_CHECK block without a connect_ip: the destination becomes
// the real server's address, and bindto is never compared with it.
// keepalived 2.2.7 reports nothing and its check then never runs (the
// bind fails: "SMTP_CHECK socket bind failed. Rescheduling."); kahook
// warns (exit 0, as keepalived -t) and drops such a bindto, so the check
// runs without a source address as for every other checker (README).
func (b *builder) smtpDefaultDst(n *Node, conn *Conn, st *connState) {
	if st.bind != 0 && st.bind != familyOf(st.rs) {
		b.warnf(n.Pos, "SMTP_CHECK: bindto %s does not match the address family of real server %s: dropped, the check runs without a source address (keepalived 2.2.7 accepts it and never runs the check)", st.bindText, st.rs)
		conn.BindTo = netip.Addr{}
	}
}

// smtpMainUsed is keepalived 2.2.7's rule in smtp_check_end_handler
// (check_smtp.c): an SMTP_CHECK's own block is a check (to the real
// server unless it says otherwise) when it has no host blocks, or when it
// sets any connection option itself: a connect_ip taken, connect_port, a
// bindto kept, bind_port, bind_if, a fwmark other than 0 or
// connect_timeout (inherited timeouts do not count). Then an IPv6
// link-local destination without bind_if drops the whole checker, its
// hosts too; otherwise the host blocks alone are the checks.
func smtpMainUsed(ck *Check, st *connState) bool {
	c := ck.Conn
	return len(ck.SMTP.Hosts) == 0 || st.dst != 0 || c.Port != 0 || st.bind != 0 || c.BindPort != 0 ||
		c.BindIf != "" || st.fwmark || st.timeout
}

// linkLocalHasIf applies keepalived's check_conn_opts at the end of a
// checker block (or SMTP_CHECK host block): an IPv6 link-local
// destination needs a bind_if, else keepalived reports "Checker link
// local address ... requires a bind_if" and drops the checker; so does
// kahook (false).
func (b *builder) linkLocalHasIf(n *Node, conn Conn, rs *RealServer) bool {
	dst := conn.IP
	if !dst.IsValid() {
		dst = rs.Addr
	}
	if !dst.Is6() || !dst.IsLinkLocalUnicast() || conn.BindIf != "" {
		return true
	}
	b.problemf(n.Pos, "%s: link-local address %s needs a bind_if (keepalived: \"Checker link local address %s requires a bind_if\"): keepalived drops the checker, so does kahook", n.Key, dst, dst)
	return false
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
			if err := digestBytes(s); errors.Is(err, errNumDeliberate) {
				b.errorf(c.Pos, "digest: %q: %v", s, err)
				ok = false
				continue
			} else if err != nil {
				b.errorf(c.Pos, "digest: %q is not 32 hexadecimal characters (an MD5 digest, as genhash prints it)", s)
				ok = false
				continue
			}
			u.Digest = strings.ToLower(s)
		case "status_code":
			spec := strings.Join(c.Args, " ")
			if err := statusCodes(c.Args); errors.Is(err, errNumDeliberate) {
				b.errorf(c.Pos, "status_code: %v", err)
				ok = false
				continue
			} else if _, good := ParseStatusCodes(spec); !good || err != nil {
				b.errorf(c.Pos, "status_code: %q is not a list of codes or ranges within 100-599, separated by blanks", spec)
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

func (b *builder) smtpKey(c *Node, ck *Check, rs *RealServer) bool {
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
		st := newConnState(rs, false) // smtp_host_handler: the real server's
		for _, hc := range c.Children {
			if !b.connKey(hc, &h, &st) {
				b.skip(hc, "SMTP_CHECK host")
			}
		}
		if b.linkLocalHasIf(c, h, rs) {
			ck.SMTP.Hosts = append(ck.SMTP.Hosts, h)
		}
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
		// keepalived's misc_timeout_handler: whole seconds, 0 to
		// UINT_MAX/TIMER_HZ (4294); 0 is the default, delay_loop.
		v, ok := b.intArg(c, 0, math.MaxUint32/1000000, "misc_timeout in whole seconds")
		if !ok {
			return false
		}
		m.Timeout = time.Duration(v) * time.Second
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

// The checkers keepalived 2.2 has beyond the classic ones.
const (
	CheckPing CheckKind = "PING_CHECK"
	CheckUDP  CheckKind = "UDP_CHECK"
	CheckDNS  CheckKind = "DNS_CHECK"
)

// UDPCheck holds UDP_CHECK settings (keepalived's check_udp.c): the
// payload sent (default: 32 bytes of "keepalived check - "), whether a
// reply is required, and the reply's expected bytes (a zero Mask bit
// compares, a one ignores: hex digit X in the config) and length bounds,
// applied only when reply bytes are given.
type UDPCheck struct {
	Payload        []byte `json:"payload,omitempty"`
	RequireReply   bool   `json:"require_reply,omitempty"`
	Reply          []byte `json:"reply,omitempty"`
	ReplyMask      []byte `json:"reply_mask,omitempty"`
	MinReplyLength int    `json:"min_reply_length"`
	MaxReplyLength int    `json:"max_reply_length"`
}

// DNSCheck holds DNS_CHECK settings (check_dns.c): query type (default
// SOA) and name (default the root).
type DNSCheck struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// DNSTypes are the query types keepalived's DNS_CHECK knows, by name.
var DNSTypes = map[string]uint16{"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "RRSIG": 46, "DNSKEY": 48}

func (b *builder) udpKey(c *Node, ck *Check) bool {
	u := ck.UDP
	switch c.Key {
	case "payload":
		data, _, ok := ParseHex(strings.Join(c.Args, " "), false)
		if !ok {
			b.errorf(c.Pos, "payload: %q is not a hex string", strings.Join(c.Args, " "))
			return false
		}
		u.Payload = data
	case "require_reply":
		u.RequireReply = true
		if len(c.Args) > 0 {
			data, mask, ok := ParseHex(strings.Join(c.Args, " "), true)
			if !ok {
				b.errorf(c.Pos, "require_reply: %q is not a hex string (X for any nibble)", strings.Join(c.Args, " "))
				return false
			}
			u.Reply, u.ReplyMask = data, mask
		}
	case "min_reply_length", "max_reply_length":
		v, ok := b.intArg(c, 0, 65535, "length")
		if !ok {
			return false
		}
		if c.Key == "min_reply_length" {
			u.MinReplyLength = v
		} else {
			u.MaxReplyLength = v
		}
	default:
		b.skip(c, string(ck.Kind))
	}
	return true
}

func (b *builder) dnsKey(c *Node, ck *Check) bool {
	switch c.Key {
	case "type":
		s, ok := b.one(c, "a query type")
		if !ok {
			return false
		}
		if _, known := DNSTypes[strings.ToUpper(s)]; !known {
			b.errorf(c.Pos, "type: unknown DNS check type %q (A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG, DNSKEY)", s)
			return false
		}
		ck.DNS.Type = strings.ToUpper(s)
	case "name":
		s, ok := b.one(c, "a domain name")
		if !ok {
			return false
		}
		if (strings.HasPrefix(s, ".") && s != ".") || strings.Contains(s, "..") {
			b.errorf(c.Pos, "name: %q has an empty label", s)
			return false
		}
		ck.DNS.Name = s
	default:
		b.skip(c, string(ck.Kind))
	}
	return true
}

// ParseHex reads keepalived's hex strings (read_hex_str): hex digits,
// blanks between octets, a lone digit before a blank is one octet; with
// wildcards, X (or x) matches any nibble and sets the mask's nibble.
func ParseHex(s string, wildcards bool) (data, mask []byte, ok bool) {
	val := func(c byte) (byte, bool, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', false, true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, false, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, false, true
		case wildcards && (c == 'x' || c == 'X'):
			return 0, true, true
		}
		return 0, false, false
	}
	masked := false
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		v, wild, good := val(s[i])
		if !good {
			return nil, nil, false
		}
		var m byte
		if wild {
			m = 0x0f
		}
		i++
		if i < len(s) && s[i] != ' ' && s[i] != '\t' {
			v2, wild2, good2 := val(s[i])
			if !good2 {
				return nil, nil, false
			}
			v, m = v<<4|v2, m<<4
			if wild2 {
				m |= 0x0f
			}
			i++
		}
		masked = masked || m != 0
		data = append(data, v)
		mask = append(mask, m)
	}
	if len(data) == 0 {
		return nil, nil, false
	}
	if !masked {
		mask = nil
	}
	return data, mask, true
}

// CheckFile is FILE_CHECK: a track_file's value moves the weight.
const CheckFile CheckKind = "FILE_CHECK"

// FileCheck holds FILE_CHECK settings (keepalived's check_file.c with a
// top-level track_file NAME { file PATH  weight W [reverse] } block):
// Weight 0 takes the server down while the file's number is non-zero
// (zero with Reverse); otherwise the server's weight moves by number x
// Weight (x -1 with Reverse). SetWeight records whether the FILE_CHECK
// block gave its own weight (else the track_file's).
type FileCheck struct {
	TrackFile string `json:"track_file"`
	Path      string `json:"file"`
	Weight    int    `json:"weight"`
	Reverse   bool   `json:"reverse,omitempty"`
	SetWeight bool   `json:"-"`
}

func (b *builder) fileKey(c *Node, ck *Check) bool {
	f := ck.File
	switch c.Key {
	case "track_file":
		s, ok := b.one(c, "a track_file name")
		if !ok {
			return false
		}
		f.TrackFile = s
	case "weight":
		w, rev, ok := b.trackWeight(c, -(1<<31 - 1), 1<<31-1)
		if !ok {
			return false
		}
		f.Weight, f.Reverse, f.SetWeight = w, rev, true
	default:
		b.skip(c, string(ck.Kind))
	}
	return true
}

// trackWeight reads "weight W [reverse|noreverse]".
func (b *builder) trackWeight(c *Node, lo, hi int) (int, bool, bool) {
	if len(c.Args) == 0 || len(c.Args) > 2 {
		b.errorf(c.Pos, "weight: expected W [reverse]")
		return 0, false, false
	}
	w64, err := readInt(c.Args[0]) // keepalived: read_int
	w := int(w64)
	if errors.Is(err, errNumDeliberate) {
		b.errorf(c.Pos, "weight: %q: %v", c.Args[0], err)
		return 0, false, false
	}
	if err != nil || w < lo || w > hi {
		b.errorf(c.Pos, "weight: %q is not a number in %d..%d", c.Args[0], lo, hi)
		return 0, false, false
	}
	rev := false
	if len(c.Args) == 2 {
		switch c.Args[1] {
		case "reverse":
			rev = true
		case "noreverse":
		default:
			b.errorf(c.Pos, "weight: unknown option %q (reverse or noreverse)", c.Args[1])
			return 0, false, false
		}
	}
	return w, rev, true
}

// namesEmptyTrackFile: FILE_CHECK block n has a track_file line that
// fileKey took with the name "" (quoted): keepalived looks that name up
// like any other ("track_file  not found" unless a top-level track_file ""
// block exists), so it is not a missing track_file.
func namesEmptyTrackFile(n *Node) bool {
	for _, c := range n.Find("track_file") {
		if len(c.Args) == 1 && c.Args[0] == "" {
			return true
		}
	}
	return false
}

// resolveTrackFile finds the FILE_CHECK's top-level track_file block (or
// its deprecated name vrrp_track_file): its file and default weight 1.
func (b *builder) resolveTrackFile(n *Node, f *FileCheck) bool {
	if f.TrackFile == "" && !namesEmptyTrackFile(n) {
		if n.First("track_file") == nil { // else its line was refused, saying why
			b.errorf(n.Pos, "FILE_CHECK: no track_file")
		}
		return false
	}
	for _, tf := range b.cfg.Tree.Children {
		if (tf.Key != "track_file" && tf.Key != "vrrp_track_file") || tf.Arg(0) != f.TrackFile || !tf.Block {
			continue
		}
		w, rev := 1, false
		for _, c := range tf.Children {
			switch c.Key {
			case "file":
				if s, ok := b.one(c, "a file path"); ok {
					f.Path = s
				}
			case "weight":
				var ok bool
				if w, rev, ok = b.trackWeight(c, -254, 254); !ok {
					return false
				}
			}
		}
		if f.Path == "" {
			b.errorf(tf.Pos, "track_file %s: no file", f.TrackFile)
			return false
		}
		if !f.SetWeight {
			f.Weight, f.Reverse = w, rev
		}
		return true
	}
	b.errorf(n.Pos, "FILE_CHECK: track_file %s not found (define it at the top level: track_file %s { file PATH })", f.TrackFile, f.TrackFile)
	return false
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
