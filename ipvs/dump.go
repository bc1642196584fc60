package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	mobyipvs "github.com/moby/ipvs"
	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/internal/chunk"
)

// destDumper lists one service's destinations over a generic netlink
// socket of its own. It exists for speed only: IPVS has no dump of every
// destination, so reading a table takes one dump per service, and
// moby/ipvs allocates a fresh 64 KiB buffer per netlink read and decodes
// per-destination statistics kahook never uses; on 1,000 services x 10
// that was most of re-applying an unchanged table. Its system calls are
// raw and read up to two replies at a time (recv). Writes stay with
// moby/ipvs and the batched writer. The VM tests compare what it reads with moby/ipvs's reading
// of the same table.
type destDumper struct {
	fd     int
	family uint16 // the IPVS generic netlink family id
	seq    uint32
	buf    []byte
	chunk  chunk.Of[Dest] // the destinations read
	// recvLen is the length each read asks for: dumpRecvLen, or all of
	// buf after a reply did not fit.
	recvLen int
}

// dumpRecvLen is the length each dump read asks for: a page (at most
// 8 KiB). The kernel sizes a dump's reply buffers by the longest read
// the socket has asked for (netlink_dump, up to 32 KiB), at least
// NLMSG_GOODSIZE (a page less its overhead, at most 8 KiB), and fills no
// more than the size it chose. Asking for 64 KiB made every reply a
// 32 KiB buffer, more than the kernel's slab caches hold, so each came
// from the page allocator, twice per service (the destinations, then
// NLMSG_DONE): reading 1,000 x 10 in the VM took about 1.5 to 2 times as
// long as with page-sized reads (issue 18). A reply that does not fit (a
// kernel that does not trim replies) is not used: the dump is read to
// its end and made again with reads of all of buf.
var dumpRecvLen = min(os.Getpagesize(), 8192)

// errTruncated: a dump's reply did not fit the read; the dump was read
// to its end and can be made again with longer reads.
var errTruncated = errors.New("netlink dump reply longer than the read")

// Generic netlink and IPVS constants (linux/ip_vs.h).
const (
	ipvsGenlVersion   = 1
	ipvsCmdGetDest    = 8
	ipvsCmdAttrSvc    = 1
	ipvsCmdAttrDest   = 2
	ipvsSvcAttrAF     = 1
	ipvsSvcAttrProto  = 2
	ipvsSvcAttrAddr   = 3
	ipvsSvcAttrPort   = 4
	ipvsSvcAttrFWMark = 5

	ipvsDestAttrAddr   = 1
	ipvsDestAttrPort   = 2
	ipvsDestAttrFwd    = 3
	ipvsDestAttrWeight = 4
	ipvsDestAttrUThr   = 5
	ipvsDestAttrLThr   = 6
	ipvsDestAttrActive = 7
	ipvsDestAttrInact  = 8
	ipvsDestAttrAF     = 11

	nlaTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

func newDestDumper(family uint16) (*destDumper, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, err
	}
	// A kernel that never answers must not hang the reader for ever;
	// the caller's deadline is shorter still.
	tv := unix.Timeval{Sec: 10}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &destDumper{fd: fd, family: family, buf: make([]byte, 64*1024), recvLen: dumpRecvLen}, nil
}

func (d *destDumper) Close() { unix.Close(d.fd) }

