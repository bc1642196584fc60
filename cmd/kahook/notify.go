package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/notify"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/sysctl"
	"github.com/kahook/kahook/vip"
)

func notifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "notify",
		Usage:     "run a VRRP transition (notify_master/backup/fault/stop or keepalived's generic notify)",
		ArgsUsage: "STATE INSTANCE | TYPE NAME STATE PRIORITY...",
		UsageText: "kahook notify master|backup|fault|stop INSTANCE\n" +
			"   kahook notify INSTANCE|GROUP NAME STATE PRIORITY   (keepalived appends these to a 'notify' script)",
		Action: func(c *cli.Context) error {
			e := getEnv(c)
			// The event's time is this process's start: taken first.
			received := time.Now()
			key, err := state.ProcessEvent()
			if err != nil {
				return failed(err)
			}
			ev, err := notify.ParseArgs(c.Args().Slice())
			if err != nil {
				return argvError{usage("notify: %v", err)}
			}
			ev.Key, ev.Received = key, received
			if err := e.refuseMaster(); err != nil && ev.State == notify.Master {
				return err
			}
			cfg, err := e.loadConfig() // once: its problems are logged once
			if err != nil {
				if ev.State != notify.Master {
					// A release never depends on the config loading.
					return e.releaseWithoutConfig([]string{ev.Name}, false, ev.Group, err)
				}
				return err
			}
			// Validated before the state dir is created or locked: a
			// refused event creates nothing.
			eng, err := e.engineFor(cfg, func(eng *notify.Engine) error {
				_, err := eng.Validate(ev)
				return err
			})
			if err != nil {
				return err
			}
			res, err := eng.Handle(c.Context, ev)
			if eng.LockFailed != nil {
				// Released without the lock: the second pass under it
				// decides the exit code.
				var rs []*notify.Result
				if rs, err = eng.Settle(c.Context, []notify.Event{ev}); len(rs) == 1 && rs[0] != nil {
					res = rs[0]
				}
			}
			return e.finishNotify(res, err)
		},
	}
}

func (e *env) finishNotify(res *notify.Result, err error) error {
	var bad *notify.BadInputError
	if errors.As(err, &bad) {
		return usage("%v", err)
	}
	e.printResult(res)
	return failed(err)
}

// printResult prints a transition's result where one is asked for: with
// --json its JSON form, with --dry-run its plan in notify.WritePlan's
// text form (a real run's changes are in the log). notify and release
// share it, so every dry run of a transition prints its plan.
func (e *env) printResult(res *notify.Result) {
	if res == nil || (!e.json && !e.dryRun) {
		return
	}
	if e.json {
		_ = printJSON(e.stdout, toNotifyJSON(res))
		return
	}
	notify.WritePlan(e.stdout, fmt.Sprintf("%s %s (dry run)", res.Event.Name, res.Event.State), res.Steps)
}

// notifyJSON is `notify --json` (and `--dry-run --json`): the event, and
// each step with its changes in the order they are made (with --dry-run:
// would be made); an IPVS change has the form of `ipvs diff --json`.
type notifyJSON struct {
	Event   notify.Event     `json:"event"`
	DryRun  bool             `json:"dry_run"`
	Stale   bool             `json:"stale"`
	Steps   []notifyStepJSON `json:"steps"`
	Changed int              `json:"changed"`
}

type notifyStepJSON struct {
	Kind    notify.StepKind    `json:"kind"`
	Reason  string             `json:"reason"`
	Changes []notifyChangeJSON `json:"changes"`
	Error   string             `json:"error,omitempty"`
}

type notifyChangeJSON struct {
	VIP    *vip.Change    `json:"vip,omitempty"`
	Sysctl *sysctl.Change `json:"sysctl,omitempty"`
	IPVS   *changeJSON    `json:"ipvs,omitempty"`
	GARP   *notify.GARP   `json:"garp,omitempty"`
}

func toNotifyJSON(res *notify.Result) notifyJSON {
	out := notifyJSON{Event: res.Event, DryRun: res.DryRun, Stale: res.Stale, Steps: []notifyStepJSON{}, Changed: res.Changed}
	for _, s := range res.Steps {
		sj := notifyStepJSON{Kind: s.Step.Kind, Reason: s.Step.Reason, Changes: []notifyChangeJSON{}, Error: s.Error}
		for _, c := range s.Changes {
			cj := notifyChangeJSON{VIP: c.VIP, Sysctl: c.Sysctl, GARP: c.GARP}
			if c.IPVS != nil {
				cj.IPVS = &changesJSON([]ipvs.Change{*c.IPVS})[0]
			}
			sj.Changes = append(sj.Changes, cj)
		}
		out.Steps = append(out.Steps, sj)
	}
	return out
}

