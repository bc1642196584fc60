package notify

import (
	"errors"
	"fmt"
	"log/slog"

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
func ReleaseWithoutConfig(store *state.Store, vips VIPs, names []string, all bool, cause error, log *slog.Logger) error {
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
	for _, n := range names {
		StopFollowers(n, log)
		if st == nil {
			continue
		}
		if in := st.Instances[n]; in != nil && (len(in.VIPs) > 0 || in.State != Master) {
			addrs = append(addrs, in.VIPs...)
		} else {
			doubt = true
		}
	}
	var errs []error
	if doubt {
		marked, err := vip.Marked()
		if err != nil {
			errs = append(errs, err)
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
