package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/pool"
	"github.com/kahook/kahook/state"
)

// ipvsDeadline bounds every IPVS run: moby/ipvs retries EAGAIN forever.
const ipvsDeadline = 20 * time.Second

func ipvsCommand() *cli.Command {
	allFlag := &cli.BoolFlag{Name: "all", Usage: "not only kahook's services: every service in the kernel"}
	return &cli.Command{
		Name:  "ipvs",
		Usage: "show, diff, apply or flush the IPVS table",
		Subcommands: []*cli.Command{
			{
				Name:  "show",
				Usage: "print the kernel's table like `ipvsadm -Ln` (--stats, --rate, --exact, -t/-u/-f, --timeout, --daemon as ipvsadm; --rules: like `ipvsadm -Sn`)",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "rules", Usage: "ipvsadm-save form"},
					&cli.BoolFlag{Name: "stats", Usage: "counters (ipvsadm --stats)"},
					&cli.BoolFlag{Name: "rate", Usage: "rates (ipvsadm --rate)"},
					&cli.BoolFlag{Name: "exact", Usage: "numbers unabridged (ipvsadm --exact)"},
					&cli.StringFlag{Name: "tcp-service", Aliases: []string{"t"}, Usage: "only this TCP service `VIP:PORT`"},
					&cli.StringFlag{Name: "udp-service", Aliases: []string{"u"}, Usage: "only this UDP service `VIP:PORT`"},
					&cli.StringFlag{Name: "sctp-service", Usage: "only this SCTP service `VIP:PORT`"},
					&cli.UintFlag{Name: "fwmark-service", Aliases: []string{"f"}, Usage: "only this fwmark service `MARK` (IPv4)"},
					&cli.BoolFlag{Name: "timeout", Usage: "the tcp, tcpfin and udp timeouts (ipvsadm --timeout)"},
					&cli.BoolFlag{Name: "daemon", Usage: "the connection sync daemons that run (ipvsadm --daemon)"},
					&cli.BoolFlag{Name: "connection", Aliases: []string{"c"}, Usage: "the connection entries (ipvsadm -c)"},
				},
				Action: ipvsShow,
			},
			{
				Name:      "diff",
				Usage:     "print the changes `ipvs apply` would make (nothing is applied or created, no run lock taken); exit 0, or with --exit-code 1 when there are changes and 2 on any error",
				ArgsUsage: "[INSTANCE]",
				Flags:     []cli.Flag{allFlag, &cli.BoolFlag{Name: "exit-code", Usage: "exit 1 when the kernel differs from the config, 2 on an error (like diff(1), git diff --exit-code)"}},
				Action: func(c *cli.Context) error {
					err := ipvsApply(c, true)
					if c.Bool("exit-code") && err != nil && err != errDiffers {
						// diff(1): 1 is taken by "differs"; trouble is 2.
						var ec cli.ExitCoder
						if errors.As(err, &ec) && ec.ExitCode() == exitFailed {
							return cli.Exit(err.Error(), exitUsage)
						}
					}
					return err
				},
			},
			{
				Name:      "apply",
				Usage:     "make the kernel hold the config's services (or one instance's): diffed, never flushed",
				ArgsUsage: "[INSTANCE]",
				Flags:     []cli.Flag{allFlag},
				Action:    func(c *cli.Context) error { return ipvsApply(c, false) },
			},
			{
				Name:  "flush",
				Usage: "remove the services kahook manages (--all: every service, like `ipvsadm -C`)",
				Flags: []cli.Flag{allFlag},
				Action: func(c *cli.Context) error {
					e := getEnv(c)
					if c.Bool("all") {
						h, err := e.openIPVS()
						if err != nil {
							return failed(err)
						}
						ctx, cancel := context.WithTimeout(c.Context, ipvsDeadline)
						defer cancel()
						t, err := ipvs.Read(ctx, h)
						if err != nil {
							return failed(err)
						}
						if !e.dryRun {
							err = ipvs.FlushAll(ctx, h, e.log)
						}
						switch {
						case e.json:
							_ = printJSON(e.stdout, flushJSON{Services: len(t), DryRun: e.dryRun})
						case e.dryRun:
							fmt.Fprintf(e.stdout, "would flush every IPVS service (%d)\n", len(t))
						}
						return failed(err)
					}
					m, unlock, err := e.ipvsManager(c.Context, "", !e.dryRun)
					if err != nil {
						return err
					}
					defer unlock()
					if e.dryRun {
						if e.json {
							return printJSON(e.stdout, flushJSON{DryRun: true})
						}
						fmt.Fprintln(e.stdout, "would remove the services of", e.configPath)
						return nil
					}
					ctx, cancel := context.WithTimeout(c.Context, ipvsDeadline)
					defer cancel()
					n, err := m.Flush(ctx)
					if e.json {
						_ = printJSON(e.stdout, flushJSON{Services: n})
					}
					return failed(err)
				},
			},
		},
	}
}

