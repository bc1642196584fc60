//go:build vm

package ipvs_test

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kahook/kahook/ipvs"
)

var diffN = flag.Int("diff.n", 40, "generated configs per run of the table differential test")

// TestVMKeepalivedTableDifferential: keepalived's checker process loads
// each generated config (and each fixed regression case of
// testdata/keepalived-diff) in one namespace, kahook `ipvs apply` loads
// the same file in another; the sorted `ipvsadm -Sn` tables must be
// identical, and a second `ipvs apply` must change nothing. The seed is
// new on every run and printed; -diff.seed and -diff.n reproduce one.
func TestVMKeepalivedTableDifferential(t *testing.T) {
	seed := ipvs.DiffSeed(t) // -diff.seed S -diff.n 1 reproduces one config
	cases := map[string]string{}
	files, _ := filepath.Glob("testdata/keepalived-diff/*.conf")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases["fixed/"+filepath.Base(f)] = string(data)
	}
	for i := 0; i < *diffN; i++ {
		s := seed + int64(i)
		cases["seed/"+strconv.FormatInt(s, 10)] = ipvs.GenConfig(s)
	}
	start := time.Now()
	var same atomic.Int64
	t.Cleanup(func() {
		t.Logf("%d of %d configs: identical tables (%d generated, %d fixed), %v", same.Load(), len(cases), *diffN, len(files), time.Since(start).Round(time.Second))
	})
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each side in its own namespace
			conf := writeConf(t, text)
			ka := newLVS(t)
			keep := keepalivedTable(t, ka, conf)
			kh := newLVS(t)
			out, code := kh.kahook(conf, "ipvs", "apply")
			if code != 0 && code != 1 {
				t.Fatalf("kahook ipvs apply: exit %d\n%s", code, out)
			}
			if got := kh.rules(); got != keep {
				t.Fatalf("kahook and keepalived load different tables:\n--- keepalived\n%s\n--- kahook\n%s\n--- config\n%s\n--- kahook output\n%s", keep, got, text, out)
			}
			before := kh.rules()
			out2, code2 := kh.kahook(conf, "ipvs", "apply")
			if code2 != code || strings.Contains(out2, "IPVS changed") || kh.rules() != before {
				t.Fatalf("second apply changed something (exit %d):\n%s", code2, out2)
			}
			same.Add(1)
		})
	}
}
