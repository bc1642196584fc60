// Package state owns kahook's run lock and its state file. Every kahook
// run that changes the system takes the lock of its state dir, so runs
// never interleave, and records what it applied in a JSON file that is
// replaced atomically, so a crash or SIGKILL never leaves half a file.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

const (
	lockName  = "lock"
	stateName = "state.json"
	// Version of the state file layout.
	Version = 1
)

// Store is one state dir.
type Store struct {
	Dir string
}

// Open creates the state dir if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state dir %s: %w", dir, err)
	}
	return &Store{Dir: dir}, nil
}

// Lock is a held run lock.
type Lock struct{ f *os.File }

// Lock takes the state dir's exclusive flock, waiting until ctx ends.
// flock is released by the kernel when the process dies, so a killed run
// never leaves a stale lock.
func (s *Store) Lock(ctx context.Context) (*Lock, error) {
	path := filepath.Join(s.Dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	wait := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
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
			return nil, fmt.Errorf("lock %s: another kahook run holds it: %w", path, ctx.Err())
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
	State    string    `json:"state"` // MASTER, BACKUP, FAULT, STOP, DELETED
	Priority int       `json:"priority"`
	Event    EventKey  `json:"event"`
	Applied  bool      `json:"applied"`  // false while (or if killed while) applying
	Source   string    `json:"source"`   // notify or fifo
	Received time.Time `json:"received"` // when kahook got the event
	Updated  time.Time `json:"updated"`  // when it finished applying it
	// GARPPID is the background process still sending gratuitous ARP for
	// this event; a newer event stops it.
	GARPPID int `json:"garp_pid,omitempty"`
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
	Maintenance bool      `json:"maintenance,omitempty"`
}

// Load reads the state file; a missing file is an empty state.
func (s *Store) Load() (*State, error) {
	path := filepath.Join(s.Dir, stateName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	st := newState()
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("parse state %s: %w", path, err)
	}
	if st.Instances == nil {
		st.Instances = map[string]*InstanceState{}
	}
	if st.Pools == nil {
		st.Pools = map[string]*PoolState{}
	}
	return st, nil
}

func newState() *State {
	return &State{Version: Version, Instances: map[string]*InstanceState{}, Pools: map[string]*PoolState{}}
}

// Save replaces the state file atomically: write a temp file, fsync it,
// rename it over the old one, fsync the directory.
func (s *Store) Save(st *State) error {
	st.Version = Version
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return WriteFileAtomic(filepath.Join(s.Dir, stateName), append(data, '\n'), 0o644)
}

// WriteFileAtomic writes data to path so that readers see either the old
// or the new content, never a mix, even if the writer is killed.
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
