// Package state owns kahook's run lock and its state file. Every kahook
// run that changes the system takes the lock of its state dir, so runs
// never interleave, and records what it applied in a JSON file that is
// replaced atomically, so a crash or SIGKILL never leaves half a file.
//
// The state dir is trusted only when a non-root user cannot change it
// (keepalived's enable_script_security rule, config.CheckSecure): kahook
// creates it 0700 and the lock 0600, refuses a dir that others own, can
// write or can enter (CheckDir), opens every file in it with O_NOFOLLOW|O_NONBLOCK, requires a
// regular file of at most MaxFileSize bytes, and treats what it reads as
// untrusted input: a file that does not parse, has an unknown version or
// wrong types is logged and treated as empty (the next save replaces it).
package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"golang.org/x/sys/unix"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/vip"
)

const (
	lockName  = "lock"
	stateName = "state.json"
	// Version of the state file layout.
	Version = 1
	// MaxFileSize bounds every file kahook reads from its state dir
	// (16 MiB: a state of 1,000 virtual servers x 10 real servers is
	// about 3 MiB). A larger file is refused and replaced.
	MaxFileSize = 16 << 20
)

// Store is one state dir. A Store value does not touch the file system
// until Prepare (or Open); callers that only read (doctor) use it as is.
type Store struct {
	Dir string
	// Log receives the error lines of a corrupt or refused file (nil:
	// slog.Default()).
	Log *slog.Logger
}

// UnsafeError is a state dir kahook refuses as given: one a non-root
// user can change (or could have changed while kahook created it), a
// path that is not a directory, or one written with "..". It is bad input
// (exit 2) for a run that must record its event before it changes
// anything (MASTER, reload, sync, ipvs apply); a release goes on without
// the state dir. Nothing is created below a refused dir.
type UnsafeError struct {
	Dir string
	Err error
	// why picks the advice of the message.
	why refusal
}

type refusal int

const (
	refusedUnsafe refusal = iota // a non-root user can change it
	refusedNotDir                // not a directory, or under one that is not
	refusedPath                  // written wrong (config.CheckStateDirPath)
)

func (e *UnsafeError) Error() string {
	switch e.why {
	case refusedNotDir:
		return fmt.Sprintf("state dir %s: not a directory (%v): give state_dir (or --state-dir) the path of a directory, or of one kahook may create", e.Dir, e.Err)
	case refusedPath:
		return fmt.Sprintf("state dir refused: %v", e.Err)
	}
	return fmt.Sprintf("unsafe state dir %s: %v; kahook trusts no state a non-root user can change: make it root-only (chown root:root %s; chmod 0700 %s) or choose another state_dir", e.Dir, e.Err, e.Dir, e.Dir)
}

func (e *UnsafeError) Unwrap() error { return e.Err }

// Fix is what makes the state dir usable, for doctor's report.
func (e *UnsafeError) Fix() string {
	switch e.why {
	case refusedNotDir:
		return "give state_dir (or --state-dir) the path of a directory"
	case refusedPath:
		return `write state_dir (or --state-dir) as an absolute path without ".."`
	}
	return "chown root:root " + e.Dir + "; chmod 0700 " + e.Dir
}

// CorruptError is a file in the state dir that was not usable as it is
// (does not parse, wrong types, unknown version, too large, not a regular
// file). Load reports it and returns an empty state instead.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Reason) }

// Open is Prepare on a new Store.
func Open(dir string) (*Store, error) {
	s := &Store{Dir: dir}
	return s, s.Prepare()
}

// Prepare creates the state dir (mode 0700, parents included) if it is
// missing and checks that it is safe to use: when running as root, the
// dir and every directory above it must be owned by root and not writable
// by a non-root user (config.CheckSecure). A refused dir is an
// *UnsafeError and nothing is created below it: a path written with ".."
// or that is not absolute (config.CheckStateDirPath), a path that is not
// a directory, and a missing dir under a directory a non-root user owns
// or can write. The missing part is made one component at a time
// (mkdirat, then openat with O_NOFOLLOW on the descriptor of the
// directory above, from the root down): no symlink is followed while
// creating, even one planted after the check, and a component another
// user made meanwhile is refused.
func (s *Store) Prepare() error {
	if err := checkPath(s.Dir); err != nil {
		return err
	}
	existing, missing, err := splitExisting(s.Dir)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		if err := create(s.Dir, existing, missing, os.Geteuid() == 0); err != nil {
			return err
		}
	}
	return CheckDir(s.Dir)
}

