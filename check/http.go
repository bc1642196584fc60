package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kahook/kahook/config"
)

// DefaultMaxBody caps how much of a response body is read.
const DefaultMaxBody = 1 << 20

// URL is one url { } block.
type URL struct {
	Path        string
	Digest      string // 32 lowercase hex, or "" for none
	Status      config.StatusSet
	StatusText  string // for messages
	Virtualhost string
}

// HTTP is HTTP_GET (and SSL_GET with TLS set): every URL must answer with
// an accepted status and, if a digest is given, a body whose MD5 matches.
type HTTP struct {
	Conn
	URLs        []URL
	Virtualhost string
	Protocol    string // "1.0" (default), "1.0C", "1.1"
	TLS         bool
	Verify      bool   // SSL_GET does not verify certificates unless asked
	SNI         string // server name sent in the TLS handshake ("" none)
	MaxBody     int
	// WeightFrom takes a dynamic weight from the response:
	// "header:NAME" or "body" (first word). Percentages ("75%") are of
	// MaxWeight.
	WeightFrom string
	MaxWeight  int
}

func (h HTTP) String() string {
	kind := "HTTP_GET"
	if h.TLS {
		kind = "SSL_GET"
	}
	paths := make([]string, len(h.URLs))
	for i, u := range h.URLs {
		paths[i] = u.Path
	}
	return fmt.Sprintf("%s %s%s", kind, h.Addr, strings.Join(paths, ","))
}

// Check fetches every URL; the first failure decides.
func (h HTTP) Check(ctx context.Context) Result {
	return timed(func() Result {
		weight := Unchanged
		for _, u := range h.URLs {
			resp, err := h.Fetch(ctx, u)
			if err != nil {
				return failf("%s: %v", u.Path, err)
			}
			if !u.Status.Has(resp.Status) {
				want := u.StatusText
				if want == "" {
					want = config.DefaultHTTPStatusCodes
				}
				return failf("%s: status %d, want %s", u.Path, resp.Status, want)
			}
			if u.Digest != "" && resp.Digest != u.Digest {
				return failf("%s: digest %s, want %s", u.Path, resp.Digest, u.Digest)
			}
			if h.WeightFrom != "" {
				w, err := h.weightOf(resp)
				if err != nil {
					return failf("%s: weight: %v", u.Path, err)
				}
				weight = w
			}
		}
		r := ok(fmt.Sprintf("%d URL(s) ok", len(h.URLs)))
		r.Weight = weight
		return r
	})
}

// Response is what a fetch saw.
type Response struct {
	Status  int
	Header  string // the raw header block
	Body    []byte // up to MaxBody
	Digest  string // MD5 of the body as keepalived computes it
	HasBody bool   // the header block ended (keepalived: "data received")
}

// Request is keepalived's request for a URL (check_http.c's template).
func (h HTTP) Request(u URL) string {
	vhost := u.Virtualhost
	if vhost == "" {
		vhost = h.Virtualhost
	}
	host := vhost
	if host == "" {
		// ip:port, [ip6]:port; a link-local address's zone (bind_if) is
		// the sender's, not the server's name.
		host = netip.AddrPortFrom(h.Addr.Addr().WithZone(""), h.Addr.Port()).String()
	}
	minor, conn := "0", ""
	switch h.Protocol {
	case "1.1":
		minor, conn = "1", "Connection: close\r\n"
	case "1.0C":
		conn = "Connection: close\r\n"
	}
	return "GET " + u.Path + " HTTP/1." + minor + "\r\nUser-Agent: KeepAliveClient\r\n" + conn + "Host: " + host + "\r\n\r\n"
}

var errBodyTooBig = errors.New("response body is larger than the limit")

