package pool

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kahook/kahook/state"
)

// TestWriteTextfile: the file node_exporter's textfile collector reads,
// in the text exposition format: one HELP/TYPE pair per metric, label
// values escaped (backslash, quote, line feed), latencies in seconds
// without float noise, servers sorted.
func TestWriteTextfile(t *testing.T) {
	dir := t.TempDir()
	r := &Report{
		Instance: `VI_1 "edge"\a`,
		Servers: []ServerReport{
			{VirtualServer: "10.0.0.10:80", RealServer: "10.0.1.12:80", Up: true, Weight: 2, LatencySeconds: 0.00025},
			{VirtualServer: "10.0.0.10:80", RealServer: "10.0.1.11:80", Up: true, Maintenance: true, Weight: 0, LatencySeconds: 0.00473},
		},
		Quorum:   []QuorumReport{{VirtualServer: "10.0.0.10:80", Up: true}},
		Duration: 1500 * time.Millisecond,
	}
	ps := &state.PoolState{LastChange: time.Unix(1700000000, 250_000_000)}
	if err := WriteTextfile(dir, r, ps); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, `kahook_VI_1 "edge"\a.prom`))
	if err != nil {
		t.Fatal(err)
	}
	const inst = `instance="VI_1 \"edge\"\\a"`
	want := `# HELP kahook_realserver_up 1 when the real server passes its checks and is not in maintenance.
# TYPE kahook_realserver_up gauge
kahook_realserver_up{` + inst + `,virtual_server="10.0.0.10:80",real_server="10.0.1.11:80"} 0
kahook_realserver_up{` + inst + `,virtual_server="10.0.0.10:80",real_server="10.0.1.12:80"} 1
# HELP kahook_realserver_weight IPVS weight kahook gave the real server (0 when draining or out).
# TYPE kahook_realserver_weight gauge
kahook_realserver_weight{` + inst + `,virtual_server="10.0.0.10:80",real_server="10.0.1.11:80"} 0
kahook_realserver_weight{` + inst + `,virtual_server="10.0.0.10:80",real_server="10.0.1.12:80"} 2
# HELP kahook_realserver_check_latency_seconds Slowest check of the real server in the last pass.
# TYPE kahook_realserver_check_latency_seconds gauge
kahook_realserver_check_latency_seconds{` + inst + `,virtual_server="10.0.0.10:80",real_server="10.0.1.11:80"} 0.00473
kahook_realserver_check_latency_seconds{` + inst + `,virtual_server="10.0.0.10:80",real_server="10.0.1.12:80"} 0.00025
# HELP kahook_pool_quorum_up 1 while the virtual server's live weight meets its quorum.
# TYPE kahook_pool_quorum_up gauge
kahook_pool_quorum_up{` + inst + `,virtual_server="10.0.0.10:80"} 1
# HELP kahook_pool_last_transition_timestamp_seconds When a real server or quorum of the instance last changed.
# TYPE kahook_pool_last_transition_timestamp_seconds gauge
kahook_pool_last_transition_timestamp_seconds{` + inst + `} 1700000000.250
# HELP kahook_sync_pass_duration_seconds Wall time of the last sync pass.
# TYPE kahook_sync_pass_duration_seconds gauge
kahook_sync_pass_duration_seconds{` + inst + `} 1.5
`
	if string(got) != want {
		t.Errorf("textfile:\n%s\nwant:\n%s", got, want)
	}
	if st, err := os.Stat(filepath.Join(dir, `kahook_VI_1 "edge"\a.prom`)); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode: %v %v (node_exporter does not run as root: 0644)", st, err)
	}
}
