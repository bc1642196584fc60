package arp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sort"
	"time"

	mdarp "github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Conn is what Probe needs from an ARP client; *arp.Client has it.
type Conn interface {
	Writer
	Read() (*mdarp.Packet, *ethernet.Frame, error)
	SetReadDeadline(t time.Time) error
}

// Answer is one MAC that replied for an address.
type Answer struct {
	IP  netip.Addr `json:"ip"`
	MAC string     `json:"mac"`
}

// Probe asks who has each target (a request from senderMAC/senderIP,
// sent `tries` times, spaced by timeout/(tries+1)) and collects every
// distinct MAC that answers before timeout. Two MACs for one VIP is the
// signature of a real server leaking it.
func Probe(ctx context.Context, c Conn, senderMAC net.HardwareAddr, senderIP netip.Addr, targets []netip.Addr, tries int, timeout time.Duration) (map[netip.Addr][]string, error) {
	if !senderIP.Is4() {
		return nil, errors.New("ARP probe needs an IPv4 sender address")
	}
	tries = max(tries, 1)
	want := map[netip.Addr]bool{}
	for _, t := range targets {
		want[t] = true
	}
	found := map[netip.Addr]map[string]bool{}
	deadline := time.Now().Add(timeout)
	done := make(chan error, 1)
	go func() {
		for {
			_ = c.SetReadDeadline(deadline)
			p, _, err := c.Read()
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					err = nil
				}
				done <- err
				return
			}
			if !AnswersProbe(p, senderMAC, senderIP) || !want[p.SenderIP] {
				continue
			}
			m := found[p.SenderIP]
			if m == nil {
				m = map[string]bool{}
				found[p.SenderIP] = m
			}
			m[p.SenderHardwareAddr.String()] = true
		}
	}()
	gap := timeout / time.Duration(tries+1)
	for i := 0; i < tries; i++ {
		for _, t := range targets {
			req, err := mdarp.NewPacket(mdarp.OperationRequest, senderMAC, senderIP, ethernet.Broadcast, t)
			if err != nil {
				return nil, err
			}
			if err := c.WriteTo(req, ethernet.Broadcast); err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(gap):
		}
	}
	if err := <-done; err != nil {
		return nil, err
	}
	out := map[netip.Addr][]string{}
	for _, t := range targets {
		var macs []string
		for m := range found[t] {
			macs = append(macs, m)
		}
		sort.Strings(macs)
		out[t] = macs
	}
	return out, nil
}

// AnswersProbe reports whether p is a reply to a request this prober sent
// (from senderMAC/senderIP): an ARP reply addressed to the prober's own
// address and MAC. Gratuitous ARP (a reply or request whose target is
// the announced address itself, sent for seconds after a transition) is
// not an answer: counting it would report a node that does not answer for
// an address as answering.
func AnswersProbe(p *mdarp.Packet, senderMAC net.HardwareAddr, senderIP netip.Addr) bool {
	return p.Operation == mdarp.OperationReply &&
		p.TargetIP == senderIP &&
		bytes.Equal(p.TargetHardwareAddr, senderMAC) &&
		p.SenderIP != p.TargetIP &&
		!bytes.Equal(p.SenderHardwareAddr, senderMAC)
}

// FirstIPv4 returns the first IPv4 address of an interface.
func FirstIPv4(ifi *net.Interface) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
				return ip.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, errors.New("no IPv4 address on " + ifi.Name)
}