// ipvsShow is `ipvs show`: ipvsadm's list views of the kernel's table.
func ipvsShow(c *cli.Context) error {
	e := getEnv(c)
	opt := ipvs.ListOptions{Exact: c.Bool("exact")}
	switch {
	case c.Bool("stats") && c.Bool("rate"):
		return usage("ipvs show: --stats and --rate exclude each other (as in ipvsadm)")
	case c.Bool("stats"):
		opt.Format = ipvs.ListStats
	case c.Bool("rate"):
		opt.Format = ipvs.ListRate
	}
	var filters int
	for _, f := range []struct {
		flag  string
		proto ipvs.Protocol
	}{{"tcp-service", ipvs.ProtoTCP}, {"udp-service", ipvs.ProtoUDP}, {"sctp-service", ipvs.ProtoSCTP}} {
		if v := c.String(f.flag); v != "" {
			ap, err := netip.ParseAddrPort(v)
			if err != nil {
				return usage("ipvs show: --%s: %q is not VIP:PORT", f.flag, v)
			}
			k := ipvs.ServiceKey{Family: 4, Protocol: f.proto, Addr: ap.Addr().Unmap(), Port: ap.Port()}
			if k.Addr.Is6() {
				k.Family = 6
			}
			opt.Service = &k
			filters++
		}
	}
	if c.IsSet("fwmark-service") {
		if c.Uint("fwmark-service") == 0 {
			return usage("ipvs show: --fwmark-service: expected a mark above 0")
		}
		opt.Service = &ipvs.ServiceKey{Family: 4, FWMark: uint32(c.Uint("fwmark-service"))}
		filters++
	}
	if filters > 1 {
		return usage("ipvs show: give one of -t, -u, --sctp-service, -f")
	}
	views := 0
	for _, v := range []bool{c.Bool("timeout"), c.Bool("daemon"), c.Bool("connection"), c.Bool("rules"), opt.Format != ipvs.ListDefault} {
		if v {
			views++
		}
	}
	if views > 1 {
		return usage("ipvs show: give one of --stats, --rate, --rules, --timeout, --daemon, -c")
	}
	if filters > 0 && (c.Bool("timeout") || c.Bool("daemon") || c.Bool("connection") || c.Bool("rules")) {
		// ipvsadm: "Illegal 'service-address' option with the 'save' command".
		return usage("ipvs show: -t/-u/-f select a service of the list, not of --rules, --timeout, --daemon or -c")
	}
	h, err := ipvs.Open()
	if err != nil {
		return failed(err)
	}
	ctx, cancel := context.WithTimeout(c.Context, ipvsDeadline)
	defer cancel()
	if c.Bool("connection") {
		f, err := os.Open(ipvs.ConnFile)
		if err != nil {
			return failed(fmt.Errorf("read IPVS connections: %w", err))
		}
		defer f.Close()
		conns, err := ipvs.ReadConns(f)
		if err != nil {
			return failed(err)
		}
		if e.json {
			return printJSON(e.stdout, conns)
		}
		return ipvs.WriteConns(e.stdout, conns)
	}
	if c.Bool("daemon") {
		ds, err := h.Daemons(ctx)
		if err != nil {
			return failed(err)
		}
		if e.json {
			return printJSON(e.stdout, emptyIfNil(ds))
		}
		return ipvs.WriteDaemons(e.stdout, ds)
	}
	if c.Bool("timeout") {
		cfg, err := h.GetConfig()
		if err != nil {
			return failed(fmt.Errorf("read IPVS timeouts: %w", err))
		}
		if e.json {
			return printJSON(e.stdout, map[string]float64{"tcp": cfg.TimeoutTCP.Seconds(), "tcpfin": cfg.TimeoutTCPFin.Seconds(), "udp": cfg.TimeoutUDP.Seconds()})
		}
		return ipvs.WriteTimeout(e.stdout, cfg.TimeoutTCP, cfg.TimeoutTCPFin, cfg.TimeoutUDP)
	}
	t, err := ipvs.Read(ctx, h)
	if err != nil {
		return failed(err)
	}
	var stats ipvs.TableStats
	if opt.Format != ipvs.ListDefault || e.json {
		if stats, err = ipvs.ReadStats(ctx, h); err != nil {
			return failed(err)
		}
	}
	if opt.Service != nil {
		if _, ok := t[*opt.Service]; !ok {
			return failed(fmt.Errorf("ipvs show: %s: %w", opt.Service, ipvs.ErrNoSuchService))
		}
		t = ipvs.Table{*opt.Service: t[*opt.Service]}
	}
	switch {
	case e.json:
		return printJSON(e.stdout, tableStatsJSON(t, stats))
	case c.Bool("rules"):
		return ipvs.WriteRules(e.stdout, t)
	default:
		return ipvs.WriteListOptions(e.stdout, t, stats, opt)
	}
}

