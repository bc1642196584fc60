package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/pool"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/sysctl"
	"github.com/kahook/kahook/vip"
)

// IPVS is what a transition needs from the ipvs package (ipvs.Lazy).
// A plan is computed first (reading the kernel, changing nothing) and
// applied later, exactly as planned, under the same run lock.
type IPVS interface {
	// PlanLoad plans making the kernel hold exactly these services, with
	// the real servers members selects (diffed, never flushed).
	PlanLoad(ctx context.Context, vss []*config.VirtualServer, members ipvs.MembersFunc) (*ipvs.LoadPlan, error)
	// PlanRemove plans deleting these services where present.
	PlanRemove(ctx context.Context, vss []*config.VirtualServer) (*ipvs.LoadPlan, error)
	// ApplyLoad and ApplyRemove perform a plan and verify the result;
	// they return the number of changes made.
	ApplyLoad(ctx context.Context, p *ipvs.LoadPlan, vss []*config.VirtualServer) (int, error)
	ApplyRemove(ctx context.Context, p *ipvs.LoadPlan, vss []*config.VirtualServer) (int, error)
}

// VIPs plans and makes address changes (vip.Manager).
type VIPs interface {
	Plan(addrs []vip.Addr, want bool) ([]vip.Change, error)
	Apply(c vip.Change) error
}

// Sysctls plans and makes the ARP knob writes of a role (sysctl.FS).
type Sysctls interface {
	Plan(role config.Role, iface string) ([]sysctl.Change, error)
	Apply(role config.Role, c sysctl.Change, log *slog.Logger) error
}

// Announcer sends gratuitous ARP for an instance that became MASTER: the
// first round now, the rest of keepalived's schedule in the background.
type Announcer interface {
	Announce(ctx context.Context, in *config.Instance, ev Event) (sent, followerPID int, err error)
}

// Engine applies events.
type Engine struct {
	Cfg      *config.Config
	Store    *state.Store
	VIPs     VIPs
	Sysctl   Sysctls
	IPVS     IPVS // nil: IPVS steps are skipped with a log line
	Announce Announcer
	// LinkExists checks an interface before anything changes.
	LinkExists func(name string) error
	Log        *slog.Logger
	DryRun     bool
	// LockWait bounds how long a run waits for another to finish (0: 30 s
	// for MASTER, ReleaseLockWait for a release).
	LockWait time.Duration
	// LockFailed is set once a release could not get the run lock: the
	// later releases through this Engine do not wait again (one lock
	// attempt per run). Settle clears it; a long-running caller (the FIFO
	// reader) clears it per event.
	LockFailed error
	// RefuseMaster, when not nil, is why this run must not take MASTER
	// (a flag kahook could not use, see README "Fail-safe decisions"):
	// ReadFIFO refuses MASTER lines (logged at error level, nothing
	// changed) and applies the releases as usual.
	RefuseMaster error
	// ConfigErr, when not nil, is why the config did not load (Cfg is
	// nil): ReadFIFO applies BACKUP, FAULT and STOP lines of instances
	// without it (ReleaseWithoutConfig with Store and VIPs, as `notify
	// backup` does) and refuses MASTER lines.
	ConfigErr error
}

// ReleaseLockWait bounds the wait for the run lock before a run's
// releases go ahead without it (`notify backup`, `release --all`: once
// per run, not per instance).
const ReleaseLockWait = 5 * time.Second

// SettleLockWait bounds Settle's second wait for the run lock.
const SettleLockWait = 25 * time.Second