// dests dumps the destinations of ms.
func (d *destDumper) dests(ms *mobyipvs.Service) ([]*Dest, error) {
	var out []*Dest
	err := d.dumpAll(func() []byte { out = out[:0]; return d.request(ms) }, func(typ uint16, v []byte) error {
		if typ != ipvsCmdAttrDest {
			return nil
		}
		dst := d.chunk.New(512) // one allocation per 512 destinations (issue 18)
		if err := parseDest(dst, v, ms.AddressFamily); err != nil {
			return err
		}
		out = append(out, dst)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// dumpAll is dump of the request req makes, made once more with reads
// of all of d.buf when a reply did not fit a shorter read (req is called
// for each attempt: a new sequence number, and the caller forgets what
// each took from the first).
func (d *destDumper) dumpAll(req func() []byte, each func(typ uint16, v []byte) error) error {
	err := d.dump(req(), each)
	if errors.Is(err, errTruncated) && d.recvLen < len(d.buf) {
		d.recvLen = len(d.buf)
		err = d.dump(req(), each)
	}
	return err
}

// dump sends one dump request (framed by d.frame, so its sequence number
// is d.seq) and calls each for every top-level attribute of every reply
// of the IPVS family, until NLMSG_DONE or an acknowledgement; an error
// reply, an unparsable message, or an error from each ends it. A reply
// longer than the read (d.recvLen) is errTruncated, after the rest of
// the dump has been read (so that the socket can dump again). Replies to
// earlier requests are skipped.
func (d *destDumper) dump(req []byte, each func(typ uint16, v []byte) error) error {
	if err := sendNow(d.fd, req); err != nil {
		return err
	}
	truncated := false
	for {
		n, lens, err := d.recv()
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		for i := range n {
			done, err := d.handle(d.buf[i*d.recvLen:], lens[i], &truncated, each)
			if done || err != nil {
				return err
			}
		}
	}
}

// handle walks one read of a dump (see dump), n bytes long at the start
// of b; done when the dump ended.
func (d *destDumper) handle(b []byte, n int, truncated *bool, each func(typ uint16, v []byte) error) (done bool, err error) {
	if n > d.recvLen {
		if d.recvLen == len(d.buf) {
			return true, fmt.Errorf("netlink message of %d bytes truncated", n)
		}
		// Lost: read on to the end of the dump (its last message,
		// NLMSG_DONE, is short), then report it.
		*truncated = true
		n = d.recvLen
	}
	b = b[:n]
	for m, err := range messages(b) {
		if err != nil {
			if *truncated {
				break // the rest of a cut read
			}
			return true, err
		}
		if m.seq != d.seq {
			continue // a late answer to an earlier request
		}
		switch m.typ {
		case unix.NLMSG_DONE:
			if *truncated {
				return true, errTruncated
			}
			return true, nil
		case unix.NLMSG_ERROR:
			if len(m.data) < 4 {
				return true, errors.New("short netlink error message")
			}
			if code := int32(binary.NativeEndian.Uint32(m.data)); code != 0 {
				return true, syscall.Errno(-code)
			}
			if *truncated {
				return true, errTruncated
			}
			return true, nil
		case d.family:
			if *truncated || len(m.data) < unix.GENL_HDRLEN {
				continue
			}
			for typ, v := range attrs(m.data[unix.GENL_HDRLEN:]) {
				if err := each(typ, v); err != nil {
					return true, err
				}
			}
		}
	}
	return false, nil
}

// netlinkMessage is one message of a netlink read: its type, sequence
// number and payload (what follows the 16-byte header).
type netlinkMessage struct {
	typ  uint16
	seq  uint32
	data []byte
}

// messages iterates over the messages of one netlink read in place,
// where syscall.ParseNetlinkMessage builds a slice of them (a dump's
// reply holds one message per destination: 10,000 for 1,000 x 10, each
// appended to a growing slice). A header whose length is shorter than a
// header or longer than what is left ends the iteration with an error
// (ParseNetlinkMessage's EINVAL), after the messages before it.
func messages(b []byte) func(yield func(netlinkMessage, error) bool) {
	return func(yield func(netlinkMessage, error) bool) {
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				yield(netlinkMessage{}, fmt.Errorf("malformed netlink message of %d bytes (%d read): %w", l, len(b), syscall.EINVAL))
				return
			}
			m := netlinkMessage{typ: binary.NativeEndian.Uint16(b[4:]), seq: binary.NativeEndian.Uint32(b[8:]), data: b[unix.NLMSG_HDRLEN:l]}
			b = b[min(nlmsgAlign(l), len(b)):]
			if !yield(m, nil) {
				return
			}
		}
	}
}

// request is IPVS_CMD_GET_DEST as a dump, naming the service the way
// the kernel looks it up: family, then fwmark or protocol/address/port.
func (d *destDumper) request(ms *mobyipvs.Service) []byte {
	var svc []byte
	svc = appendAttr(svc, ipvsSvcAttrAF, binary.NativeEndian.AppendUint16(nil, ms.AddressFamily))
	if ms.FWMark != 0 {
		svc = appendAttr(svc, ipvsSvcAttrFWMark, binary.NativeEndian.AppendUint32(nil, ms.FWMark))
	} else {
		addr := make([]byte, 16) // IPv4 in the first 4 bytes
		if ms.AddressFamily == unix.AF_INET {
			copy(addr, ms.Address.To4())
		} else {
			copy(addr, ms.Address.To16())
		}
		svc = appendAttr(svc, ipvsSvcAttrProto, binary.NativeEndian.AppendUint16(nil, ms.Protocol))
		svc = appendAttr(svc, ipvsSvcAttrAddr, addr)
		svc = appendAttr(svc, ipvsSvcAttrPort, binary.BigEndian.AppendUint16(nil, ms.Port))
	}
	body := []byte{ipvsCmdGetDest, ipvsGenlVersion, 0, 0}
	return d.frame(appendAttr(body, ipvsCmdAttrSvc, svc))
}

// frame puts a generic netlink body (command, version, attributes) in a
// dump request of the IPVS family with the next sequence number.
func (d *destDumper) frame(body []byte) []byte {
	d.seq++
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.NLMSG_HDRLEN+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], d.family)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], d.seq)
	return append(msg, body...)
}

