package config

import (
	"bytes"
	"fmt"
	"testing"
)

// ipvsScaleConfig is bench/ipvs-scale.sh's config: n virtual servers of
// 10 real servers each, every service with its own real-server addresses.
func ipvsScaleConfig(n int) []byte {
	var b bytes.Buffer
	for s := range n {
		fmt.Fprintf(&b, "virtual_server 10.50.%d.%d 80 {\n protocol TCP\n lb_algo wrr\n lb_kind DR\n", s/250, s%250+1)
		for d := 1; d <= 10; d++ {
			fmt.Fprintf(&b, " real_server 10.%d.%d.%d 80 { weight %d }\n", 60+s/250, s%250, d, d)
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// BenchmarkParse1000x10 parses the 1,000 x 10 IPVS config of issue 18
// (allocs/op is the repeatable figure).
func BenchmarkParse1000x10(b *testing.B) {
	data := ipvsScaleConfig(1000)
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := Parse("ipvs.conf", data, Options{ConfigID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.VirtualServers) != 1000 {
			b.Fatalf("%d virtual servers", len(cfg.VirtualServers))
		}
	}
}
