package ipvs

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/kahook/kahook/config"
)

// removalKeys is what Remove deletes for these virtual servers: their
// services, and the services kahook once loaded for the same instance
// that have since left the config; with the managed-services file as
// read.
func (m *Manager) removalKeys(vss []*config.VirtualServer) ([]ServiceKey, map[ServiceKey]string, error) {
	desired, err := Desired(vss, m.Cfg.Groups, m.members())
	if err != nil {
		return nil, nil, err
	}
	keys := make([]ServiceKey, 0, len(desired))
	for k := range desired {
		keys = append(keys, k)
	}
	managed, err := m.loadManaged()
	if err != nil {
		return nil, nil, err
	}
	own := scope(vss)
	for k, owner := range managed {
		if own != "" && owner == own {
			if _, listed := desired[k]; !listed {
				keys = append(keys, k) // loaded for this instance once, since dropped from the config
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return compareServices(keys[i], keys[j]) < 0 })
	return keys, managed, nil
}

// PlanRemove computes the changes Remove would make (one del-service per
// service present), changing nothing. Its Desired is empty: ApplyRemove
// leaves the kernel without these services.
func (m *Manager) PlanRemove(ctx context.Context, vss []*config.VirtualServer) (*LoadPlan, error) {
	keys, managed, err := m.removalKeys(vss)
	if err != nil {
		return nil, err
	}
	current, err := Read(ctx, m.K)
	if err != nil {
		return nil, err
	}
	return &LoadPlan{Changes: PlanRemove(keys, current), Desired: Table{}, managed: managed}, nil
}

// ApplyRemove performs a PlanRemove plan and verifies that the deleted
// services are gone.
func (m *Manager) ApplyRemove(ctx context.Context, p *LoadPlan, vss []*config.VirtualServer) (int, error) {
	n, err := m.Apply(ctx, p, vss)
	if err != nil || n == 0 {
		return n, err
	}
	after, err := Read(ctx, m.K)
	if err != nil {
		return n, fmt.Errorf("verify: %w", err)
	}
	for _, c := range p.Changes {
		if _, still := after[c.Service.Key]; still && c.Op == DelService {
			return n, fmt.Errorf("verify: service %s still present after delete", c.Service.Key)
		}
	}
	return n, nil
}

// Lazy opens IPVS only when a step needs it, so that a kernel without
// IPVS fails the IPVS step of a transition (exit 1, logged) but never
// its VIPs or ARP, and a node whose instances carry no virtual servers
// never opens IPVS at all. Each call is bounded by Deadline (moby/ipvs
// retries EAGAIN without end). It implements notify.IPVS.
type Lazy struct {
	Cfg      *config.Config
	StateDir string
	Log      *slog.Logger
	// Members returns the membership rule when IPVS is first opened
	// (pool.MembersAt: the health `sync` recorded, else keepalived's
	// start table).
	Members  func() MembersFunc
	Deadline time.Duration
	// Open opens the kernel's IPVS (default Open).
	Open func() (Kernel, error)
	m    *Manager
}

func (l *Lazy) manager() (*Manager, error) {
	if l.m != nil {
		return l.m, nil
	}
	open := l.Open
	if open == nil {
		open = func() (Kernel, error) { return Open() }
	}
	k, err := open()
	if err != nil {
		return nil, err
	}
	m := &Manager{K: k, Cfg: l.Cfg, StateDir: l.StateDir, Log: l.Log}
	if l.Members != nil {
		m.Members = l.Members()
	}
	l.m = m
	return m, nil
}

func (l *Lazy) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if l.Deadline <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, l.Deadline)
}

// PlanLoad is Manager.PlanLoad of these virtual servers (no --all),
// with the real servers members selects (nil: Members, else
// StartMembers).
func (l *Lazy) PlanLoad(ctx context.Context, vss []*config.VirtualServer, members MembersFunc) (*LoadPlan, error) {
	m, err := l.manager()
	if err != nil {
		return nil, err
	}
	if members != nil {
		m.Members = members
	}
	ctx, cancel := l.bound(ctx)
	defer cancel()
	return m.PlanLoad(ctx, vss, false)
}

// PlanRemove is Manager.PlanRemove.
func (l *Lazy) PlanRemove(ctx context.Context, vss []*config.VirtualServer) (*LoadPlan, error) {
	m, err := l.manager()
	if err != nil {
		return nil, err
	}
	ctx, cancel := l.bound(ctx)
	defer cancel()
	return m.PlanRemove(ctx, vss)
}

// ApplyLoad is Manager.Apply of a PlanLoad plan.
func (l *Lazy) ApplyLoad(ctx context.Context, p *LoadPlan, vss []*config.VirtualServer) (int, error) {
	m, err := l.manager()
	if err != nil {
		return 0, err
	}
	ctx, cancel := l.bound(ctx)
	defer cancel()
	return m.Apply(ctx, p, vss)
}

// ApplyRemove is Manager.ApplyRemove of a PlanRemove plan.
func (l *Lazy) ApplyRemove(ctx context.Context, p *LoadPlan, vss []*config.VirtualServer) (int, error) {
	m, err := l.manager()
	if err != nil {
		return 0, err
	}
	ctx, cancel := l.bound(ctx)
	defer cancel()
	return m.ApplyRemove(ctx, p, vss)
}

// checkForwarding refuses a real server whose lb_kind is not NAT, DR or
// TUN: at apply time an unknown method never silently becomes NAT.
func checkForwarding(vs *config.VirtualServer, ms []Member) error {
	for _, m := range ms {
		if _, err := ParseForward(m.RS.LBKind); err != nil {
			return fmt.Errorf("%s: virtual_server %s: real_server %s: %w", vs.Pos, vs.Name(), m.RS.Addr, err)
		}
	}
	return nil
}
