package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// Options configure a pass.
type Options struct {
	Cfg            *config.Config
	Store          *state.Store
	Instance       string
	Workers        int           // checks run at once (default 100): TCP_CHECKs and the other checkers each
	Deadline       time.Duration // the whole pass (default 10 s)
	DrainTimeout   time.Duration // how long a failed server may drain
	MaintenanceDir string
	Debounce       Debounce
	// OpenIPVS opens the kernel's IPVS (only once a pass has to read or
	// write it: a BACKUP pass never does).
	OpenIPVS func() (ipvs.Kernel, error)
	Log      *slog.Logger
	Now      func() time.Time
}

// CheckReport is one check's result in a pass.
type CheckReport struct {
	Check          string  `json:"check"`
	Healthy        bool    `json:"healthy"`
	Weight         *int    `json:"weight"` // null unless the check yields one (misc_dynamic, agent)
	Reason         string  `json:"reason"`
	LatencySeconds float64 `json:"latency_seconds"`
}

// ServerReport is one real server after a pass.
type ServerReport struct {
	VirtualServer  string        `json:"virtual_server"`
	RealServer     string        `json:"real_server"`
	Up             bool          `json:"up"`
	Maintenance    bool          `json:"maintenance,omitempty"`
	Weight         int           `json:"weight"`
	InTable        bool          `json:"in_table"`
	Placement      string        `json:"placement"`
	Event          Event         `json:"event,omitempty"`
	Checks         []CheckReport `json:"checks,omitempty"`
	Checked        bool          `json:"checked"`
	LatencySeconds float64       `json:"latency_seconds"`
}

// QuorumReport is one virtual server's quorum after a pass.
type QuorumReport struct {
	VirtualServer string `json:"virtual_server"`
	Up            bool   `json:"up"`
	Changed       bool   `json:"changed,omitempty"`
	Weight        int    `json:"live_weight"`
	Quorum        int    `json:"quorum"`
	Hysteresis    int    `json:"hysteresis"`
	Sorry         bool   `json:"sorry_server_in,omitempty"`
}

// Report is a whole pass.
type Report struct {
	Instance string         `json:"instance"`
	Master   bool           `json:"master"`
	Skipped  string         `json:"skipped,omitempty"`
	Servers  []ServerReport `json:"servers"`
	Quorum   []QuorumReport `json:"quorum"`
	Changes  []string       `json:"ipvs_changes"`
	Duration time.Duration  `json:"duration_ns"`
	Exit     int            `json:"exit_code"`
}

// ServerKey names a real server of a virtual server in the state file.
func ServerKey(vs *config.VirtualServer, rs *config.RealServer) string {
	return vs.Name() + " " + rs.Endpoint()
}

// names are the names of one pass, each built once: ServerKey and
// VirtualServer.Name format addresses, and a pass over 1,000 real servers
// named each several times (about a tenth of its user CPU, issue 18).
type names struct {
	vs  map[*config.VirtualServer]string
	key map[vsRS]string
}

type vsRS struct {
	vs *config.VirtualServer
	rs *config.RealServer
}

func newNames() *names {
	return &names{vs: map[*config.VirtualServer]string{}, key: map[vsRS]string{}}
}

// VS is vs.Name().
func (n *names) VS(vs *config.VirtualServer) string {
	s, ok := n.vs[vs]
	if !ok {
		s = vs.Name()
		n.vs[vs] = s
	}
	return s
}

// Key is ServerKey(vs, rs).
func (n *names) Key(vs *config.VirtualServer, rs *config.RealServer) string {
	k := vsRS{vs, rs}
	s, ok := n.key[k]
	if !ok {
		s = n.VS(vs) + " " + rs.Endpoint()
		n.key[k] = s
	}
	return s
}

type target struct {
	vs       *config.VirtualServer
	rs       *config.RealServer
	checkers []check.Checker
	maint    bool
	results  []check.Result
	done     int
}

