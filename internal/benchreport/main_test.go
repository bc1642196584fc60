package main

import (
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
