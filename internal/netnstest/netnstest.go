// Package netnstest gives kernel-facing tests fresh network namespaces.
// Every node a test needs is a named namespace; a "switch" namespace
// holds the bridge the nodes are plugged into, so nothing is created in
// the host's own namespace and nothing outlives the test.
package netnstest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

var counter atomic.Int32

// RequireRoot skips a test that needs root, unless running in CI, where a
// missing privilege is a failure (CI runs as root).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("ip"); err != nil {
			t.Fatalf("iproute2 missing: %v", err)
		}
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test needs root (CI runs as root)")
	}
	t.Skip("needs root for network namespaces")
}

// NS is a named network namespace.
type NS struct {
	Name string
	t    testing.TB
}

func uniq(short string) string {
	return fmt.Sprintf("kt%d-%d-%s", os.Getpid()%100000, counter.Add(1), short)
}

// New creates a namespace with lo up; it is deleted, and every process
// still in it killed, when the test ends.
func New(t testing.TB, short string) *NS {
	t.Helper()
	RequireRoot(t)
	n := &NS{Name: uniq(short), t: t}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", n.Name, err, out)
	}
	t.Cleanup(n.destroy)
	n.MustRun("ip", "link", "set", "lo", "up")
	return n
}

func (n *NS) destroy() {
	for i := 0; i < 5; i++ {
		out, _ := exec.Command("ip", "netns", "pids", n.Name).Output()
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			var pid int
			fmt.Sscan(p, &pid)
			if pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = exec.Command("ip", "netns", "del", n.Name).Run()
}

// Command returns a command that runs in the namespace.
func (n *NS) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Run runs a command in the namespace and returns its combined output.
func (n *NS) Run(args ...string) (string, error) {
	var buf bytes.Buffer
	cmd := n.Command(args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// MustRun is Run that fails the test on error.
func (n *NS) MustRun(args ...string) string {
	n.t.Helper()
	out, err := n.Run(args...)
	if err != nil {
		n.t.Fatalf("%s: %s: %v\n%s", n.Name, strings.Join(args, " "), err, out)
	}
	return out
}

// Do runs fn on an OS thread switched into the namespace, for in-process
// library calls (netlink handles, /proc/sys reads).
func (n *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.Name)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

// Switch is a namespace holding bridge br0 that nodes plug into.
type Switch struct {
	*NS
	ports int
}

// NewSwitch creates the switch namespace.
func NewSwitch(t testing.TB) *Switch {
	s := &Switch{NS: New(t, "sw")}
	s.MustRun("ip", "link", "add", "br0", "type", "bridge")
	// No STP, no forwarding delay: ports forward at once.
	s.MustRun("ip", "link", "set", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0")
	s.MustRun("ip", "link", "set", "br0", "up")
	return s
}

// Plug connects node n to the bridge with interface ifname, a fixed MAC
// and an address (CIDR; "" for none). Both ends of the veth are created
// inside their namespaces (ifname in n, the port in the switch), so no
// name is ever taken in the host's namespace and tests running at the
// same time cannot collide.
func (s *Switch) Plug(n *NS, ifname, mac, cidr string) {
	s.t.Helper()
	s.ports++
	port := fmt.Sprintf("p%d", s.ports)
	n.MustRun("ip", "link", "add", ifname, "type", "veth", "peer", "name", port, "netns", s.Name)
	if mac != "" {
		n.MustRun("ip", "link", "set", ifname, "address", mac)
	}
	if cidr != "" {
		n.MustRun("ip", "addr", "add", cidr, "dev", ifname)
	}
	n.MustRun("ip", "link", "set", ifname, "up")
	s.MustRun("ip", "link", "set", port, "master", "br0")
	s.MustRun("ip", "link", "set", port, "up")
}

// Eventually polls cond every 20 ms until it holds or timeout passes, and
// returns whether it held. Tests use it to wait for the kernel to act,
// never as an assertion on time.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Buffer is a goroutine-safe buffer for a background command's output.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Proc is a background process started by Start.
type Proc struct {
	Cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// Start runs a background command (in ns, or on the host when ns is nil)
// in its own process group with its output in a file, so that children
// holding stdout never block Wait. Stop, or the end of the test, kills
// the whole group.
func Start(t testing.TB, ns *NS, args ...string) *Proc {
	t.Helper()
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.Command(args...)
	} else {
		cmd = exec.Command(args[0], args[1:]...)
	}
	f, err := os.CreateTemp("", "kahook-test-proc-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		os.Remove(f.Name())
		t.Fatalf("start %v: %v", args, err)
	}
	f.Close()
	p := &Proc{Cmd: cmd, logPath: f.Name(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		os.Remove(p.logPath)
	})
	return p
}

// Output is what the process printed so far.
func (p *Proc) Output() string {
	data, _ := os.ReadFile(p.logPath)
	return string(data)
}

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Wait waits for the process to exit and returns its error.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the group, then SIGKILL after two seconds.
func (p *Proc) Stop() {
	pgid := p.Cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// AcceptAndClose accepts every connection on ln and closes it at once (a
// TCP server for connect checks), in a goroutine of its own, until ln is
// closed.
func AcceptAndClose(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}
