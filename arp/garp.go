// Package arp sends gratuitous ARP (and, for IPv6 VIPs, unsolicited
// neighbour advertisements) so that neighbours move a VIP to this node's
// MAC at once after a failover, and probes who answers ARP for an address.
package arp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	mdarp "github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Writer sends one ARP packet in an Ethernet frame to addr; *arp.Client
// (github.com/mdlayher/arp) satisfies it, and tests replace it.
type Writer interface {
	WriteTo(p *mdarp.Packet, addr net.HardwareAddr) error
}

// NAWriter sends an unsolicited neighbour advertisement for an IPv6 VIP.
type NAWriter interface {
	Advertise(target netip.Addr) error
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// GratuitousPackets returns both forms neighbours recognise, both
// broadcast: the request form (sender = target = VIP, which Linux treats
// as gratuitous even inside the neighbour's locktime) and the reply form
// with target MAC = sender MAC (RFC 5227), for stacks that only learn from
// replies.
func GratuitousPackets(mac net.HardwareAddr, ip netip.Addr) ([]*mdarp.Packet, error) {
	if !ip.Is4() {
		return nil, fmt.Errorf("gratuitous ARP needs an IPv4 address, got %s", ip)
	}
	req, err := mdarp.NewPacket(mdarp.OperationRequest, mac, ip, zeroMAC, ip)
	if err != nil {
		return nil, err
	}
	rep, err := mdarp.NewPacket(mdarp.OperationReply, mac, ip, mac, ip)
	if err != nil {
		return nil, err
	}
	return []*mdarp.Packet{req, rep}, nil
}

// Schedule is keepalived's gratuitous ARP timing for a MASTER transition:
// a burst of Repeat rounds at the transition, another burst Delay later,
// and, if Refresh is set, RefreshRepeat rounds every Refresh. Rounds of a
// burst are Interval apart, so that at least one lands after a
// neighbour's locktime (1 s by default) has passed since whatever it
// learned last.
type Schedule struct {
	Repeat        int
	Interval      time.Duration
	Delay         time.Duration
	Refresh       time.Duration
	RefreshRepeat int
}

// At returns when round i (0-based) is due, counted from the transition,
// and false when the schedule has no round i.
func (s Schedule) At(i int) (time.Duration, bool) {
	if i < 0 || s.Repeat <= 0 {
		return 0, false
	}
	if i < s.Repeat {
		return time.Duration(i) * s.Interval, true
	}
	base := s.Repeat
	if s.Delay > 0 {
		if i < 2*s.Repeat {
			return s.Delay + time.Duration(i-s.Repeat)*s.Interval, true
		}
		base = 2 * s.Repeat
	}
	if s.Refresh <= 0 {
		return 0, false
	}
	rr := max(s.RefreshRepeat, 1)
	j := i - base
	k := j/rr + 1
	return time.Duration(k)*s.Refresh + time.Duration(j%rr)*s.Interval, true
}

// Announcer sends rounds of gratuitous ARP / NA for a set of VIPs out of
// one interface.
type Announcer struct {
	W   Writer
	NA  NAWriter // nil: IPv6 VIPs are skipped, and the log says so
	MAC net.HardwareAddr
	Log *slog.Logger

	warnedV6 bool
}

// Round sends one round: both ARP forms for each IPv4 VIP and an NA for
// each IPv6 VIP. It returns the number of frames sent.
func (a *Announcer) Round(ips []netip.Addr) (int, error) {
	sent := 0
	var errs []error
	for _, ip := range ips {
		if ip.Is6() {
			if a.NA == nil {
				if !a.warnedV6 {
					a.Log.Warn("IPv6 VIP skipped: no neighbour advertisement sender on this interface", "vip", ip.String())
					a.warnedV6 = true
				}
				continue
			}
			if err := a.NA.Advertise(ip); err != nil {
				errs = append(errs, fmt.Errorf("neighbour advertisement for %s: %w", ip, err))
				continue
			}
			sent++
			continue
		}
		pkts, err := GratuitousPackets(a.MAC, ip)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range pkts {
			if err := a.W.WriteTo(p, ethernet.Broadcast); err != nil {
				errs = append(errs, fmt.Errorf("gratuitous ARP for %s: %w", ip, err))
				break
			}
			sent++
		}
	}
	return sent, errors.Join(errs...)
}

// Run sends the rounds of s from round `from` on, measured from start,
// until the schedule ends, ctx ends, or stop() says a newer event took
// over. It returns the number of frames sent.
func (a *Announcer) Run(ctx context.Context, ips []netip.Addr, s Schedule, start time.Time, from int, stop func() bool) (int, error) {
	sent := 0
	for i := from; ; i++ {
		at, ok := s.At(i)
		if !ok {
			return sent, nil
		}
		if wait := time.Until(start.Add(at)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return sent, nil
			case <-t.C:
			}
		}
		if stop != nil && stop() {
			a.Log.Debug("gratuitous ARP stopped: a newer event took over", "round", i)
			return sent, nil
		}
		// Cancelled before an overdue round as well as during a wait: a
		// follower told to stop while it was starting up on a loaded node
		// must not announce a VIP the node has released (a DR BACKUP keeps
		// it on lo, and an unrecorded release leaves stop nothing to see).
		if ctx.Err() != nil {
			return sent, nil
		}
		n, err := a.Round(ips)
		sent += n
		if err != nil {
			return sent, err
		}
	}
}