// Settle follows releases that went ahead without the run lock (LockFailed
// set): it waits once more for the lock, at most SettleLockWait, and
// applies evs again under it, so that they are recorded and a run that
// held the lock meanwhile (a MASTER still loading IPVS, which binds its
// VIPs after that) cannot leave a VIP bound. It returns the errors of
// that second pass (nil and nothing done when no release missed the lock).
func (e *Engine) Settle(ctx context.Context, evs []Event) ([]*Result, error) {
	if e.LockFailed == nil {
		return nil, nil
	}
	e.Log.Warn("releases went ahead without the run lock: waiting for it to record them", "max_wait", SettleLockWait.String())
	e.LockFailed = nil
	saved := e.LockWait
	e.LockWait = SettleLockWait
	defer func() { e.LockWait = saved }()
	var out []*Result
	var errs []error
	for _, ev := range evs {
		res, err := e.Handle(ctx, ev)
		out = append(out, res)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// BadInputError is an event or config that cannot be applied: exit 2,
// nothing changed.
type BadInputError struct{ Msg string }

func (e *BadInputError) Error() string { return e.Msg }

// StepResult is what one step did (with DryRun: would do): its typed
// changes in the order they are made, and the error that stopped it.
type StepResult struct {
	Step    Step     `json:"step"`
	Changes []Change `json:"changes"`
	Error   string   `json:"error,omitempty"`
}

// Result is the outcome of one event: the transition's steps in order.
// Changed counts the changes made (with DryRun: planned).
type Result struct {
	Event   Event        `json:"event"`
	DryRun  bool         `json:"dry_run"`
	Stale   bool         `json:"stale,omitempty"`
	Steps   []StepResult `json:"steps"`
	Changed int          `json:"changed"`
}

// Validate checks an event against the config and the system without
// changing anything.
func (e *Engine) Validate(ev Event) (*config.Instance, error) {
	in := e.Cfg.Instance(ev.Name)
	if in == nil {
		kind := "instance"
		if ev.Group {
			kind = "sync group"
		}
		return nil, &BadInputError{fmt.Sprintf("%s %q: no 'instance %s { ... }' block in %s", kind, ev.Name, ev.Name, e.Cfg.Path)}
	}
	if e.LinkExists != nil {
		ifaces := []string{in.Interface}
		for _, v := range in.VIPs {
			ifaces = append(ifaces, v.Dev)
		}
		for _, ifc := range ifaces {
			if err := e.LinkExists(ifc); err != nil {
				if ev.State != Master {
					// A release still removes what it can (the VIPs on
					// lo); the steps that need the interface fail and say so.
					e.Log.Warn("interface missing: releasing what can be released", "instance", in.Name, "interface", ifc, "err", err)
					continue
				}
				return nil, &BadInputError{fmt.Sprintf("instance %s: interface %s: %v", in.Name, ifc, err)}
			}
		}
	}
	return in, nil
}

// Handle applies one event: validate, lock, skip if a newer event for the
// instance was already taken, then for a MASTER record it, run the steps
// and record the result (with the VIPs bound); a release runs its steps
// first and records once, after them. A release removes the configured
// VIPs, those an earlier event recorded as bound that the config no
// longer names and, when the state cannot say, kahook's marked addresses
// (vip.Proto) that no configured instance names.
//
// A release (BACKUP, FAULT, STOP, DELETED) never depends on the state
// dir: when the dir is unsafe or cannot be created, the lock is not
// obtained within LockWait (ReleaseLockWait, once per Engine: see
// LockFailed and Settle), or the state cannot be read or written
// (corrupt file, read-only file system, full disk), the failure is
// logged at error level saying what was skipped, the release steps still
// run, and the returned error (exit 1) says the event was not recorded.
// A MASTER run instead changes nothing unless its event is recorded
// first: an unsafe state dir is a *BadInputError (exit 2), any other
// state failure an error (exit 1).
func (e *Engine) Handle(ctx context.Context, ev Event) (*Result, error) {
	in, err := e.Validate(ev)
	if err != nil {
		return nil, err
	}
	log := e.Log.With("instance", ev.Name, "state", ev.State)
	release := ev.State != Master
	if e.Store.Log == nil {
		e.Store.Log = e.Log
	}
	if ev.Received.IsZero() {
		ev.Received = time.Now()
	}
	if e.DryRun {
		// A dry run creates and locks nothing; it reads the state (when
		// there is a trustworthy one) to decide as a real run would.
		return e.dryRun(ctx, in, ev, log)
	}
	// skipState releases without the state dir.
	skipState := func(what string, err error) (*Result, error) {
		log.Error("releasing anyway, without the run lock and without recording the event: "+what, "state_dir", e.Store.Dir, "err", err)
		res := &Result{Event: ev, Steps: []StepResult{}}
		// Without the state the follower's pid is unknown: found by
		// its command line instead (a dry run returned before this).
		StopFollowers(ev.Name, log)
		errs := e.steps(ctx, in, ev, nil, nil, ipvs.StartMembers, res, log)
		errs = append(errs, fmt.Errorf("event not recorded (%s): %w", what, err))
		return res, errors.Join(errs...)
	}
	if err := e.Store.Prepare(); err != nil {
		var unsafe *state.UnsafeError
		switch {
		case release:
			return skipState("state dir unusable", err)
		case errors.As(err, &unsafe):
			return nil, &BadInputError{Msg: err.Error()}
		}
		return nil, err
	}

	wait := e.LockWait
	if wait == 0 {
		wait = 30 * time.Second
		if release {
			wait = ReleaseLockWait
		}
	}
	if release && e.LockFailed != nil {
		// One lock attempt per run: `release --all` does not wait again
		// for each instance.
		return skipState("run lock not obtained (earlier in this run)", e.LockFailed)
	}
	lock, err := e.Store.LockWithin(ctx, wait)
	if err != nil {
		if release {
			e.LockFailed = err
			return skipState("run lock not obtained", err)
		}
		return nil, err
	}
	defer lock.Unlock()

	res := &Result{Event: ev, Steps: []StepResult{}}
	st, err := e.Store.Load()
	if err != nil {
		if !release {
			return nil, err
		}
		log.Error("state file unreadable: releasing as if it were empty", "err", err)
	}
	prev := st.Instances[ev.Name]
	if release && err != nil {
		prev = &state.InstanceState{VIPs: e.unclaimedMarked(log)}
	}
	if prev != nil && prev.Event.After(ev.Key) {
		res.Stale = true
		log.Info("stale event skipped: a newer event for this instance was already applied", "newer_state", prev.State)
		return res, nil
	}
	cur := &state.InstanceState{State: ev.State, Priority: ev.Priority, Event: ev.Key, Source: ev.Source, Received: ev.Received, Updated: time.Now()}
	// A MASTER run for an instance already MASTER may change nothing and
	// then does not re-announce (keepalived re-sends MASTER on reload):
	// the gratuitous ARP schedule already running (for the event that
	// announced) is handed on, so it runs to its end.
	wasMaster := prev != nil && prev.State == Master && prev.Applied
	if ev.State == Master && wasMaster && prev.GARPPID != 0 {
		cur.GARPPID, cur.GARPEvent = prev.GARPPID, prev.GARPEvent
		if cur.GARPEvent == nil {
			k := prev.Event
			cur.GARPEvent = &k
		}
	} else if prev != nil && prev.GARPPID != 0 {
		stopFollower(prev.GARPPID, ev.Name, log)
	}
	if release {
		return e.release(ctx, in, ev, st, prev, cur, res, log)
	}
	// A VIP an earlier MASTER bound and the config no longer names stays
	// recorded until a release removes it.
	cur.VIPs = append(boundAfter(in, ev.State), staleVIPs(in, prev)...)
	var saveErr error
	// Recorded before acting: a run killed halfway is visible as
	// applied=false, and any older run still waiting sees it is stale.
	st.Instances[ev.Name] = cur
	newMastership(st, ev, prev)
	if err := e.Store.Save(st); err != nil {
		if !release {
			return nil, err
		}
		log.Error("state not recorded: releasing anyway", "err", err)
		saveErr = err
	}

	errs := e.steps(ctx, in, ev, prev, cur, pool.Members(st), res, log)
	if saveErr == nil {
		cur.Applied = len(errs) == 0
		cur.Updated = time.Now()
		st.Instances[ev.Name] = cur
		if err := e.Store.Save(st); err != nil {
			errs = append(errs, err)
		}
	}
	if saveErr != nil {
		errs = append(errs, fmt.Errorf("event not recorded: %w", saveErr))
	}
	logOutcome(log, "transition", res, "priority", ev.Priority, "source", ev.Source)
	return res, errors.Join(errs...)
}

// logOutcome logs what a real run of res's steps did, as one line: what
// applied at info level when every step succeeded and something changed;
// at error level, when a step failed, the failed steps and the changes
// made all the same (the exit code, 1, is the caller's). Nothing when
// nothing changed and nothing failed. A dry run logs no outcome: it
// applied nothing.
func logOutcome(log *slog.Logger, what string, res *Result, attrs ...any) {
	var failed []string
	for _, s := range res.Steps {
		if s.Error != "" {
			failed = append(failed, string(s.Step.Kind))
		}
	}
	switch {
	case len(failed) > 0:
		log.Error(what+" failed: not every step applied", append([]any{"failed_steps", strings.Join(failed, ","), "changes", res.Changed}, attrs...)...)
	case res.Changed > 0:
		log.Info(what+" applied", append([]any{"changes", res.Changed}, attrs...)...)
	}
}

// newMastership applies the pool rule of a new mastership to st: the
// health `sync` recorded (also while BACKUP) is loaded when it is fresh
// (pool.Fresh), else keepalived's start state.
func newMastership(st *state.State, ev Event, prev *state.InstanceState) {
	if ev.State == Master && (prev == nil || prev.State != Master) && !pool.Fresh(st.Pools[ev.Name], time.Now()) {
		delete(st.Pools, ev.Name)
	}
}

// dryRun plans what Handle would do, creating, locking and changing
// nothing: the state is read only from a dir that is safe to trust (else
// it counts as empty, as a real run would find it after refusing or
// rebuilding it), and the event's recording is not simulated beyond the
// stale check and the pool rule of a new mastership.
func (e *Engine) dryRun(ctx context.Context, in *config.Instance, ev Event, log *slog.Logger) (*Result, error) {
	res := &Result{Event: ev, DryRun: true, Steps: []StepResult{}}
	st := &state.State{Instances: map[string]*state.InstanceState{}, Pools: map[string]*state.PoolState{}}
	if err := state.CheckDir(e.Store.Dir); err == nil {
		loaded, err := e.Store.Load()
		if err != nil {
			log.Warn("dry run: state file unreadable: planned as if it were empty", "err", err)
		} else {
			st = loaded
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Warn("dry run: state dir not used", "state_dir", e.Store.Dir, "err", err)
	}
	prev := st.Instances[ev.Name]
	if prev != nil && prev.Event.After(ev.Key) {
		res.Stale = true
		return res, nil
	}
	newMastership(st, ev, prev)
	return res, errors.Join(e.steps(ctx, in, ev, prev, nil, pool.Members(st), res, log)...)
}

// stepPlan is one step with its planned changes.
type stepPlan struct {
	step    Step
	changes []Change
	ipvs    *ipvs.LoadPlan
	vss     []*config.VirtualServer
	err     error
}

// steps plans every step of the transition first, then (unless DryRun)
// applies each step's planned changes in order, into res; it returns the
// steps' errors. prev is the instance's previous event (nil: unknown);
// cur, when set, receives the gratuitous ARP follower a MASTER run
// starts; members selects the real servers an IPVS load puts in.
//
// A step whose planning or applying fails is reported and the next steps
// still run: the VIPs and gratuitous ARP are never held back by IPVS.
func (e *Engine) steps(ctx context.Context, in *config.Instance, ev Event, prev, cur *state.InstanceState, members ipvs.MembersFunc, res *Result, log *slog.Logger) []error {
	return e.runSteps(ctx, in, ev, Steps(in, ev.State), prev, cur, members, res, log)
}

// Run plans and applies steps for in (with DryRun: plans only), with
// none of Handle's event bookkeeping: no state dir, no lock. It is how
// `realserver up|down` runs RealServerSteps; a VIP on a missing
// interface fails its step with an error wrapping vip.ErrNoInterface.
func (e *Engine) Run(ctx context.Context, in *config.Instance, steps []Step) (*Result, error) {
	ev := Event{Name: in.Name, Source: sourceCommand}
	res := &Result{Event: ev, DryRun: e.DryRun, Steps: []StepResult{}}
	errs := e.runSteps(ctx, in, ev, steps, nil, nil, ipvs.StartMembers, res, e.Log)
	return res, errors.Join(errs...)
}

func (e *Engine) runSteps(ctx context.Context, in *config.Instance, ev Event, steps []Step, prev, cur *state.InstanceState, members ipvs.MembersFunc, res *Result, log *slog.Logger) []error {
	wasMaster := prev != nil && prev.State == Master && prev.Applied
	var stale []vip.Addr
	if ev.Source == SourceReload {
		stale = prev.VIPs // ReloadVIPs passes what the reload may remove
	} else if ev.State != Master && ev.Source != sourceCommand {
		// (Run's steps act on the VIPs they are given, nothing else.)
		stale = staleVIPs(in, prev)
		if len(stale) == 0 && prev == nil {
			// Nothing says what this instance bound before (no state):
			// kahook's marked addresses that no configured instance
			// claims go too.
			stale = e.unclaimedMarked(log)
		}
	}
	var plans []*stepPlan
	planned, vipAdds := 0, 0
	for _, step := range steps {
		if step.Kind == StepGARP && ev.Source == SourceReload && vipAdds == 0 && len(stale) == 0 {
			continue // a reload announces only when its VIPs change
		}
		if step.Kind == StepGARP && wasMaster && planned == 0 {
			log.Debug("gratuitous ARP skipped: already MASTER and nothing changed; the running schedule goes on")
			continue
		}
		p := e.plan(ctx, in, step, members, log)
		if step.Kind == StepVIPDel && len(stale) > 0 && p.err == nil {
			// The VIPs bound by an earlier event and no longer in the
			// config go with the first VIP removal.
			log.Warn("releasing VIPs bound earlier that the config no longer names", "vips", fmt.Sprint(stale))
			ch, err := e.VIPs.Plan(stale, false)
			for i := range ch {
				p.changes = append(p.changes, Change{VIP: &ch[i]})
			}
			p.err = err
			stale = nil
		}
		planned += len(p.changes)
		if step.Kind == StepVIPAdd {
			vipAdds += len(p.changes)
		}
		plans = append(plans, p)
	}
	var errs []error
	prevFailed := false
	for _, p := range plans {
		if p.step.AfterSuccess && prevFailed {
			log.Error("transition step skipped: the step it depends on failed", "step", string(p.step.Kind))
			continue
		}
		sr := StepResult{Step: p.step, Changes: []Change{}}
		err := p.err
		if err == nil && e.DryRun {
			sr.Changes = append(sr.Changes, p.changes...)
		} else if err == nil {
			var done []Change
			done, err = e.apply(ctx, in, ev, p, cur, log)
			sr.Changes = append(sr.Changes, done...)
		}
		res.Changed += len(sr.Changes)
		prevFailed = err != nil
		if err != nil {
			sr.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", p.step.Kind, err))
			log.Error("transition step failed", "step", string(p.step.Kind), "err", err)
		}
		res.Steps = append(res.Steps, sr)
	}
	return errs
}

// plan reads what a step touches and returns its changes, changing
// nothing.
func (e *Engine) plan(ctx context.Context, in *config.Instance, step Step, members ipvs.MembersFunc, log *slog.Logger) *stepPlan {
	p := &stepPlan{step: step}
	switch step.Kind {
	case StepSysctl:
		ch, err := e.Sysctl.Plan(step.Role, in.Interface)
		for i := range ch {
			p.changes = append(p.changes, Change{Sysctl: &ch[i]})
		}
		p.err = err
	case StepVIPAdd, StepVIPDel:
		ch, err := e.VIPs.Plan(vipAddrs(in, step), step.Kind == StepVIPAdd)
		for i := range ch {
			p.changes = append(p.changes, Change{VIP: &ch[i]})
		}
		p.err = err
	case StepIPVSLoad, StepIPVSRemove:
		p.vss = e.Cfg.ServersOf(in.Name)
		if len(p.vss) == 0 {
			return p
		}
		if e.IPVS == nil {
			log.Warn("IPVS step skipped: no IPVS support in this run", "step", string(step.Kind))
			return p
		}
		if step.Kind == StepIPVSLoad {
			p.ipvs, p.err = e.IPVS.PlanLoad(ctx, p.vss, members)
		} else {
			p.ipvs, p.err = e.IPVS.PlanRemove(ctx, p.vss)
		}
		if p.ipvs != nil {
			for i := range p.ipvs.Changes {
				p.changes = append(p.changes, Change{IPVS: &p.ipvs.Changes[i]})
			}
		}
	case StepGARP:
		if e.Announce == nil {
			return p
		}
		p.changes = []Change{{GARP: &GARP{Interface: in.Interface, Addrs: VIPIPs(in)}}}
	default:
		p.err = fmt.Errorf("unknown step %s", step.Kind)
	}
	return p
}

// apply makes a step's planned changes, in order, and returns those made.
func (e *Engine) apply(ctx context.Context, in *config.Instance, ev Event, p *stepPlan, cur *state.InstanceState, log *slog.Logger) ([]Change, error) {
	switch p.step.Kind {
	case StepSysctl:
		for i, c := range p.changes {
			if err := e.Sysctl.Apply(p.step.Role, *c.Sysctl, log); err != nil {
				return p.changes[:i], err
			}
		}
	case StepVIPAdd, StepVIPDel:
		for i, c := range p.changes {
			if err := e.VIPs.Apply(*c.VIP); err != nil {
				return p.changes[:i], err
			}
		}
	case StepIPVSLoad, StepIPVSRemove:
		if p.ipvs == nil {
			return nil, nil
		}
		var n int
		var err error
		if p.step.Kind == StepIPVSLoad {
			n, err = e.IPVS.ApplyLoad(ctx, p.ipvs, p.vss)
		} else {
			n, err = e.IPVS.ApplyRemove(ctx, p.ipvs, p.vss)
		}
		return p.changes[:min(n, len(p.changes))], err
	case StepGARP:
		if len(p.changes) == 0 {
			return nil, nil
		}
		if cur != nil && cur.GARPPID != 0 {
			// Re-announcing: the new schedule replaces the running one.
			stopFollower(cur.GARPPID, ev.Name, log)
			cur.GARPPID, cur.GARPEvent = 0, nil
		}
		sent, pid, err := e.Announce.Announce(ctx, in, ev)
		if pid != 0 && cur != nil {
			k := ev.Key
			cur.GARPPID, cur.GARPEvent = pid, &k
		}
		g := *p.changes[0].GARP
		g.Frames = sent
		if sent == 0 {
			return nil, err
		}
		return []Change{{GARP: &g}}, err
	}
	return p.changes, nil
}

func vipAddrs(in *config.Instance, step Step) []vip.Addr {
	if step.StaleOnly {
		return nil // runSteps adds the stale ones
	}
	var out []vip.Addr
	for _, v := range in.VIPs {
		if (step.LoOnly && v.Dev != "lo") || (step.OnlyOthers && v.Dev == "lo") {
			continue
		}
		out = append(out, vip.Addr{Prefix: v.Prefix, Dev: v.Dev, Label: v.Label})
	}
	return out
}

// SourceReload is the Event.Source of ReloadVIPs.
const SourceReload = "reload"

// sourceCommand is the Event.Source of Run (`realserver up|down`): no VRRP
// event and no config of instances.
const sourceCommand = "command"

// Holds says whether this node still holds in as the MASTER s records. A
// release that went ahead without the run lock (it records itself later,
// see Settle) or without a loadable config (ReleaseWithoutConfig records
// nothing) left a MASTER record behind: such a node is not MASTER, and a
// reload must not bind, announce or load anything on it. What says so is
// what a release undoes, read from the kernel:
//   - kahook binds the VIPs (master { vip on }): the VIPs s recorded
//     that a release removes (not those a DR real server's backup { vip
//     on } keeps on lo), and that no other instance of the config names
//     (another instance may have bound them since), are all still bound;
//   - keepalived binds them (master { vip off }): one of the configured
//     VIPs is bound;
//   - else (every VIP stays bound on a BACKUP too): the ARP sysctls are
//     those of the MASTER's role, when it differs from the BACKUP's, and
//     a recorded VIP is still bound.
//
// When none of these can tell, it is false: when in doubt, act as a
// BACKUP (the next MASTER transition applies the config).
func (e *Engine) Holds(in *config.Instance, s *state.InstanceState) bool {
	if s == nil || s.State != Master {
		return false
	}
	bound := func(addrs []vip.Addr) bool {
		if len(addrs) == 0 {
			return false
		}
		missing, err := e.VIPs.Plan(addrs, true)
		return err == nil && len(missing) < len(addrs)
	}
	if !in.Master.VIP {
		return bound(vipAddrs(in, Step{}))
	}
	if len(without(boundAfter(in, Master), boundAfter(in, Backup))) > 0 {
		// A MASTER records them all; none recorded is no MASTER.
		var own []vip.Addr
		for _, a := range without(s.VIPs, boundAfter(in, Backup)) {
			if !slices.ContainsFunc(e.Cfg.Instances, func(o *config.Instance) bool { return o != in && configures(o, a) }) {
				own = append(own, a)
			}
		}
		if len(own) == 0 {
			return false
		}
		missing, err := e.VIPs.Plan(own, true)
		return err == nil && len(missing) == 0
	}
	if in.Master.Sysctl == config.RoleNone || in.Master.Sysctl == in.Backup.Sysctl {
		return false
	}
	if len(s.VIPs) > 0 && !bound(s.VIPs) {
		return false // a release without the config removed them all
	}
	ch, err := e.Sysctl.Plan(in.Master.Sysctl, in.Interface)
	return err == nil && len(ch) == 0
}

// ValidateReload reads the state (creating and changing nothing) and
// validates, as a MASTER event would be, each instance of the config it
// records as MASTER: a missing interface or an unsafe state dir is a
// *BadInputError, so that a reload refuses before it changes anything.
func (e *Engine) ValidateReload() error {
	if e.Store.Log == nil {
		e.Store.Log = e.Log
	}
	if err := state.CheckDir(e.Store.Dir); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		var unsafe *state.UnsafeError
		if errors.As(err, &unsafe) {
			return &BadInputError{Msg: err.Error()}
		}
		return err
	}
	st, err := e.Store.Load()
	if err != nil {
		return err
	}
	for _, in := range e.Cfg.Instances {
		if p := st.Instances[in.Name]; p != nil && p.State == Master {
			if _, err := e.Validate(Event{Name: in.Name, State: Master}); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReloadVIPs re-applies the VIPs of the instances this node is MASTER for
// (by the state and Holds, under the run lock) after kahook.conf changed
// and keepalived was reloaded: keepalived runs no notify for an instance
// that stays MASTER, so without this a VIP added to or moved in the config
// would stay unbound, and a VIP it dropped bound, until the next
// transition. Each instance runs ReloadSteps; the VIPs then recorded are
// the config's (plus, where a step failed, the old ones still to remove).
// The recorded event is kept as it was: a reload is not a VRRP event, and
// a keepalived BACKUP already on its way is never made stale by it. An
// instance recorded MASTER that the node no longer holds is left alone and
// logged. An instance in any other state is left alone (a release removes
// every VIP anyway; a DR real server's `backup { vip on }` keeps its lo
// VIPs until its next transition). An instance the config no longer has
// (renamed or removed) has its recorded VIPs removed, except those
// another instance of the config has bound by its record. It returns one
// Result per instance acted on.
func (e *Engine) ReloadVIPs(ctx context.Context) ([]*Result, error) {
	if e.Store.Log == nil {
		e.Store.Log = e.Log
	}
	if err := e.Store.Prepare(); err != nil {
		return nil, err
	}
	lock, err := e.Store.LockWithin(ctx, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	st, err := e.Store.Load()
	if err != nil {
		return nil, err
	}
	var out []*Result
	var errs []error
	for _, in := range e.Cfg.Instances {
		prev := st.Instances[in.Name]
		if prev == nil || prev.State != Master {
			continue
		}
		log := e.Log.With("instance", in.Name, "state", Master, "source", SourceReload)
		if !e.Holds(in, prev) {
			log.Warn("reload: the state records this instance as MASTER, but none of the VIPs it recorded is bound (released since): nothing bound or announced; the next MASTER transition applies the config", "recorded_vips", fmt.Sprint(prev.VIPs))
			continue
		}
		ev := Event{Name: in.Name, State: Master, Priority: prev.Priority, Key: prev.Event, Source: SourceReload, Received: time.Now()}
		cur := *prev
		res := &Result{Event: ev, Steps: []StepResult{}}
		// What the reload may remove: the recorded VIPs that are not
		// bound after it, and that no other instance has bound now.
		mine := *prev
		mine.VIPs = e.unclaimed(st, without(prev.VIPs, boundAfter(in, Master)), in.Name)
		if len(mine.VIPs) > 0 {
			// The running gratuitous ARP schedule (garp_master_refresh:
			// for good) names the VIPs going away: it is replaced by
			// one for the config's VIPs (the GARP step runs).
			StopFollowers(in.Name, log)
			cur.GARPPID, cur.GARPEvent = 0, nil
		}
		stepErrs := e.runSteps(ctx, in, ev, ReloadSteps(in), &mine, &cur, nil, res, log)
		cur.VIPs = boundAfter(in, Master)
		if len(stepErrs) > 0 {
			cur.VIPs = append(cur.VIPs, mine.VIPs...)
		}
		cur.Updated = time.Now()
		st.Instances[in.Name] = &cur
		if err := e.Store.Save(st); err != nil {
			stepErrs = append(stepErrs, err)
		}
		logOutcome(log, "reload of the VIPs", res)
		errs = append(errs, stepErrs...)
		out = append(out, res)
	}
	for _, name := range slices.Sorted(maps.Keys(st.Instances)) {
		prev := st.Instances[name]
		if e.Cfg.Instance(name) != nil || len(prev.VIPs) == 0 {
			continue
		}
		log := e.Log.With("instance", name, "source", SourceReload)
		// Only its recorded VIPs go (it has no config), as any reload's
		// stale VIPs do: runSteps with the one StaleOnly removal.
		gone := *prev
		gone.VIPs = e.unclaimed(st, prev.VIPs, name)
		var left []vip.Addr
		if len(gone.VIPs) > 0 {
			StopFollowers(name, log)
			ev := Event{Name: name, State: prev.State, Key: prev.Event, Source: SourceReload, Received: time.Now()}
			res := &Result{Event: ev, Steps: []StepResult{}}
			step := Step{Kind: StepVIPDel, StaleOnly: true, Reason: "the instance is no longer in the config"}
			if stepErrs := e.runSteps(ctx, &config.Instance{Name: name}, ev, []Step{step}, &gone, nil, nil, res, log); len(stepErrs) > 0 {
				errs = append(errs, stepErrs...)
				left = gone.VIPs
				for _, sr := range res.Steps {
					for _, c := range sr.Changes {
						left = without(left, []vip.Addr{c.VIP.Addr})
					}
				}
			}
			out = append(out, res)
		}
		if len(left) == 0 {
			// Nothing of it is left: no record either (an instance of
			// that name added back is not taken for a MASTER).
			delete(st.Instances, name)
		} else {
			cur := *prev
			cur.VIPs, cur.GARPPID, cur.GARPEvent, cur.Updated = left, 0, nil, time.Now()
			st.Instances[name] = &cur
		}
		if err := e.Store.Save(st); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// unclaimed is addrs without those that another instance of the config
// has bound by its record: boundAfter of its recorded state (a MASTER's
// VIPs, when the node still Holds it; a DR real server's lo VIPs in
// `backup { vip on }`). A VIP kept for another instance is added to that
// instance's recorded VIPs, so that its next release removes it.
func (e *Engine) unclaimed(st *state.State, addrs []vip.Addr, self string) []vip.Addr {
	var out []vip.Addr
	for _, a := range addrs {
		claimed := false
		for _, in := range e.Cfg.Instances {
			p := st.Instances[in.Name]
			if in.Name == self || p == nil || claimed {
				continue
			}
			if p.State == Master && !e.Holds(in, p) {
				continue
			}
			if slices.ContainsFunc(boundAfter(in, p.State), func(b vip.Addr) bool { return sameVIP(a, b) }) {
				claimed = true
				if !slices.ContainsFunc(p.VIPs, func(b vip.Addr) bool { return sameVIP(a, b) }) {
					p.VIPs = append(p.VIPs, a)
				}
			}
		}
		if !claimed {
			out = append(out, a)
		}
	}
	return out
}

// without is addrs minus those in keep (same address on the same device).
func without(addrs, keep []vip.Addr) []vip.Addr {
	var out []vip.Addr
	for _, a := range addrs {
		if !slices.ContainsFunc(keep, func(k vip.Addr) bool { return sameVIP(a, k) }) {
			out = append(out, a)
		}
	}
	return out
}

// stopFollower ends the background gratuitous ARP of an older event, if
// that pid is still instance's follower (pids are reused). The pid is
// held by a pidfd while its command line is read, so the signal reaches
// the process that was checked, not one that took the pid since.
func stopFollower(pid int, instance string, log *slog.Logger) {
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case err == nil:
		defer unix.Close(fd)
	case errors.Is(err, unix.ESRCH):
		return // gone
	default:
		fd = -1 // no pidfd (a kernel before 5.3, a seccomp filter): by pid
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !isFollowerOf(strings.Split(strings.TrimRight(string(data), "\x00"), "\x00"), instance) {
		return
	}
	// SIGKILL, not SIGTERM: a follower has nothing to clean up, and
	// one still starting up on a loaded node could send a round
	// after a SIGTERM, announcing a VIP this run is releasing.
	if fd >= 0 {
		err = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
	if fd < 0 || (err != nil && !errors.Is(err, unix.ESRCH)) {
		// No pidfd, or a filter refused pidfd_send_signal: by pid.
		err = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err == nil {
		log.Debug("stopped pending gratuitous ARP of an older event", "pid", pid)
	}
}

// isFollowerOf reports whether args, a command line, is instance's
// gratuitous ARP follower: followerArgs (`... garp --follow INSTANCE
// ...`) as consecutive arguments, as GARPStarter starts it. The instance must be --follow's value: an
// instance named like another argument of a follower (auto, garp, the
// config path) or a program that merely has --follow and the name among
// its arguments (tail --follow VI_1) is not it.
func isFollowerOf(args []string, instance string) bool {
	want := followerArgs(instance)
	for i := 0; i+len(want) <= len(args); i++ {
		if slices.Equal(args[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

// release applies a BACKUP/FAULT/STOP/DELETED whose event is newer than
// the recorded one: the steps run first and the event is recorded once,
// after them, so a run killed halfway has removed what it could before
// any fsync (the recorded event is still the older one: the next release
// is not stale and redoes it).
func (e *Engine) release(ctx context.Context, in *config.Instance, ev Event, st *state.State, prev, cur *state.InstanceState, res *Result, log *slog.Logger) (*Result, error) {
	if !e.DryRun {
		StopFollowers(ev.Name, log)
	}
	errs := e.steps(ctx, in, ev, prev, cur, pool.Members(st), res, log)
	if e.DryRun {
		return res, errors.Join(errs...)
	}
	cur.Applied = len(errs) == 0
	cur.Updated = time.Now()
	cur.VIPs = boundAfter(in, ev.State)
	if !cur.Applied && prev != nil {
		// Not all removed: the next release must still know them.
		cur.VIPs = append(cur.VIPs, staleVIPs(in, prev)...)
	}
	st.Instances[ev.Name] = cur
	if err := e.Store.Save(st); err != nil {
		log.Error("state not recorded: releasing anyway (the steps ran first)", "state_dir", e.Store.Dir, "err", err)
		errs = append(errs, fmt.Errorf("event not recorded: %w", err))
	}
	logOutcome(log, "transition", res, "priority", ev.Priority, "source", ev.Source)
	return res, errors.Join(errs...)
}

// boundAfter is what stays bound of in's VIPs once state is applied: all
// of them for a MASTER that binds VIPs, the VIPs on lo for a DR real
// server's backup { vip on }, else none.
func boundAfter(in *config.Instance, st state.VRRP) []vip.Addr {
	if st == Master {
		if !in.Master.VIP {
			return nil
		}
		return vipAddrs(in, Step{})
	}
	if in.Backup.VIP {
		return vipAddrs(in, Step{LoOnly: true})
	}
	return nil
}

// staleVIPs are the VIPs prev recorded as bound that in's config no
// longer names (same address on the same device).
func staleVIPs(in *config.Instance, prev *state.InstanceState) []vip.Addr {
	if prev == nil {
		return nil
	}
	return without(prev.VIPs, vipAddrs(in, Step{}))
}

func configures(in *config.Instance, a vip.Addr) bool {
	return slices.ContainsFunc(in.VIPs, func(v config.VIP) bool { return sameVIP(vip.Addr{Prefix: v.Prefix, Dev: v.Dev}, a) })
}

// sameVIP: the same address on the same device (prefix length and label
// aside, as the kernel holds one address once per device).
func sameVIP(a, b vip.Addr) bool {
	return a.Dev == b.Dev && a.Prefix.Addr() == b.Prefix.Addr()
}

// unclaimedMarked lists the addresses carrying kahook's marker
// (vip.Proto) that no instance of the config names: what an earlier
// config bound, when the state cannot say which instance it was.
func (e *Engine) unclaimedMarked(log *slog.Logger) []vip.Addr {
	marked, err := vip.Marked()
	if err != nil {
		log.Error("cannot list kahook's marked addresses", "err", err)
		return nil
	}
	var out []vip.Addr
	for _, a := range marked {
		claimed := false
		for _, in := range e.Cfg.Instances {
			claimed = claimed || configures(in, a)
		}
		if !claimed {
			out = append(out, a)
		}
	}
	return out
}

// StopFollowers ends every gratuitous ARP follower of instance (`kahook
// ... garp --follow INSTANCE`, this same executable, in this network
// namespace) found in /proc: a release stops announcing even when the
// state that names the follower's pid is unreadable or was never
// written.
func StopFollowers(instance string, log *slog.Logger) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	// Another network namespace is another node's (another keepalived,
	// a container, a test's node): its follower announces there, not
	// here, and the instance names of two nodes often coincide (VI_1).
	netns, _ := os.Readlink("/proc/self/ns/net")
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		// " (deleted)": a follower of the binary this one replaced (a
		// package upgrade while MASTER) is found too.
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || (exe != self && exe != self+" (deleted)") {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); netns != "" && err == nil && ns != netns {
			continue
		}
		stopFollower(pid, instance, log)
	}
}
