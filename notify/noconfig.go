package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/vip"
)

// ReleaseWithoutConfig releases instances when the config does not load
// (a broken kahook.conf never blocks a release): it stops their
// gratuitous ARP followers and removes the VIPs the state dir recorded
// as bound for them; when the state cannot say (unsafe dir, unreadable
// file, no record of the instance, or all is set), it removes every
// address carrying kahook's marker (vip.Proto) too: when in doubt,
// release. Sysctls and IPVS services, which need the config, are left
// as they are (without the VIP nothing is answered or forwarded). It
// logs at error level and always returns an error (exit 1): the
// release was partial and the event is not recorded.
func ReleaseWithoutConfig(store *state.Store, vips VIPs, names []string, all, group bool, cause error, log *slog.Logger) error {
	log.Error("config does not load: releasing kahook's VIPs without it (when in doubt, release)", "instances", fmt.Sprint(names), "all", all, "err", cause)
	st, serr := loadState(store)
	if serr != nil {
		log.Error("state not readable either: releasing every address kahook marked", "state_dir", store.Dir, "err", serr)
	}
	var addrs []vip.Addr
	doubt := all || serr != nil
	if all && st != nil {
		for name, in := range st.Instances {
			addrs = append(addrs, in.VIPs...)
			StopFollowers(name, log)
		}
	}
	unknown := false
	for _, n := range names {
		StopFollowers(n, log)
		if st == nil {
			continue
		}
		if in := st.Instances[n]; in != nil && (len(in.VIPs) > 0 || in.State != Master) {
			addrs = append(addrs, in.VIPs...)
		} else {
			unknown = true
		}
	}
	var errs []error
	if doubt || unknown {
		marked, err := vip.Marked()
		if err != nil {
			errs = append(errs, err)
		}
		if !doubt && !group {
			// An instance name the (readable) state does not know (a
			// group name it does not know still releases every marked
			// address: its members may be kahook's): release every
			// address kahook marked but those the state records for
			// another instance it holds as MASTER. keepalived's FIFO
			// carries every vrrp_instance, also ones kahook does not
			// manage: one of those going BACKUP says nothing about a
			// MASTER kahook recorded, whose VIPs stay.
			marked = withoutHeld(marked, st, names, log)
		}
		addrs = append(addrs, marked...)
	}
	if ch, err := vips.Plan(addrs, false); err != nil {
		errs = append(errs, fmt.Errorf("remove VIPs: %w", err))
	} else {
		for _, c := range ch {
			if err := vips.Apply(c); err != nil {
				errs = append(errs, fmt.Errorf("remove VIPs: %w", err))
			}
		}
	}
	errs = append(errs, fmt.Errorf("config not loaded, event not recorded: %w", cause))
	return errors.Join(errs...)
}

func loadState(store *state.Store) (*state.State, error) {
	if err := state.CheckDir(store.Dir); err != nil {
		return nil, err
	}
	return store.Load()
}

// withoutHeld is marked without the addresses st records for an instance
// it holds as MASTER that is not among names (each kept one logged).
func withoutHeld(marked []vip.Addr, st *state.State, names []string, log *slog.Logger) []vip.Addr {
	var out []vip.Addr
	for _, a := range marked {
		holder := ""
		for name, in := range st.Instances {
			if in.State != Master || slices.Contains(names, name) {
				continue
			}
			if slices.ContainsFunc(in.VIPs, func(v vip.Addr) bool { return sameVIP(v, a) }) {
				holder = name
				break
			}
		}
		if holder != "" {
			log.Warn("kept: the state records this VIP for an instance it holds as MASTER", "vip", a.Prefix.String(), "dev", a.Dev, "instance", holder)
			continue
		}
		out = append(out, a)
	}
	return out
}

// stateKnows reports whether the state in store (when readable) has a
// record for name.
func stateKnows(store *state.Store, name string) bool {
	st, err := loadState(store)
	return err == nil && st.Instances[name] != nil
}
