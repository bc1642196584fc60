package ipvs

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMessagesSplitAsTheStandardLibrary: messages splits a netlink read
// into the messages syscall.ParseNetlinkMessage finds (type, sequence
// number, payload, in order), on generated reads of 0 to 12 messages
// with payloads of 0 to 40 bytes, and refuses a read
// with a malformed header where the library refuses it, after the
// messages before it.
func TestMessagesSplitAsTheStandardLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 1))
	for i := range 2000 {
		var b []byte
		for range rng.IntN(13) {
			payload := make([]byte, rng.IntN(41))
			for j := range payload {
				payload[j] = byte(rng.UintN(256))
			}
			l := unix.NLMSG_HDRLEN + len(payload)
			b = binary.NativeEndian.AppendUint32(b, uint32(l))
			b = binary.NativeEndian.AppendUint16(b, uint16(rng.UintN(40)))
			b = binary.NativeEndian.AppendUint16(b, 0)
			b = binary.NativeEndian.AppendUint32(b, rng.Uint32())
			b = binary.NativeEndian.AppendUint32(b, 0)
			b = append(b, payload...)
			b = append(b, make([]byte, nlmsgAlign(l)-l)...) // the kernel aligns every message
		}
		malformed := i%5 == 0 && len(b) >= unix.NLMSG_HDRLEN
		if malformed {
			// A length shorter than a header, or longer than the read.
			bad := []uint32{0, 15, uint32(len(b) + 1)}[rng.IntN(3)]
			b = binary.NativeEndian.AppendUint32(b, bad)
			b = append(b, make([]byte, 12)...)
		}
		want, werr := syscall.ParseNetlinkMessage(b)
		var got []syscall.NetlinkMessage
		var gerr error
		for m, err := range messages(b) {
			if err != nil {
				gerr = err
				break
			}
			got = append(got, syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: m.typ, Seq: m.seq}, Data: m.data})
		}
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("read %d (%d bytes): library error %v, messages error %v", i, len(b), werr, gerr)
		}
		if werr != nil {
			// The library returns nothing; messages yields the ones
			// before the bad header, which must be the well-formed ones.
			want, _ = syscall.ParseNetlinkMessage(b[:len(b)-unix.NLMSG_HDRLEN])
		}
		if len(got) != len(want) {
			t.Fatalf("read %d: %d messages, the library finds %d", i, len(got), len(want))
		}
		for j := range want {
			w, g := want[j], got[j]
			if w.Header.Type != g.Header.Type || w.Header.Seq != g.Header.Seq || !bytes.Equal(w.Data, g.Data) {
				t.Fatalf("read %d message %d: got type %d seq %d %x, want type %d seq %d %x",
					i, j, g.Header.Type, g.Header.Seq, g.Data, w.Header.Type, w.Header.Seq, w.Data)
			}
		}
	}
}
