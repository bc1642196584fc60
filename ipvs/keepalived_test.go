package ipvs

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/kahook/kahook/logging"
)

// TestRefusedDestinationDoesNotStopTheRest: the kernel refuses one
// destination (lthreshold without uthreshold: ERANGE); keepalived logs it
// and loads everything else. kahook applies every other change, reports
// the refused one, and its verify does not fail because of it; the next
// run tries the refused one again and nothing else.
func TestRefusedDestinationDoesNotStopTheRest(t *testing.T) {
	cfg := parse(t, `
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_kind NAT
    real_server 198.51.100.1 80 { lthreshold 10 }
    real_server 198.51.100.2 80 { }
}
virtual_server 192.0.2.11 80 {
    protocol TCP
    real_server 198.51.100.3 80 { }
}
`)
	k := newFakeKernel()
	m := &Manager{K: k, Cfg: cfg, StateDir: t.TempDir(), Log: logging.Discard()}
	ctx := context.Background()
	n, err := m.Load(ctx, cfg.VirtualServers)
	var refused *Refused
	if !errors.As(err, &refused) || !errors.Is(err, syscall.ERANGE) || !strings.Contains(err.Error(), "198.51.100.1:80") {
		t.Fatalf("error = %v, want the refused 198.51.100.1:80 (ERANGE)", err)
	}
	if strings.Contains(err.Error(), "verify") {
		t.Errorf("verify failed because of the refused destination: %v", err)
	}
	if n != 4 {
		t.Errorf("changes made = %d, want 4 (two services, two destinations)", n)
	}
	cur, rerr := Read(ctx, k)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if e := cur[key("192.0.2.11", 80)]; e == nil || len(e.Dests) != 1 {
		t.Errorf("the second virtual server was not loaded: %v", e)
	}
	if e := cur[key("192.0.2.10", 80)]; e == nil || len(e.Dests) != 1 {
		t.Errorf("the first virtual server's other destination was not loaded: %v", e)
	}
	writes := k.writes
	if _, err := m.Load(ctx, cfg.VirtualServers); err == nil || k.writes != writes+1 {
		t.Errorf("second run: err=%v, writes %d, want one retried write that fails again", err, k.writes-writes)
	}
}

// TestStartMembersLikeKeepalived: the table keepalived's checker loads
// at start (ipwrapper.c init_service_rs, update_quorum_state, the
// sorry_server_inhibit step), measured in the VM with keepalived 2.2.7.
func TestStartMembersLikeKeepalived(t *testing.T) {
	cases := []struct {
		name, conf string
		want       string // ADDR:PORT/WEIGHT of the service 192.0.2.10:80, sorted
	}{
		{"sorry_server_inhibit is in at weight 0", `
 sorry_server 198.51.100.99 80
 sorry_server_inhibit
 real_server 198.51.100.1 80 { weight 2 }`, "198.51.100.1:80/2 198.51.100.99:80/0"},
		{"sorry server without inhibit stays out", `
 sorry_server 198.51.100.99 80
 real_server 198.51.100.1 80 { weight 2 }`, "198.51.100.1:80/2"},
		{"inhibit_on_failure and alpha: in at weight 0", `
 inhibit_on_failure
 real_server 198.51.100.1 80 { weight 2
   MISC_CHECK { misc_path /bin/true
     alpha }
 }
 real_server 198.51.100.2 80 { weight 3 }`, "198.51.100.1:80/0 198.51.100.2:80/3"},
		{"alpha without inhibit: out", `
 real_server 198.51.100.1 80 { weight 2
   MISC_CHECK { misc_path /bin/true
     alpha }
 }
 real_server 198.51.100.2 80 { weight 3 }`, "198.51.100.2:80/3"},
		{"quorum down with inhibit: servers at 0, sorry server in", `
 quorum 5
 inhibit_on_failure
 sorry_server 198.51.100.99 80
 real_server 198.51.100.1 80 { weight 2
   MISC_CHECK { misc_path /bin/true
     alpha }
 }
 real_server 198.51.100.2 80 { weight 3 }`, "198.51.100.1:80/0 198.51.100.2:80/0 198.51.100.99:80/1"},
		{"all weights 0 with a sorry server: hysteresis underflow, sorry server in", `
 sorry_server 198.51.100.99 80
 real_server 198.51.100.1 80 { weight 0 }`, "198.51.100.99:80/1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parse(t, "virtual_server 192.0.2.10 80 {\n protocol TCP\n"+tc.conf+"\n}\n")
			e := desired(t, cfg)[key("192.0.2.10", 80)]
			var got []string
			for _, d := range e.SortedDests() {
				got = append(got, d.Key.String()+"/"+itoa(d.Weight))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("table = %s, want %s", g, tc.want)
			}
		})
	}
}

// TestPersistenceEngine: keepalived sets the engine of persistent services
// only, and a re-apply of a service with an engine changes nothing (the
// engine is not read back, see serviceDiff).
func TestPersistenceEngine(t *testing.T) {
	cfg := parse(t, `
virtual_server 192.0.2.10 5060 {
    protocol UDP
    persistence_timeout 60
    persistence_engine sip
    real_server 198.51.100.1 5060 { }
}
virtual_server 192.0.2.11 5060 {
    protocol UDP
    persistence_engine sip
    real_server 198.51.100.1 5060 { }
}
`)
	d := desired(t, cfg)
	udp := func(a string) ServiceKey { k := key(a, 5060); k.Protocol = ProtoUDP; return k }
	if pe := d[udp("192.0.2.10")].Service.PEName; pe != "sip" {
		t.Errorf("persistent service engine = %q, want sip", pe)
	}
	if pe := d[udp("192.0.2.11")].Service.PEName; pe != "" {
		t.Errorf("engine without persistence_timeout = %q, want none (keepalived sets none)", pe)
	}
	k := newFakeKernel()
	m := &Manager{K: k, Cfg: cfg, StateDir: t.TempDir(), Log: logging.Discard()}
	ctx := context.Background()
	if _, err := m.Load(ctx, cfg.VirtualServers); err != nil {
		t.Fatalf("first load: %v", err)
	}
	if n, err := m.Load(ctx, cfg.VirtualServers); err != nil || n != 0 {
		t.Fatalf("second load: n=%d err=%v, want nothing to do", n, err)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
