package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/state"
	"github.com/kahook/kahook/sysctl"
)

func sysctlCommand() *cli.Command {
	roleFlag := &cli.StringFlag{Name: "role", Usage: "director or realserver"}
	ifFlag := &cli.StringFlag{Name: "interface", Aliases: []string{"i"}, Usage: "the interface ARP requests arrive on"}
	procFlag := &cli.StringFlag{Name: "proc-sys", Value: "/proc/sys", Usage: "sysctl root", Hidden: true}
	return &cli.Command{
		Name:  "sysctl",
		Usage: "arp_ignore/arp_announce on all, lo and the interface, for a role",
		Subcommands: []*cli.Command{
			{
				Name:  "apply",
				Usage: "write the role's values where they differ (--persist also writes /etc/sysctl.d)",
				Flags: []cli.Flag{roleFlag, ifFlag, procFlag,
					&cli.BoolFlag{Name: "persist", Usage: "also write a sysctl.d drop-in setting all, lo and the interface"},
					&cli.StringFlag{Name: "persist-file", Value: sysctl.DropInPath, Usage: "drop-in path for --persist"},
				},
				Action: func(c *cli.Context) error {
					e := getEnv(c)
					role, iface, err := roleAndInterface(c)
					if err != nil {
						return err
					}
					fs := sysctl.FS{Root: c.String("proc-sys")}
					if _, err := os.Stat(filepath.Join(fs.Root, "net/ipv4/conf", iface)); err != nil {
						return usage("sysctl: interface %q does not exist", iface)
					}
					if c.Bool("persist") {
						if err := checkPersistDir(c.String("persist-file")); err != nil {
							return usage("sysctl apply: --persist-file: %v", err)
						}
					}
					changes, err := fs.Ensure(role, iface, e.dryRun, e.log)
					if e.dryRun || e.json {
						if e.json {
							_ = printJSON(e.stdout, emptyIfNil(changes))
						} else {
							for _, ch := range changes {
								fmt.Fprintln(e.stdout, ch)
							}
						}
					}
					if err != nil {
						return failed(err)
					}
					if c.Bool("persist") && !e.dryRun {
						return failed(persistDropIn(e, c.String("persist-file"), role, iface))
					}
					return nil
				},
			},
			{
				Name:  "show",
				Usage: "print configured and effective (max(all, IFACE)) values; with --role, flag what breaks it (exit 1)",
				Flags: []cli.Flag{roleFlag, ifFlag, procFlag},
				Action: func(c *cli.Context) error {
					e := getEnv(c)
					iface := c.String("interface")
					if iface == "" {
						return usage("sysctl show: --interface is required")
					}
					role := config.Role(c.String("role"))
					if role != "" {
						if _, ok := sysctl.Roles[role]; !ok {
							return usage("sysctl show: --role must be director or realserver")
						}
					}
					fs := sysctl.FS{Root: c.String("proc-sys")}
					effs, err := fs.Show(iface)
					if err != nil {
						return usage("sysctl show: %v", err)
					}
					var findings []sysctl.Finding
					for _, ef := range effs {
						if role != "" && ef.Iface != "all" {
							findings = append(findings, sysctl.Judge(role, ef)...)
						}
					}
					if e.json {
						_ = printJSON(e.stdout, map[string]any{"interfaces": emptyIfNil(effs), "findings": emptyIfNil(findings)})
					} else {
						printEffective(e, effs, findings)
					}
					if len(findings) > 0 {
						return cli.Exit("", exitFailed)
					}
					return nil
				},
			},
		},
	}
}

func roleAndInterface(c *cli.Context) (config.Role, string, error) {
	role := config.Role(c.String("role"))
	if _, ok := sysctl.Roles[role]; !ok {
		return "", "", usage("sysctl: --role must be director or realserver")
	}
	iface := c.String("interface")
	if iface == "" {
		return "", "", usage("sysctl: --interface is required")
	}
	return role, iface, nil
}

func printEffective(e *env, effs []sysctl.Effective, findings []sysctl.Finding) {
	fmt.Fprintf(e.stdout, "%-12s %-22s %-22s %s\n", "INTERFACE", "ARP_IGNORE own/eff", "ARP_ANNOUNCE own/eff", "ANSWERS ARP FOR VIPs ON lo")
	for _, ef := range effs {
		answers := "yes"
		if ef.ArpIgnore >= 1 {
			answers = "no"
		}
		if ef.Iface == "lo" || ef.Iface == "all" {
			answers = "-"
		}
		fmt.Fprintf(e.stdout, "%-12s %-22s %-22s %s\n", ef.Iface,
			fmt.Sprintf("%d / %d", ef.OwnIgnore, ef.ArpIgnore), fmt.Sprintf("%d / %d", ef.OwnAnnounce, ef.ArpAnnounce), answers)
	}
	for _, f := range findings {
		fmt.Fprintf(e.stdout, "%s %s: %s\n     fix: %s\n", f.Severity, f.Iface, f.Problem, f.Fix)
	}
}

func persistDropIn(e *env, path string, role config.Role, iface string) error {
	vals, err := sysctl.Desired(role, iface)
	if err != nil {
		return err
	}
	data := sysctl.DropIn(role, vals)
	if err := checkPersistDir(path); err != nil {
		return err
	}
	old, err := config.ReadFile(path, os.Geteuid() == 0)
	switch {
	case err == nil && string(old) == string(data):
		return nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("read the drop-in before replacing it: %w", err)
	}
	if err := state.WriteFileAtomic(path, data, 0o644); err != nil {
		return err
	}
	e.log.Info("sysctl drop-in written", "path", path, "role", string(role), "keys", strings.Count(string(data), " = "))
	return nil
}

// checkPersistDir: the drop-in's directory must exist (it is not
// created: /etc/sysctl.d is the operating system's) and, as root, pass
// config.CheckSecureDir: root writes the drop-in there and the kernel
// applies it at boot, so a directory others can add names to would let
// them plant or swap it.
func checkPersistDir(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory of %s: %w", path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if os.Geteuid() == 0 {
		if err := config.CheckSecureDir(dir); err != nil {
			return err
		}
	}
	// An existing drop-in must be a safe regular file (no FIFO to block
	// on, no symlink others could have planted, bounded in size).
	if _, err := config.ReadFile(path, os.Geteuid() == 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
