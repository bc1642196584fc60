package ipvs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/state"
)

// managedFile records which services kahook loaded and for which
// instance, so that a service removed from the config is removed from
// the kernel too, while services kahook never loaded are never touched.
const managedFile = "ipvs-managed.json"

// Manager loads and removes the services of virtual_server blocks. Its
// callers hold the state dir's run lock.
type Manager struct {
	K        Kernel
	Cfg      *config.Config
	StateDir string
	Log      *slog.Logger
	// Members decides which real servers are in (default StartMembers).
	Members MembersFunc
	// ChangeLevel is the level each change is logged at (Info; `sync`
	// logs one summary line instead).
	ChangeLevel slog.Level
	// Current gives the kernel's table as the caller read it under the
	// same lock (a sync pass reads it to place its real servers; `ipvs
	// apply` while the config parsed), and how long that read took (for
	// PlanLoad's debug line): PlanLoad plans from it instead of reading
	// the table a second time. It is called once, after the desired table
	// is built, so a read still under way finishes meanwhile. nil, or a
	// nil table: PlanLoad reads the table.
	Current func() (Table, time.Duration)
}

// LoadPlan is what PlanLoad found: the changes to make and the table they
// lead to, and the managed-services file as read, so that Apply (under
// the same lock) does not parse a large table's file again.
type LoadPlan struct {
	Changes []Change
	Desired Table
	managed map[ServiceKey]string
}

type managedEntry struct {
	Key   ServiceKey `json:"key"`
	Owner string     `json:"owner"`
}

// loadManaged reads the managed-services file. Loading the configured
// services never depends on it: it only ever adds services to remove
// (ones kahook loaded before that left the config), so whatever is wrong
// with it leads to removing less, never more. The file is trusted only
// in a state dir no non-root user can change (state.CheckDir) and only
// as a root-owned regular file of bounded size (state.ReadFile); anything
// else (unsafe dir, symlink, garbage, wrong types) is logged at error
// level and treated as empty, and the next change rebuilds it from the
// config and the kernel (every configured service kahook loads).
func (m *Manager) loadManaged() (map[ServiceKey]string, error) {
	out := map[ServiceKey]string{}
	if m.StateDir == "" {
		return out, nil
	}
	path := filepath.Join(m.StateDir, managedFile)
	distrust := func(reason string, err error) (map[ServiceKey]string, error) {
		m.Log.Error("managed-services file not used: only services of the config are loaded or removed; it is rebuilt on the next change",
			"file", path, "reason", reason, "err", err)
		return map[ServiceKey]string{}, nil
	}
	if err := state.CheckDir(m.StateDir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return out, nil
		}
		return distrust("state dir not trusted", err)
	}
	data, err := state.ReadFile(path, state.MaxFileSize)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return distrust("unreadable", err)
	}
	var list []managedEntry
	if err := json.Unmarshal(data, &list); err != nil {
		return distrust("does not parse", err)
	}
	for _, e := range list {
		out[e.Key] = e.Owner
	}
	return out, nil
}

func (m *Manager) saveManaged(managed map[ServiceKey]string) error {
	if m.StateDir == "" {
		return nil
	}
	if err := state.CheckDir(m.StateDir); err != nil {
		// Never write into a dir others can change. The run that got
		// here is a release without a usable state dir (a MASTER refuses
		// such a dir): it already reported that nothing is recorded.
		m.Log.Debug("managed services not recorded", "err", err)
		return nil
	}
	list := make([]managedEntry, 0, len(managed))
	for k, o := range managed {
		list = append(list, managedEntry{Key: k, Owner: o})
	}
	sort.Slice(list, func(i, j int) bool { return compareServices(list[i].Key, list[j].Key) < 0 })
	data, err := json.MarshalIndent(list, "", " ")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(filepath.Join(m.StateDir, managedFile), data, 0o600)
}

func (m *Manager) members() MembersFunc {
	if m.Members != nil {
		return m.Members
	}
	return StartMembers
}

// scope is the owner label of a set of virtual servers: the instance
// that owns them all, or "" for a mixed set (`ipvs apply` of the config).
func scope(vss []*config.VirtualServer) string {
	if len(vss) == 0 {
		return ""
	}
	s := vss[0].Instance
	for _, vs := range vss[1:] {
		if vs.Instance != s {
			return ""
		}
	}
	return s
}