// Fetch sends the request for u and reads the response.
func (h HTTP) Fetch(ctx context.Context, u URL) (*Response, error) {
	c, err := h.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", h.Addr, err)
	}
	defer c.Close()
	deadline := h.exchangeDeadline(ctx)
	if err := c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	var rw net.Conn = c
	if h.TLS {
		name := h.SNI
		if name == "" && h.Verify {
			name = h.Addr.Addr().WithZone("").String() // verified against the certificate's IP SANs; not sent as SNI
		}
		tc := tls.Client(c, &tls.Config{
			InsecureSkipVerify: !h.Verify, // SSL_GET semantics: no verification unless asked
			ServerName:         name,
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		rw = tc
	}
	if _, err := io.WriteString(rw, h.Request(u)); err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	max := h.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	return readResponse(bufio.NewReaderSize(rw, 16<<10), max)
}

// readResponse reads headers and body the way keepalived's check_http
// does: the status is the 3 digits after the first space of the first
// line; the body is what follows "\r\n\r\n", limited to Content-Length
// when given; its MD5 is the digest.
func readResponse(r *bufio.Reader, maxBody int) (*Response, error) {
	var head bytes.Buffer
	for {
		line, err := r.ReadSlice('\n')
		head.Write(line)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return &Response{}, fmt.Errorf("no data received: timeout waiting for the response headers")
			}
			if head.Len() == 0 || errors.Is(err, io.EOF) {
				return &Response{}, fmt.Errorf("no data received (connection closed before the end of the headers)")
			}
			return &Response{}, fmt.Errorf("read headers: %w", err)
		}
		if head.Len() > 64<<10 {
			return &Response{}, fmt.Errorf("headers larger than 64 KiB")
		}
		if bytes.HasSuffix(head.Bytes(), []byte("\r\n\r\n")) {
			break
		}
	}
	resp := &Response{Header: head.String(), HasBody: true}
	resp.Status = statusCode(head.Bytes())
	clen := contentLength(head.String())
	limit := int64(maxBody) + 1
	if clen >= 0 {
		if clen > int64(maxBody) {
			return resp, fmt.Errorf("%w: Content-Length %d > %d", errBodyTooBig, clen, maxBody)
		}
		limit = clen
	}
	body, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil && !isEOFLike(err) {
		return resp, fmt.Errorf("read body: %w", err)
	}
	if clen < 0 && len(body) > maxBody {
		return resp, fmt.Errorf("%w (%d bytes)", errBodyTooBig, maxBody)
	}
	resp.Body = body
	sum := md5.Sum(body)
	resp.Digest = hex.EncodeToString(sum[:])
	return resp, nil
}

// isEOFLike: a peer that closes without TLS close_notify ends the body.
func isEOFLike(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF)
}

// statusCode is keepalived's extract_status_code: the three digits
// between the first space and the next space; 0 when malformed.
func statusCode(head []byte) int {
	i := bytes.IndexByte(head, ' ')
	if i < 0 || i+4 >= len(head) || head[i+1] == ' ' || head[i+4] != ' ' {
		return 0
	}
	code, err := strconv.Atoi(string(head[i+1 : i+4]))
	if err != nil {
		return 0
	}
	return code
}

// contentLength is keepalived's extract_content_length: the value after
// a case-sensitive "Content-Length:"; -1 when absent or malformed.
func contentLength(head string) int64 {
	i := strings.Index(head, "Content-Length:")
	if i < 0 {
		return -1
	}
	rest := strings.TrimLeft(head[i+len("Content-Length:"):], " \t")
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j == 0 || (j < len(rest) && rest[j] != '\r' && rest[j] != '\n') {
		return -1
	}
	n, err := strconv.ParseInt(rest[:j], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// weightOf reads the dynamic weight: "header:NAME" or "body".
func (h HTTP) weightOf(resp *Response) (int, error) {
	var raw string
	switch {
	case h.WeightFrom == "body":
		f := strings.Fields(string(resp.Body))
		if len(f) == 0 {
			return 0, errors.New("empty body")
		}
		raw = f[0]
	case strings.HasPrefix(h.WeightFrom, "header:"):
		name := strings.ToLower(strings.TrimPrefix(h.WeightFrom, "header:"))
		for _, line := range strings.Split(resp.Header, "\r\n") {
			k, v, found := strings.Cut(line, ":")
			if found && strings.ToLower(strings.TrimSpace(k)) == name {
				raw = strings.TrimSpace(v)
				break
			}
		}
		if raw == "" {
			return 0, fmt.Errorf("no %s header", name)
		}
	default:
		return 0, fmt.Errorf("unknown weight source %q (header:NAME or body)", h.WeightFrom)
	}
	return parseWeight(raw, h.MaxWeight)
}

// parseWeight reads "N" or "N%" (of maxWeight).
func parseWeight(s string, maxWeight int) (int, error) {
	if p, found := strings.CutSuffix(s, "%"); found {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 100 {
			return 0, fmt.Errorf("%q is not a percentage", s)
		}
		if maxWeight <= 0 {
			maxWeight = 100
		}
		return (v*maxWeight + 50) / 100, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > config.MaxWeight {
		return 0, fmt.Errorf("%q is not a weight (0-%d)", s, config.MaxWeight)
	}
	return v, nil
}
