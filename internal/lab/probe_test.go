package lab

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReadProbe: a probe log's answers per server, failed requests and
// the longest gap between two answers (the client's outage).
func TestReadProbe(t *testing.T) {
	log := filepath.Join(t.TempDir(), "probe.log")
	const s = int64(time.Second)
	lines := "1000000000 rs1\n" +
		"1020000000 rs2\n" +
		"1040000000 -\n" +
		"garbage line\n" +
		"1500000000 rs1\n" +
		"x rs1\n" +
		"1520000000 rs1\n"
	if err := os.WriteFile(log, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	st := ReadProbe(&Proc{Log: log})
	if st.Total != 5 || st.Failures != 1 || st.Answers["rs1"] != 3 || st.Answers["rs2"] != 1 {
		t.Errorf("total %d failures %d answers %v, want 5, 1, rs1:3 rs2:1", st.Total, st.Failures, st.Answers)
	}
	if st.Outage != 480*time.Millisecond || !st.OutageAt.Equal(time.Unix(0, s+20_000_000)) {
		t.Errorf("outage %v at %v, want 480ms after the answer at 1.02 s", st.Outage, st.OutageAt)
	}
	if !st.LastAnswer.Equal(time.Unix(0, 1_520_000_000)) {
		t.Errorf("last answer %v", st.LastAnswer)
	}
}