// PlanLoad computes the changes Load would make.
func (m *Manager) PlanLoad(ctx context.Context, vss []*config.VirtualServer, all bool) (*LoadPlan, error) {
	t0 := time.Now()
	desired, err := Desired(vss, m.Cfg.Groups, m.members())
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	var current Table
	var readTook time.Duration
	if m.Current != nil {
		current, readTook = m.Current() // read by the caller: logged as the read it was
	}
	if current == nil {
		t := time.Now()
		if current, err = Read(ctx, m.K); err != nil {
			return nil, err
		}
		readTook = time.Since(t)
	}
	t2 := time.Now()
	desiredTook := t1.Sub(t0)
	// The managed-services file only ever adds services to remove: ones
	// the kernel holds that the config no longer has. When the kernel
	// holds the config's services and no other, exactly as the config
	// says, there is nothing to remove and nothing to record, whatever
	// the file says: an unchanged re-apply does not read it (1,000
	// services: about 20M instructions of JSON, 80 ms in the VM).
	if onlyDesired(desired, current) && inSync(desired, current, nil) {
		m.Log.Debug("IPVS planned", "services", len(desired), "desired", desiredTook, "read", readTook, "managed_file", "not needed", "plan", time.Since(t2))
		return &LoadPlan{Desired: desired}, nil
	}
	managed, err := m.loadManaged()
	if err != nil {
		return nil, err
	}
	t3 := time.Now()
	defer func() {
		m.Log.Debug("IPVS planned", "services", len(desired), "desired", desiredTook, "read", readTook, "managed_file", t3.Sub(t2), "plan", time.Since(t3))
	}()
	own := scope(vss)
	stale := make([]ServiceKey, 0, len(managed))
	for k, owner := range managed {
		if own == "" || owner == own {
			stale = append(stale, k)
		}
	}
	if all {
		// --all: the config is the whole truth; every other service goes.
		stale = stale[:0]
		for k := range current {
			stale = append(stale, k)
		}
	}
	slices.SortFunc(stale, compareServices) // sort.Slice's order, without its reflection
	return &LoadPlan{Changes: Plan(desired, current, stale), Desired: desired, managed: managed}, nil
}

// onlyDesired reports whether every service of current is in desired.
func onlyDesired(desired, current Table) bool {
	if len(current) > len(desired) {
		return false
	}
	for k := range current {
		if _, ok := desired[k]; !ok {
			return false
		}
	}
	return true
}

// Load makes the kernel hold these services exactly, verifies the result
// by reading it back, and returns the number of changes. It implements
// notify.IPVS.
func (m *Manager) Load(ctx context.Context, vss []*config.VirtualServer) (int, error) {
	return m.LoadAll(ctx, vss, false)
}

// LoadAll is Load; with all, services outside the config are removed too.
func (m *Manager) LoadAll(ctx context.Context, vss []*config.VirtualServer, all bool) (int, error) {
	p, err := m.PlanLoad(ctx, vss, all)
	if err != nil {
		return 0, err
	}
	return m.Apply(ctx, p, vss)
}