// checkPath refuses a state dir written wrong (config.CheckStateDirPath).
func checkPath(dir string) error {
	if err := config.CheckStateDirPath(dir); err != nil {
		return &UnsafeError{Dir: dir, Err: err, why: refusedPath}
	}
	return nil
}

// splitExisting splits dir (absolute, without "..": every prefix then
// names what the kernel resolves it to) into its deepest part that exists
// and the names missing below it. A prefix that is not a directory is an
// *UnsafeError.
func splitExisting(dir string) (existing string, missing []string, err error) {
	p := filepath.Clean(dir)
	for {
		_, err := os.Lstat(p)
		if err == nil {
			return p, missing, nil
		}
		if errors.Is(err, unix.ENOTDIR) {
			return "", nil, &UnsafeError{Dir: dir, Err: notDirAbove(p), why: refusedNotDir}
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", nil, fmt.Errorf("create state dir %s: %w", dir, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", nil, fmt.Errorf("create state dir %s: %w", dir, err)
		}
		missing = append([]string{filepath.Base(p)}, missing...)
		p = parent
	}
}

// create makes the missing names of dir below existing. With secure (as
// root) existing must pass config.CheckSecure (a root-owned symlink in a
// safe directory is followed there, as everywhere: /var/run -> /run);
// existing is then opened from / along its resolved path, one component
// at a time with O_NOFOLLOW, each directory checked again on its
// descriptor; each missing name is made 0700 with mkdirat and opened
// with O_NOFOLLOW, and must then be a directory owned by root that no
// group or other user can write (one made meanwhile by another user, or
// a symlink planted there, is an *UnsafeError and nothing more is made).
func create(dir, existing string, missing []string, secure bool) error {
	unsafe := func(err error) error { return &UnsafeError{Dir: dir, Err: fmt.Errorf("not created: %w", err)} }
	resolved, err := filepath.EvalSymlinks(existing)
	if secure {
		resolved, err = config.ResolveSecure(existing)
	}
	var insecure *config.InsecureError
	switch {
	case errors.As(err, &insecure):
		return unsafe(err)
	case errors.Is(err, unix.ENOTDIR):
		return &UnsafeError{Dir: dir, Err: err, why: refusedNotDir}
	case err != nil:
		return fmt.Errorf("create state dir %s: %w", dir, err)
	}
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("create state dir %s: open /: %w", dir, err)
	}
	defer func() { unix.Close(fd) }()
	at := "/"
	// descend opens name below fd, never through a symlink.
	descend := func(name string) (unix.Stat_t, error) {
		var st unix.Stat_t
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		at = filepath.Join(at, name)
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			// O_DIRECTORY|O_NOFOLLOW fails a symlink with ENOTDIR.
			if lerr := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); lerr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return st, unsafe(fmt.Errorf("%s is a symlink: not followed", at))
			}
			return st, &UnsafeError{Dir: dir, Err: fmt.Errorf("%s: %w", at, unix.ENOTDIR), why: refusedNotDir}
		}
		if err != nil {
			return st, fmt.Errorf("create state dir %s: open %s: %w", dir, at, err)
		}
		unix.Close(fd)
		fd = next
		if err := unix.Fstat(fd, &st); err != nil {
			return st, fmt.Errorf("create state dir %s: stat %s: %w", dir, at, err)
		}
		return st, nil
	}
	for _, name := range strings.Split(strings.TrimPrefix(resolved, "/"), "/") {
		if name == "" {
			continue
		}
		st, err := descend(name)
		if err != nil {
			return err
		}
		if secure && !config.SecureStat(&st) {
			return unsafe(fmt.Errorf("%s changed since it was checked: owned by uid %d, mode %04o", at, st.Uid, st.Mode&0o7777))
		}
	}
	for _, name := range missing {
		if err := unix.Mkdirat(fd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create state dir %s: mkdir %s: %w", dir, filepath.Join(at, name), err)
		}
		st, err := descend(name)
		if err != nil {
			return err
		}
		if secure && (st.Uid != 0 || st.Mode&0o022 != 0) {
			return unsafe(fmt.Errorf("%s was made by another process: owned by uid %d, mode %04o", at, st.Uid, st.Mode&0o7777))
		}
	}
	return nil
}

