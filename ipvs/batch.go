package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"

	mobyipvs "github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// batchWriter sends IPVS changes many generic netlink messages per
// sendmsg, each with NLM_F_ACK and its own sequence number, and matches
// the acknowledgements back to the changes. It exists for speed only:
// moby/ipvs does one request, one acknowledgement and a fresh 64 KiB
// receive buffer per change, which on 1,000 services x 10 destinations
// made a load from empty no faster than ipvsadm-restore (README, "IPVS
// writes"). The kernel handles the messages of one send in order
// (netlink_rcv_skb), acknowledging each and going on after a refused
// one, so a service is created before the destinations sent after it and
// one refused rule does not stop the rest. The attributes are moby/ipvs's
// (fillService, fillDestination) byte for byte; the VM tests load the
// same tables both ways and compare them.
type batchWriter struct {
	fd     int
	family uint16
	seq    uint32
	out    []byte
	in     []byte
}

// batchSize bounds the messages of one send, all of them acknowledged
// before the next send: the acknowledgements of one send must fit the
// socket's receive buffer (an acknowledgement costs about 1 KiB of it,
// skb overhead included), or the kernel drops them (ENOBUFS) and the
// outcome of those changes is unknown.
const batchSize = 128

// batchRcvBuf is the receive buffer asked for (SO_RCVBUFFORCE as root,
// else SO_RCVBUF up to net.core.rmem_max); batchSize fits the kernel's
// default of 208 KiB too.
const batchRcvBuf = 1 << 20

// IPVS commands and attributes the writer sends (linux/ip_vs.h).
const (
	ipvsCmdNewService = 1
	ipvsCmdSetService = 2
	ipvsCmdDelService = 3
	ipvsCmdNewDest    = 5
	ipvsCmdSetDest    = 6
	ipvsCmdDelDest    = 7

	ipvsSvcAttrSched   = 6
	ipvsSvcAttrFlags   = 7
	ipvsSvcAttrTimeout = 8
	ipvsSvcAttrNetmask = 9
	ipvsSvcAttrPEName  = 11
)

func newBatchWriter(family uint16) (*batchWriter, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*batchWriter, error) {
		unix.Close(fd)
		return nil, err
	}
	tv := unix.Timeval{Sec: 10} // the caller's deadline is shorter still
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail(err)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, batchRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, batchRcvBuf)
	}
	// Refusals without a copy of the request: smaller acknowledgements.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail(err)
	}
	return &batchWriter{fd: fd, family: family, in: make([]byte, 64*1024)}, nil
}

func (w *batchWriter) Close() { unix.Close(w.fd) }

// outcome is what became of one change.
type outcome uint8

const (
	unanswered outcome = iota // not sent, or its acknowledgement never came
	applied                   // the kernel took it ("already there"/"already gone" included)
	refusedByKernel
	skippedNoService // a destination of a service the kernel refused to add
)

// apply performs changes in order, as Apply: out[i] is what became of
// changes[i], errs[i] the kernel's refusal. A destination of a service
// refused in an earlier send is not sent; one sent in the same send as
// its refused service finds no service in the kernel: both are
// skippedNoService, as Apply skips them. A transport error (send,
// receive, a lost acknowledgement) ends it, the changes not acknowledged
// left unanswered.
func (w *batchWriter) apply(changes []Change) (out []outcome, errs []error, err error) {
	out = make([]outcome, len(changes))
	errs = make([]error, len(changes))
	failedSvc := map[ServiceKey]bool{}
	for start := 0; start < len(changes); {
		end := min(start+batchSize, len(changes))
		w.out = w.out[:0]
		first := w.seq + 1
		idx := make([]int, 0, end-start)
		for i := start; i < end; i++ {
			c := changes[i]
			if c.Dest != nil && failedSvc[c.Service.Key] {
				out[i] = skippedNoService
				continue
			}
			cmd, ok := opCmd[c.Op]
			if !ok {
				out[i], errs[i] = refusedByKernel, fmt.Errorf("unknown change %s", c.Op)
				continue
			}
			w.out = w.message(w.out, cmd, c)
			idx = append(idx, i)
		}
		start = end
		if len(idx) == 0 {
			continue
		}
		if err := w.send(w.out); err != nil {
			return out, errs, fmt.Errorf("send IPVS changes: %w", err)
		}
		err := w.acks(first, len(idx), func(n int, e error) {
			i := idx[n]
			c := changes[i]
			switch e = ignore(e, ignored[c.Op]); {
			case c.Dest != nil && failedSvc[c.Service.Key]:
				out[i] = skippedNoService
			case e != nil:
				out[i], errs[i] = refusedByKernel, e
				if c.Op == AddService {
					failedSvc[c.Service.Key] = true
				}
			default:
				out[i] = applied
			}
		})
		if err != nil {
			return out, errs, err
		}
	}
	return out, errs, nil
}

