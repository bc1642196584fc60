package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
)

// Flags shared by the connecting checks, named as keepalived names them.
// Unlike keepalived's checkers (retry 1 after 1-3 s), a check run as a
// vrrp_script retries nothing by default: keepalived's own fall/rise
// debounce it, and a retry delay would outlast the script timeout.
func connFlags(defRetry int, defDelay time.Duration) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "connect-ip", Usage: "address to check"},
		&cli.IntFlag{Name: "connect-port", Usage: "port to check"},
		&cli.StringFlag{Name: "bindto", Usage: "source address"},
		&cli.IntFlag{Name: "bind-port", Usage: "source port (keepalived bind_port)"},
		timeFlag("connect-timeout", nil, 5*time.Second, "bound on the connect, and again on the exchange"),
		&cli.IntFlag{Name: "retry", Value: defRetry, Usage: "retries after a failure (keepalived retry)"},
		timeFlag("delay-before-retry", nil, defDelay, "wait between retries"),
		&cli.BoolFlag{Name: "dynamic", Usage: "exit 2+weight when the check yields a weight (misc_dynamic)"},
	}
}

func checkCommand() *cli.Command {
	httpFlags := append(connFlags(0, 3*time.Second),
		&cli.StringFlag{Name: "path", Usage: "URL path (or give a URL: kahook check http http://10.0.0.11:8080/health)"},
		&cli.StringFlag{Name: "digest", Usage: "MD5 of the body, as genhash prints it"},
		&cli.StringFlag{Name: "status-code", Value: config.DefaultHTTPStatusCodes, Usage: "accepted codes: 200, 200-299, '200 301-302'"},
		&cli.StringSliceFlag{Name: "url", Usage: "extra url (repeatable): PATH[;digest=HEX][;status=CODES][;virtualhost=NAME]; all must pass"},
		&cli.StringFlag{Name: "virtualhost", Usage: "Host header (default ip:port)"},
		&cli.StringFlag{Name: "http-protocol", Value: "1.0", Usage: "1.0, 1.0C (with Connection: close) or 1.1"},
		&cli.IntFlag{Name: "max-body", Value: check.DefaultMaxBody, Usage: "fail when the body is bigger (bytes)"},
		&cli.StringFlag{Name: "weight-from", Usage: "dynamic weight from 'header:NAME' or 'body' (N or N%)"},
		&cli.IntFlag{Name: "max-weight", Value: 100, Usage: "weight that 100% stands for"},
	)
	sslFlags := append(append([]cli.Flag{}, httpFlags...),
		&cli.BoolFlag{Name: "verify", Usage: "verify the server certificate (SSL_GET does not by default)"},
		&cli.StringFlag{Name: "sni", Usage: "server name to send in the TLS handshake"},
	)
	return &cli.Command{
		Name:  "check",
		Usage: "one health check with keepalived's semantics and exit codes (0 healthy, 1 not, 2+weight with --dynamic)",
		Subcommands: []*cli.Command{
			{Name: "tcp", Usage: "TCP_CHECK: connect within the timeout", Flags: connFlags(0, time.Second), ArgsUsage: "[IP:PORT]",
				Action: func(c *cli.Context) error {
					conn, err := checkConn(c, "")
					if err != nil {
						return err
					}
					return runCheck(c, check.TCP{Conn: conn})
				}},
			{Name: "http", Usage: "HTTP_GET: GET each URL, check status and digest", Flags: httpFlags, ArgsUsage: "[URL]",
				Action: func(c *cli.Context) error { return httpCheck(c, false) }},
			{Name: "ssl", Usage: "SSL_GET: HTTP_GET over TLS (no certificate verification unless --verify)", Flags: sslFlags, ArgsUsage: "[URL]",
				Action: func(c *cli.Context) error { return httpCheck(c, true) }},
			{Name: "smtp", Usage: "SMTP_CHECK: 220 banner, HELO answered with 250", ArgsUsage: "[IP:PORT]",
				Flags: append(connFlags(0, time.Second), &cli.StringFlag{Name: "helo-name", Value: "localhost", Usage: "name sent with HELO"}),
				Action: func(c *cli.Context) error {
					conn, err := checkConn(c, "")
					if err != nil {
						return err
					}
					return runCheck(c, check.SMTP{Conn: conn, HeloName: c.String("helo-name")})
				}},
			{Name: "ping", Usage: "PING_CHECK: one ICMP echo, answered within the timeout", ArgsUsage: "IP",
				Flags: connFlags(0, time.Second),
				Action: func(c *cli.Context) error {
					if err := maxArgs(c, 1); err != nil {
						return err
					}
					arg := c.Args().First()
					if arg == "" {
						arg = c.String("connect-ip")
					}
					if arg == "" {
						return usage("%s: expected the server's IP (or --connect-ip IP)", commandName(c))
					}
					ip, err := netip.ParseAddr(arg)
					if err != nil {
						return usage("%s: %q is not an IP address", commandName(c), arg)
					}
					// ICMP has no port: the source and the timeout only.
					conn, err := connSource(c)
					if err != nil {
						return err
					}
					if ip, err = checkTarget(c, arg, ip, -1); err != nil {
						return err
					}
					conn.Addr = netip.AddrPortFrom(ip, 0)
					return runCheck(c, check.Ping{Conn: conn})
				}},
			{Name: "udp", Usage: "UDP_CHECK: send a datagram; an ICMP unreachable fails, silence passes unless a reply is required", ArgsUsage: "[IP:PORT]",
				Flags: append(connFlags(0, time.Second),
					&cli.StringFlag{Name: "payload", Usage: "hex payload (default keepalived's 32 bytes)"},
					&cli.BoolFlag{Name: "require-reply", Usage: "fail without a reply"},
					&cli.StringFlag{Name: "reply", Usage: "hex the reply must start with (X: any nibble); implies --require-reply"},
					&cli.IntFlag{Name: "min-reply-length", Usage: "with --reply: shortest reply accepted"},
					&cli.IntFlag{Name: "max-reply-length", Value: 255, Usage: "with --reply: longest reply accepted"}),
				Action: func(c *cli.Context) error {
					conn, err := checkConn(c, "")
					if err != nil {
						return err
					}
					u := check.UDP{Conn: conn, RequireReply: c.Bool("require-reply"), MinLength: c.Int("min-reply-length"), MaxLength: c.Int("max-reply-length")}
					if h := c.String("payload"); h != "" {
						data, _, ok := config.ParseHex(h, false)
						if !ok {
							return usage("--payload: %q is not a hex string", h)
						}
						u.Payload = data
					}
					if h := c.String("reply"); h != "" {
						data, mask, ok := config.ParseHex(h, true)
						if !ok {
							return usage("--reply: %q is not a hex string", h)
						}
						u.Reply, u.Mask, u.RequireReply = data, mask, true
					}
					return runCheck(c, u)
				}},
			{Name: "dns", Usage: "DNS_CHECK: a query answered with NOERROR within the timeout", ArgsUsage: "[IP:PORT]",
				Flags: append(connFlags(0, time.Second),
					&cli.StringFlag{Name: "type", Value: "SOA", Usage: "A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG or DNSKEY"},
					&cli.StringFlag{Name: "name", Usage: "name to query (default the root)"}),
				Action: func(c *cli.Context) error {
					conn, err := checkConn(c, "")
					if err != nil {
						return err
					}
					if _, known := config.DNSTypes[strings.ToUpper(c.String("type"))]; !known {
						return usage("--type: unknown DNS type %q", c.String("type"))
					}
					return runCheck(c, check.DNS{Conn: conn, Type: c.String("type"), Name: c.String("name")})
				}},
			{Name: "track-file", Usage: "FILE_CHECK: a track_file's number takes the server down (weight 0) or moves its weight", ArgsUsage: "PATH",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "weight", Value: 1, Usage: "track_file weight: 0 = down while the number is non-zero"},
					&cli.BoolFlag{Name: "reverse", Usage: "weight reverse"},
					&cli.IntFlag{Name: "base-weight", Value: 1, Usage: "the real server's configured weight"},
					&cli.BoolFlag{Name: "dynamic", Usage: "exit 2+weight (misc_dynamic)"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usage("check track-file: expected the file's path")
					}
					return runCheck(c, check.TrackFile{Path: c.Args().First(), Weight: c.Int("weight"), Reverse: c.Bool("reverse"), BaseWeight: c.Int("base-weight")})
				}},
			{Name: "misc", Usage: "MISC_CHECK: run a program (exit 0 healthy; with --dynamic 2..255 is weight code-2)",
				ArgsUsage: "-- PROGRAM [ARGS...] | \"PROGRAM ARGS\"",
				Flags: []cli.Flag{
					timeFlag("misc-timeout", nil, 10*time.Second, "time before the program's process group is killed"),
					&cli.BoolFlag{Name: "dynamic", Usage: "misc_dynamic: pass the exit code on"},
					&cli.StringFlag{Name: "user", Usage: "run as this user"},
				},
				Action: func(c *cli.Context) error {
					argv := c.Args().Slice()
					if len(argv) == 1 {
						var err error
						if argv, err = config.SplitCommand(argv[0]); err != nil {
							return usage("check misc: %v", err)
						}
					}
					if len(argv) == 0 {
						return usage("check misc: expected a program")
					}
					return runCheck(c, check.Misc{Argv: argv, Timeout: flagTime(c, "misc-timeout"), Dynamic: c.Bool("dynamic"), User: c.String("user")})
				}},
			{Name: "agent", Usage: "HAProxy agent-check: up/ready, drain (weight 0), down/fail/stopped/maint, N% of --max-weight", ArgsUsage: "[IP:PORT]",
				Flags: append(connFlags(0, time.Second),
					&cli.StringFlag{Name: "send", Usage: "string to send first"},
					&cli.IntFlag{Name: "max-weight", Value: 100, Usage: "weight that 100% stands for"}),
				Action: func(c *cli.Context) error {
					conn, err := checkConn(c, "")
					if err != nil {
						return err
					}
					return runCheck(c, check.Agent{Conn: conn, Send: strings.ReplaceAll(c.String("send"), `\n`, "\n"), MaxWeight: c.Int("max-weight")})
				}},
			{Name: "file", Usage: "maintenance file: healthy while --absent PATH is absent (or --present PATH present)",
				Flags: []cli.Flag{&cli.StringFlag{Name: "absent", Usage: "healthy (exit 0) while `PATH` does not exist, failed (exit 1) once it does"},
					&cli.StringFlag{Name: "present", Usage: "healthy (exit 0) while `PATH` exists, failed (exit 1) once it is gone"}},
				Action: func(c *cli.Context) error {
					if err := maxArgs(c, 0); err != nil {
						return err
					}
					a, p := c.String("absent"), c.String("present")
					if (a == "") == (p == "") {
						return usage("check file: expected exactly one of --absent PATH or --present PATH")
					}
					if p != "" {
						return runCheck(c, check.File{Path: p, Present: true})
					}
					return runCheck(c, check.File{Path: a})
				}},
		},
	}
}

