package config

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestServiceIndexAsAWalk: serviceIndex, which holds ranges, finds what
// a map of every address finds (the walk definedTwice made before: each
// address in order, stopping at the first defined twice, the ones before
// it defined): the same lowest service defined twice and its first
// owner, on generated sequences of IPv4 and IPv6 singles and ranges
// over two blocks, two ports and two protocols, and fwmarks of both
// families.
func TestServiceIndexAsAWalk(t *testing.T) {
	blocks := []netip.Addr{netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("10.0.1.0"),
		netip.MustParseAddr("2001:db8::"), netip.MustParseAddr("2001:db8::1:0")}
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 7))
		var x serviceIndex
		walk := map[Service]owner{}
		for i := range 1 + r.IntN(12) {
			o := owner{vs: &VirtualServer{Pos: Pos{File: "g", Line: i + 1}}}
			var s Service
			var last netip.Addr
			if r.IntN(5) == 0 {
				s = Service{FWMark: uint32(1 + r.IntN(2)), Family: []int{4, 6}[r.IntN(2)]}
			} else {
				block := blocks[r.IntN(len(blocks))]
				lo := uint16(r.IntN(12))
				hi := lo
				if r.IntN(2) == 0 {
					hi += uint16(r.IntN(6))
				}
				s = Service{Family: family(block), Protocol: []string{"TCP", "UDP"}[r.IntN(2)],
					Addr: netip.AddrPortFrom(join(block, lo), []uint16{80, 443}[r.IntN(2)])}
				last = join(block, hi)
			}
			at, first, dup := x.add(s, last, o)
			// The walk.
			var wantAt netip.AddrPort
			var wantFirst owner
			wantDup := false
			if s.FWMark != 0 {
				if w, ok := walk[s]; ok {
					wantAt, wantFirst, wantDup = s.Addr, w, true
				} else {
					walk[s] = o
				}
			} else {
				port := s.Addr.Port()
				for a := s.Addr.Addr(); ; a = a.Next() {
					k := s
					k.Addr = netip.AddrPortFrom(a, port)
					if w, ok := walk[k]; ok {
						wantAt, wantFirst, wantDup = k.Addr, w, true
						break
					}
					walk[k] = o
					if a == last {
						break
					}
				}
			}
			if dup != wantDup || at != wantAt || first != wantFirst {
				t.Fatalf("seed %d, add %d (%v to %v): got %v %v at %v, the walk %v %v at %v",
					seed, i, s, last, dup, ownerPos(first), at, wantDup, ownerPos(wantFirst), wantAt)
			}
		}
	}
}

func ownerPos(o owner) string {
	if o.vs == nil {
		return "none"
	}
	return o.vs.Pos.String()
}

// TestLargeRangesLoadCheaply: group entries of IPv6 ranges of 65,536
// addresses each (what one line may write) load without a step per
// address: 64 of them, 4,194,304 services, used to take 10.8 s and
// 1.1 GB in every command that reads the config (notify BACKUP, the
// FIFO reader, sync...), where the config was read in milliseconds
// before duplicates were looked for through groups. Allocation is
// measured, not time.
func TestLargeRangesLoadCheaply(t *testing.T) {
	var b strings.Builder
	b.WriteString("virtual_server_group G {\n")
	for i := range 64 {
		fmt.Fprintf(&b, " 2001:db8:%x::0-ffff 80\n", i)
	}
	b.WriteString("}\n")
	for _, proto := range []string{"TCP", "UDP"} {
		fmt.Fprintf(&b, "virtual_server group G {\n protocol %s\n lb_algo rr\n lb_kind DR\n real_server 2001:db8:ffff::2 80 {\n }\n}\n", proto)
	}
	path := filepath.Join(t.TempDir(), "k.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cfg, err := Load(path, Options{ConfigID: "t"})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.VirtualServers) != 2 {
		t.Fatalf("%d virtual servers loaded, want 2", len(cfg.VirtualServers))
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Errorf("loading 64 ranges of 65,536 services allocated %d MB, want under 8", n>>20)
	}
	// An overlap inside the ranges is still found, at its lowest service.
	text := b.String() + "virtual_server 2001:db8:3f::1234 80 {\n protocol UDP\n lb_algo rr\n lb_kind DR\n real_server 2001:db8:ffff::2 80 {\n }\n}\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, Options{ConfigID: "t"})
	if want := "service UDP [2001:db8:3f::1234]:80 already defined at " + path + ":65"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one saying %q", err, want)
	}
}

// TestDefinedTwiceNamesTheFirstBlock: a service first defined through a
// group's entry is named by the entry's line and by the block that used
// the group: two blocks of one group (TCP and UDP, sharing the group's
// fwmark) are both "virtual_server group G", and the entry's line alone
// did not say which block came first.
func TestDefinedTwiceNamesTheFirstBlock(t *testing.T) {
	text := "virtual_server_group G {\n 10.0.0.1 53\n fwmark 7\n}\n" +
		"virtual_server group G {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 10.1.0.2 53 {\n }\n}\n" +
		"virtual_server group G {\n protocol UDP\n lb_algo rr\n lb_kind NAT\n real_server 10.1.0.3 53 {\n }\n}\n"
	_, path, err := loadDiffText(t, text)
	want := "virtual_server group G: service FWM 7 (its group entry at k.conf:3) already defined at k.conf:3 (virtual_server group G), by the block at k.conf:5: IPVS holds one service for both"
	if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), filepath.Dir(path)+"/", ""), want) {
		t.Errorf("error %v, want one saying %q", err, want)
	}
}
