package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kahook/kahook/config"
)

// Misc is MISC_CHECK: run a program. Plain: exit 0 healthy, anything else
// not. Dynamic (misc_dynamic): 0 healthy at the configured weight, 1 not,
// 2..255 healthy with weight code-2. On timeout the program's whole
// process group is sent SIGTERM, then SIGKILL, and the check fails. The
// program is found and vetted by SecureProgram first: one it refuses is
// never started and the check fails with the reason.
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
	prog, err := SecureProgram(m.Argv[0], m.User)
	if err != nil {
		return failf("not run: %v", err)
	}
	cmd := exec.Command(prog, m.Argv[1:]...)
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

// defaultPath is where a bare program name is searched when PATH is
// unset: glibc's confstr(_CS_PATH), keepalived's fallback.
const defaultPath = "/bin:/usr/bin"

// LookPath finds a MISC_CHECK program as keepalived 2.2.7's find_path
// (lib/notify.c, glibc's execvp search) does: a name with a slash is used
// as written; a bare name is looked up in each directory of $PATH
// (unset: /bin:/usr/bin; an empty entry is the working directory), and the
// first regular file with an execute bit wins. keepalived logs "WARNING -
// script ... resolved by path search ... Please specify full path" then.
func LookPath(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty program name")
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	path, ok := os.LookupEnv("PATH")
	if !ok {
		path = defaultPath
	}
	denied := false
	for _, dir := range strings.Split(path, ":") {
		cand := name
		if dir != "" {
			cand = dir + "/" + name
		}
		st, err := os.Stat(cand)
		if err != nil {
			continue
		}
		if !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
			denied = true
			continue
		}
		return cand, nil
	}
	if denied {
		return "", fmt.Errorf("%q in PATH %q is not an executable regular file", name, path)
	}
	return "", fmt.Errorf("%q not found in PATH %q", name, path)
}

// SecureProgram resolves a MISC_CHECK program (argv[0] of misc_path) with
// LookPath and applies keepalived's enable_script_security rule to it as
// keepalived 2.2.7's check_script_secure does: a program that would run
// with root's uid or gid (no user while kahook is root, a user whose uid
// or gid is 0, or a setuid/setgid-root executable) must pass
// config.CheckSecure (it, every directory above it and every symlink on
// the way root's and not writable by others). keepalived then logs
// "Unsafe permissions found for script ... - disabling" and never runs
// it; kahook never runs it either and the check fails (see README,
// "Security model"). A program run as another user is not vetted, as in
// keepalived: it cannot gain more than that user has. It returns the path
// to execute.
func SecureProgram(argv0, userName string) (string, error) {
	prog, err := LookPath(argv0)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(prog)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%q is not a regular file", prog)
	}
	if st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%q is not executable", prog)
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if userName != "" {
		cred, err := lookupCredential(userName)
		if err != nil {
			return "", fmt.Errorf("user %s: %w", userName, err)
		}
		uid, gid = cred.Uid, cred.Gid
	}
	sys, _ := st.Sys().(*syscall.Stat_t)
	setRoot := sys != nil && ((sys.Uid == 0 && st.Mode()&os.ModeSetuid != 0 && st.Mode()&0o100 != 0) ||
		(sys.Gid == 0 && st.Mode()&os.ModeSetgid != 0 && st.Mode()&0o010 != 0))
	if uid != 0 && gid != 0 && !setRoot {
		return prog, nil
	}
	if err := config.CheckSecure(prog); err != nil {
		return "", fmt.Errorf("unsafe program: %w", err)
	}
	if !filepath.IsAbs(prog) {
		// exec resolves it against the working directory, as checked
		if abs, err := filepath.Abs(prog); err == nil {
			prog = abs
		}
	}
	return prog, nil
}
