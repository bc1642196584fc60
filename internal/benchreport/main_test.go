package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPartsSayWhenTheyRan (new-operator review 8): a partial `make bench`
// keeps the other parts' results, so the report names each part's run
// (date and kahook) instead of one date and version for all of it.
func TestPartsSayWhenTheyRan(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"host.jsonl":     `{"name":"run/host","date":"2026-11-30 08:17 UTC","kahook":"kahook A"}` + "\n",
		"vm-ipvs.jsonl":  `{"name":"run/ipvs","date":"2026-11-30T10:49:01Z","kahook":"kahook B"}` + "\n",
		"vm-notes.jsonl": "not json\n",
	}
	var paths []string
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	d, err := read(paths)
	if err != nil {
		t.Fatal(err)
	}
	out := render(d, "test machine")
	for _, want := range []string{"host 2026-11-30 08:17 UTC (kahook A)", "ipvs 2026-11-30T10:49:01Z (kahook B)"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report does not say %q:\n%s", want, out[:min(len(out), 1500)])
		}
	}
}

// TestRatioBesideItsVerdict: a ratio printed beside a verdict is never
// the goal's own figure on the wrong side of it: 0.5004x a restore
// printed as "0.50x" beside "not met" (a goal of at most 0.5x) read as a
// contradiction, as 0.054x did against 0.05x before ratioDigits.
func TestRatioBesideItsVerdict(t *testing.T) {
	timing := func(name string, ms float64) string {
		return fmt.Sprintf(`{"name":%q,"runs":1,"median_ms":%g,"min_ms":%g,"max_ms":%g,"wall_ms":[%g]}`+"\n", name, ms, ms, ms, ms)
	}
	for _, tc := range []struct {
		name, kahook, ref string
		a, b              float64
		ratio, verdict    string // the goals table's row
	}{
		{"load just above 0.5x", "ipvs/kahook-load", "ipvs/restore-load", 5004, 10000, "0.5004x", "**not met**"},
		{"load at 0.5x", "ipvs/kahook-load", "ipvs/restore-load", 5000, 10000, "0.50x", "met"},
		{"re-apply just above 0.05x", "ipvs/kahook-reapply", "ipvs/restore-reapply", 500.4, 10000, "0.05004x", "**not met**"},
		{"check tcp just above 1x", "check/kahook-tcp", "check/bash-tcp", 1.002, 1, "1.002x", "**not met**"},
		{"check http well below", "check/kahook-http", "check/curl", 4, 10, "0.40x", "met"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.jsonl")
			if err := os.WriteFile(p, []byte(timing(tc.kahook, tc.a)+timing(tc.ref, tc.b)), 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := read([]string{p})
			if err != nil {
				t.Fatal(err)
			}
			out := render(d, "test machine")
			found := false
			for line := range strings.Lines(out) {
				if strings.HasPrefix(line, "| ") && strings.Contains(line, "| "+tc.ratio+" (") {
					found = strings.HasSuffix(line, "| "+tc.verdict+" |\n")
					break
				}
			}
			if !found {
				i := strings.Index(out, "## Issue 18's goals")
				t.Errorf("the goals table has no row with %s and %s:\n%s", tc.ratio, tc.verdict, out[i:min(len(out), i+1200)])
			}
		})
	}
}

// TestReapplySplitNeverLeavesANegativeRest: the parts of an unchanged
// re-apply are medians of different runs, so start + read + plan can pass
// the re-apply's own median; the report then says so instead of printing
// a negative "rest" (it printed "the rest of the re-apply (-27.96 ms) is
// not broken down"), and still prints the rest when there is one.
func TestReapplySplitNeverLeavesANegativeRest(t *testing.T) {
	line := func(name string, ms float64) string {
		return fmt.Sprintf(`{"name":%q,"runs":5,"median_ms":%g,"min_ms":%g,"max_ms":%g,"wall_ms":[%g]}`, name, ms, ms, ms, ms) + "\n"
	}
	split := `{"name":"ipvs/reapply-split","lines":["level=DEBUG msg=IPVS planned services=1000 desired=60ms read=500ms managed_file=not needed plan=30ms"]}` + "\n"
	for _, tc := range []struct {
		reapply float64
		want    string
	}{
		{693, "add up to 33 ms more than the re-apply's median"},
		{800, "the rest of the re-apply (74 ms) is not broken down"},
	} {
		p := filepath.Join(t.TempDir(), "vm-ipvs.jsonl")
		text := `{"name":"ipvs/size","services":1000,"destinations":10000,"distinct_real_servers":10000}` + "\n" +
			line("ipvs/kahook-load", 4858) + line("ipvs/restore-load", 17055) + line("ipvs/read-proc", 267) + line("ipvs/read-save", 2162) +
			line("ipvs/kahook-reapply", tc.reapply) + line("ipvs/restore-reapply", 14883) + line("ipvs/kahook-start", 196) + line("ipvs/kahook-parse", 643) + split
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := read([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		out := strings.Join(strings.Fields(render(d, "test machine")), " ")
		if !strings.Contains(out, tc.want) || strings.Contains(out, "(-") {
			i := strings.Index(out, "Where kahook's unchanged")
			t.Errorf("re-apply %v ms: the split does not say %q:\n%s", tc.reapply, tc.want, out[max(i, 0):])
		}
	}
}
