package ipvs

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
)

// TestConfigCheckRefusesWhatApplyRefuses (last round's finding 4): a
// config that `config check` passes is one `ipvs apply` loads; before,
// one IPVS service reached from two blocks through a group (a group
// entry and a virtual server of the same address, two groups with the
// same fwmark, overlapping entries) passed the parse and was refused by
// the apply ("defined twice"). Generated configs of a few blocks over a
// few addresses, ports, protocols and fwmarks, so that most collide: each
// either fails to parse with "already defined", or
// loads exactly the services its blocks name (config's Services), with
// no service twice.
func TestConfigCheckRefusesWhatApplyRefuses(t *testing.T) {
	refused, loaded := 0, 0
	for seed := range uint64(3000) {
		text := collidingConfig(rand.New(rand.NewPCG(seed, 18)))
		cfg, err := config.Parse("gen.conf", []byte(text), config.Options{ConfigID: "t"})
		if err != nil {
			if !strings.Contains(err.Error(), "already defined at") {
				t.Fatalf("seed %d: refused for another reason: %v\n%s", seed, err, text)
			}
			refused++
			continue
		}
		table, err := Desired(cfg.VirtualServers, cfg.Groups, StartMembers)
		if err != nil {
			t.Fatalf("seed %d: config check passes, the apply refuses: %v\n%s", seed, err, text)
		}
		n := 0
		for _, vs := range cfg.VirtualServers {
			for range vs.Services(cfg.Groups) {
				n++
			}
		}
		if len(table) != n {
			t.Fatalf("seed %d: %d services loaded, the blocks name %d\n%s", seed, len(table), n, text)
		}
		loaded++
	}
	if refused < 300 || loaded < 300 {
		t.Fatalf("the generator collides too little or too much: %d refused, %d loaded", refused, loaded)
	}
}

// collidingConfig is 2 to 4 virtual servers and up to 2 groups over
// 10.0.0.1-4, ports 80 and 443, TCP and UDP, and fwmarks 1 and 2 (IPv4
// and IPv6), each with one real server.
func collidingConfig(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString("global_defs {\n}\n")
	for g := range 2 {
		fmt.Fprintf(&b, "virtual_server_group G%d {\n", g)
		for range 1 + r.IntN(3) {
			switch r.IntN(3) {
			case 0:
				fmt.Fprintf(&b, " fwmark %d\n", 1+r.IntN(2))
			case 1:
				fmt.Fprintf(&b, " 10.0.0.%d %d\n", 1+r.IntN(4), []int{80, 443}[r.IntN(2)])
			default:
				first := 1 + r.IntN(3)
				fmt.Fprintf(&b, " 10.0.0.%d-%d %d\n", first, first+1+r.IntN(4-first), []int{80, 443}[r.IntN(2)])
			}
		}
		b.WriteString("}\n")
	}
	for range 2 + r.IntN(3) {
		proto := []string{"TCP", "UDP"}[r.IntN(2)]
		rs := "10.1.0.2"
		switch r.IntN(4) {
		case 0:
			fmt.Fprintf(&b, "virtual_server fwmark %d {\n", 1+r.IntN(2))
			if r.IntN(3) == 0 {
				b.WriteString(" ip_family inet6\n")
				rs = "2001:db8::2"
			}
		case 1:
			fmt.Fprintf(&b, "virtual_server group G%d {\n protocol %s\n", r.IntN(2), proto)
		default:
			fmt.Fprintf(&b, "virtual_server 10.0.0.%d %d {\n protocol %s\n", 1+r.IntN(4), []int{80, 443}[r.IntN(2)], proto)
		}
		fmt.Fprintf(&b, " lb_algo rr\n lb_kind DR\n real_server %s 0 {\n }\n}\n", rs)
	}
	return b.String()
}
