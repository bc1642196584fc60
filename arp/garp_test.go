package arp

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	mdarp "github.com/mdlayher/arp"
)

type countWriter struct{ frames int }

func (w *countWriter) WriteTo(*mdarp.Packet, net.HardwareAddr) error { w.frames++; return nil }

// TestRunStopsWhenCancelled: a gratuitous ARP follower told to stop
// (SIGTERM from a release cancels its context) sends nothing more, also
// when its rounds are overdue: a follower that starts late on a loaded
// node announced a VIP after the release (notify
// TestReloadFailSafe, DR with an unrecorded release, failed about one
// run in four beside the VM tests). The live context's runs show the
// same overdue rounds are sent otherwise.
func TestRunStopsWhenCancelled(t *testing.T) {
	ips := []netip.Addr{netip.MustParseAddr("192.0.2.10")}
	sched := Schedule{Repeat: 3, Interval: 50 * time.Millisecond}
	overdue := time.Now().Add(-time.Second) // rounds 1 and 2 were due long ago
	for _, tc := range []struct {
		name      string
		cancelled bool
		start     time.Time
		want      int // frames: two per IPv4 VIP and round
	}{
		{"live, overdue", false, overdue, 4},
		{"cancelled, overdue", true, overdue, 0},
		{"cancelled, waiting", true, time.Now(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &countWriter{}
			a := &Announcer{W: w, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancelled {
				cancel()
			} else {
				defer cancel()
			}
			sent, err := a.Run(ctx, ips, sched, tc.start, 1, nil)
			if err != nil || sent != tc.want || w.frames != tc.want {
				t.Errorf("sent %d (%d frames written), error %v; want %d", sent, w.frames, err, tc.want)
			}
		})
	}
}
