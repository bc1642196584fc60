package pool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// memKernel is an in-memory IPVS (the real one is in the VM tests).
type memKernel struct {
	svcs  map[string]*mobyipvs.Service
	dests map[string]map[string]*mobyipvs.Destination
}

func newMemKernel() *memKernel {
	return &memKernel{svcs: map[string]*mobyipvs.Service{}, dests: map[string]map[string]*mobyipvs.Destination{}}
}

func mkey(s *mobyipvs.Service) string {
	return fmt.Sprintf("%d/%d/%s/%d", s.FWMark, s.Protocol, s.Address, s.Port)
}
func mdkey(d *mobyipvs.Destination) string { return fmt.Sprintf("%s/%d", d.Address, d.Port) }

func (k *memKernel) GetServices() ([]*mobyipvs.Service, error) {
	var out []*mobyipvs.Service
	for _, s := range k.svcs {
		c := *s
		c.Flags |= uint32(ipvs.FlagHashed)
		out = append(out, &c)
	}
	return out, nil
}
func (k *memKernel) GetDestinations(s *mobyipvs.Service) ([]*mobyipvs.Destination, error) {
	var out []*mobyipvs.Destination
	for _, d := range k.dests[mkey(s)] {
		c := *d
		out = append(out, &c)
	}
	return out, nil
}
func (k *memKernel) NewService(s *mobyipvs.Service) error {
	if _, ok := k.svcs[mkey(s)]; ok {
		return syscall.EEXIST
	}
	c := *s
	k.svcs[mkey(s)], k.dests[mkey(s)] = &c, map[string]*mobyipvs.Destination{}
	return nil
}
func (k *memKernel) UpdateService(s *mobyipvs.Service) error {
	c := *s
	k.svcs[mkey(s)] = &c
	return nil
}
func (k *memKernel) DelService(s *mobyipvs.Service) error {
	delete(k.svcs, mkey(s))
	delete(k.dests, mkey(s))
	return nil
}
func (k *memKernel) NewDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	c := *d
	k.dests[mkey(s)][mdkey(d)] = &c
	return nil
}
func (k *memKernel) UpdateDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	return k.NewDestination(s, d)
}
func (k *memKernel) DelDestination(s *mobyipvs.Service, d *mobyipvs.Destination) error {
	delete(k.dests[mkey(s)], mdkey(d))
	return nil
}
func (k *memKernel) Flush() error { *k = *newMemKernel(); return nil }

// weights lists "address:port weight" of every destination.
func (k *memKernel) weights() string {
	var out []string
	for _, ds := range k.dests {
		for _, d := range ds {
			out = append(out, fmt.Sprintf("%s:%d w%d", d.Address, d.Port, d.Weight))
		}
	}
	return strings.Join(out, ",")
}

// TestReloadAppliesOnMaster: the reload's IPVS step (what keepalived's
// ExecReload runs after its SIGHUP) applies a changed weight on a MASTER,
// keeps a server the pool took out out, and on a BACKUP opens nothing.
func TestReloadAppliesOnMaster(t *testing.T) {
	dir := t.TempDir()
	conf := func(w int) *config.Config {
		p := filepath.Join(dir, "kahook.conf")
		os.WriteFile(p, []byte(fmt.Sprintf(`instance VI_1 {
    interface eth0
    virtual_ipaddress { 10.0.0.10 }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    lb_kind NAT
    real_server 10.0.1.1 80 { weight %d
        TCP_CHECK { connect_timeout 1 } }
    real_server 10.0.1.2 80 { weight 2
        TCP_CHECK { connect_timeout 1 } }
}
`, w)), 0o644)
		cfg, err := config.Load(p, config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, _ := state.Open(filepath.Join(dir, "state"))
	k := newMemKernel()
	open := func() (ipvs.Kernel, error) { return k, nil }
	// MASTER, with 10.0.1.2 found dead by sync.
	st, _ := store.Load()
	st.Instances["VI_1"] = &state.InstanceState{State: "MASTER", Applied: true}
	cfg := conf(2)
	vs := cfg.ServersOf("VI_1")[0]
	st.Pools["VI_1"] = &state.PoolState{Checked: time.Now(), Servers: map[string]*state.ServerState{
		ServerKey(vs, vs.RealServers[0]): {Up: true, Seen: true, Weight: -1},
		ServerKey(vs, vs.RealServers[1]): {Up: false, Seen: true, Weight: -1},
	}}
	store.Save(st)
	if _, err := Reload(context.Background(), cfg, store, open, log, 5*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if got := k.weights(); got != "10.0.1.1:80 w2" {
		t.Fatalf("first load: %s", got)
	}
	res, err := Reload(context.Background(), conf(7), store, open, log, 5*time.Second, nil)
	if err != nil || res.Changes != 1 || k.weights() != "10.0.1.1:80 w7" {
		t.Errorf("changed weight: %+v %v, table %s, want 10.0.1.1:80 w7 and the dead server out", res, err, k.weights())
	}
	// Unchanged: nothing written.
	if res, _ := Reload(context.Background(), conf(7), store, open, log, 5*time.Second, nil); res.Changes != 0 {
		t.Errorf("unchanged config wrote %d changes", res.Changes)
	}
	// BACKUP: IPVS not opened.
	st, _ = store.Load()
	st.Instances["VI_1"].State = "BACKUP"
	store.Save(st)
	res, err = Reload(context.Background(), conf(9), store, func() (ipvs.Kernel, error) {
		t.Error("IPVS opened on a BACKUP")
		return k, nil
	}, log, 5*time.Second, nil)
	if err != nil || len(res.Masters) != 0 || k.weights() != "10.0.1.1:80 w7" {
		t.Errorf("BACKUP reload: %+v %v %s", res, err, k.weights())
	}
}