var opCmd = map[Op]uint8{
	AddService: ipvsCmdNewService, UpdateService: ipvsCmdSetService, DelService: ipvsCmdDelService,
	AddDest: ipvsCmdNewDest, UpdateDest: ipvsCmdSetDest, DelDest: ipvsCmdDelDest,
}

// ignored is applyOne's "already there" / "already gone" per change.
var ignored = map[Op]syscall.Errno{AddService: syscall.EEXIST, DelService: syscall.ESRCH, AddDest: syscall.EEXIST, DelDest: syscall.ENOENT}

func (w *batchWriter) send(b []byte) error {
	for {
		err := unix.Sendto(w.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// acks reads acknowledgements until every message of sequence numbers
// first..first+n-1 has one, calling each with the message's
// position and the kernel's answer (nil for success).
func (w *batchWriter) acks(first uint32, n int, each func(int, error)) error {
	answered := make([]bool, n)
	left := n
	for left > 0 {
		n, _, err := unix.Recvfrom(w.fd, w.in, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read IPVS acknowledgements (%d of %d missing): %w", left, len(answered), err)
		}
		for m, err := range messages(w.in[:n]) {
			if err != nil {
				return fmt.Errorf("read IPVS acknowledgements: %w", err)
			}
			typ, seq, data := m.typ, m.seq, m.data
			pos := int(seq - first)
			if typ != unix.NLMSG_ERROR || pos < 0 || pos >= len(answered) || answered[pos] {
				continue // not an acknowledgement of this send
			}
			if len(data) < 4 {
				return errors.New("read IPVS acknowledgements: short netlink error message")
			}
			answered[pos] = true
			left--
			var e error
			if code := int32(binary.NativeEndian.Uint32(data)); code != 0 {
				e = syscall.Errno(-code)
			}
			each(pos, e)
		}
	}
	return nil
}

func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// message appends one request for c with the next sequence number:
// moby/ipvs's request (NLM_F_REQUEST|NLM_F_ACK, generic netlink version
// 1) with its service attribute and, for a destination change, its
// destination attribute.
func (w *batchWriter) message(b []byte, cmd uint8, c Change) []byte {
	w.seq++
	start := len(b)
	b = append(b, make([]byte, unix.NLMSG_HDRLEN)...)
	b = append(b, cmd, ipvsGenlVersion, 0, 0)
	ms := toMobyService(c.Service)
	b = appendService(b, ms)
	if c.Dest != nil {
		b = appendDest(b, toMobyDest(c.Dest), ms.AddressFamily)
	}
	h := b[start:]
	binary.NativeEndian.PutUint32(h[0:], uint32(len(b)-start))
	binary.NativeEndian.PutUint16(h[4:], w.family)
	binary.NativeEndian.PutUint16(h[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(h[8:], w.seq)
	return b
}

// appendService is moby/ipvs's fillService: IPVS_CMD_ATTR_SERVICE with
// the family, the fwmark or protocol/address/port, the scheduler, the
// persistence engine when set, the flags (mask all ones), the timeout
// and the netmask, in that order.
func appendService(b []byte, s *mobyipvs.Service) []byte {
	return appendNested(b, ipvsCmdAttrSvc, func(b []byte) []byte {
		b = appendAttr(b, ipvsSvcAttrAF, binary.NativeEndian.AppendUint16(nil, s.AddressFamily))
		if s.FWMark != 0 {
			b = appendAttr(b, ipvsSvcAttrFWMark, binary.NativeEndian.AppendUint32(nil, s.FWMark))
		} else {
			b = appendAttr(b, ipvsSvcAttrProto, binary.NativeEndian.AppendUint16(nil, s.Protocol))
			b = appendAttr(b, ipvsSvcAttrAddr, rawIP(s.Address))
			b = appendAttr(b, ipvsSvcAttrPort, binary.BigEndian.AppendUint16(nil, s.Port))
		}
		b = appendAttr(b, ipvsSvcAttrSched, append([]byte(s.SchedName), 0))
		if s.PEName != "" {
			b = appendAttr(b, ipvsSvcAttrPEName, append([]byte(s.PEName), 0))
		}
		flags := binary.NativeEndian.AppendUint32(nil, s.Flags)
		b = appendAttr(b, ipvsSvcAttrFlags, binary.NativeEndian.AppendUint32(flags, 0xFFFFFFFF))
		b = appendAttr(b, ipvsSvcAttrTimeout, binary.NativeEndian.AppendUint32(nil, s.Timeout))
		return appendAttr(b, ipvsSvcAttrNetmask, binary.NativeEndian.AppendUint32(nil, s.Netmask))
	})
}

// appendDest is moby/ipvs's fillDestination: IPVS_CMD_ATTR_DEST with
// the address, port, forwarding method, weight and the upper and lower
// thresholds; and, only for a destination whose family is not the
// service's (svcFamily, AF_INET or AF_INET6), its address family, which
// moby/ipvs never sends (the kernel then takes the service's).
func appendDest(b []byte, d *mobyipvs.Destination, svcFamily uint16) []byte {
	return appendNested(b, ipvsCmdAttrDest, func(b []byte) []byte {
		if d.AddressFamily != 0 && d.AddressFamily != svcFamily {
			// A tunnelled server of the other family (an IPv4 server
			// of an IPv6 service): without IPVS_DEST_ATTR_ADDR_FAMILY
			// the kernel reads its address in the service's family
			// (192.168.200.40 became [c0a8:c828::]), which moby/ipvs
			// never sends; keepalived does (ipvswrapper.c).
			b = appendAttr(b, ipvsDestAttrAF, binary.NativeEndian.AppendUint16(nil, d.AddressFamily))
		}
		b = appendAttr(b, ipvsDestAttrAddr, rawIP(d.Address))
		b = appendAttr(b, ipvsDestAttrPort, binary.BigEndian.AppendUint16(nil, d.Port))
		b = appendAttr(b, ipvsDestAttrFwd, binary.NativeEndian.AppendUint32(nil, d.ConnectionFlags&mobyipvs.ConnectionFlagFwdMask))
		b = appendAttr(b, ipvsDestAttrWeight, binary.NativeEndian.AppendUint32(nil, uint32(d.Weight)))
		b = appendAttr(b, ipvsDestAttrUThr, binary.NativeEndian.AppendUint32(nil, d.UpperThreshold))
		return appendAttr(b, ipvsDestAttrLThr, binary.NativeEndian.AppendUint32(nil, d.LowerThreshold))
	})
}

// appendNested appends attribute typ holding what fill appends (moby/ipvs
// sends nested attributes without NLA_F_NESTED, and so does this).
func appendNested(b []byte, typ uint16, fill func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = fill(b)
	binary.NativeEndian.PutUint16(b[start:], uint16(len(b)-start))
	binary.NativeEndian.PutUint16(b[start+2:], typ)
	return b
}

// rawIP is moby/ipvs's rawIPData: 4 bytes for IPv4, else the 16.
func rawIP(ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}
