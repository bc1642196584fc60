package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// Misc is MISC_CHECK: run a program. Plain: exit 0 healthy, anything else
// not. Dynamic (misc_dynamic): 0 healthy at the configured weight, 1 not,
// 2..255 healthy with weight code-2. On timeout the program's whole
// process group is sent SIGTERM, then SIGKILL, and the check fails.
type Misc struct {
	Argv    []string
	Timeout time.Duration
	Dynamic bool
	User    string
	// Grace is how long a timed-out program gets between SIGTERM and
	// SIGKILL (keepalived waits 2 s; kahook less, so a check run by
	// keepalived itself ends inside its own timeout).
	Grace time.Duration
}

func (m Misc) String() string { return "MISC_CHECK " + fmt.Sprint(m.Argv) }

// Check runs the program once.
func (m Misc) Check(ctx context.Context) Result {
	return timed(func() Result { return m.run(ctx) })
}

func (m Misc) run(ctx context.Context) Result {
	if len(m.Argv) == 0 {
		return fail("no program")
	}
	cmd := exec.Command(m.Argv[0], m.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	if m.User != "" {
		cred, err := lookupCredential(m.User)
		if err != nil {
			return failf("user %s: %v", m.User, err)
		}
		cmd.SysProcAttr.Credential = cred
	}
	if err := cmd.Start(); err != nil {
		return failf("start %s: %v", m.Argv[0], err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		m.killGroup(pgid, done)
		return failf("timed out after %v: process group killed", timeout)
	case <-ctx.Done():
		m.killGroup(pgid, done)
		return failf("stopped: %v: process group killed", ctx.Err())
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return failf("wait: %v", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return failf("killed by signal %v", ws.Signal())
		}
		code = ee.ExitCode()
	}
	return MiscResult(code, m.Dynamic)
}

// MiscResult maps an exit code as keepalived's MISC_CHECK does.
func MiscResult(code int, dynamic bool) Result {
	switch {
	case code == 0:
		return ok("exit 0")
	case dynamic && code >= 2 && code <= 255:
		r := ok("exit " + strconv.Itoa(code))
		r.Weight = code - 2
		return r
	default:
		return failf("exit %d", code)
	}
}

// killGroup sends SIGTERM to the program's process group, waits up to
// Grace for the program, then SIGKILLs the group regardless, so that
// children that ignore SIGTERM are gone too.
func (m Misc) killGroup(pgid int, done <-chan error) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	grace := m.Grace
	if grace <= 0 {
		grace = 500 * time.Millisecond
	}
	select {
	case <-done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

func lookupCredential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("bad uid/gid %s/%s", u.Uid, u.Gid)
	}
	if os.Geteuid() != 0 && uint64(os.Geteuid()) != uid {
		return nil, errors.New("only root can run a check as another user")
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