// CheckDir checks an existing state dir without creating anything. When
// running as root (like the config check) it is an *UnsafeError unless
// the dir and every directory above it are owned by root and not writable
// by a non-root user (config.CheckSecure) and the dir itself gives others
// no access and its group no write (0700 or 0750). A path written wrong
// (config.CheckStateDirPath) or that is not a directory is an
// *UnsafeError as well. A missing dir is a plain error wrapping
// os.ErrNotExist.
func CheckDir(dir string) error {
	if err := checkPath(dir); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if errors.Is(err, unix.ENOTDIR) {
		return &UnsafeError{Dir: dir, Err: notDirAbove(dir), why: refusedNotDir}
	}
	if err != nil {
		return fmt.Errorf("state dir %s: %w", dir, err)
	}
	if !st.IsDir() {
		return &UnsafeError{Dir: dir, Err: errors.New("a " + fileType(st.Mode()) + " is there"), why: refusedNotDir}
	}
	if os.Geteuid() != 0 {
		return nil
	}
	if err := config.CheckSecure(dir); err != nil {
		return &UnsafeError{Dir: dir, Err: err}
	}
	// Stricter than a config dir: others may not even enter it (they
	// could open the lock and hold it), nor may a group write to it.
	if mode := st.Mode().Perm(); mode&0o027 != 0 {
		return &UnsafeError{Dir: dir, Err: fmt.Errorf("mode %04o lets users other than root in (want 0700, or 0750)", mode)}
	}
	return nil
}

// notDirAbove names what is not a directory above p, whose lstat or stat
// failed with ENOTDIR: "/x/file is a regular file".
func notDirAbove(p string) error {
	for q := filepath.Dir(p); q != filepath.Dir(q); q = filepath.Dir(q) {
		if st, err := os.Stat(q); err == nil && !st.IsDir() {
			return fmt.Errorf("%s is a %s", q, fileType(st.Mode()))
		}
	}
	return fmt.Errorf("stat %s: %w", p, unix.ENOTDIR)
}

// fileType names a non-directory for messages.
func fileType(m os.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "file"
}

func (s *Store) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Lock is a held run lock.
type Lock struct{ f *os.File }

// Lock takes the state dir's exclusive flock, waiting until ctx ends.
// flock is released by the kernel when the process dies, so a killed run
// never leaves a stale lock. The lock file is opened with O_NOFOLLOW (a
// planted symlink is refused, not followed), must be a regular file, and
// is made mode 0600 so that no other user can open it to hold the lock.
func (s *Store) Lock(ctx context.Context) (*Lock, error) {
	path := filepath.Join(s.Dir, lockName)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EROFS) {
		// flock needs no write access: runs still serialise on a
		// read-only file system (where nothing can be recorded).
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("lock %s is not a regular file: refusing it (remove it; kahook recreates it)", path)
	}
	if st.Mode&0o077 != 0 {
		// Left by an older kahook (0644): others could open it read-only
		// and hold the flock.
		_ = unix.Fchmod(fd, 0o600)
	}
	wait := time.Millisecond
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: another process holds it: %w", path, ctx.Err())
		case <-time.After(wait):
		}
		if wait < 20*time.Millisecond {
			wait *= 2
		}
	}
}

