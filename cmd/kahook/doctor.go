package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/arp"
	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/doctor"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/sysctl"
	"github.com/kahook/kahook/vip"
)

const defaultKeepalivedConf = "/etc/keepalived/keepalived.conf"

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "lint keepalived.conf and kahook.conf, check the live node, probe ARP (exit 1 on any FAIL)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "keepalived-conf", Value: defaultKeepalivedConf, Usage: "keepalived config (includes followed)"},
			&cli.BoolFlag{Name: "no-live", Usage: "only lint the configs, do not look at the node"},
			&cli.BoolFlag{Name: "probe", Usage: "also send ARP requests for every VIP and list who answers"},
			timeFlag("probe-timeout", nil, time.Second, "how long the probe collects answers"),
		},
		Action: func(c *cli.Context) error {
			e := getEnv(c)
			if err := maxArgs(c, 0); err != nil {
				return err
			}
			var r doctor.Report
			k, err := loadKeepalived(c.String("keepalived-conf"), c.IsSet("keepalived-conf"), e.configID, &r)
			if err != nil {
				return err
			}
			e.listsProblems = true // as config findings
			kc, err := e.loadConfigIfPresent()
			if err != nil {
				return err
			}
			if k == nil && kc == nil {
				r.Findings = append(r.Findings, doctor.Finding{Severity: doctor.Warn, Check: "configs",
					Msg: "neither " + e.configPath + " nor " + c.String("keepalived-conf") + " exists: nothing to check",
					Fix: "write /etc/kahook/kahook.conf (README, Quick start), or name the files with --config and --keepalived-conf"})
			}
			if k != nil {
				doctor.LintKeepalived(&r, k, kc)
				// Per line, with a kahook.conf too: a line's own --config
				// may name one that does not exist. A line without one
				// reads the default, whatever --config doctor was given:
				// keepalived runs the line as written.
				doctor.LintKahookConfMissing(&r, k, config.DefaultPath, e.configPath, func(p string) bool { _, err := os.Stat(p); return !errors.Is(err, os.ErrNotExist) })
			}
			if kc != nil {
				doctor.LintKahook(&r, kc, k)
			}
			if !c.Bool("no-live") {
				doctor.CheckLive(c.Context, &r, kc, k, e.live(kc, c.Bool("probe"), flagTime(c, "probe-timeout")))
				if kc != nil || e.stateDir != "" {
					maint := config.DefaultMaintenanceDir
					if kc != nil {
						maint = kc.Global.MaintenanceDir
					}
					doctor.CheckDirs(&r, e.resolveStateDir(kc), maint)
				}
			}
			printReport(e, &r, !c.Bool("no-live"))
			if r.Failed() {
				return cli.Exit("", exitFailed)
			}
			return nil
		},
	}
}

func loadKeepalived(path string, explicit bool, configID string, r *doctor.Report) (*doctor.Keepalived, error) {
	if _, err := os.Stat(path); err != nil && !explicit {
		r.Findings = append(r.Findings, doctor.Finding{Severity: doctor.OK, Check: "keepalived-conf", Msg: "no " + path + ": keepalived config not checked"})
		return nil, nil
	}
	tree, _, err := config.ParseTree(path, config.Options{ConfigID: configID})
	if err != nil {
		return nil, usage("%v", err)
	}
	return doctor.ReadKeepalived(path, tree), nil
}

// loadConfigIfPresent: doctor runs on nodes without a kahook.conf too
// (nil, nil when the default path is absent; doctor then fails each
// keepalived.conf line that runs kahook, LintKahookConfMissing).
func (e *env) loadConfigIfPresent() (*config.Config, error) {
	if _, err := os.Stat(e.configPath); errors.Is(err, os.ErrNotExist) && !e.configSet {
		return nil, nil
	}
	return e.loadConfig()
}

func (e *env) live(kc *config.Config, probe bool, timeout time.Duration) doctor.Live {
	lv := doctor.Live{
		Sysctl:     sysctl.ProcSys,
		Addrs:      allAddrs,
		IPVS:       ipvs.OpenNoLoad, // doctor only reads: it loads no module
		Procs:      processNames,
		DropIn:     sysctl.DropInPath,
		SysctlConf: "/etc/sysctl.conf",
	}
	dir := config.DefaultStateDir
	if kc != nil || e.stateDir != "" {
		dir = e.resolveStateDir(kc)
	}
	if st, err := (&state.Store{Dir: dir}).Load(); err == nil {
		lv.State = st
	}
	if probe {
		lv.Probe = func(iface string, ips []netip.Addr) (map[netip.Addr][]string, error) {
			client, ifi, err := arp.Dial(iface)
			if err != nil {
				return nil, err
			}
			defer client.Close()
			sender, err := arp.FirstIPv4(ifi)
			if err != nil {
				return nil, err
			}
			return arp.Probe(context.Background(), client, ifi.HardwareAddr, sender, ips, 3, timeout)
		}
	}
	return lv
}

func allAddrs() (map[string][]netip.Prefix, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	m, err := vip.NewManager(nil)
	if err != nil {
		return nil, err
	}
	out := map[string][]netip.Prefix{}
	for _, ifi := range ifs {
		list, err := m.List(ifi.Name)
		if err != nil {
			return nil, err
		}
		out[ifi.Name] = list
	}
	return out, nil
}

func processNames() []string {
	var out []string
	for _, name := range processesHere() {
		out = append(out, name)
	}
	return out
}

// processesHere are the names (comm) of the processes in doctor's own
// network namespace, by pid: a keepalived running for another namespace
// (another director in a lab, a container) runs no transition here.
func processesHere() map[int]string {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		self = ""
	}
	entries, _ := os.ReadDir("/proc")
	out := map[int]string{}
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink("/proc/" + en.Name() + "/ns/net"); self != "" && (err != nil || ns != self) {
			continue
		}
		if data, err := os.ReadFile("/proc/" + en.Name() + "/comm"); err == nil && len(data) > 0 {
			out[pid] = string(data[:len(data)-1])
		}
	}
	return out
}

func printReport(e *env, r *doctor.Report, live bool) {
	if e.json {
		_ = printJSON(e.stdout, r)
		return
	}
	fmt.Fprintln(e.stdout, summaryLine(r, live))
	for _, f := range r.Problems() {
		fmt.Fprintln(e.stdout, f)
		if f.Fix != "" {
			fmt.Fprintf(e.stdout, "     fix: %s\n", f.Fix)
		}
	}
	for _, f := range r.Findings {
		if f.Severity == doctor.OK {
			fmt.Fprintln(e.stdout, f)
		}
	}
}

// summaryLine is the first line of doctor's text output: what each count
// counts. The configs are linted for problems only (no OK findings), so
// with --no-live the OK count is not given: "0 OK" read as "nothing is
// right".
func summaryLine(r *doctor.Report, live bool) string {
	count := func(n int, what string) string {
		if n == 0 {
			return "no " + what
		}
		return fmt.Sprintf("%d %s", n, what)
	}
	s := "kahook doctor: " + count(r.Count(doctor.Fail), "FAIL (must fix)") + ", " + count(r.Count(doctor.Warn), "WARN (should fix)")
	if !live {
		return s + "; live checks not run (--no-live)"
	}
	return s + ", " + count(r.Count(doctor.OK), "OK (checks passed)")
}
