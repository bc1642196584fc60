package pool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// countingKernel counts the table reads (one GetServices per read).
type countingKernel struct {
	*memKernel
	reads int
}

func (k *countingKernel) GetServices() ([]*mobyipvs.Service, error) {
	k.reads++
	return k.memKernel.GetServices()
}

// TestMasterPassReadsTheTableOnce (issue 18): a sync pass on the MASTER
// plans its IPVS changes from the table it read to place its real
// servers, under the same lock, instead of reading it again: an
// unchanged pass reads the table once (it read it twice before, a second
// dump of every destination), and a pass that changes it reads it once
// more, to verify its writes.
func TestMasterPassReadsTheTableOnce(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	netnstest.AcceptAndClose(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	p := filepath.Join(dir, "kahook.conf")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(`instance VI_1 {
    interface eth0
    virtual_ipaddress { 10.0.0.10 }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    lb_kind NAT
    real_server 127.0.0.1 %d {
        TCP_CHECK { connect_timeout 1 }
    }
}
`, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := store.Load()
	st.Instances["VI_1"] = &state.InstanceState{State: state.Master, Applied: true}
	if err := store.Save(st); err != nil {
		t.Fatal(err)
	}
	k := &countingKernel{memKernel: newMemKernel()}
	pass := func() *Report {
		t.Helper()
		rep, err := Run(context.Background(), Options{Cfg: cfg, Store: store, Instance: "VI_1", Deadline: 5 * time.Second,
			OpenIPVS: func() (ipvs.Kernel, error) { return k, nil }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	for i, want := range []struct{ changes, reads int }{{2, 2}, {0, 1}, {0, 1}} {
		k.reads = 0
		rep := pass()
		if len(rep.Changes) != want.changes || k.reads != want.reads || !rep.Master {
			t.Errorf("pass %d: %d changes (%v), %d table reads; want %d changes, %d reads", i+1, len(rep.Changes), rep.Changes, k.reads, want.changes, want.reads)
		}
	}
	if got := k.weights(); got != fmt.Sprintf("127.0.0.1:%d w1", port) {
		t.Errorf("table %s, want the real server in", got)
	}
}
