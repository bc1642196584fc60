//go:build vm

package ipvs_test

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
)

// TestVMReadLargeVariedTable (issue 18): kahook's read of a large, varied
// table (one dump socket, each read a page) is the table: saved
// as `ipvsadm -Sn` saves it, it is ipvsadm's save line for line, and it
// is moby/ipvs's reading (one socket, one service after the other,
// 64 KiB reads) field for field but the weights. The table: the services
// of 40 generated keepalived configs (every scheduler and flag, fwmark,
// IPv6, UDP/SCTP, thresholds), 300 services with 0 to 24 destinations,
// and one with 1,000 (its dump takes many replies). Read with reads too
// short for any reply, it is the same: each dump is read to its end and
// made again with longer reads. `ipvs show --rules` is `ipvsadm -Sn` too.
func TestVMReadLargeVariedTable(t *testing.T) {
	want := ipvs.Table{}
	seed := ipvs.DiffSeed(t)
	for i := range int64(40) {
		cfg, err := config.Parse("gen", []byte(ipvs.GenConfig(seed+i)), config.Options{ConfigID: "read"})
		if err != nil {
			t.Fatal(err)
		}
		tab, err := ipvs.Desired(cfg.VirtualServers, cfg.Groups, ipvs.StartMembers)
		if err != nil {
			t.Fatal(err)
		}
		for k, e := range tab {
			if _, dup := want[k]; !dup {
				want[k] = e
			}
		}
	}
	service := func(addr netip.Addr, port uint16, dests int) {
		k := ipvs.ServiceKey{Family: 4, Protocol: ipvs.ProtoTCP, Addr: addr, Port: port}
		e := &ipvs.Entry{Service: ipvs.Service{Key: k, Sched: "wlc"}, Dests: map[ipvs.DestKey]*ipvs.Dest{}}
		for d := range dests {
			dk := ipvs.DestKey{Addr: netip.AddrFrom4([4]byte{10, 200 + byte(port%50), byte(d / 250), byte(d%250 + 1)}), Port: 8080}
			e.Dests[dk] = &ipvs.Dest{Key: dk, Weight: d%7 + 1, Fwd: ipvs.FwdRoute, UThreshold: uint32(d % 3 * 100)}
		}
		want[k] = e
	}
	for s := range 300 {
		service(netip.AddrFrom4([4]byte{10, 190, byte(s / 250), byte(s%250 + 1)}), uint16(1000+s), s%25)
	}
	service(netip.MustParseAddr("10.191.0.1"), 80, 1000)

	l := newLVS(t)
	var own, short, moby ipvs.Table
	err := l.Do(func() error {
		h, err := ipvs.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		ctx := context.Background()
		cur, err := ipvs.Read(ctx, h)
		if err != nil {
			return err
		}
		// Generated rules the kernel refuses stay out; the rest is loaded.
		ipvs.Apply(ctx, h, ipvs.Plan(want, cur, nil))
		if moby, err = ipvs.Read(ctx, h.Handle); err != nil {
			return err
		}
		if own, err = ipvs.Read(ctx, h); err != nil {
			return err
		}
		defer ipvs.SetDumpRecvLen(64)()
		if short, err = ipvs.Read(ctx, h); err != nil {
			return fmt.Errorf("reads of 64 bytes: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(own) < 340 {
		t.Fatalf("only %d services loaded", len(own))
	}
	if n := len(own[ipvs.ServiceKey{Family: 4, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("10.191.0.1"), Port: 80}].Dests); n != 1000 {
		t.Fatalf("the large service has %d destinations, want 1000", n)
	}
	rules := l.rules()
	for _, tc := range []struct {
		name string
		t    ipvs.Table
	}{{"page-sized reads", own}, {"64-byte reads, each dump made again", short}} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := ipvs.WriteRules(&b, tc.t); err != nil {
				t.Fatal(err)
			}
			if got := sortLines(b.String()); got != rules {
				t.Errorf("differs from ipvsadm -Sn:\n%s", lineDiff(rules, got))
			}
			// moby/ipvs decodes a weight as 16 bits (netlink_linux.go,
			// assembleDestination); the kernel's is 32.
			if got := weights16(tc.t); !reflect.DeepEqual(got, moby) {
				var b strings.Builder
				ipvs.WriteList(&b, got)
				b.WriteString("--- moby/ipvs\n")
				ipvs.WriteList(&b, moby)
				t.Errorf("differs from moby/ipvs's reading:\n%s", b.String())
			}
		})
	}
	conf := writeConf(t, "")
	if got := sortLines(l.mustKahook(conf, "ipvs", "show", "--rules")); got != rules {
		t.Errorf("ipvs show --rules differs from ipvsadm -Sn:\n%s", lineDiff(rules, got))
	}
}

// weights16 is t with every weight cut to its low 16 bits.
func weights16(t ipvs.Table) ipvs.Table {
	out := ipvs.Table{}
	for k, e := range t {
		c := &ipvs.Entry{Service: e.Service, Dests: map[ipvs.DestKey]*ipvs.Dest{}}
		for dk, d := range e.Dests {
			d2 := *d
			d2.Weight = int(uint16(d.Weight))
			c.Dests[dk] = &d2
		}
		out[k] = c
	}
	return out
}

// lineDiff lists the lines that occur more often in want (-N) or in got
// (+N), at most 20.
func lineDiff(want, got string) string {
	n := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		n[l]--
	}
	for _, l := range strings.Split(got, "\n") {
		n[l]++
	}
	var out []string
	for l, c := range n {
		if c != 0 {
			out = append(out, fmt.Sprintf("%+d %q", c, l))
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... %d more", len(out)-20))
	}
	return strings.Join(out, "\n")
}
