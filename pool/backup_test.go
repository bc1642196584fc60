package pool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// TestBackupPassRecordsHealth: on a node that is not MASTER, sync runs the
// checks (real TCP checks against loopback servers here), records the
// verdicts and the quorum, never opens IPVS, and a new MASTER's table
// (Members) then holds only the servers that are up, as keepalived's
// always-running checker gives it.
func TestBackupPassRecordsHealth(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	netnstest.AcceptAndClose(ln)
	dead, _ := net.Listen("tcp4", "127.0.0.1:0")
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close() // nothing listens: connection refused
	upPort := ln.Addr().(*net.TCPAddr).Port

	conf := func(both bool) string {
		second := fmt.Sprintf("127.0.0.1 %d", deadPort)
		if both {
			second = fmt.Sprintf("127.0.0.2 %d", deadPort)
		}
		first := fmt.Sprintf("127.0.0.1 %d", upPort)
		if both {
			first = fmt.Sprintf("127.0.0.1 %d", deadPort)
		}
		return fmt.Sprintf(`instance VI_1 {
    interface eth0
    virtual_ipaddress {
        10.0.0.10
    }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    lb_kind NAT
    real_server %s {
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server %s {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`, first, second)
	}
	for _, tc := range []struct {
		name     string
		state    string // the instance's VRRP state ("" for none recorded)
		allDead  bool
		wantExit int
	}{
		{"BACKUP, one dead", "BACKUP", false, 0},
		{"FAULT, one dead", "FAULT", false, 0},
		{"no event yet, one dead", "", false, 0},
		{"BACKUP, all dead: quorum lost", "BACKUP", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("kahook.conf", []byte(conf(tc.allDead)), config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			store, err := state.Open(filepath.Join(t.TempDir(), "state"))
			if err != nil {
				t.Fatal(err)
			}
			st, _ := store.Load()
			if tc.state != "" {
				st.Instances["VI_1"] = &state.InstanceState{State: state.VRRP(tc.state), Applied: true}
			}
			// A drain left over from an earlier mastership is void here.
			st.Pools["VI_1"] = &state.PoolState{Servers: map[string]*state.ServerState{}}
			vs := cfg.ServersOf("VI_1")[0]
			st.Pools["VI_1"].Servers[ServerKey(vs, vs.RealServers[1])] = &state.ServerState{Up: false, Seen: true, Weight: -1, DrainSince: time.Now()}
			if err := store.Save(st); err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), Options{
				Cfg: cfg, Store: store, Instance: "VI_1", Deadline: 5 * time.Second,
				OpenIPVS: func() (ipvs.Kernel, error) {
					t.Error("IPVS opened on a node that is not MASTER")
					return nil, fmt.Errorf("not on a BACKUP")
				},
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Master || rep.Exit != tc.wantExit || len(rep.Changes) != 0 {
				t.Errorf("report: master=%v exit=%d changes=%v, want false %d none", rep.Master, rep.Exit, rep.Changes, tc.wantExit)
			}
			st, _ = store.Load()
			ps := st.Pools["VI_1"]
			if !Fresh(ps, time.Now()) {
				t.Errorf("pass not recorded as fresh: %+v", ps)
			}
			var in []string
			for _, m := range Members(st)(vs) {
				in = append(in, m.RS.Endpoint())
			}
			want := []string{vs.RealServers[0].Endpoint()}
			if tc.allDead {
				want = nil
			}
			if fmt.Sprint(in) != fmt.Sprint(want) {
				t.Errorf("a new MASTER would load %v, want %v (pool %+v)", in, want, ps.Servers)
			}
			for k, s := range ps.Servers {
				if !s.DrainSince.IsZero() {
					t.Errorf("%s: drain kept on a node without the table", k)
				}
			}
		})
	}
}