// LockWithin is Lock waiting at most d.
func (s *Store) LockWithin(ctx context.Context, d time.Duration) (*Lock, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return s.Lock(ctx)
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l != nil && l.f != nil {
		_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}

// State is the content of state.json.
type State struct {
	Version   int                       `json:"version"`
	Instances map[string]*InstanceState `json:"instances"`
	// Pools holds the health of real servers for `sync`, by instance.
	Pools map[string]*PoolState `json:"pools,omitempty"`
}

// InstanceState is the last event kahook took for an instance.
type InstanceState struct {
	State    VRRP      `json:"state"` // MASTER, BACKUP, FAULT, STOP, DELETED
	Priority int       `json:"priority"`
	Event    EventKey  `json:"event"`
	Applied  bool      `json:"applied"`  // false while (or if killed while) applying
	Source   string    `json:"source"`   // notify, fifo or release
	Received time.Time `json:"received"` // when kahook got the event
	Updated  time.Time `json:"updated"`  // when it finished applying it
	// GARPPID is the background process still sending gratuitous ARP for
	// this instance; a newer event that re-announces (or releases) stops
	// it.
	GARPPID int `json:"garp_pid,omitzero"`
	// GARPEvent is the event whose gratuitous ARP schedule GARPPID sends:
	// this event, or the MASTER event before it when a repeated MASTER
	// changed nothing and let that schedule run to its end.
	GARPEvent *EventKey `json:"garp_event,omitempty"`
	// VIPs are the addresses this instance holds bound on this node after
	// this event (a MASTER: every configured VIP): a later release
	// removes them even when the config has changed or does not load.
	VIPs []vip.Addr `json:"vips,omitempty"`
}

// PoolState is the per-instance memory of `sync` between passes.
type PoolState struct {
	Servers    map[string]*ServerState `json:"servers"`
	QuorumUp   map[string]bool         `json:"quorum_up,omitempty"` // by virtual server
	LastChange time.Time               `json:"last_change,omitzero"`
	// Checked is when the last pass recorded health, in any VRRP state.
	Checked time.Time `json:"checked,omitzero"`
}

// ServerState is one real server's debounced health.
type ServerState struct {
	Up          bool      `json:"up"`
	Weight      int       `json:"weight"` // dynamic weight, -1 when the config's
	Rise        int       `json:"rise"`   // consecutive successes while down
	Fall        int       `json:"fall"`   // consecutive failures while up
	Seen        bool      `json:"seen"`   // checked at least once
	DrainSince  time.Time `json:"drain_since,omitzero"`
	LastChange  time.Time `json:"last_change,omitzero"`
	LastReason  string    `json:"last_reason,omitempty"`
	Maintenance bool      `json:"maintenance,omitzero"`
}

// Load reads the state file; a missing file is an empty state. A file
// that is not usable (*CorruptError: too large, not regular, does not
// parse, wrong types, unknown version) is logged at error level and
// treated as empty, so the next Save replaces it: the state only orders
// events and remembers pool health, both of which start over safely.
// Entries that cannot be true are dropped with a log line: an event of
// this boot that starts in the future (a forged file would otherwise make
// every later event stale). The error is only for a file that could not
// be read at all (permissions, I/O); the returned state is then empty
// too, never nil.
func (s *Store) Load() (*State, error) {
	path := filepath.Join(s.Dir, stateName)
	data, err := ReadFile(path, MaxFileSize)
	if errors.Is(err, os.ErrNotExist) {
		return newState(), nil
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		s.logger().Error("state file refused: treated as empty, the next change replaces it", "file", path, "reason", ce.Reason)
		return newState(), nil
	}
	if err != nil {
		return newState(), fmt.Errorf("read state %s: %w", path, err)
	}
	st, reason := parseState(data)
	if reason != "" {
		s.logger().Error("state file refused: treated as empty, the next change replaces it", "file", path, "reason", reason)
		return newState(), nil
	}
	now := NowEvent()
	for name, in := range st.Instances {
		if in == nil {
			delete(st.Instances, name)
			continue
		}
		if in.Event.Boot == now.Boot && in.Event.BootNS > now.BootNS+int64(time.Second) {
			s.logger().Error("state file: event from the future ignored (it cannot be from this boot)", "file", path, "instance", name,
				"event_boot_ns", in.Event.BootNS, "now_boot_ns", now.BootNS)
			delete(st.Instances, name)
		}
	}
	for name, p := range st.Pools {
		if p == nil {
			delete(st.Pools, name)
			continue
		}
		for k, sv := range p.Servers {
			if sv == nil {
				delete(p.Servers, k)
			}
		}
	}
	return st, nil
}

// Readable fails as Load does (a state file that cannot be read at all:
// permissions, I/O) without parsing it: a pass checks this before its
// checks, then loads the file under the lock. A missing, refused or
// corrupt file is no error (Load treats it as empty and logs it).
func (s *Store) Readable() error {
	path := filepath.Join(s.Dir, stateName)
	_, err := ReadFile(path, MaxFileSize)
	var ce *CorruptError
	if err == nil || errors.Is(err, os.ErrNotExist) || errors.As(err, &ce) {
		return nil
	}
	return fmt.Errorf("read state %s: %w", path, err)
}

// parseState decodes a state file; a reason is returned for anything
// kahook does not write itself. A good file is decoded once (the version
// read along with the rest: a second pass over a 1,000-server pool's file
// was a tenth of a sync pass's CPU); a file that fails is decoded again
// for its version first, so an unknown version is reported as such even
// when its layout does not decode.
func parseState(data []byte) (*State, string) {
	st := newState()
	file := struct {
		Version *int `json:"version"`
		*State
	}{State: st}
	if err := json.Unmarshal(data, &file, stateJSON); err == nil {
		if reason := versionReason(file.Version); reason != "" {
			return nil, reason
		}
		st.Version = *file.Version
	} else {
		var head struct {
			Version *int `json:"version"`
		}
		if herr := json.Unmarshal(data, &head, stateJSON); herr != nil {
			return nil, "does not parse: " + herr.Error()
		}
		if reason := versionReason(head.Version); reason != "" {
			return nil, reason
		}
		// The error as a decode into State words it.
		if serr := json.Unmarshal(data, newState(), stateJSON); serr != nil {
			err = serr
		}
		return nil, "does not parse: " + err.Error()
	}
	if st.Instances == nil {
		st.Instances = map[string]*InstanceState{}
	}
	if st.Pools == nil {
		st.Pools = map[string]*PoolState{}
	}
	return st, ""
}

// versionReason refuses a missing version or one kahook does not write.
func versionReason(v *int) string {
	if v == nil {
		return "no version"
	}
	if *v != Version {
		return fmt.Sprintf("unknown version %d (this kahook writes version %d)", *v, Version)
	}
	return ""
}

// stateJSON are the options of every encode and decode of state.json
// (github.com/go-json-experiment/json, the module that became Go 1.27's
// encoding/json/v2; on a 1,000-server pool it decodes the file in less
// than half the time of encoding/json v1, and the file is decoded on every
// sync pass and transition, issue 18), set so that the file is the one
// v1 wrote: map keys sorted (the file is stable between passes), a nil
// map or slice written as null, <, >, &, U+2028 and U+2029 escaped, a
// member name twice accepted, the last one replacing the first as in v1
// (v1 wrote two instances whose names differ only in invalid UTF-8 as the
// same name; refusing that would make the save fail and a MASTER that
// cannot record its event is refused; merging the two would keep the
// first one's VIPs under the second one's state), and
// invalid UTF-8 (a name from a keepalived.conf in another encoding)
// written as U+FFFD instead of failing the save. Unlike v1, a member
// name in another case than kahook writes is not matched (it is not a
// file kahook wrote; the member is ignored).
var stateJSON = json.JoinOptions(json.Deterministic(true), json.FormatNilMapAsNull(true), json.FormatNilSliceAsNull(true),
	jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true),
	jsonv1.MergeWithLegacySemantics(true))

