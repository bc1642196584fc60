// Package lab builds the end-to-end lab of `make demo` and the failover
// tests: two directors running keepalived with kahook as their notify
// script, two LVS-DR real servers answering with their name, and a client,
// each in its own network namespace, plugged into a bridge that lives in
// a namespace of its own. Nothing is created in the host's namespace, and
// Close removes everything (namespaces, processes, files).
package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Addresses of the lab.
const (
	VIP     = "10.9.0.100"
	Subnet  = "10.9.0.0/24"
	IPA     = "10.9.0.1"
	IPB     = "10.9.0.2"
	IPRS1   = "10.9.0.11"
	IPRS2   = "10.9.0.12"
	IPCli   = "10.9.0.50"
	MACA    = "02:00:00:09:00:01"
	MACB    = "02:00:00:09:00:02"
	MACRS1  = "02:00:00:09:00:11"
	MACRS2  = "02:00:00:09:00:12"
	MACCli  = "02:00:00:09:00:50"
	VRID    = "51"
	HTTPURL = "http://" + VIP + "/"
)

// Lab is a set of namespaces on one bridge.
type Lab struct {
	Dir    string // configs, state and logs
	Kahook string // binaries
	Labweb string
	Say    func(format string, args ...any) // narration (may be nil)

	prefix string
	Switch *Node
	nodes  []*Node
	mu     sync.Mutex
	procs  []*Proc
	closed bool
}

// Node is one namespace.
type Node struct {
	Name string // short name (a, b, rs1, client)
	NS   string // namespace name
	IP   string
	MAC  string
	lab  *Lab
}

// New creates the switch namespace with bridge br0. kahook and labweb are
// the binaries the lab runs.
func New(kahook, labweb string) (*Lab, error) {
	dir, err := os.MkdirTemp("", "kahook-lab-")
	if err != nil {
		return nil, err
	}
	os.Chmod(dir, 0o755)
	l := &Lab{Dir: dir, Kahook: kahook, Labweb: labweb, prefix: fmt.Sprintf("kl%d", os.Getpid()%100000)}
	sw, err := l.addNS("sw")
	if err != nil {
		l.Close()
		return nil, err
	}
	l.Switch = sw
	for _, args := range [][]string{
		{"ip", "link", "add", "br0", "type", "bridge"},
		{"ip", "link", "set", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0"},
		{"ip", "link", "set", "br0", "up"},
	} {
		if _, err := sw.Run(args...); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

func (l *Lab) say(format string, args ...any) {
	if l.Say != nil {
		l.Say(format, args...)
	}
}

func (l *Lab) addNS(name string) (*Node, error) {
	n := &Node{Name: name, NS: l.prefix + "-" + name, lab: l}
	if out, err := exec.Command("ip", "netns", "add", n.NS).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", n.NS, err, out)
	}
	l.nodes = append(l.nodes, n)
	if _, err := n.Run("ip", "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	return n, nil
}

// AddNode creates a namespace plugged into the bridge as eth0 with ip/24.
func (l *Lab) AddNode(name, ip, mac string) (*Node, error) {
	n, err := l.addNS(name)
	if err != nil {
		return nil, err
	}
	n.IP, n.MAC = ip, mac
	// Both ends of the veth are created inside their namespaces: nothing
	// takes a name in the host's namespace, so labs and tests running at
	// the same time cannot collide.
	port := "p-" + name
	for _, s := range []struct {
		ns   *Node
		args []string
	}{
		{n, []string{"ip", "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", l.Switch.NS}},
		{n, []string{"ip", "link", "set", "eth0", "address", mac}},
		{n, []string{"ip", "addr", "add", ip + "/24", "dev", "eth0"}},
		{n, []string{"ip", "link", "set", "eth0", "up"}},
		{l.Switch, []string{"ip", "link", "set", port, "master", "br0"}},
		{l.Switch, []string{"ip", "link", "set", port, "up"}},
	} {
		if _, err := s.ns.Run(s.args...); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Command runs in the node's namespace.
func (n *Node) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.NS}, args...)...)
}

// Run runs a command in the node and returns its output.
func (n *Node) Run(args ...string) (string, error) {
	var buf bytes.Buffer
	cmd := n.Command(args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return buf.String(), fmt.Errorf("%s: %s: %w: %s", n.Name, strings.Join(args, " "), err, strings.TrimSpace(buf.String()))
	}
	return buf.String(), nil
}

// Proc is a background process of the lab.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string
	done chan struct{}
}

// Start runs a background command in the node, in its own process group,
// with its output in DIR/name.log.
func (n *Node) Start(name string, args ...string) (*Proc, error) {
	log := filepath.Join(n.lab.Dir, name+".log")
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := n.Command(args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", n.Name, name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, Log: log, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	n.lab.mu.Lock()
	n.lab.procs = append(n.lab.procs, p)
	n.lab.mu.Unlock()
	return p, nil
}

// Output is the process's log so far.
func (p *Proc) Output() string {
	data, _ := os.ReadFile(p.Log)
	return string(data)
}

// Kill sends sig to the process alone.
func (p *Proc) Kill(sig syscall.Signal) { _ = p.Cmd.Process.Signal(sig) }

// KillGroup sends sig to the process and its children at once. For
// keepalived this is a crash: SIGKILL of the parent alone makes its VRRP
// child shut down cleanly (priority 0 advert, STOP notify), which is a
// graceful stop, not a failure.
func (p *Proc) KillGroup(sig syscall.Signal) { _ = syscall.Kill(-p.Cmd.Process.Pid, sig) }

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Wait waits up to d for the process to exit.
func (p *Proc) Wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Stop ends the whole process group: SIGTERM, then SIGKILL.
func (p *Proc) Stop() {
	pg := p.Cmd.Process.Pid
	_ = syscall.Kill(-pg, syscall.SIGTERM)
	if !p.Wait(3 * time.Second) {
		_ = syscall.Kill(-pg, syscall.SIGKILL)
		p.Wait(3 * time.Second)
	}
}

// Close stops every process, deletes every namespace and the lab dir.
// It is safe to call twice (Ctrl-C and a deferred Close).
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs := append([]*Proc(nil), l.procs...)
	l.mu.Unlock()
	for _, p := range procs {
		p.Stop()
	}
	var errs []error
	for _, n := range l.nodes {
		// Anything still inside (a background gratuitous ARP, a notify
		// script keepalived started) dies with its namespace.
		out, _ := exec.Command("ip", "netns", "pids", n.NS).Output()
		for _, f := range strings.Fields(string(out)) {
			var pid int
			fmt.Sscan(f, &pid)
			if pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for i := len(l.nodes) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", l.nodes[i].NS).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", l.nodes[i].NS, err, out))
		}
	}
	if os.Getenv("KAHOOK_KEEP") == "" {
		os.RemoveAll(l.Dir)
	}
	return errors.Join(errs...)
}

// Leftovers lists what a lab with this process's prefix left behind (the
// demo test asserts there is none).
func Leftovers(prefix string) []string {
	var out []string
	nss, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(nss), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			out = append(out, "namespace "+f[0])
		}
	}
	links, _ := exec.Command("ip", "-o", "link").Output()
	for _, line := range strings.Split(string(links), "\n") {
		if strings.Contains(line, prefix) {
			out = append(out, "link "+strings.TrimSpace(line))
		}
	}
	return out
}

// Prefix is the namespace name prefix of this lab.
func (l *Lab) Prefix() string { return l.prefix }
