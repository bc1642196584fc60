package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kahook/kahook/internal/chunk"
)

// Options tune how a config is read.
type Options struct {
	// ConfigID selects "@id" lines (keepalived's -i). Empty means the
	// short host name, as keepalived defaults it.
	ConfigID string
	// Secure refuses the config and every include unless they pass
	// CheckSecure (keepalived's enable_script_security rule), each checked
	// before it is opened. kahook sets it when running as root.
	Secure bool
}

func (o Options) configID() string {
	if o.ConfigID != "" {
		return o.ConfigID
	}
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	return h
}

// Load reads, validates and types a config file and its includes. Every
// error names file:line; the returned error is an ErrorList (or an *Error
// when the file itself cannot be read).
func Load(path string, opts Options) (*Config, error) {
	lines, files, err := lexFile(path, opts.configID(), opts.Secure)
	if err != nil {
		return nil, err
	}
	cfg, err := fromLines(lines)
	if cfg != nil {
		cfg.Path = path
		cfg.Files = files
	}
	return cfg, err
}

// Parse is Load for text held in memory (no includes); name stands for
// its path.
func Parse(name string, data []byte, opts Options) (*Config, error) {
	lines, err := lexBytes(name, data, opts.configID())
	if err != nil {
		return nil, err
	}
	cfg, err := fromLines(lines)
	if cfg != nil {
		cfg.Path = name
		cfg.Files = []string{name}
	}
	return cfg, err
}

// ParseTree returns only the statement tree of a file (used by doctor and
// import on keepalived.conf, whose vrrp blocks kahook does not type).
func ParseTree(path string, opts Options) (*Node, []string, error) {
	lines, files, err := lexFile(path, opts.configID(), opts.Secure)
	if err != nil {
		return nil, files, err
	}
	tree, _, err := buildTree(lines)
	return tree, files, err
}

func fromLines(lines []Line) (*Config, error) {
	tree, problems, treeErr := buildTree(lines)
	b := &builder{cfg: &Config{
		Problems: problems,
		Tree:     tree,
		Groups:   map[string]*VirtualServerGroup{},
		Global:   Global{StateDir: DefaultStateDir, MaintenanceDir: DefaultMaintenanceDir},
	}}
	// The blocks read so far are typed even when a block is not closed,
	// so that one run reports everything keepalived would.
	b.root(tree)
	sort.SliceStable(b.cfg.Problems, func(i, j int) bool {
		pi, pj := b.cfg.Problems[i].Pos, b.cfg.Problems[j].Pos
		return pi.File == pj.File && pi.Line < pj.Line
	})
	if treeErr != nil {
		b.errs = append(treeErr.(ErrorList), b.errs...)
	}
	if len(b.errs) > 0 {
		// Report what keepalived would report too, in file order.
		errs := b.errs
		for _, p := range b.cfg.Problems {
			errs = append(errs, &Error{Pos: p.Pos, Msg: p.Msg})
		}
		sortErrors(errs)
		return nil, errs
	}
	return b.cfg, nil
}

// IsConfigError reports whether err is a config error (exit code 2).
func IsConfigError(err error) bool {
	var l ErrorList
	var e *Error
	return errors.As(err, &l) || errors.As(err, &e)
}

// builder types a tree, collecting every error rather than stopping at
// the first, so that one `config check` run shows them all.
type builder struct {
	cfg  *Config
	errs ErrorList
	// realServers hands out the RealServers (chunk.Of: tens of thousands
	// in a large config).
	realServers chunk.Of[RealServer]
}