func newState() *State {
	return &State{Version: Version, Instances: map[string]*InstanceState{}, Pools: map[string]*PoolState{}}
}

// ReadFile reads a file of the state dir as untrusted input: opened with
// O_NOFOLLOW|O_NONBLOCK (a planted symlink or FIFO is neither followed
// nor waited on), it must be a regular file of at most max bytes, and
// when running as root it must be owned by root and not writable by
// others. Such a file is a *CorruptError; a missing one os.ErrNotExist.
func ReadFile(path string, max int64) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, os.ErrNotExist
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, &CorruptError{Path: path, Reason: "is a symbolic link (not followed)"}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &CorruptError{Path: path, Reason: "not a regular file"}
	}
	if os.Geteuid() == 0 && (st.Uid != 0 || st.Mode&0o022 != 0) {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("owned by uid %d with mode %04o: only a root-owned file not writable by others is trusted", st.Uid, st.Mode&0o7777)}
	}
	if st.Size > max {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("%d bytes, larger than the %d-byte bound", st.Size, max)}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(data)) > max {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("larger than the %d-byte bound", max)}
	}
	return data, nil
}

// Save replaces the state file atomically: write a temp file, fsync it,
// rename it over the old one, fsync the directory. The JSON is compact
// (one line; `jq . state.json` shows it indented): every sync pass
// rewrites the file, and indenting a 1,000-server pool's state cost
// that pass more instructions than encoding it (issue 18).
func (s *Store) Save(st *State) error {
	st.Version = Version
	data, err := json.Marshal(st, stateJSON)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return WriteFileAtomic(filepath.Join(s.Dir, stateName), append(data, '\n'), 0o600)
}

// WriteFileAtomic writes data to path so that readers see either the old
// or the new content, never a mix, even if the writer is killed. The temp
// file is created exclusively (O_EXCL) and renamed over path, so a
// symlink at path is replaced, never followed.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
