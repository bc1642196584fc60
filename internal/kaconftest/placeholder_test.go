package kaconftest_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestPlaceholderRealRun runs keepalived 2.2.7 with vrrp_strict (which
// turns accept off and installs an nftables DROP for keepalived's VIPs) and
// kahook as the notify, and connects to the service VIP from a client:
// with the service VIP in keepalived's virtual_ipaddress the connection is
// dropped and the VIP is on lo before kahook's MASTER run starts; with a
// placeholder (README: keepalived's VIP is a placeholder), IPv4 or IPv6
// (VRRPv3), the VIP is kahook's and answers.
func TestPlaceholderRealRun(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/keepalived"); err != nil {
		t.Skip("keepalived not installed")
	}
	kahook := testbin.Kahook(t)
	cases := []struct {
		name      string
		vip       string // keepalived's virtual_ipaddress line
		connects  bool
		vipBefore bool // the service VIP is on lo when kahook's MASTER notify starts
	}{
		{"service VIP in keepalived", "10.78.0.100/32 dev lo", false, true},
		{"IPv4 placeholder", "127.255.0.51/32 dev lo", true, false},
		{"IPv6 placeholder, VRRPv3", "fe80::5e:33/128 dev lo", true, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sw := netnstest.NewSwitch(t)
			dir := t.TempDir()
			lb := netnstest.New(t, "lb")
			cl := netnstest.New(t, "cl")
			sw.Plug(lb, "eth0", "02:78:00:00:00:01", "10.78.0.1/24")
			sw.Plug(cl, "eth0", "02:78:00:00:00:09", "10.78.0.9/24")
			lb.MustRun("ip", "-6", "addr", "add", "fd78::1/64", "dev", "eth0", "nodad")
			kconf := filepath.Join(dir, "kahook.conf")
			os.WriteFile(kconf, []byte("instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  10.78.0.100\n }\n garp_master_delay 0\n}\n"), 0o644)
			log := filepath.Join(dir, "notify.log")
			// The notify records whether the VIP was already on lo when
			// keepalived started it, then runs kahook.
			notify := filepath.Join(dir, "notify.sh")
			os.WriteFile(notify, []byte(fmt.Sprintf(`#!/bin/sh
echo "run $*" >> %[1]s.all
if [ "$3" = MASTER ]; then
  if ip -4 addr show dev lo | grep -q 10.78.0.100/; then echo vip-before >> %[1]s; else echo vip-after >> %[1]s; fi
fi
exec %[2]s --config %[3]s --state-dir %[4]s --syslog off notify "$@"
`, log, kahook, kconf, filepath.Join(dir, "state"))), 0o755)
			ka := filepath.Join(dir, "keepalived.conf")
			os.WriteFile(ka, []byte(fmt.Sprintf(`global_defs {
    vrrp_strict
    enable_script_security
    script_user root
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority 150
    advert_int 1
    virtual_ipaddress {
        %s
    }
    notify "%s"
}
`, 60+i, tc.vip, notify)), 0o644)
			kp := netnstest.Start(t, lb, "keepalived", "-n", "-l", "-D", "-P", "-f", ka,
				"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"), "-c", filepath.Join(dir, "c.pid"))
			// A server on every address of the director.
			var ln net.Listener
			if err := lb.Do(func() (err error) { ln, err = net.Listen("tcp4", "0.0.0.0:8080"); return }); err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Write([]byte("hi\n"))
					c.Close()
				}
			}()
			if !netnstest.Eventually(15*time.Second, func() bool {
				data, _ := os.ReadFile(log)
				out, _ := lb.Run("ip", "-4", "addr", "show", "dev", "lo")
				return len(data) > 0 && strings.Contains(out, "10.78.0.100/")
			}) {
				all, _ := os.ReadFile(log + ".all")
				t.Fatalf("no MASTER with the VIP on lo:\n%s\nnotify runs:\n%s", kp.Output(), all)
			}
			time.Sleep(300 * time.Millisecond) // keepalived's firewall rule follows the transition
			data, _ := os.ReadFile(log)
			if got := strings.TrimSpace(string(data)) == "vip-before"; got != tc.vipBefore {
				t.Errorf("VIP on lo before kahook's MASTER run: %v, want %v", got, tc.vipBefore)
			}
			var connErr error
			cl.Do(func() error {
				c, err := net.DialTimeout("tcp4", "10.78.0.100:8080", 2*time.Second)
				if err == nil {
					c.Close()
				}
				connErr = err
				return nil
			})
			if (connErr == nil) != tc.connects {
				t.Errorf("connect to the VIP: err=%v, want connected=%v\n%s", connErr, tc.connects, kp.Output())
			}
			lo, _ := lb.Run("ip", "addr", "show", "dev", "lo")
			if ph := strings.Fields(tc.vip)[0]; !strings.Contains(lo, ph) {
				t.Errorf("keepalived's address %s not on lo:\n%s", ph, lo)
			}
		})
	}
}
