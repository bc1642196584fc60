package pool

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/state"
)

// WriteTextfile writes the pass as Prometheus text format for
// node_exporter's textfile collector: DIR/kahook_INSTANCE.prom, replaced
// atomically so the collector never reads half a file. The format is
// written here rather than with client_golang's WriteToTextfile: linking
// client_golang adds 1.8M instructions of package initialisation (+85%) to
// every kahook run, checks included (README, "Prometheus textfile").
// As root, dir must pass config.CheckSecureDir (root's, not writable by
// others, sticky or not): in a dir others can add names to, a planted
// name would be replaced or followed by root. An unsafe dir is an error
// and nothing is written.
func WriteTextfile(dir string, r *Report, ps *state.PoolState) error {
	if os.Geteuid() == 0 {
		if err := config.CheckSecureDir(dir); err != nil {
			return fmt.Errorf("textfile dir %s: %w", dir, err)
		}
	}
	var b strings.Builder
	lbl := func(kv ...string) string {
		var parts []string
		for i := 0; i+1 < len(kv); i += 2 {
			parts = append(parts, kv[i]+`="`+labelEscaper.Replace(kv[i+1])+`"`)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	metric := func(name, help, typ string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	servers := append([]ServerReport(nil), r.Servers...)
	sort.Slice(servers, func(i, j int) bool {
		return servers[i].VirtualServer+servers[i].RealServer < servers[j].VirtualServer+servers[j].RealServer
	})
	metric("kahook_realserver_up", "1 when the real server passes its checks and is not in maintenance.", "gauge")
	for _, s := range servers {
		fmt.Fprintf(&b, "kahook_realserver_up%s %d\n", lbl("instance", r.Instance, "virtual_server", s.VirtualServer, "real_server", s.RealServer), b2i(s.Up && !s.Maintenance))
	}
	metric("kahook_realserver_weight", "IPVS weight kahook gave the real server (0 when draining or out).", "gauge")
	for _, s := range servers {
		fmt.Fprintf(&b, "kahook_realserver_weight%s %d\n", lbl("instance", r.Instance, "virtual_server", s.VirtualServer, "real_server", s.RealServer), s.Weight)
	}
	metric("kahook_realserver_check_latency_seconds", "Slowest check of the real server in the last pass.", "gauge")
	for _, s := range servers {
		fmt.Fprintf(&b, "kahook_realserver_check_latency_seconds%s %g\n", lbl("instance", r.Instance, "virtual_server", s.VirtualServer, "real_server", s.RealServer), s.LatencySeconds)
	}
	metric("kahook_pool_quorum_up", "1 while the virtual server's live weight meets its quorum.", "gauge")
	for _, q := range r.Quorum {
		fmt.Fprintf(&b, "kahook_pool_quorum_up%s %d\n", lbl("instance", r.Instance, "virtual_server", q.VirtualServer), b2i(q.Up))
	}
	metric("kahook_pool_last_transition_timestamp_seconds", "When a real server or quorum of the instance last changed.", "gauge")
	last := 0.0
	if ps != nil && !ps.LastChange.IsZero() {
		last = float64(ps.LastChange.UnixNano()) / 1e9
	}
	fmt.Fprintf(&b, "kahook_pool_last_transition_timestamp_seconds%s %.3f\n", lbl("instance", r.Instance), last)
	metric("kahook_sync_pass_duration_seconds", "Wall time of the last sync pass.", "gauge")
	fmt.Fprintf(&b, "kahook_sync_pass_duration_seconds%s %g\n", lbl("instance", r.Instance), r.Duration.Seconds())
	return state.WriteFileAtomic(filepath.Join(dir, "kahook_"+r.Instance+".prom"), []byte(b.String()), 0o644)
}

// labelEscaper escapes a label value as the text exposition format
// requires: backslash, double quote and line feed.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// seconds turns a latency in milliseconds (whole microseconds, see ms)
// into seconds without float noise: 4.73 ms is 0.00473, not
// 0.004730000000000001.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
