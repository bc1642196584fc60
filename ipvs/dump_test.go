package ipvs

import (
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Generic netlink's controller (linux/genetlink.h): a dump every kernel
// answers, IPVS or not.
const (
	genlIDCtrl           = 0x10
	ctrlCmdGetFamily     = 3
	ctrlAttrFamilyName   = 2
	ctrlGenlVersion      = 1
	testShortDumpRecvLen = 256
)

// familyNames dumps generic netlink's families through d.
func familyNames(t *testing.T, d *destDumper) []string {
	t.Helper()
	var names []string
	req := func() []byte {
		names = names[:0]
		return d.frame([]byte{ctrlCmdGetFamily, ctrlGenlVersion, 0, 0})
	}
	err := d.dumpAll(req, func(typ uint16, v []byte) error {
		if typ == ctrlAttrFamilyName {
			names = append(names, string(v[:cstrLen(v)]))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dump of the generic netlink families: %v", err)
	}
	slices.Sort(names)
	return names
}

// TestDumpReadsWhatTheKernelSends: the dump reader (raw sendto, up to two
// replies per recvmmsg) reads a dump of many replies, generic netlink's
// family list, as vishvananda/netlink reads it, twice on one socket (the
// second request's sequence number), with page-sized reads and with
// reads too short for a reply (the dump is read to its end and made
// again with reads of the whole buffer).
func TestDumpReadsWhatTheKernelSends(t *testing.T) {
	fams, err := netlink.GenlFamilyList()
	if err != nil {
		t.Fatalf("GenlFamilyList: %v", err)
	}
	var want []string
	for _, f := range fams {
		want = append(want, f.Name)
	}
	slices.Sort(want)
	if len(want) < 3 {
		t.Fatalf("only %d generic netlink families: not a dump of several replies", len(want))
	}
	for _, recvLen := range []int{dumpRecvLen, testShortDumpRecvLen} {
		restore := SetDumpRecvLen(recvLen)
		d, err := newDestDumper(genlIDCtrl)
		restore()
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if got := familyNames(t, d); !slices.Equal(got, want) {
				t.Errorf("reads of %d bytes, dump %d: families %q, want %q", recvLen, i+1, got, want)
			}
		}
		if recvLen == testShortDumpRecvLen && d.recvLen != len(d.buf) {
			t.Errorf("after replies longer than %d bytes the reads ask for %d, want the whole buffer (%d)", recvLen, d.recvLen, len(d.buf))
		}
		d.Close()
	}
}

// TestRecvWaitsWhenNothingIsQueued: a read finding nothing queued (the
// raw, non-blocking recvmmsg's EAGAIN) waits for the reply instead of
// failing.
func TestRecvWaitsWhenNothingIsQueued(t *testing.T) {
	d, err := newDestDumper(genlIDCtrl)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	req := d.frame([]byte{ctrlCmdGetFamily, ctrlGenlVersion, 0, 0})
	sent := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		sent <- sendNow(d.fd, req)
	}()
	n, lens, err := d.recv()
	if err != nil {
		t.Fatalf("recv with nothing queued: %v", err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
	if n < 1 || lens[0] < unix.NLMSG_HDRLEN {
		t.Fatalf("recv read %d replies (lengths %v), want the first of the dump", n, lens)
	}
	for m, err := range messages(d.buf[:min(lens[0], d.recvLen)]) {
		if err != nil {
			t.Fatal(err)
		}
		if m.seq != d.seq || m.typ != genlIDCtrl {
			t.Errorf("read a message of type %#x, sequence %d; want the reply (%#x, %d)", m.typ, m.seq, genlIDCtrl, d.seq)
		}
		break
	}
}
