package pool

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// ReloadResult is what a reload did.
type ReloadResult struct {
	Masters []string `json:"master_instances"`
	Changes int      `json:"ipvs_changes"`
	// VIPChanges counts the VIP, sysctl and gratuitous ARP changes the
	// reload made (notify.Engine.ReloadVIPs).
	VIPChanges int `json:"vip_changes"`
}

// Reload applies a (validated) config's IPVS services for the instances
// this node is MASTER for according to the state, under the run lock,
// keeping the pool's health decisions (Members); it opens IPVS only when
// there is something to apply. This is `kahook reload`, which keepalived's
// ExecReload runs on `systemctl reload keepalived`.
//
// holds (nil: every MASTER record) filters the instances: see
// ReloadServers.
func Reload(ctx context.Context, cfg *config.Config, store *state.Store, open func() (ipvs.Kernel, error), log *slog.Logger, deadline time.Duration, holds func(*config.Instance, *state.InstanceState) bool) (*ReloadResult, error) {
	lock, err := store.LockWithin(ctx, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	st, err := store.Load()
	if err != nil {
		return nil, err
	}
	vss, masters := ReloadServers(cfg, st, holds)
	res := &ReloadResult{Masters: masters}
	if len(vss) == 0 {
		log.Debug("reload: config valid; nothing to apply on this node", "master_instances", strings.Join(masters, ","))
		return res, nil
	}
	k, err := open()
	if err != nil {
		return res, err
	}
	m := &ipvs.Manager{K: k, Cfg: cfg, StateDir: store.Dir, Log: log, Members: Members(st)}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	n, err := m.LoadAll(ctx, vss, false)
	res.Changes = n
	if err != nil {
		return res, err
	}
	if n > 0 {
		log.Info("reload applied", "instances", strings.Join(masters, ","), "ipvs_changes", n)
	}
	return res, nil
}