// Run does one pass for the instance: check every real server, debounce,
// decide quorum and, on the MASTER, placements, apply the difference to
// IPVS and record the pool (elsewhere: record the health only). It
// returns the report; its Exit is 0 while every virtual server of the instance has quorum.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	now := o.now()
	rep := &Report{Instance: o.Instance}
	in := o.Cfg.Instance(o.Instance)
	if in == nil {
		return nil, fmt.Errorf("instance %q: not in %s", o.Instance, o.Cfg.Path)
	}
	if err := CheckMaintenanceDir(o.MaintenanceDir); err != nil {
		o.Log.Error("maintenance dir ignored: its files drain no real server until it is root-only", "dir", o.MaintenanceDir, "err", err)
		o.MaintenanceDir = ""
	}
	if err := o.Store.Readable(); err != nil {
		return nil, err // an unreadable state file: fail before checking
	}
	vss := o.Cfg.ServersOf(o.Instance)
	targets, err := o.targets(vss)
	if err != nil {
		return nil, err
	}
	deadline := o.Deadline
	if deadline <= 0 {
		deadline = 10 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, deadline)
	o.runChecks(cctx, targets)
	cancel()

	// Decide and apply under the lock, from the state as it is now: a
	// transition may have happened while the checks ran.
	lock, err := o.Store.LockWithin(ctx, deadline)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	st, err := o.Store.Load()
	if err != nil {
		return nil, err
	}
	rep.Master = isMaster(st, o.Instance)
	ps := st.Pools[o.Instance]
	if ps == nil {
		ps = &state.PoolState{}
		st.Pools[o.Instance] = ps
	}
	if ps.Servers == nil {
		ps.Servers = map[string]*state.ServerState{}
	}
	if ps.QuorumUp == nil {
		ps.QuorumUp = map[string]bool{}
	}
	ps.Checked = now
	if !rep.Master {
		return o.recordHealth(rep, st, ps, vss, targets, now, start)
	}

	k, err := o.OpenIPVS()
	if err != nil {
		return nil, err
	}
	ictx, icancel := context.WithTimeout(ctx, 20*time.Second)
	defer icancel()
	readStart := time.Now()
	current, err := ipvs.Read(ictx, k)
	if err != nil {
		return nil, err
	}
	readTook := time.Since(readStart)

	changed := false
	nm := newNames()
	byKey := map[string]*ServerReport{}
	for _, tg := range targets {
		key := nm.Key(tg.vs, tg.rs)
		s := ps.Servers[key]
		if s == nil {
			s = &state.ServerState{}
			ps.Servers[key] = s
		}
		obs := observation(tg)
		ev := Observe(s, tg.rs, obs, o.Debounce, now)
		if ev != EventNone {
			changed = true
			ps.LastChange = now
		}
		sr := &ServerReport{VirtualServer: nm.VS(tg.vs), RealServer: tg.rs.Endpoint(), Up: s.Up, Maintenance: s.Maintenance, Event: ev, Checked: obs.Checked}
		for i, r := range tg.results {
			if i < tg.done {
				sr.Checks = append(sr.Checks, CheckReport{Check: tg.checkers[i].String(), Healthy: r.Healthy, Weight: reportWeight(r.Weight), Reason: r.Reason, LatencySeconds: secs(r.Latency)})
				sr.LatencySeconds = max(sr.LatencySeconds, secs(r.Latency))
			}
		}
		byKey[key] = sr
		rep.Servers = append(rep.Servers, *sr)
	}

	// Quorum and placement per virtual server.
	members := map[*config.VirtualServer][]ipvs.Member{}
	exit := 0
	for _, vs := range vss {
		qr := updateQuorum(ps, vs, nm, now)
		changed = changed || qr.Changed
		up := qr.Up
		if !up {
			exit = 1
		}
		if !up && vs.SorryServer != nil {
			qr.Sorry = true
			members[vs] = []ipvs.Member{{RS: vs.SorryServer, Weight: vs.SorryServer.Weight}}
			for _, rs := range vs.RealServers {
				byKey[nm.Key(vs, rs)].Placement = "out: quorum lost, sorry server in"
			}
		} else {
			for _, rs := range vs.RealServers {
				key := nm.Key(vs, rs)
				s := ps.Servers[key]
				p := Place(s, rs, destOf(current, vs, rs, o.Cfg.Groups), o.DrainTimeout, now)
				sr := byKey[key]
				sr.Placement, sr.InTable, sr.Weight = p.Reason, p.In, p.Weight
				if p.In {
					members[vs] = append(members[vs], ipvs.Member{RS: rs, Weight: p.Weight})
				}
			}
		}
		rep.Quorum = append(rep.Quorum, qr)
	}
	for i, tg := range targets {
		rep.Servers[i] = *byKey[nm.Key(tg.vs, tg.rs)]
	}

	m := &ipvs.Manager{K: k, Cfg: o.Cfg, StateDir: o.Store.Dir, Log: o.Log, ChangeLevel: slog.LevelDebug,
		Members: func(vs *config.VirtualServer) []ipvs.Member { return members[vs] },
		Current: func() (ipvs.Table, time.Duration) { return current, readTook }} // read above, under the same lock: not read again
	plan, err := m.PlanLoad(ictx, vss, false)
	if err != nil {
		return nil, err
	}
	for _, c := range plan.Changes {
		rep.Changes = append(rep.Changes, c.String())
	}
	var applyErr error
	if len(plan.Changes) > 0 {
		_, applyErr = m.Apply(ictx, plan, vss)
	}
	if err := o.Store.Save(st); err != nil {
		return nil, err
	}
	rep.Exit = exit
	rep.Duration = time.Since(start)
	if changed || len(plan.Changes) > 0 {
		o.Log.Info("pool changed", summary(rep)...)
	}
	return rep, applyErr
}

