package config

import (
	"bytes"
	"fmt"
	"strings"
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

// TestLongLineBound: the lexer's own line splitting keeps the bound
// bufio.Scanner's ScanLines with a 1 MiB buffer had: a line of up to
// 1 MiB less one byte (plus its '\n') is read, a longer one is refused
// with its file:line, with or without a final newline.
func TestLongLineBound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int // bytes of the comment line, without '\n'
		newline bool
		wantErr bool
	}{
		{"fits with newline", 1<<20 - 1, true, false},
		{"fits without newline", 1<<20 - 1, false, false},
		{"too long with newline", 1 << 20, true, true},
		{"too long without newline", 1 << 20, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "global_defs {\n}\n#" + strings.Repeat("x", tc.n-1)
			if tc.newline {
				text += "\n"
			}
			_, err := Parse("long.conf", []byte(text), Options{ConfigID: "t"})
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "long.conf:3: read: bufio.Scanner: token too long") {
				t.Fatalf("got %v, want long.conf:3 refused as too long", err)
			}
		})
	}
}