// Apply performs planned changes, records which services kahook now
// manages, and verifies the result by reading the table back.
func (m *Manager) Apply(ctx context.Context, p *LoadPlan, vss []*config.VirtualServer) (int, error) {
	changes, desired, managed := p.Changes, p.Desired, p.managed
	if len(changes) == 0 {
		return 0, nil // nothing written, so nothing to record or verify
	}
	own := scope(vss)
	for k := range desired {
		managed[k] = own
	}
	// Record ownership before writing: a run killed midway still knows
	// the services it may have created.
	if len(changes) > 0 {
		if err := m.saveManaged(managed); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	done, refused, err := Apply(ctx, m.K, changes)
	m.Log.Debug("IPVS written", "changes", len(changes), "took", time.Since(t0))
	n := len(done)
	for _, c := range done {
		m.Log.Log(ctx, m.ChangeLevel, "IPVS changed", "op", string(c.Op), "service", c.Service.Key.String(), "dest", destName(c.Dest), "weight", destWeight(c.Dest), "reason", c.Reason)
	}
	for _, c := range refused {
		m.Log.Error("IPVS change refused by the kernel; the others were applied", "op", string(c.Op), "service", c.Service.Key.String(), "dest", destName(c.Dest), "reason", c.Reason)
	}
	if err != nil && len(refused) == 0 {
		return n, err // the run was cut short (deadline)
	}
	for _, c := range done {
		if c.Op == DelService {
			delete(managed, c.Service.Key)
		}
	}
	if len(changes) > 0 {
		if serr := m.saveManaged(managed); serr != nil {
			return n, errors.Join(err, serr)
		}
		// Verify what was written; what the kernel refused is reported
		// by err already and must not fail the check of the rest.
		if verr := m.verify(ctx, withoutRefused(desired, refused)); verr != nil {
			return n, errors.Join(err, verr)
		}
	}
	return n, err
}

// withoutRefused is desired less the services and destinations the
// kernel refused to add or change (as the kernel now holds them, the next
// run plans them again).
func withoutRefused(desired Table, refused []Change) Table {
	if len(refused) == 0 {
		return desired
	}
	out := make(Table, len(desired))
	for k, e := range desired {
		out[k] = e
	}
	for _, c := range refused {
		e, ok := out[c.Service.Key]
		if !ok {
			continue
		}
		if c.Op == AddService || c.Op == UpdateService {
			delete(out, c.Service.Key)
			continue
		}
		if c.Dest != nil {
			dests := make(map[DestKey]*Dest, len(e.Dests))
			for dk, d := range e.Dests {
				if dk != c.Dest.Key {
					dests[dk] = d
				}
			}
			out[c.Service.Key] = &Entry{Service: e.Service, Dests: dests}
		}
	}
	return out
}

// Remove deletes the services of these virtual servers. It implements
// notify.IPVS.
func (m *Manager) Remove(ctx context.Context, vss []*config.VirtualServer) (int, error) {
	keys, managed, err := m.removalKeys(vss)
	if err != nil {
		return 0, err
	}
	return m.removeKeys(ctx, keys, managed)
}

// Flush removes every service kahook manages (its config's, and those it
// loaded before), leaving others alone.
func (m *Manager) Flush(ctx context.Context) (int, error) {
	desired, err := Desired(m.Cfg.VirtualServers, m.Cfg.Groups, m.members())
	if err != nil {
		return 0, err
	}
	managed, err := m.loadManaged()
	if err != nil {
		return 0, err
	}
	set := map[ServiceKey]bool{}
	for k := range desired {
		set[k] = true
	}
	for k := range managed {
		set[k] = true
	}
	keys := make([]ServiceKey, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return compareServices(keys[i], keys[j]) < 0 })
	return m.removeKeys(ctx, keys, managed)
}

func (m *Manager) removeKeys(ctx context.Context, keys []ServiceKey, managed map[ServiceKey]string) (int, error) {
	current, err := Read(ctx, m.K)
	if err != nil {
		return 0, err
	}
	changes := PlanRemove(keys, current)
	done, _, err := Apply(ctx, m.K, changes)
	n := len(done)
	for _, c := range done {
		m.Log.Log(ctx, m.ChangeLevel, "IPVS changed", "op", string(c.Op), "service", c.Service.Key.String(), "reason", c.Reason)
		delete(managed, c.Service.Key)
	}
	if n > 0 {
		if serr := m.saveManaged(managed); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		return n, err
	}
	if n > 0 {
		after, err := Read(ctx, m.K)
		if err != nil {
			return n, err
		}
		for _, k := range keys {
			if _, still := after[k]; still {
				return n, fmt.Errorf("verify: service %s still present after delete", k)
			}
		}
	}
	return n, nil
}

// verify reads the table back: kahook never reports success for a write
// the kernel did not keep.
func (m *Manager) verify(ctx context.Context, desired Table) error {
	t0 := time.Now()
	defer func() { m.Log.Debug("IPVS verified", "took", time.Since(t0)) }()
	after, err := Read(ctx, m.K)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if left := Plan(desired, after, nil); len(left) > 0 {
		return fmt.Errorf("verify: the kernel does not hold what was written (%d differences, first: %s)", len(left), left[0])
	}
	return nil
}

// FlushAll is `ipvsadm -C`.
func FlushAll(ctx context.Context, k Kernel, log *slog.Logger) error {
	_, err := bounded(ctx, "flush IPVS", func() (struct{}, error) { return struct{}{}, k.Flush() })
	if err == nil {
		log.Info("IPVS table flushed (all services)")
	}
	return err
}

func destName(d *Dest) string {
	if d == nil {
		return ""
	}
	return d.Key.String()
}

func destWeight(d *Dest) int {
	if d == nil {
		return 0
	}
	return d.Weight
}
