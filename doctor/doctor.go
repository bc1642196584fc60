// Package doctor finds the misconfigurations that take a VIP down: in
// keepalived.conf and kahook.conf (each finding with file:line and the
// fix) and on the live node (ARP sysctls for its role, VIPs, IPVS table,
// keepalived, persisted sysctls, and who answers ARP for the VIPs).
package doctor

import (
	"fmt"
	"sort"

	"github.com/kahook/kahook/config"
)

// Severity of a finding.
type Severity string

const (
	OK   Severity = "OK"
	Warn Severity = "WARN"
	Fail Severity = "FAIL"
)

// Finding is one result.
type Finding struct {
	Severity Severity   `json:"severity"`
	Check    string     `json:"check"`
	Pos      config.Pos `json:"pos,omitzero"`
	Msg      string     `json:"message"`
	Fix      string     `json:"fix,omitempty"`
}

func (f Finding) String() string {
	where := ""
	if f.Pos.File != "" {
		where = f.Pos.String() + ": "
	}
	return fmt.Sprintf("%-4s %s%s", f.Severity, where, f.Msg)
}

// Report is every finding of a run.
type Report struct {
	Findings []Finding `json:"findings"`
}

func (r *Report) add(sev Severity, check string, pos config.Pos, fix, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Severity: sev, Check: check, Pos: pos, Msg: fmt.Sprintf(format, args...), Fix: fix})
}

func (r *Report) ok(check, format string, args ...any) {
	r.add(OK, check, config.Pos{}, "", format, args...)
}

// Failed reports whether any finding is a FAIL.
func (r *Report) Failed() bool { return r.Count(Fail) > 0 }

// Count counts findings of a severity.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Problems are the WARN and FAIL findings, FAIL first, in file order.
func (r *Report) Problems() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity != OK {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity == Fail
		}
		return false
	})
	return out
}
