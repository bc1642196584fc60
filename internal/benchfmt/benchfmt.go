// Package benchfmt is the JSON line bin/benchtool prints for one timed
// command and internal/benchreport reads into bench/RESULTS.md: one type
// for both ends of `make bench`. Test tooling, not shipped.
package benchfmt

// Stats is the median and spread of one quantity over the timed runs.
type Stats struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Result is one command's timings over its timed runs (ms unless named
// otherwise).
type Result struct {
	Name     string  `json:"name"`
	Runs     int     `json:"runs"`
	MedianMS float64 `json:"median_ms"`
	MeanMS   float64 `json:"mean_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	// WallMS is every timed run's wall time, in run order.
	WallMS   []float64 `json:"wall_ms"`
	MaxRSSKB int64     `json:"max_rss_kb"`
	UserMS   float64   `json:"user_ms_mean"`
	SysMS    float64   `json:"sys_ms_mean"`
	// CPUMS is user+sys per run (ms), CPUTotalMS their sum.
	CPUMS      *Stats  `json:"cpu_ms,omitempty"`
	CPUTotalMS float64 `json:"cpu_ms_total,omitempty"`
	Failures   int     `json:"failures"`
	Verified   int     `json:"verified,omitempty"`
	// Count is the -counter total over the timed runs; CPUPer1000MS the
	// CPU ms per 1,000 counted events, per run.
	Count        int64  `json:"count,omitempty"`
	CPUPer1000MS *Stats `json:"cpu_ms_per_1000,omitempty"`
	// GARPFirstMS and GARPAllMS: see the package comment (ms from start).
	GARPFirstMS *Stats `json:"garp_first_ms,omitempty"`
	GARPAllMS   *Stats `json:"garp_all_ms,omitempty"`
}
