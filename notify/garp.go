package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kahook/kahook/arp"
	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/state"
)

// ScheduleOf is the gratuitous ARP schedule of an instance.
func ScheduleOf(in *config.Instance) arp.Schedule {
	return arp.Schedule{
		Repeat:        in.GARP.Repeat,
		Interval:      in.GARP.Interval,
		Delay:         in.GARP.Delay,
		Refresh:       in.GARP.Refresh,
		RefreshRepeat: in.GARP.RefreshRepeat,
	}
}

// VIPIPs lists the addresses of an instance's VIPs.
func VIPIPs(in *config.Instance) []netip.Addr {
	out := make([]netip.Addr, len(in.VIPs))
	for i, v := range in.VIPs {
		out[i] = v.Prefix.Addr()
	}
	return out
}

// GARPStarter is the real Announcer: it sends round 0 itself, so the
// neighbours move before notify returns, and re-executes kahook in the
// background (its own session, so keepalived's kill of the notify
// process group does not take it) for the rest of the schedule.
type GARPStarter struct {
	Exe  string   // kahook binary; "" sends round 0 only
	Args []string // global flags for the follower (--config, --state-dir...)
	Log  *slog.Logger
}

// Announce implements Announcer.
func (g *GARPStarter) Announce(_ context.Context, in *config.Instance, ev Event) (int, int, error) {
	a, closeFn, err := dialAnnouncer(in, g.Log)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	sent, err := a.Round(VIPIPs(in))
	closeFn()
	if sent > 0 {
		g.Log.Info("gratuitous ARP sent", "instance", in.Name, "interface", in.Interface, "frames", sent, "round", 1)
	}
	if err != nil {
		return sent, 0, err
	}
	if _, more := ScheduleOf(in).At(1); !more || g.Exe == "" {
		return sent, 0, nil
	}
	args := append(append(append([]string{}, g.Args...), followerArgs(in.Name)...),
		"--event", formatKey(ev.Key), "--start", strconv.FormatInt(start.UnixNano(), 10))
	cmd := exec.Command(g.Exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return sent, 0, fmt.Errorf("start background gratuitous ARP: %w", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return sent, pid, nil
}

// followerArgs are the words of a follower's command line that name it
// the instance's follower: started with them (GARPStarter), recognised by
// them as consecutive arguments (isFollowerOf).
func followerArgs(instance string) []string { return []string{"garp", "--follow", instance} }

func dialAnnouncer(in *config.Instance, log *slog.Logger) (*arp.Announcer, func(), error) {
	c, ifi, err := arp.Dial(in.Interface)
	if err != nil {
		return nil, nil, err
	}
	a := &arp.Announcer{W: c, MAC: ifi.HardwareAddr, Log: log}
	closers := []func(){func() { c.Close() }}
	for _, ip := range VIPIPs(in) {
		if ip.Is6() {
			na, err := arp.DialNA(ifi)
			if err != nil {
				log.Warn("IPv6 VIPs get no neighbour advertisement", "interface", in.Interface, "err", err)
				break
			}
			a.NA = na
			closers = append(closers, func() { na.Close() })
			break
		}
	}
	return a, func() {
		for _, f := range closers {
			f()
		}
	}, nil
}

// Follow sends rounds 1.. of an instance's schedule, measured from start,
// and stops as soon as the state file shows a newer event for the instance
// or the instance is no longer MASTER.
func Follow(ctx context.Context, cfg *config.Config, store *state.Store, name string, key state.EventKey, start time.Time, log *slog.Logger) error {
	in := cfg.Instance(name)
	if in == nil {
		return &BadInputError{fmt.Sprintf("instance %q: not in %s", name, cfg.Path)}
	}
	a, closeFn, err := dialAnnouncer(in, log)
	if err != nil {
		return err
	}
	defer closeFn()
	stop := func() bool {
		if !anyBound(in) {
			// Released by a run that could not tell this follower (or by
			// hand): never announce a VIP this node does not hold.
			log.Info("gratuitous ARP stopped: none of the instance's VIPs is bound here any more", "instance", name)
			return true
		}
		st, err := store.Load()
		if err != nil {
			return false
		}
		cur := st.Instances[name]
		if cur == nil || key.After(cur.Event) {
			// The run that started this schedule records its MASTER
			// after its last step: until then the state holds an older
			// event (or none), which says nothing against this one.
			// Only a newer event stops the schedule (a loaded node can
			// take longer than one refresh interval to record it).
			return false
		}
		// A repeated MASTER that changed nothing keeps this schedule
		// (GARPEvent): the newest MASTER's schedule runs to its end.
		return cur.State != Master || (cur.Event != key && (cur.GARPEvent == nil || *cur.GARPEvent != key))
	}
	sent, err := a.Run(ctx, VIPIPs(in), ScheduleOf(in), start, 1, stop)
	log.Debug("background gratuitous ARP done", "instance", name, "frames", sent)
	return err
}

func formatKey(k state.EventKey) string {
	s := strconv.FormatInt(k.BootNS, 10) + ":" + strconv.Itoa(k.PID)
	if k.Boot != "" {
		s += ":" + k.Boot
	}
	return s
}

// ParseKey reads what formatKey wrote: BOOTNS:PID[:BOOTID].
func ParseKey(s string) (state.EventKey, error) {
	f := strings.SplitN(s, ":", 3)
	if len(f) < 2 {
		return state.EventKey{}, fmt.Errorf("event key %q: expected BOOTNS:PID[:BOOTID]", s)
	}
	boot, err1 := strconv.ParseInt(f[0], 10, 64)
	pid, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return state.EventKey{}, fmt.Errorf("event key %q: expected BOOTNS:PID[:BOOTID]", s)
	}
	k := state.EventKey{BootNS: boot, PID: pid}
	if len(f) == 3 {
		k.Boot = f[2]
	}
	return k, nil
}

// SelfExe is the running kahook binary, for the follower.
func SelfExe() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	return p
}

// anyBound reports whether at least one of in's VIPs is on its device.
func anyBound(in *config.Instance) bool {
	for _, v := range in.VIPs {
		ifi, err := net.InterfaceByName(v.Dev)
		if err != nil {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return true // cannot tell: the state decides
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == v.Prefix.Addr() {
					return true
				}
			}
		}
	}
	return false
}
