package check

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/kahook/kahook/config"
)

// DNS is DNS_CHECK (keepalived's check_dns.c): one query (Type, Name;
// recursion desired) over UDP; healthy when a response with the query's
// ID arrives within the connect timeout with RCODE 0 (NOERROR). Datagrams
// that are too short, carry another ID or are not responses are skipped,
// as keepalived does (its "too short" is under 8 bytes, the size of the
// pointer it measures, not under the 12-byte header: see Check); an ICMP
// port unreachable fails the check.
type DNS struct {
	Conn
	Type string // A, NS, CNAME, SOA (default), MX, TXT, AAAA, RRSIG, DNSKEY
	Name string // default the root
}

func (d DNS) String() string { return "DNS_CHECK " + d.Addr.String() }

// query builds keepalived's query for id.
func (d DNS) query(id uint16) ([]byte, error) {
	t := d.Type
	if t == "" {
		t = "SOA"
	}
	qt, known := config.DNSTypes[strings.ToUpper(t)]
	if !known {
		return nil, fmt.Errorf("unknown DNS type %q", t)
	}
	name := d.Name
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.Type(qt), Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

func (d DNS) Check(ctx context.Context) Result {
	return timed(func() Result {
		id := uint16(rand.UintN(1 << 16))
		q, err := d.query(id)
		if err != nil {
			return failf("dns query: %v", err)
		}
		c, err := d.dialUDP(ctx)
		if err != nil {
			return failf("dns %s: %v", d.Addr, err)
		}
		defer c.Close()
		if _, err := c.Write(q); err != nil {
			return failf("dns send to %s: %v", d.Addr, err)
		}
		_ = c.SetReadDeadline(d.exchangeDeadline(ctx))
		buf := make([]byte, 768) // DNS_BUFFER_SIZE
		for {
			n, err := c.Read(buf)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					return failf("dns %s: no response within %v", d.Addr, d.Timeout)
				}
				return failf("dns %s: %v", d.Addr, err)
			}
			// keepalived skips a datagram shorter than
			// sizeof(r_header), the size of a pointer (8), not of the
			// 12-byte header: 8 bytes with the ID and a response's
			// flags are judged as a whole header would be.
			if n < 8 || binary.BigEndian.Uint16(buf) != id {
				continue
			}
			flags := binary.BigEndian.Uint16(buf[2:])
			if flags&0x8000 == 0 { // QR: a query, not a response
				continue
			}
			if rc := dnsmessage.RCode(flags & 0x000f); rc != dnsmessage.RCodeSuccess {
				return failf("dns %s: rcode %d (%s)", d.Addr, int(rc), rc)
			}
			return ok("dns response NOERROR")
		}
	})
}
