package pool_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
	"github.com/kahook/kahook/pool"
	"github.com/kahook/kahook/state"
)

// TestKeepalivedBackupKnowsHealth: two directors run keepalived 2.2.7
// with kahook as notify and `kahook sync` as a tracked vrrp_script (the
// shipped wiring). While B is BACKUP its sync passes check the real
// servers (one up, one dead); when A's keepalived stops, B's MASTER
// transition keeps that health, so the table B loads (pool.Members) holds
// only the live server. (This host has no IPVS: the table itself is
// checked in the VM tests; here the decision B's notify loads from.)
func TestKeepalivedBackupKnowsHealth(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/keepalived"); err != nil {
		t.Skip("keepalived not installed")
	}
	bin := testbin.Kahook(t)
	sw := netnstest.NewSwitch(t)
	a := netnstest.New(t, "ka")
	b := netnstest.New(t, "kb")
	rs := netnstest.New(t, "rs")
	sw.Plug(a, "eth0", "02:00:00:00:0b:01", "10.11.0.1/24")
	sw.Plug(b, "eth0", "02:00:00:00:0b:02", "10.11.0.2/24")
	sw.Plug(rs, "eth0", "02:00:00:00:0b:11", "10.11.0.11/24")
	var ln net.Listener
	if err := rs.Do(func() (err error) { ln, err = net.Listen("tcp4", "10.11.0.11:8080"); return }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	netnstest.AcceptAndClose(ln)
	start := func(ns *netnstest.NS, prio int, dir string) *netnstest.Proc {
		kconf := filepath.Join(dir, "kahook.conf")
		os.WriteFile(kconf, []byte(`global_defs { state_dir `+filepath.Join(dir, "state")+` }
instance VI_1 {
    interface eth0
    virtual_ipaddress {
        10.11.0.100
    }
    garp_master_delay 0
}
virtual_server 10.11.0.100 80 {
    protocol TCP
    lb_kind DR
    real_server 10.11.0.11 8080 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.11.0.12 8080 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`), 0o644)
		k := bin + " --config " + kconf + " --syslog off"
		ka := filepath.Join(dir, "keepalived.conf")
		os.WriteFile(ka, []byte(fmt.Sprintf(`global_defs {
    enable_script_security
    script_user root
}
vrrp_script kahook_sync {
    script "%s sync --deadline 4s VI_1"
    interval 1
    timeout 6
    weight 10
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 71
    priority %d
    advert_int 1
    virtual_ipaddress {
        127.255.0.71/32 dev lo
    }
    track_script {
        kahook_sync
    }
    notify "%s notify"
}
`, k, prio, k)), 0o644)
		return netnstest.Start(t, ns, "keepalived", "-n", "-l", "-D", "-P", "-f", ka,
			"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"), "-c", filepath.Join(dir, "c.pid"))
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	pa := start(a, 150, dirA)
	time.Sleep(500 * time.Millisecond)
	pb := start(b, 100, dirB)
	store := &state.Store{Dir: filepath.Join(dirB, "state")}
	load := func() *state.State {
		data, err := os.ReadFile(filepath.Join(store.Dir, "state.json"))
		if err != nil {
			return nil
		}
		var st state.State
		if json.Unmarshal(data, &st) != nil {
			return nil
		}
		return &st
	}
	dead := "10.11.0.100:tcp:80 10.11.0.12:80" // DR: the service's port (checked on 8080, as keepalived does)
	// B is BACKUP and its passes have found the dead server.
	if !netnstest.Eventually(20*time.Second, func() bool {
		st := load()
		if st == nil || st.Instances["VI_1"] == nil || st.Instances["VI_1"].State != "BACKUP" || st.Pools["VI_1"] == nil {
			return false
		}
		s := st.Pools["VI_1"].Servers[dead]
		return s != nil && !s.Up
	}) {
		st, _ := json.Marshal(load())
		t.Fatalf("B as BACKUP never recorded the dead server: %s\n%s", st, pb.Output())
	}
	pa.Stop() // A's keepalived stops: B takes over
	var st *state.State
	if !netnstest.Eventually(15*time.Second, func() bool {
		st = load()
		return st != nil && st.Instances["VI_1"] != nil && st.Instances["VI_1"].State == "MASTER"
	}) {
		t.Fatalf("B never became MASTER:\n%s", pb.Output())
	}
	cfg, err := config.Load(filepath.Join(dirB, "kahook.conf"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var in []string
	for _, m := range pool.Members(st)(cfg.ServersOf("VI_1")[0]) {
		in = append(in, m.RS.Endpoint())
	}
	if strings.Join(in, " ") != "10.11.0.11:80" {
		js, _ := json.Marshal(st)
		t.Errorf("the new MASTER loads %v, want only the live server\nstate: %s", in, js)
	}
}