// dynamicArgv says whether argv (the program first) runs a check with
// --dynamic: "check" is one of its words and --dynamic (-dynamic,
// --dynamic=BOOL) another, both before a "--" (after it come a misc
// check's program and its arguments). It reads argv itself, not the
// parsed flags: a flag-parse error (an unknown flag, a bad value) stops
// cli before it reaches a --dynamic written after the error. A word it
// cannot read (--dynamic=maybe) counts as --dynamic: fail safe.
func dynamicArgv(argv []string) bool {
	isCheck, dynamic := false, false
	for _, a := range argv[min(1, len(argv)):] {
		if a == "--" {
			break
		}
		if a == "check" {
			isCheck = true
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if name != "dynamic" || !strings.HasPrefix(a, "-") {
			continue
		}
		dynamic = true
		if b, err := strconv.ParseBool(val); hasVal && err == nil {
			dynamic = b
		}
	}
	return isCheck && dynamic
}

// dynamicUsage is the exit error of a check run with --dynamic that gave
// no verdict (a usage error, --help): exit 1, down. keepalived's
// misc_dynamic reads exit 2 as up at weight 0, and 0 as up: a server
// never checked would stay in service (and a persistent service keeps
// sending its existing clients to a weight-0 server while
// net.ipv4.vs.expire_quiescent_template is 0, the default). Without
// --dynamic a usage error stays exit 2.
func dynamicUsage(err error, code int) error {
	why := fmt.Sprintf("exit 1 (down), not %d: under --dynamic, keepalived's misc_dynamic reads 0 and 2+ as up", code)
	if code == exitOK {
		why = "no check ran: " + why
	}
	var ml exitLines
	if errors.As(err, &ml) {
		return exitLines{append(ml.lines, why), exitFailed}
	}
	if msg := err.Error(); msg != "" {
		return exitLines{[]string{msg, why}, exitFailed}
	}
	return exitLines{[]string{why}, exitFailed}
}

// maxArgs rejects extra arguments: flags given after the first argument
// are not parsed as flags, and a check must never ignore one silently.
func maxArgs(c *cli.Context, n int) error {
	if c.NArg() > n {
		return argvError{usage("%s: unexpected arguments %q (flags go before the arguments)", commandName(c), c.Args().Slice()[n:])}
	}
	return nil
}

// checkTarget refuses, as a usage error (exit 2, before the check runs),
// a target no real server can have: port 0 (port -1: the check has no
// port) or the unspecified address 0.0.0.0 or ::, which Linux connects
// to the node itself, in any spelling (::ffff:0.0.0.0, ::%lo: the test
// is on the address unmapped and without its zone). It returns the
// address to connect to: ip unmapped, its zone kept (a link-local
// server's interface). arg is the input as given, for the message.
// Every check subcommand and genhash read their target through it.
func checkTarget(c *cli.Context, arg string, ip netip.Addr, port int) (netip.Addr, error) {
	if ip.Unmap().WithZone("").IsUnspecified() {
		return ip, usage("%s: %q: %s is not a server's address (the unspecified address reaches this node)", commandName(c), arg, ip)
	}
	if port == 0 {
		return ip, usage("%s: %q: port 0 is not a port a server listens on (expected 1-65535)", commandName(c), arg)
	}
	return ip.Unmap(), nil
}

// connSource reads what every connecting check shares besides its
// target: --connect-timeout, --bindto and --bind-port.
func connSource(c *cli.Context) (check.Conn, error) {
	var conn check.Conn
	conn.Timeout = flagTime(c, "connect-timeout")
	if conn.Timeout <= 0 {
		return conn, usage("--connect-timeout must be positive")
	}
	if b := c.String("bindto"); b != "" {
		a, err := netip.ParseAddr(b)
		if err != nil {
			return conn, usage("--bindto: %q is not an IP address", b)
		}
		conn.BindTo = a
	}
	if bp := c.Int("bind-port"); bp < 0 || bp > 65535 {
		return conn, usage("--bind-port: expected 0-65535")
	} else {
		conn.BindPort = uint16(bp)
	}
	return conn, nil
}

// checkConn reads --connect-ip/--connect-port or an IP:PORT argument
// (defaultPath non-empty: the argument is a URL, read by httpCheck).
func checkConn(c *cli.Context, defaultPath string) (check.Conn, error) {
	if err := maxArgs(c, 1); err != nil {
		return check.Conn{}, err
	}
	conn, err := connSource(c)
	if err != nil {
		return conn, err
	}
	if arg := c.Args().First(); arg != "" && defaultPath == "" {
		ap, err := netip.ParseAddrPort(arg)
		if err != nil {
			return conn, usage("%s: %q is not IP:PORT", commandName(c), arg)
		}
		ip, err := checkTarget(c, arg, ap.Addr(), int(ap.Port()))
		if err != nil {
			return conn, err
		}
		conn.Addr = netip.AddrPortFrom(ip, ap.Port())
		return conn, nil
	}
	ipArg, port := c.String("connect-ip"), c.Int("connect-port")
	if ipArg == "" {
		what := "IP:PORT"
		if defaultPath != "" {
			what = "a URL"
		}
		if port != 0 {
			return conn, usage("%s: --connect-port without --connect-ip (expected %s, or --connect-ip IP and --connect-port PORT)", commandName(c), what)
		}
		return conn, usage("%s: expected the server: %s, or --connect-ip IP and --connect-port PORT", commandName(c), what)
	}
	ip, err := netip.ParseAddr(ipArg)
	if err != nil {
		return conn, usage("--connect-ip: %q is not an IP address", ipArg)
	}
	if port <= 0 || port > 65535 {
		return conn, usage("%s: --connect-ip needs --connect-port 1-65535", commandName(c))
	}
	if ip, err = checkTarget(c, "--connect-ip "+ipArg, ip, port); err != nil {
		return conn, err
	}
	conn.Addr = netip.AddrPortFrom(ip, uint16(port))
	return conn, nil
}

func httpCheck(c *cli.Context, tls bool) error {
	if err := maxArgs(c, 1); err != nil {
		return err
	}
	h := check.HTTP{TLS: tls, Virtualhost: c.String("virtualhost"), MaxBody: c.Int("max-body"),
		WeightFrom: c.String("weight-from"), MaxWeight: c.Int("max-weight")}
	if tls {
		h.Verify, h.SNI = c.Bool("verify"), c.String("sni")
	}
	switch p := c.String("http-protocol"); p {
	case "1.0", "1.1", "1.0C":
		h.Protocol = p
	case "1.0c":
		h.Protocol = "1.0C"
	default:
		return usage("--http-protocol: expected 1.0, 1.0C or 1.1")
	}
	path := c.String("path")
	if raw := c.Args().First(); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usage("%q is not an http:// or https:// URL", raw)
		}
		host, portStr := u.Hostname(), u.Port()
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return usage("URL host %q must be an IP address (as keepalived's connect_ip); use --virtualhost for the Host header", host)
		}
		port := 80
		if u.Scheme == "https" {
			port = 443
			h.TLS = true
		}
		if portStr != "" {
			if port, err = strconv.Atoi(portStr); err != nil || port > 65535 {
				return usage("%s: %q: port %q is not a number within 1-65535", commandName(c), raw, portStr)
			}
		}
		if ip, err = checkTarget(c, raw, ip, port); err != nil {
			return err
		}
		h.Conn.Addr = netip.AddrPortFrom(ip, uint16(port))
		path = u.RequestURI()
	}
	h.Conn.Timeout = flagTime(c, "connect-timeout")
	if !h.Conn.Addr.IsValid() {
		conn, err := checkConn(c, "-")
		if err != nil {
			return err
		}
		h.Conn = conn
	} else if b := c.String("bindto"); b != "" {
		a, err := netip.ParseAddr(b)
		if err != nil {
			return usage("--bindto: %q is not an IP address", b)
		}
		h.Conn.BindTo = a
	}
	if path != "" {
		u, err := urlSpec(path + ";digest=" + c.String("digest") + ";status=" + c.String("status-code"))
		if err != nil {
			return err
		}
		h.URLs = append(h.URLs, u)
	}
	for _, spec := range c.StringSlice("url") {
		u, err := urlSpec(spec)
		if err != nil {
			return err
		}
		h.URLs = append(h.URLs, u)
	}
	if len(h.URLs) == 0 {
		return usage("check http: expected a URL, --path or --url")
	}
	return runCheck(c, h)
}