// parseDest decodes one nested IPVS_CMD_ATTR_DEST into d. The address is 16
// bytes; its family is the destination's own when the kernel says it
// (a tunnel may mix families), else the service's.
func parseDest(d *Dest, b []byte, svcFamily uint16) error {
	var addr []byte
	fam := svcFamily
	u32 := func(v []byte) uint32 {
		if len(v) < 4 {
			return 0
		}
		return binary.NativeEndian.Uint32(v)
	}
	for typ, v := range attrs(b) {
		switch typ {
		case ipvsDestAttrAddr:
			addr = v
		case ipvsDestAttrPort:
			if len(v) >= 2 {
				d.Key.Port = binary.BigEndian.Uint16(v)
			}
		case ipvsDestAttrFwd:
			d.Fwd = Forward(u32(v)) & fwdMask
		case ipvsDestAttrWeight:
			d.Weight = int(int32(u32(v)))
		case ipvsDestAttrUThr:
			d.UThreshold = u32(v)
		case ipvsDestAttrLThr:
			d.LThreshold = u32(v)
		case ipvsDestAttrActive:
			d.ActiveConns = int(u32(v))
		case ipvsDestAttrInact:
			d.InactiveConns = int(u32(v))
		case ipvsDestAttrAF:
			if len(v) >= 2 {
				fam = binary.NativeEndian.Uint16(v)
			}
		}
	}
	n := 16
	if fam == unix.AF_INET {
		n = 4
	}
	if len(addr) < n {
		return fmt.Errorf("IPVS destination without a usable address (%d bytes)", len(addr))
	}
	a, _ := netip.AddrFromSlice(addr[:n])
	d.Key.Addr = a.Unmap()
	return nil
}

// attrs iterates over netlink attributes (type without flags, value).
func attrs(b []byte) func(yield func(uint16, []byte) bool) {
	return func(yield func(uint16, []byte) bool) {
		for len(b) >= unix.SizeofNlAttr {
			l := int(binary.NativeEndian.Uint16(b))
			typ := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
			if l < unix.SizeofNlAttr || l > len(b) {
				return
			}
			if !yield(typ, b[unix.SizeofNlAttr:l]) {
				return
			}
			b = b[min(nlaAlign(l), len(b)):]
		}
	}
}

func appendAttr(b []byte, typ uint16, v []byte) []byte {
	l := unix.SizeofNlAttr + len(v)
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for range nlaAlign(l) - l {
		b = append(b, 0)
	}
	return b
}