// engineFor wires a notify engine for this node and the config loaded.
// validate (if not nil) runs before the state dir is opened: what it
// refuses (exit 2) leaves nothing behind.
func (e *env) engineFor(cfg *config.Config, validate func(*notify.Engine) error) (*notify.Engine, error) {
	// Created and checked by Handle: a release never depends on it.
	store := &state.Store{Dir: e.resolveStateDir(cfg), Log: e.log}
	vips, err := vip.NewManager(e.log)
	if err != nil {
		return nil, failed(err)
	}
	vips.Mark = true
	eng := &notify.Engine{
		Cfg:    cfg,
		VIPs:   vips,
		Sysctl: sysctl.ProcSys,
		Log:    e.log,
		DryRun: e.dryRun,
		LinkExists: func(name string) error {
			_, err := net.InterfaceByName(name)
			return err
		},
		Announce: &notify.GARPStarter{Exe: notify.SelfExe(), Args: e.globalArgs(cfg), Log: e.log},
	}
	if validate != nil {
		var bad *notify.BadInputError
		if err := validate(eng); errors.As(err, &bad) {
			return nil, usage("%v", err)
		} else if err != nil {
			return nil, failed(err)
		}
	}
	eng.Store = store
	eng.IPVS = &ipvs.Lazy{Cfg: cfg, StateDir: store.Dir, Log: e.log, Deadline: ipvsDeadline, Open: e.openIPVS}
	return eng, nil
}

// openIPVS opens the kernel's IPVS; a dry run loads no module
// (ipvs.OpenNoLoad).
func (e *env) openIPVS() (ipvs.Kernel, error) {
	if e.dryRun {
		return ipvs.OpenNoLoad()
	}
	return ipvs.Open()
}

// globalArgs are the flags a background follower needs to find the same
// config and state.
func (e *env) globalArgs(cfg *config.Config) []string {
	args := []string{"--config", e.configPath, "--state-dir", e.resolveStateDir(cfg), "--syslog", "auto"}
	if e.configID != "" {
		args = append(args, "--config-id", e.configID)
	}
	return args
}

func fifoCommand() *cli.Command {
	return &cli.Command{
		Name:      "fifo",
		Usage:     "notify_fifo_script: apply keepalived's FIFO lines in order until EOF (after SIGTERM: until keepalived closes the FIFO, at most 2 s)",
		ArgsUsage: "PATH",
		Action: func(c *cli.Context) error {
			longRunGC()
			e := getEnv(c)
			if c.NArg() != 1 {
				return argvError{usage("fifo: expected the FIFO path keepalived passes")}
			}
			if _, err := os.Stat(c.Args().First()); err != nil {
				return usage("fifo: %v", err)
			}
			eng, err := e.fifoEngine()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			f, signalled, err := openFIFO(ctx, c.Args().First())
			if err != nil {
				if errors.Is(err, errFIFONoWriter) {
					e.log.Warn("FIFO reader stopped before keepalived opened the FIFO: no line read", "bound", notify.FIFODrain)
					return configLess(eng)
				}
				var bad *notify.BadInputError
				if errors.As(err, &bad) {
					return usage("fifo: %v", err)
				}
				return failed(err)
			}
			defer f.Close()
			// After SIGTERM the reader goes on until keepalived closes the
			// FIFO (its STOP line comes after the SIGTERM), at most
			// notify.FIFODrain.
			stats, err := notify.ReadFIFO(ctx, f, eng, e.log, signalled)
			if e.dryRun {
				e.log.Info("FIFO reader stopped (dry run: nothing applied)", "lines", stats.Lines, "planned", stats.Planned, "skipped", stats.Skipped, "failed", stats.Failed)
			} else {
				e.log.Info("FIFO reader stopped", "lines", stats.Lines, "applied", stats.Applied, "skipped", stats.Skipped, "failed", stats.Failed)
			}
			if err != nil && ctx.Err() == nil {
				return failed(err)
			}
			return configLess(eng)
		},
	}
}

// configLess is the FIFO reader's exit when it ran without the config
// (fifoEngine): 1 with the config's errors; nil otherwise.
func configLess(eng *notify.Engine) error {
	if eng.ConfigErr == nil {
		return nil
	}
	return exitLines{append(slices.Clone(linesOf(eng.ConfigErr)), "config not loaded: FIFO releases applied without it, MASTER lines refused, events not recorded"), exitFailed}
}