func ipvsApply(c *cli.Context, diffOnly bool) error {
	e := getEnv(c)
	name := c.Args().First()
	write := !diffOnly && !e.dryRun
	var early *earlyRead
	if write {
		early = e.startEarlyRead(c.Context)
		defer early.close()
	}
	m, unlock, err := e.ipvsManagerWith(c.Context, name, write, early)
	if err != nil {
		return err
	}
	defer unlock()
	vss := m.Cfg.VirtualServers
	if name != "" {
		vss = m.Cfg.ServersOf(name)
	}
	ctx, cancel := context.WithTimeout(c.Context, ipvsDeadline)
	defer cancel()
	if diffOnly || e.dryRun {
		plan, err := m.PlanLoad(ctx, vss, c.Bool("all"))
		if err != nil {
			return failed(err)
		}
		if e.json {
			_ = printJSON(e.stdout, changesJSON(plan.Changes))
		} else {
			for _, ch := range plan.Changes {
				fmt.Fprintln(e.stdout, ch)
			}
		}
		if diffOnly && c.Bool("exit-code") && len(plan.Changes) > 0 {
			return errDiffers
		}
		return nil
	}
	plan, err := m.PlanLoad(ctx, vss, c.Bool("all"))
	if err != nil {
		return failed(err)
	}
	n, err := m.Apply(ctx, plan, vss)
	if e.json {
		_ = printJSON(e.stdout, changesJSON(plan.Changes[:n]))
	}
	return failed(err)
}

// errDiffers is `ipvs diff --exit-code` finding changes: exit 1.
var errDiffers = cli.Exit("", exitFailed)

// ipvsManager loads the config, checks the instance (if not ""), opens
// IPVS and, for a run that writes, creates the state dir and takes the
// run lock. A run that only reads (`ipvs diff`, any --dry-run) creates
// and locks nothing: it reads the managed-services file and the pool's
// membership from the state dir as it is, where it exists and is safe
// (state.CheckDir), as the notify dry run does; without the lock a run
// applying at the same moment may change the table under it, which a
// diff, like `ipvsadm -Ln`, tolerates.
func (e *env) ipvsManager(ctx context.Context, instance string, write bool) (*ipvs.Manager, func(), error) {
	return e.ipvsManagerWith(ctx, instance, write, nil)
}

// ipvsManagerWith is ipvsManager taking over an early read (nil: none)
// when it was made under the lock of the state dir the config names.
func (e *env) ipvsManagerWith(ctx context.Context, instance string, write bool, early *earlyRead) (*ipvs.Manager, func(), error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if instance != "" && cfg.Instance(instance) == nil {
		return nil, nil, usage("ipvs: no instance %q in %q", instance, cfg.Path)
	}
	if !write {
		dir := e.resolveStateDir(cfg)
		members := ipvs.StartMembers
		switch err := state.CheckDir(dir); {
		case err == nil:
			members = pool.MembersAt(dir)
		case !errors.Is(err, os.ErrNotExist):
			e.log.Warn("state dir not used: planned with keepalived's start membership and without the managed-services file", "state_dir", dir, "err", err)
			dir = ""
		}
		// Reading only (diff, a dry run) loads no module: where ip_vs is
		// not loaded the plan is made against the empty table a real
		// apply would find (ipvs.OpenNoLoad).
		h, err := ipvs.OpenNoLoad()
		if err != nil {
			return nil, nil, failed(err)
		}
		return &ipvs.Manager{K: h, Cfg: cfg, StateDir: dir, Log: e.log, Members: members}, func() {}, nil
	}
	if m, unlock, ok := early.takeOver(e.resolveStateDir(cfg), e.log); ok {
		m.Cfg, m.Log = cfg, e.log
		return m, unlock, nil
	}
	// The config names another state dir (or the same one spelt
	// another way: a second flock on the same file by this process would
	// wait for itself): the early lock goes before the config's is taken.
	early.close()
	store, err := state.Open(e.resolveStateDir(cfg))
	if err != nil {
		return nil, nil, stateFailed(err)
	}
	lock, err := store.LockWithin(ctx, 30*time.Second)
	if err != nil {
		return nil, nil, failed(err)
	}
	h, err := e.openIPVS()
	if err != nil {
		lock.Unlock()
		return nil, nil, failed(err)
	}
	m := &ipvs.Manager{K: h, Cfg: cfg, StateDir: store.Dir, Log: e.log, Members: pool.MembersAt(store.Dir)}
	return m, lock.Unlock, nil
}