func nlaAlign(n int) int { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

// ipvsCmdGetService is IPVS_CMD_GET_SERVICE (linux/ip_vs.h).
const ipvsCmdGetService = 4

// services dumps every service, decoded as moby/ipvs's GetServices
// decodes them (assembleService: family, protocol, address, port,
// fwmark, scheduler, flags, timeout, netmask; no persistence engine and
// no statistics), without its 64 KiB buffer per read.
func (d *destDumper) services() ([]*mobyipvs.Service, error) {
	var out []*mobyipvs.Service
	req := func() []byte { out = out[:0]; return d.frame([]byte{ipvsCmdGetService, ipvsGenlVersion, 0, 0}) }
	err := d.dumpAll(req, func(typ uint16, v []byte) error {
		if typ != ipvsCmdAttrSvc {
			return nil
		}
		s, err := parseService(v)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseService decodes one nested IPVS_CMD_ATTR_SERVICE.
func parseService(b []byte) (*mobyipvs.Service, error) {
	s := &mobyipvs.Service{}
	var addr []byte
	u32 := func(v []byte) uint32 {
		if len(v) < 4 {
			return 0
		}
		return binary.NativeEndian.Uint32(v)
	}
	u16 := func(v []byte) uint16 {
		if len(v) < 2 {
			return 0
		}
		return binary.NativeEndian.Uint16(v)
	}
	for typ, v := range attrs(b) {
		switch typ {
		case ipvsSvcAttrAF:
			s.AddressFamily = u16(v)
		case ipvsSvcAttrProto:
			s.Protocol = u16(v)
		case ipvsSvcAttrAddr:
			addr = v
		case ipvsSvcAttrPort:
			if len(v) >= 2 {
				s.Port = binary.BigEndian.Uint16(v)
			}
		case ipvsSvcAttrFWMark:
			s.FWMark = u32(v)
		case ipvsSvcAttrSched:
			s.SchedName = string(v[:cstrLen(v)])
		case ipvsSvcAttrFlags:
			s.Flags = u32(v)
		case ipvsSvcAttrTimeout:
			s.Timeout = u32(v)
		case ipvsSvcAttrNetmask:
			s.Netmask = u32(v)
		}
	}
	if addr != nil {
		n := 16
		if s.AddressFamily == unix.AF_INET {
			n = 4
		}
		if len(addr) < n || (s.AddressFamily != unix.AF_INET && s.AddressFamily != unix.AF_INET6) {
			return nil, fmt.Errorf("IPVS service of family %d with a %d-byte address", s.AddressFamily, len(addr))
		}
		s.Address = net.IP(append([]byte(nil), addr[:n]...))
	}
	return s, nil
}

// cstrLen is the length of a NUL-terminated string's text.
func cstrLen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// sendNow sends b to the kernel (netlink address 0) in a raw system call
// (see recv): the kernel answers a generic netlink request within the
// call, waiting at most for its own locks (genl_mutex, IPVS's mutex).
func sendNow(fd int, b []byte) error {
	sa := unix.RawSockaddrNetlink{Family: unix.AF_NETLINK}
	for {
		_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// mmsghdr is struct mmsghdr (recvmmsg(2)).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// recv reads what the socket holds, up to two replies (a dump's reply
// and its NLMSG_DONE, which the kernel queues while the first is read)
// in one raw recvmmsg, the i-th into d.buf[i*d.recvLen:], and returns
// how many it read and their lengths; a reply longer than d.recvLen
// has its full length (MSG_TRUNC), d.buf holding only its start. A raw
// system call does not hand the goroutine's P over to another thread as
// a blocking one can (IPVS's replies are queued before sendto returns;
// handing over after the system calls of a 1,000-service read cost
// about a fifth of an unchanged re-apply in the VM, issue 18); only when
// nothing is queued does it wait, through the scheduler.
func (d *destDumper) recv() (int, [2]int, error) {
	var lens [2]int
	vlen := 2
	if 2*d.recvLen > len(d.buf) {
		vlen = 1
	}
	var iov [2]unix.Iovec
	var hdrs [2]mmsghdr
	for i := range vlen {
		iov[i].Base = &d.buf[i*d.recvLen]
		iov[i].SetLen(d.recvLen)
		hdrs[i].hdr.Iov = &iov[i]
		hdrs[i].hdr.SetIovlen(1)
	}
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(d.fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(vlen), unix.MSG_TRUNC|unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			for i := range int(n) {
				lens[i] = int(hdrs[i].len)
			}
			return int(n), lens, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			n, _, err := unix.Recvfrom(d.fd, d.buf[:d.recvLen], unix.MSG_TRUNC)
			lens[0] = n
			return 1, lens, err
		}
		return 0, lens, e
	}
}