// TestFresh: a new MASTER trusts a pool recorded within FreshFor only.
func TestFresh(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		ps   *state.PoolState
		want bool
	}{
		{"none", nil, false},
		{"never checked", &state.PoolState{}, false},
		{"just checked", &state.PoolState{Checked: now.Add(-5 * time.Second)}, true},
		{"stale", &state.PoolState{Checked: now.Add(-FreshFor - time.Second)}, false},
		{"from the future", &state.PoolState{Checked: now.Add(2 * FreshFor)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Fresh(tc.ps, now); got != tc.want {
				t.Errorf("Fresh = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReloadServers: a reload applies the services of MASTER instances
// only.
func TestReloadServers(t *testing.T) {
	cfg, err := config.Parse("kahook.conf", []byte(`instance A {
    interface eth0
    virtual_ipaddress { 10.0.0.10 }
}
instance B {
    interface eth0
    virtual_ipaddress { 10.0.0.20 }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    real_server 10.0.1.1 80 { }
}
virtual_server 10.0.0.20 80 {
    protocol TCP
    real_server 10.0.1.2 80 { }
}
`), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		states  map[string]string
		masters string
		servers string
	}{
		{"none recorded", nil, "", ""},
		{"A MASTER", map[string]string{"A": "MASTER", "B": "BACKUP"}, "A", "10.0.0.10:tcp:80"},
		{"both MASTER", map[string]string{"A": "MASTER", "B": "MASTER"}, "A B", "10.0.0.10:tcp:80 10.0.0.20:tcp:80"},
		{"FAULT", map[string]string{"A": "FAULT"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &state.State{Instances: map[string]*state.InstanceState{}}
			for n, s := range tc.states {
				st.Instances[n] = &state.InstanceState{State: state.VRRP(s)}
			}
			vss, masters := ReloadServers(cfg, st, nil)
			var names []string
			for _, vs := range vss {
				names = append(names, vs.Name())
			}
			if got := strings.Join(masters, " "); got != tc.masters {
				t.Errorf("masters %q, want %q", got, tc.masters)
			}
			if got := strings.Join(names, " "); got != tc.servers {
				t.Errorf("servers %q, want %q", got, tc.servers)
			}
		})
	}
}

// TestFileCheckMovesWeight: a FILE_CHECK's number sets the weight a new
// MASTER loads (keepalived: weight + number x track weight), and takes the
// server out with weight 0 and a non-zero number.
func TestFileCheckMovesWeight(t *testing.T) {
	dir := t.TempDir()
	conf := fmt.Sprintf(`track_file a {
    file %[1]s/a
    weight 2
}
track_file b {
    file %[1]s/b
    weight 0
}
instance VI_1 {
    interface eth0
    virtual_ipaddress { 10.0.0.10 }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    real_server 10.0.1.1 80 {
        weight 1
        FILE_CHECK {
            track_file a
        }
    }
    real_server 10.0.1.2 80 {
        FILE_CHECK {
            track_file b
        }
    }
}
`, dir)
	os.WriteFile(dir+"/a", []byte("3\n"), 0o644)
	os.WriteFile(dir+"/b", []byte("1\n"), 0o644)
	cfg, err := config.Parse("kahook.conf", []byte(conf), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, _ := state.Open(rootOnlyDir(t))
	if _, err := Run(context.Background(), Options{Cfg: cfg, Store: store, Instance: "VI_1",
		OpenIPVS: func() (ipvs.Kernel, error) { return nil, fmt.Errorf("no IPVS on a BACKUP") },
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	st, _ := store.Load()
	var got []string
	for _, m := range Members(st)(cfg.ServersOf("VI_1")[0]) {
		got = append(got, fmt.Sprintf("%s w%d", m.RS.Endpoint(), m.Weight))
	}
	if strings.Join(got, ",") != "10.0.1.1:80 w7" {
		t.Errorf("members %v, want 10.0.1.1:80 at 1+3x2=7 and 10.0.1.2 out", got)
	}
}

// rootOnlyDir is a new state dir as kahook creates it (0700): t.TempDir's
// is 0755, which state.Open refuses (issue 15 case 2).
func rootOnlyDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}