// fifoEngine is the FIFO reader's engine. A config that does not load
// (broken, missing, or made unusable by a flag) does not stop the reader,
// since keepalived's later BACKUP, FAULT and STOP lines must still be
// applied: the engine then has no config and notify.ReadFIFO releases
// without it and refuses MASTER (Engine.ConfigErr). A flag problem refuses
// MASTER lines too (Engine.RefuseMaster). A dry run is refused with the
// config's error (exit 2), as `notify --dry-run` is.
func (e *env) fifoEngine() (*notify.Engine, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		if e.dryRun {
			return nil, err
		}
		vips, verr := vip.NewManager(e.log)
		if verr != nil {
			return nil, failed(errors.Join(verr, err))
		}
		e.log.Error("config does not load: the FIFO reader starts anyway; it releases without the config and refuses MASTER (when in doubt, release)", "err", strings.Join(linesOf(err), "; "))
		return &notify.Engine{
			Store: &state.Store{Dir: e.resolveStateDir(nil), Log: e.log}, VIPs: vips, Log: e.log, ConfigErr: err,
		}, nil
	}
	eng, err := e.engineFor(cfg, nil)
	if err != nil {
		return nil, err
	}
	eng.RefuseMaster = e.refuseMaster()
	return eng, nil
}

// linesOf is err's lines (a config's errors: one per file:line).
func linesOf(err error) []string {
	var ml exitLines
	if errors.As(err, &ml) {
		return ml.lines
	}
	return errorLines(err)
}

// openFIFO opens the FIFO for reading. It is first opened without
// blocking and checked (notify.CheckFIFO: a FIFO, owned by root, not
// writable by others), then reopened through /proc/self/fd (the same
// inode, whatever the path points to by then) in blocking mode, which
// waits until keepalived opens its end; that wait runs aside, and after
// a SIGTERM it goes on for at most notify.FIFODrain (keepalived writes its
// STOP lines after the SIGTERM), then returns errFIFONoWriter. It also
// returns when it saw the signal (zero: not yet): ReadFIFO's drain bound
// runs from that instant, so a run ends at most notify.FIFODrain after
// the signal. A writer that opened, wrote and closed before the
// blocking open (seen as POLLHUP on the checked descriptor, which keeps
// its lines in the pipe) does not leave the run waiting for another one:
// the checked descriptor itself is then read to its end.
func openFIFO(ctx context.Context, path string) (*os.File, time.Time, error) {
	var signalledAt time.Time
	probe, err := notify.CheckFIFO(path)
	if err != nil {
		return nil, signalledAt, err
	}
	fd := int(probe.Fd())
	self := fmt.Sprintf("/proc/self/fd/%d", fd)
	type res struct {
		f   *os.File
		err error
	}
	ch := make(chan res, 1)
	go func() {
		f, err := os.Open(self)
		ch <- res{f, err}
	}()
	hup := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(fds, 100)
			if err != nil && !errors.Is(err, unix.EINTR) {
				return
			}
			if n > 0 && fds[0].Revents&unix.POLLHUP != 0 {
				close(hup)
				return
			}
			if n > 0 {
				// Data and a writer: the blocking open returns now.
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	signalled := ctx.Done()
	var bound <-chan time.Time
	for {
		select {
		case r := <-ch:
			probe.Close()
			return r.f, signalledAt, r.err
		case <-hup:
			// Let the blocking open return (a writer end of our own, held
			// until it has: the open may not have reached the kernel yet)
			// and read what the gone writer left.
			w, err := os.OpenFile(self, os.O_WRONLY|unix.O_NONBLOCK, 0)
			r := <-ch
			if err == nil {
				w.Close()
			}
			if r.f != nil {
				r.f.Close()
			}
			return probe, signalledAt, nil
		case <-signalled:
			// keepalived, stopping, SIGTERMs the script and only then
			// writes its STOP lines: a SIGTERM here (the writer not
			// open yet, or open but this goroutine not yet woken) is
			// no reason to stop. Go on waiting for the writer, as the
			// reader does for its lines, at most notify.FIFODrain.
			signalled, signalledAt = nil, time.Now()
			bound = time.After(notify.FIFODrain)
		case <-bound:
			// The blocking open goroutine stays blocked: the process
			// exits next.
			probe.Close()
			return nil, signalledAt, errFIFONoWriter
		}
	}
}

// errFIFONoWriter: signalled, and no writer opened the FIFO within
// notify.FIFODrain.
var errFIFONoWriter = errors.New("signalled, and keepalived did not open the FIFO within the drain bound")

// releaseWithoutConfig releases names (all: every instance) when the
// config does not load (notify.ReleaseWithoutConfig): exit 1.
//
// A dry run changes nothing: it says what such a release does and exits
// 2 with the config's error.
func (e *env) releaseWithoutConfig(names []string, all, group bool, cause error) error {
	if e.dryRun {
		e.log.Error("dry run: the config does not load; a real run would release without it (the VIPs the state recorded for the instances, else every address kahook marked) and change nothing else", "instances", fmt.Sprint(names), "all", all)
		return cause
	}
	vips, err := vip.NewManager(e.log)
	if err != nil {
		return failed(errors.Join(err, cause))
	}
	store := &state.Store{Dir: e.resolveStateDir(nil), Log: e.log}
	return failed(notify.ReleaseWithoutConfig(store, vips, names, all, group, cause, e.log))
}
