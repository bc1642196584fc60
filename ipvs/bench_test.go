package ipvs

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/kahook/kahook/config"
)

// scaleConfig is bench/ipvs-scale.sh's config: n virtual servers of 10
// real servers each, every service with its own real-server addresses.
func scaleConfig(b *testing.B, n int) *config.Config {
	var buf bytes.Buffer
	for s := range n {
		fmt.Fprintf(&buf, "virtual_server 10.50.%d.%d 80 {\n protocol TCP\n lb_algo wrr\n lb_kind DR\n", s/250, s%250+1)
		for d := 1; d <= 10; d++ {
			fmt.Fprintf(&buf, " real_server 10.%d.%d.%d 80 { weight %d }\n", 60+s/250, s%250, d, d)
		}
		buf.WriteString("}\n")
	}
	cfg, err := config.Parse("ipvs.conf", buf.Bytes(), config.Options{ConfigID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkDesired1000x10 builds the desired table of 1,000 services x
// 10 destinations (issue 18; allocs/op is the repeatable figure).
func BenchmarkDesired1000x10(b *testing.B) {
	cfg := scaleConfig(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		t, err := Desired(cfg.VirtualServers, cfg.Groups, StartMembers)
		if err != nil {
			b.Fatal(err)
		}
		if len(t) != 1000 {
			b.Fatalf("%d services", len(t))
		}
	}
}

// BenchmarkManagedFile1000 reads the managed-services file of 1,000
// services, as an unchanged re-apply does (issue 18).
func BenchmarkManagedFile1000(b *testing.B) {
	cfg := scaleConfig(b, 1000)
	desired, err := Desired(cfg.VirtualServers, cfg.Groups, StartMembers)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	m := &Manager{Cfg: cfg, StateDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	managed := map[ServiceKey]string{}
	for k := range desired {
		managed[k] = ""
	}
	if err := m.saveManaged(managed); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := m.loadManaged()
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 1000 {
			b.Fatalf("%d services", len(got))
		}
	}
}