// urlSpec reads PATH[;digest=HEX][;status=CODES][;virtualhost=NAME].
func urlSpec(spec string) (check.URL, error) {
	parts := strings.Split(spec, ";")
	u := check.URL{Path: parts[0], StatusText: config.DefaultHTTPStatusCodes}
	if !strings.HasPrefix(u.Path, "/") {
		return u, usage("url %q: the path must start with /", spec)
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "digest":
			if v != "" {
				if len(v) != 32 || strings.Trim(strings.ToLower(v), "0123456789abcdef") != "" {
					return u, usage("digest %q: expected 32 hexadecimal characters", v)
				}
				u.Digest = strings.ToLower(v)
			}
		case "status":
			if v != "" {
				u.StatusText = v
			}
		case "virtualhost":
			u.Virtualhost = v
		default:
			return u, usage("url %q: unknown option %q", spec, k)
		}
	}
	set, ok := config.ParseStatusCodes(u.StatusText)
	if !ok {
		return u, usage("status %q: expected codes or ranges within 100-599", u.StatusText)
	}
	u.Status = set
	return u, nil
}

// runCheck runs one check, bounded by its own timeouts and retries, and
// maps the result to the exit code keepalived expects.
func runCheck(c *cli.Context, ck check.Checker) error {
	e := getEnv(c)
	if r := c.Int("retry"); r > 0 {
		ck = check.Retry{Checker: ck, Retries: r, Delay: flagTime(c, "delay-before-retry")}
	}
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Minute)
	defer cancel()
	res := ck.Check(ctx)
	code := res.ExitCode(c.Bool("dynamic"))
	e.verdict = true
	if e.json {
		_ = printJSON(e.stdout, toCheckJSON(ck.String(), res, code))
	} else if !res.Healthy {
		// keepalived discards this; a person running the check reads it.
		// The reason can carry the server's words: one line, escaped.
		fmt.Fprintln(e.stderr, escapeControl(fmt.Sprintf("%s: %s", ck, res.Reason)))
	}
	e.log.Debug("check", "check", ck.String(), "healthy", res.Healthy, "weight", res.Weight, "reason", res.Reason, "latency", res.Latency)
	if code == 0 {
		return nil
	}
	return cli.Exit("", code)
}