// recordHealth is a pass on a node that is not MASTER (BACKUP, FAULT, or
// no event yet): the checks ran, their verdicts and the quorum go into the
// state, and IPVS is neither opened nor changed. A new MASTER's table then
// holds only the servers that are up (Members), as keepalived's checker,
// which runs in every VRRP state, gives it. There is nothing to drain on a
// node without the table. The exit code is the quorum's, as on the MASTER,
// so a FAULT caused by a lost quorum ends only when the pool is back.
func (o Options) recordHealth(rep *Report, st *state.State, ps *state.PoolState, vss []*config.VirtualServer, targets []*target, now, start time.Time) (*Report, error) {
	changed := false
	nm := newNames()
	for _, tg := range targets {
		key := nm.Key(tg.vs, tg.rs)
		s := ps.Servers[key]
		if s == nil {
			s = &state.ServerState{}
			ps.Servers[key] = s
		}
		obs := observation(tg)
		ev := Observe(s, tg.rs, obs, o.Debounce, now)
		s.DrainSince = time.Time{}
		if ev != EventNone {
			changed = true
			ps.LastChange = now
		}
		sr := ServerReport{VirtualServer: nm.VS(tg.vs), RealServer: tg.rs.Endpoint(), Up: s.Up, Maintenance: s.Maintenance, Event: ev, Checked: obs.Checked, Placement: "not MASTER: health recorded, IPVS untouched"}
		for i, r := range tg.results {
			if i < tg.done {
				sr.Checks = append(sr.Checks, CheckReport{Check: tg.checkers[i].String(), Healthy: r.Healthy, Weight: reportWeight(r.Weight), Reason: r.Reason, LatencySeconds: secs(r.Latency)})
				sr.LatencySeconds = max(sr.LatencySeconds, secs(r.Latency))
			}
		}
		if Serving(s) {
			sr.Weight = EffectiveWeight(s, tg.rs)
		}
		rep.Servers = append(rep.Servers, sr)
	}
	exit := 0
	for _, vs := range vss {
		qr := updateQuorum(ps, vs, nm, now)
		changed = changed || qr.Changed
		up := qr.Up
		if !up {
			exit = 1
		}
		rep.Quorum = append(rep.Quorum, qr)
	}
	if err := o.Store.Save(st); err != nil {
		return nil, err
	}
	rep.Skipped = "not MASTER: health recorded, IPVS untouched"
	rep.Exit = exit
	rep.Duration = time.Since(start)
	if changed {
		o.Log.Info("pool health changed (not MASTER)", summary(rep)...)
	}
	return rep, nil
}

// FreshFor is how old a pool's last pass may be for a new MASTER to load
// from it; an older one (sync stopped running, a long outage) is dropped
// and the new MASTER starts from keepalived's start state.
const FreshFor = 60 * time.Second

// Fresh reports whether a new MASTER may trust the pool's health: a pass
// (on this node, in any state) recorded it within FreshFor of now.
func Fresh(ps *state.PoolState, now time.Time) bool {
	return ps != nil && !ps.Checked.IsZero() && now.Sub(ps.Checked) < FreshFor && now.Sub(ps.Checked) > -FreshFor
}