func (b *builder) errorf(pos Pos, format string, args ...any) {
	b.errs = append(b.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// problemf records what keepalived reports as a config error but reads
// past (with its fallback, which kahook applies too).
func (b *builder) problemf(pos Pos, format string, args ...any) {
	b.cfg.Problems = append(b.cfg.Problems, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) skip(n *Node, context string) {
	b.cfg.Skipped = append(b.cfg.Skipped, Skip{Pos: n.Pos, Keyword: n.Key, Context: context})
}

// unknownKeyword reports a keyword of kahook's own block (instance,
// realserver) that kahook does not know, with the nearest of known as a
// "did you mean" hint, as the tree parser reports one in keepalived's
// blocks. kahook reads past it (and past its block, if it has one): a
// problem, so `config check` fails and running commands log it.
func (b *builder) unknownKeyword(n, block *Node, known []string) {
	msg := "Unknown keyword '" + n.Key + "'"
	if s := suggest(n.Key, known); s != "" {
		msg += " (did you mean '" + s + "'?)"
	}
	b.problemf(n.Pos, "%s in kahook's block '%s': kahook ignores it", msg, block.Text())
}

func (b *builder) root(tree *Node) {
	for _, n := range tree.Children {
		switch n.Key {
		case "global_defs":
			if b.needBlock(n) {
				b.global(n)
			}
		case "instance":
			if b.needArgs(n, 1, "instance NAME { ... }") && b.needBlock(n) {
				b.instance(n)
			}
		case "virtual_server_group":
			if b.needArgs(n, 1, "virtual_server_group NAME { ... }") && b.needBlock(n) {
				b.group(n)
			}
		case "virtual_server":
			if b.needBlock(n) {
				b.virtualServer(n)
			}
		case "realserver":
			if b.needBlock(n) {
				b.realServerNode(n)
			}
		default:
			// vrrp_instance, vrrp_script, static_ipaddress, ... belong to
			// keepalived; they stay in Tree for doctor and import.
			b.skip(n, "top level")
		}
	}
	b.resolveGroups()
	kept := b.cfg.VirtualServers[:0]
	for _, vs := range b.cfg.VirtualServers {
		if b.keepalivedFixups(vs) {
			kept = append(kept, vs)
		}
	}
	b.cfg.VirtualServers = kept
	b.definedTwice()
	b.assignOwners()
	b.statefulBackups()
}

func (b *builder) needBlock(n *Node) bool {
	if !n.Block {
		b.errorf(n.Pos, "%s: expected '{' to open its block", n.Key)
		return false
	}
	return true
}

func (b *builder) needArgs(n *Node, count int, usage string) bool {
	if len(n.Args) < count {
		b.errorf(n.Pos, "%s: missing argument, expected %q", n.Key, usage)
		return false
	}
	return true
}

func (b *builder) global(n *Node) {
	for _, c := range n.Children {
		switch c.Key {
		case "state_dir":
			if b.needArgs(c, 1, "state_dir DIR") && b.absDir(c) {
				if err := CheckStateDirPath(c.Args[0]); err != nil {
					b.errorf(c.Pos, "state_dir %v", err)
					break
				}
				b.cfg.Global.StateDir = c.Args[0]
			}
		case "maintenance_dir":
			if b.needArgs(c, 1, "maintenance_dir DIR") && b.absDir(c) {
				b.cfg.Global.MaintenanceDir = c.Args[0]
			}
		case "lvs_sync_daemon":
			if b.needArgs(c, 1, "lvs_sync_daemon IFACE [INSTANCE] ...") {
				b.cfg.Global.LVSSyncDaemon = c.Args
			}
		case "smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "checker_log_all_failures":
			// keepalived's global handlers check the switch's argument
			// (check_true_false); kahook sends no mail and logs no
			// checker failures by them, so only the check is kept.
			if len(c.Args) > 0 && !trueFalse(c.Args[0]) {
				msg := fmt.Sprintf("Invalid value '%s' for global %s specified", c.Args[0], c.Key)
				if c.Key == "checker_log_all_failures" {
					msg = "Invalid value for checker_log_all_failures specified"
				}
				b.problemf(c.Pos, "%s (keepalived reports it and reads past it)", msg)
			}
			b.skip(c, "global_defs")
		default:
			b.skip(c, "global_defs")
		}
	}
}

// sortErrors orders errors by line within each file (files stay in the
// order they were read).
func sortErrors(errs ErrorList) {
	sort.SliceStable(errs, func(i, j int) bool {
		return errs[i].Pos.File == errs[j].Pos.File && errs[i].Pos.Line < errs[j].Pos.Line
	})
}

// absDir: a state_dir or maintenance_dir must be an absolute path without
// control characters; a relative one would depend on the working
// directory of whoever runs kahook (keepalived runs it in /).
func (b *builder) absDir(n *Node) bool {
	d := n.Args[0]
	if !filepath.IsAbs(d) || strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		b.errorf(n.Pos, "%s %q: expected an absolute path", n.Key, d)
		return false
	}
	return true
}
