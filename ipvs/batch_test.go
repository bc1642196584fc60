package ipvs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// ackMsg is a netlink acknowledgement (NLMSG_ERROR) of sequence number
// seq with errno (0: success).
func ackMsg(seq uint32, errno syscall.Errno) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+4+unix.NLMSG_HDRLEN)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[unix.NLMSG_HDRLEN:], uint32(-int32(errno)))
	return b
}

// TestBatchAcksMatchBySequence (issue 18): acknowledgements are matched
// to the messages of one send by sequence number, whatever datagram
// they arrive in; late answers to an earlier send, duplicates and other
// messages are skipped, and a refusal carries the kernel's errno.
func TestBatchAcksMatchBySequence(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	w := &batchWriter{fd: fds[0], in: make([]byte, 64*1024)}
	defer w.Close()
	other := ackMsg(102, 0)
	binary.NativeEndian.PutUint16(other[4:], 0x20) // not an acknowledgement
	for _, d := range [][]byte{
		ackMsg(99, syscall.EINVAL), // an earlier send's
		append(ackMsg(100, 0), ackMsg(101, syscall.ERANGE)...),
		append(other, ackMsg(100, syscall.ENOENT)...), // duplicate
		ackMsg(102, syscall.ESRCH),
	} {
		if _, err := unix.Write(fds[1], d); err != nil {
			t.Fatal(err)
		}
	}
	got := map[int]error{}
	if err := w.acks(100, 3, func(n int, e error) { got[n] = e }); err != nil {
		t.Fatal(err)
	}
	want := map[int]error{0: nil, 1: syscall.ERANGE, 2: syscall.ESRCH}
	for n, e := range want {
		if g, ok := got[n]; !ok || !errors.Is(g, e) || (e == nil) != (g == nil) {
			t.Errorf("message %d: got %v (answered %v), want %v", n, g, ok, e)
		}
	}
	if len(got) != len(want) {
		t.Errorf("answers %v, want %v", got, want)
	}
}

// TestBatchMessagesAreMobyRequests: each change is one request with its
// own sequence number, NLM_F_REQUEST|NLM_F_ACK, the IPVS family and
// command, and the service (and destination) attributes moby/ipvs sends.
func TestBatchMessagesAreMobyRequests(t *testing.T) {
	w := &batchWriter{family: 42, seq: 7}
	e := refusingEntry()
	var b []byte
	b = w.message(b, ipvsCmdNewService, Change{Op: AddService, Service: e.Service})
	for _, d := range e.SortedDests() {
		b = w.message(b, ipvsCmdNewDest, Change{Op: AddDest, Service: e.Service, Dest: d})
	}
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1+len(e.Dests) {
		t.Fatalf("%d messages, want %d", len(msgs), 1+len(e.Dests))
	}
	for i, m := range msgs {
		h := m.Header
		if h.Seq != uint32(8+i) || h.Type != 42 || h.Flags != unix.NLM_F_REQUEST|unix.NLM_F_ACK {
			t.Errorf("message %d: header %+v", i, h)
		}
		cmd := m.Data[0]
		var svc, dest []byte
		for typ, v := range attrs(m.Data[unix.GENL_HDRLEN:]) {
			switch typ {
			case ipvsCmdAttrSvc:
				svc = v
			case ipvsCmdAttrDest:
				dest = v
			}
		}
		if svc == nil || (i == 0) != (dest == nil) || (i == 0) != (cmd == ipvsCmdNewService) {
			t.Errorf("message %d: command %d, service %x, destination %x", i, cmd, svc, dest)
			continue
		}
		var order []uint16
		for typ := range attrs(svc) {
			order = append(order, typ)
		}
		// fillService's order: af, protocol, address, port, scheduler, flags, timeout, netmask
		if want := []uint16{1, 2, 3, 4, 6, 7, 8, 9}; !slices.Equal(order, want) {
			t.Errorf("message %d: service attributes %v, want %v", i, order, want)
		}
		if dest != nil {
			d := &Dest{}
			err := parseDest(d, dest, syscall.AF_INET)
			if err != nil {
				t.Fatal(err)
			}
			want := e.SortedDests()[i-1]
			if d.Key != want.Key || d.Weight != want.Weight || d.Fwd != want.Fwd || d.UThreshold != want.UThreshold || d.LThreshold != want.LThreshold {
				t.Errorf("message %d: destination %+v, want %+v", i, d, want)
			}
		}
	}
}

// refusingEntry is a TCP service with three DR destinations, one with
// thresholds.
func refusingEntry() *Entry {
	k := ServiceKey{Family: 4, Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.70.0.1"), Port: 80}
	e := &Entry{Service: Service{Key: k, Sched: "wrr", Netmask: 0xffffffff}, Dests: map[DestKey]*Dest{}}
	for j := range 3 {
		dk := DestKey{Addr: netip.AddrFrom4([4]byte{10, 71, 0, byte(j + 1)}), Port: 8080}
		e.Dests[dk] = &Dest{Key: dk, Weight: j + 1, Fwd: FwdRoute, UThreshold: uint32(10 * j), LThreshold: uint32(j)}
	}
	return e
}

// TestBatchNamesADestinationOfTheOtherFamily: a tunnelled IPv4 server of
// an IPv6 fwmark service is written with IPVS_DEST_ATTR_ADDR_FAMILY
// (AF_INET) before its 4-byte address, as keepalived writes it, so the
// kernel does not read the address as IPv6 (192.168.200.40 was loaded
// as [c0a8:c828::], in the VM); a destination of the service's own
// family is written as moby/ipvs writes it, without the attribute. Such
// a change goes through the batched writer even alone (otherFamily).
func TestBatchNamesADestinationOfTheOtherFamily(t *testing.T) {
	svc := Service{Key: ServiceKey{FWMark: 41, Family: 6}, Sched: "rr", Netmask: 128}
	for _, tc := range []struct {
		dest    string
		wantAF  uint16 // 0: no attribute
		mixed   bool
		addrLen int
	}{
		{"192.168.200.40", syscall.AF_INET, true, 4},
		{"2001:db8::40", 0, false, 16},
	} {
		d := &Dest{Key: DestKey{Addr: netip.MustParseAddr(tc.dest)}, Weight: 1, Fwd: FwdTunnel}
		c := Change{Op: AddDest, Service: svc, Dest: d}
		if otherFamily(c) != tc.mixed {
			t.Errorf("%s: otherFamily %v, want %v", tc.dest, !tc.mixed, tc.mixed)
		}
		w := &batchWriter{family: 42}
		b := w.message(nil, ipvsCmdNewDest, c)
		var dest []byte
		for typ, v := range attrs(b[unix.NLMSG_HDRLEN+unix.GENL_HDRLEN:]) {
			if typ == ipvsCmdAttrDest {
				dest = v
			}
		}
		var af uint16
		var addr []byte
		for typ, v := range attrs(dest) {
			switch typ {
			case ipvsDestAttrAF:
				af = binary.NativeEndian.Uint16(v)
			case ipvsDestAttrAddr:
				addr = v
			}
		}
		if af != tc.wantAF || len(addr) != tc.addrLen {
			t.Errorf("%s in FWM 41 IPv6: address family attribute %d, address of %d bytes; want %d and %d", tc.dest, af, len(addr), tc.wantAF, tc.addrLen)
		}
		got := &Dest{}
		if err := parseDest(got, dest, syscall.AF_INET6); err != nil || got.Key.Addr != d.Key.Addr {
			t.Errorf("%s: read back as %v (%v)", tc.dest, got.Key.Addr, err)
		}
	}
}