// flushJSON is `ipvs flush --json`: how many services were removed (or,
// with --dry-run --all, would be).
type flushJSON struct {
	Services int  `json:"services_removed"`
	DryRun   bool `json:"dry_run"`
}

// earlyRead is an unchanged re-apply's shortcut (issue 18): the kernel's
// table is read under the run lock while the config parses (on another
// CPU: the read is mostly the kernel's work, the parse kahook's), when
// the state dir is known before the config (--state-dir,
// KAHOOK_STATE_DIR, else the default), already exists, is safe
// (state.CheckDir) and has its lock file, and IPVS is loaded: so nothing
// is created or loaded before the config is known good. A config whose
// global_defs state_dir names another dir voids it: the table is then
// read again under that dir's lock. The lock serialises kahook's runs as
// before; it is only taken before the parse instead of after it.
type earlyRead struct {
	dir   string
	lock  *state.Lock
	k     ipvs.Kernel
	done  chan struct{}
	table ipvs.Table
	err   error
	took  time.Duration
	taken bool
}

// startEarlyRead starts the read, or returns nil when it cannot be made
// without creating or loading anything.
func (e *env) startEarlyRead(ctx context.Context) *earlyRead {
	dir := e.stateDir
	if dir == "" {
		dir = config.DefaultStateDir
	}
	if state.CheckDir(dir) != nil {
		return nil
	}
	if fi, err := os.Lstat(filepath.Join(dir, "lock")); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	k, err := ipvs.OpenNoLoad()
	if _, unloaded := k.(ipvs.Unloaded); err != nil || unloaded {
		return nil // ip_vs not loaded: the normal path loads it once the config is good
	}
	// One try: a run holding the lock is waited for by the normal path
	// (once, within its 30 s), not twice.
	lock, err := (&state.Store{Dir: dir}).LockWithin(ctx, 0)
	if err != nil {
		return nil
	}
	r := &earlyRead{dir: dir, lock: lock, k: k, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		rctx, cancel := context.WithTimeout(ctx, ipvsDeadline)
		defer cancel()
		t0 := time.Now()
		r.table, r.err = ipvs.Read(rctx, k)
		r.took = time.Since(t0)
	}()
	return r
}

// takeOver hands the early read's lock, IPVS handle and table to a
// Manager when dir is the dir it locked, without waiting for the read:
// the Manager's Current waits for it (after the desired table is built)
// and gives the table only when the read succeeded (PlanLoad reads it
// otherwise); unlock waits for it too, so the lock is never released
// under a read. ok is false otherwise (r nil, or another dir: close
// then releases the lock).
func (r *earlyRead) takeOver(dir string, log *slog.Logger) (m *ipvs.Manager, unlock func(), ok bool) {
	if r == nil || r.taken || filepath.Clean(dir) != filepath.Clean(r.dir) {
		return nil, nil, false
	}
	r.taken = true
	m = &ipvs.Manager{K: r.k, StateDir: r.dir, Members: pool.MembersAt(r.dir)}
	m.Current = func() (ipvs.Table, time.Duration) {
		<-r.done
		log.Debug("IPVS table read under the run lock while the config parsed", "state_dir", r.dir, "read", r.took, "ok", r.err == nil)
		if r.err != nil {
			return nil, 0
		}
		return r.table, r.took
	}
	return m, func() { <-r.done; r.lock.Unlock() }, true
}

// close waits for the read and releases the lock unless a Manager took
// it over.
func (r *earlyRead) close() {
	if r == nil || r.taken {
		return
	}
	<-r.done
	r.lock.Unlock()
	r.taken = true // released: close is idempotent
}