func genhashCommand() *cli.Command {
	return &cli.Command{
		Name:  "genhash",
		Usage: "print the MD5 digest of a URL's body, exactly as keepalived's genhash does",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Aliases: []string{"s"}, Usage: "server IP"},
			&cli.IntFlag{Name: "port", Aliases: []string{"p"}, Usage: "port"},
			&cli.StringFlag{Name: "url", Aliases: []string{"u"}, Usage: "path"},
			&cli.BoolFlag{Name: "use-ssl", Aliases: []string{"S"}, Usage: "TLS"},
			&cli.BoolFlag{Name: "use-sni", Aliases: []string{"I"}, Usage: "send the virtualhost as SNI"},
			&cli.StringFlag{Name: "use-virtualhost", Aliases: []string{"V"}, Usage: "Host header"},
			&cli.StringFlag{Name: "protocol", Aliases: []string{"P"}, Value: "1.0", Usage: "1.0, 1.0c or 1.1"},
			timeFlag("timeout", []string{"t"}, 5*time.Second, "bound on the connect, and again on the exchange"),
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print the request, headers and body too"},
		},
		Action: func(c *cli.Context) error {
			e := getEnv(c)
			if err := maxArgs(c, 0); err != nil {
				return err
			}
			ip, err := netip.ParseAddr(c.String("server"))
			if err != nil {
				return usage("genhash: -s: server should be an IP, not %q", c.String("server"))
			}
			port := c.Int("port")
			if port <= 0 || port > 65535 {
				return usage("genhash: -p: invalid port number %d", port)
			}
			if ip, err = checkTarget(c, c.String("server"), ip, port); err != nil {
				return err
			}
			if c.String("url") == "" {
				return usage("genhash: -u URL is required")
			}
			proto := strings.ToUpper(c.String("protocol"))
			if proto != "1.0" && proto != "1.1" && proto != "1.0C" {
				return usage("genhash: -P: expected 1.0, 1.0c or 1.1")
			}
			h := check.HTTP{
				Conn:        check.Conn{Addr: netip.AddrPortFrom(ip, uint16(port)), Timeout: flagTime(c, "timeout")},
				URLs:        []check.URL{{Path: c.String("url")}},
				Virtualhost: c.String("use-virtualhost"),
				Protocol:    proto,
				TLS:         c.Bool("use-ssl"),
				MaxBody:     64 << 20,
			}
			if h.TLS && c.Bool("use-sni") {
				h.SNI = h.Virtualhost
			}
			resp, err := check.Genhash(c.Context, h)
			if c.Bool("verbose") && resp != nil {
				fmt.Fprintf(e.stdout, "Request:\n%s\nHeaders:\n%s\nBody: %d bytes\n", h.Request(h.URLs[0]), resp.Header, len(resp.Body))
			}
			if err != nil {
				fmt.Fprintln(e.stderr, escapeControl(err.Error()))
				return cli.Exit("", exitFailed)
			}
			if e.json {
				return printJSON(e.stdout, genhashJSON{Server: ip.String(), Port: port, URL: h.URLs[0].Path, Virtualhost: h.Virtualhost, Protocol: proto, TLS: h.TLS, Digest: resp.Digest})
			}
			fmt.Fprintln(e.stdout, resp.Digest)
			return nil
		},
	}
}

// genhashJSON is `genhash --json`.
type genhashJSON struct {
	Server      string `json:"server"`
	Port        int    `json:"port"`
	URL         string `json:"url"`
	Virtualhost string `json:"virtualhost,omitempty"`
	Protocol    string `json:"protocol"`
	TLS         bool   `json:"tls"`
	Digest      string `json:"digest"`
}
