package check

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/kahook/kahook/config"
)

// FromConfig builds the checkers of one checker block of a real server,
// with keepalived's defaults: connect to the real server's address and
// port unless connect_ip/connect_port say otherwise, retry and
// delay_before_retry around each. SMTP_CHECK yields one checker per host.
// An IPv6 link-local destination or bindto takes bind_if as its zone;
// bind_if is not used otherwise. The config loader has already dropped a bindto of
// another address family than the destination (config.Conn).
func FromConfig(vs *config.VirtualServer, rs *config.RealServer, c *config.Check) ([]Checker, error) {
	conn := func(cc config.Conn) Conn {
		ip := cc.IP
		if !ip.IsValid() {
			ip = rs.Addr
		}
		port := cc.Port
		if port == 0 {
			port = rs.Port
		}
		if cc.Port == 0 && rs.CheckPort != 0 {
			port = rs.CheckPort // keepalived's checker kept the port as written
		}
		return Conn{Addr: netip.AddrPortFrom(zoned(ip, cc.BindIf), port), BindTo: zoned(cc.BindTo, cc.BindIf), BindPort: cc.BindPort, Timeout: cc.Timeout, FWMark: cc.FWMark}
	}
	wrap := func(ck Checker) Checker {
		if c.Retry > 0 {
			return Retry{Checker: ck, Retries: c.Retry, Delay: c.DelayBeforeRetry}
		}
		return ck
	}
	switch c.Kind {
	case config.CheckTCP:
		return []Checker{wrap(TCP{Conn: conn(c.Conn)})}, nil
	case config.CheckHTTP, config.CheckSSL:
		h := HTTP{Conn: conn(c.Conn), Protocol: c.HTTP.Protocol, TLS: c.Kind == config.CheckSSL, MaxBody: DefaultMaxBody}
		h.Virtualhost = c.HTTP.Virtualhost
		if h.Virtualhost == "" {
			h.Virtualhost = rs.Virtualhost
		}
		for _, u := range c.HTTP.URLs {
			set, ok := config.ParseStatusCodes(u.StatusCode)
			if !ok {
				return nil, fmt.Errorf("%s: status_code %q", u.Pos, u.StatusCode)
			}
			h.URLs = append(h.URLs, URL{Path: u.Path, Digest: u.Digest, Status: set, StatusText: u.StatusCode, Virtualhost: u.Virtualhost})
		}
		if h.TLS && c.HTTP.EnableSNI {
			h.SNI = h.Virtualhost
		}
		return []Checker{wrap(h)}, nil
	case config.CheckSMTP:
		hosts := c.SMTP.Hosts
		if len(hosts) == 0 {
			hosts = []config.Conn{c.Conn}
		}
		var out []Checker
		for _, hc := range hosts {
			out = append(out, wrap(SMTP{Conn: conn(hc), HeloName: c.SMTP.HeloName}))
		}
		return out, nil
	case config.CheckUDP:
		u := c.UDP
		return []Checker{wrap(UDP{Conn: conn(c.Conn), Payload: u.Payload, RequireReply: u.RequireReply, Reply: u.Reply, Mask: u.ReplyMask, MinLength: u.MinReplyLength, MaxLength: u.MaxReplyLength})}, nil
	case config.CheckPing:
		return []Checker{wrap(Ping{Conn: conn(c.Conn)})}, nil
	case config.CheckDNS:
		return []Checker{wrap(DNS{Conn: conn(c.Conn), Type: c.DNS.Type, Name: c.DNS.Name})}, nil
	case config.CheckFile:
		return []Checker{TrackFile{Path: c.File.Path, Weight: c.File.Weight, Reverse: c.File.Reverse, BaseWeight: rs.Weight}}, nil
	case config.CheckMisc:
		argv, err := config.SplitCommand(c.Misc.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: misc_path: %w", c.Pos, err)
		}
		return []Checker{wrap(Misc{Argv: argv, Timeout: c.Misc.Timeout, Dynamic: c.Misc.Dynamic, User: c.Misc.User})}, nil
	}
	return nil, fmt.Errorf("%s: unsupported checker %s", c.Pos, c.Kind)
}

// zoned is a with zone bindIf when a is an IPv6 link-local address and
// bindIf is set. keepalived binds the checker's socket to bind_if
// (SO_BINDTODEVICE), which a link-local destination requires and a
// link-local bindto needs to bind; the zone routes and binds the same way.
func zoned(a netip.Addr, bindIf string) netip.Addr {
	if bindIf != "" && a.Is6() && a.IsLinkLocalUnicast() {
		return a.WithZone(bindIf)
	}
	return a
}

// ScriptError is a MISC_CHECK whose program SecureProgram refuses: `sync`
// would never run it and would count the check failed.
type ScriptError struct {
	Pos      config.Pos // the MISC_CHECK block
	MiscPath string
	Err      error
}

func (e *ScriptError) Error() string {
	return fmt.Sprintf("%s: MISC_CHECK misc_path %q: %v", e.Pos, e.MiscPath, e.Err)
}

func (e *ScriptError) Unwrap() error { return e.Err }

// Unsafe reports whether the program breaks the script-security rule (as
// opposed to being missing or not executable).
func (e *ScriptError) Unsafe() bool {
	var ie *config.InsecureError
	return errors.As(e.Err, &ie)
}

// ScriptProblems vets the program of every MISC_CHECK of cfg with
// SecureProgram, in config order, and returns those it refuses.
func ScriptProblems(cfg *config.Config) []*ScriptError {
	var out []*ScriptError
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			for _, c := range rs.Checks {
				if c.Kind != config.CheckMisc || c.Misc == nil {
					continue
				}
				argv, err := config.SplitCommand(c.Misc.Path)
				if err == nil && len(argv) > 0 {
					_, err = SecureProgram(argv[0], c.Misc.User)
				}
				if err != nil {
					out = append(out, &ScriptError{Pos: c.Pos, MiscPath: c.Misc.Path, Err: err})
				}
			}
		}
	}
	return out
}