func isMaster(st *state.State, name string) bool {
	s := st.Instances[name]
	return s != nil && s.State == state.Master
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// secs is d in seconds, to the microsecond (no float noise in JSON).
func secs(d time.Duration) float64 { return float64(d.Microseconds()) / 1e6 }

// reportWeight is a check's dynamic weight for the report: nil (JSON
// null) when the check sets none.
func reportWeight(w int) *int {
	if w == check.Unchanged {
		return nil
	}
	return &w
}

func (o Options) targets(vss []*config.VirtualServer) ([]*target, error) {
	var out []*target
	listed := o.maintenanceNames()
	for _, vs := range vss {
		for _, rs := range vs.RealServers {
			tg := &target{vs: vs, rs: rs, maint: o.inMaintenance(rs, listed)}
			for _, c := range rs.Checks {
				cs, err := check.FromConfig(vs, rs, c)
				if err != nil {
					return nil, err
				}
				tg.checkers = append(tg.checkers, cs...)
			}
			tg.results = make([]check.Result, len(tg.checkers))
			out = append(out, tg)
		}
	}
	return out, nil
}

// CheckMaintenanceDir applies the config's rule to maintenance_dir when
// running as root (config.CheckSecureDir: the path passes
// config.CheckSecure and the dir itself is root's and not writable by
// others, even with the sticky bit): its entries take real servers out of
// the pool, so a dir another user can add a name to (such as /tmp) would
// let that user drain them. A missing dir is fine (nothing is in
// maintenance).
func CheckMaintenanceDir(dir string) error {
	if dir == "" || os.Geteuid() != 0 {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := config.CheckSecureDir(dir); err != nil {
		return fmt.Errorf("maintenance dir %s: %w", dir, err)
	}
	return nil
}

// maintenanceNames lists the maintenance dir once per pass, so a pass
// over 1,000 servers makes one getdents instead of 2,000 stat calls. A
// missing dir lists nothing; nil when the dir cannot be listed
// (inMaintenance then stats each name, as before).
func (o Options) maintenanceNames() (listed map[string]bool) {
	if o.MaintenanceDir == "" {
		return nil
	}
	entries, err := os.ReadDir(o.MaintenanceDir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}
	}
	if err != nil {
		return nil
	}
	listed = make(map[string]bool, len(entries))
	for _, e := range entries {
		listed[e.Name()] = true
	}
	return listed
}

// inMaintenance: a file named IP:PORT or IP in the maintenance dir
// (ldirectord's maintenancedir) takes the server out. listed is the
// dir's listing (maintenanceNames; nil: not listed, stat every name): a
// name it lacks is not there; a name it has is stat'ed as before (a
// dangling symlink takes no server out).
func (o Options) inMaintenance(rs *config.RealServer, listed map[string]bool) bool {
	if o.MaintenanceDir == "" {
		return false
	}
	names := []string{rs.Endpoint(), rs.Addr.String()}
	if rs.Addr.Is6() {
		names = append(names, fmt.Sprintf("%s:%d", rs.Addr, rs.Port))
	}
	for _, n := range names {
		if listed != nil && !listed[n] {
			continue
		}
		if _, err := os.Stat(filepath.Join(o.MaintenanceDir, n)); err == nil {
			return true
		}
	}
	return false
}

// runChecks runs every checker of every target; a check still running at
// the deadline has no result this pass. The TCP_CHECKs run on one poll
// loop (check.ConnectAll, one ppoll per round, at most Workers connects at once), the other
// checkers on a pool of Workers goroutines, both at the same time.
func (o Options) runChecks(ctx context.Context, targets []*target) {
	type job struct {
		tg *target
		i  int
	}
	workers := o.Workers
	if workers <= 0 {
		workers = 100
	}
	var mu sync.Mutex
	record := func(j job, r check.Result) {
		if ctx.Err() != nil && !r.Healthy {
			return // cut off by the deadline: no verdict
		}
		mu.Lock()
		j.tg.results[j.i] = r
		j.tg.done++
		mu.Unlock()
	}
	var tcp []check.TCPJob
	var tcpAt, others []job
	for _, tg := range targets {
		if tg.maint {
			continue
		}
		for i, c := range tg.checkers {
			if tj, ok := check.TCPJobOf(c); ok {
				tcp = append(tcp, tj)
				tcpAt = append(tcpAt, job{tg, i})
			} else {
				others = append(others, job{tg, i})
			}
		}
	}
	var wg sync.WaitGroup
	if len(tcp) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check.ConnectAll(ctx, tcp, workers, func(i int, r check.Result) { record(tcpAt[i], r) })
		}()
	}
	jobs := make(chan job)
	for w := 0; w < min(workers, len(others)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				record(j, j.tg.checkers[j.i].Check(ctx))
			}
		}()
	}
	for _, j := range others {
		select {
		case jobs <- j:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
}

// observation folds a target's check results: healthy when every check
// passed; the last dynamic weight wins. A server without checkers is
// always healthy (keepalived keeps it in); one whose checks did not all
// finish has no verdict.
func observation(tg *target) Observation {
	if tg.maint {
		return Observation{Maintenance: true}
	}
	if len(tg.checkers) == 0 {
		return Observation{Checked: true, Healthy: true, Weight: check.Unchanged, Reason: "no checker"}
	}
	obs := Observation{Checked: true, Healthy: true, Weight: check.Unchanged}
	if tg.done < len(tg.checkers) {
		for _, r := range tg.results {
			if r.Reason != "" && !r.Healthy {
				return Observation{Checked: true, Healthy: false, Weight: check.Unchanged, Reason: r.Reason}
			}
		}
		return Observation{Checked: false, Reason: "pass deadline reached before the checks finished"}
	}
	var reasons []string
	for _, r := range tg.results {
		if !r.Healthy {
			obs.Healthy = false
			reasons = append(reasons, r.Reason)
		}
		if r.Weight != check.Unchanged {
			obs.Weight = r.Weight
		}
	}
	obs.Reason = strings.Join(reasons, "; ")
	if obs.Healthy {
		obs.Reason = "checks passed"
	}
	return obs
}

// destOf sums what the kernel holds for rs over its virtual server's
// services.
func destOf(current ipvs.Table, vs *config.VirtualServer, rs *config.RealServer, groups map[string]*config.VirtualServerGroup) Dest {
	keys, err := ipvs.ServiceKeys(vs, groups)
	if err != nil {
		return Dest{}
	}
	var d Dest
	for _, k := range keys {
		e := current[k]
		if e == nil {
			continue
		}
		if cur := e.Dests[ipvs.DestKeyFor(k, rs)]; cur != nil {
			d.Present = true
			d.Weight = max(d.Weight, cur.Weight)
			d.Conns += cur.ActiveConns + cur.InactiveConns
		}
	}
	return d
}

func summary(r *Report) []any {
	up, total := 0, 0
	var events []string
	for _, s := range r.Servers {
		total++
		if s.Up && !s.Maintenance {
			up++
		}
		if s.Event != EventNone {
			events = append(events, fmt.Sprintf("%s %s (%s)", s.RealServer, s.Event, s.Placement))
		}
	}
	var quorum []string
	for _, q := range r.Quorum {
		if q.Changed {
			word := "lost"
			if q.Up {
				word = "regained"
			}
			quorum = append(quorum, fmt.Sprintf("%s quorum %s (weight %d, quorum %d±%d)", q.VirtualServer, word, q.Weight, q.Quorum, q.Hysteresis))
		}
	}
	sort.Strings(events)
	return []any{"instance", r.Instance, "servers_up", fmt.Sprintf("%d/%d", up, total),
		"events", strings.Join(events, "; "), "quorum", strings.Join(quorum, "; "), "ipvs_changes", len(r.Changes)}
}

// updateQuorum sums the live weight of vs's serving real servers, applies
// keepalived's quorum and hysteresis rule (update_quorum_state) against
// the recorded state, records the result in ps and reports it (Changed:
// the quorum state flipped, so ps.LastChange is now).
func updateQuorum(ps *state.PoolState, vs *config.VirtualServer, nm *names, now time.Time) QuorumReport {
	sum := 0
	for _, rs := range vs.RealServers {
		if s := ps.Servers[nm.Key(vs, rs)]; Serving(s) {
			sum += EffectiveWeight(s, rs)
		}
	}
	name := nm.VS(vs)
	var prev *bool
	if v, ok := ps.QuorumUp[name]; ok {
		prev = &v
	}
	up := QuorumUp(prev, sum, vs.Quorum, vs.Hysteresis)
	qr := QuorumReport{VirtualServer: name, Up: up, Weight: sum, Quorum: vs.Quorum, Hysteresis: vs.Hysteresis}
	if prev != nil && *prev != up {
		qr.Changed = true
		ps.LastChange = now
	}
	ps.QuorumUp[name] = up
	return qr
}
