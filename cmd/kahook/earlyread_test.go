package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// TestEarlyReadHandOver (final hostile review): an early read made under
// one state dir's lock is handed over for that dir however the config
// spells it (a trailing slash, "."), and released before the config's
// own dir is locked when it names another, so the run never waits for a
// lock it holds itself; close is idempotent.
func TestEarlyReadHandOver(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	store := &state.Store{Dir: dir}
	newRead := func() *earlyRead {
		lock, err := store.LockWithin(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		close(done)
		return &earlyRead{dir: dir, lock: lock, done: done}
	}
	for _, spelt := range []string{dir, dir + "/", filepath.Join(filepath.Dir(dir), ".", "st") + "/."} {
		r := newRead()
		_, unlock, ok := r.takeOver(spelt, discardLog)
		if !ok {
			t.Errorf("%q: not handed over for %q", spelt, dir)
			r.close()
			continue
		}
		r.close() // a no-op once handed over: the Manager's unlock releases it
		if l, err := store.LockWithin(context.Background(), 0); err == nil {
			l.Unlock()
			t.Errorf("%q: the lock was released before the apply ended", spelt)
		}
		unlock()
	}
	r := newRead()
	if _, _, ok := r.takeOver(filepath.Join(t.TempDir(), "other"), discardLog); ok {
		t.Fatal("handed over for another dir")
	}
	r.close()
	r.close()
	l, err := store.LockWithin(context.Background(), 0)
	if err != nil {
		t.Fatalf("the early lock was not released: %v", err)
	}
	l.Unlock()
}

var discardLog = slog.New(slog.DiscardHandler)

// TestEarlyReadWaitedForAtPlan: the hand-over does not wait for the early
// read (the desired table is built meanwhile); the Manager's Current
// waits for it and gives its table, nil after a failed read (PlanLoad
// then reads again), and unlock waits for it before releasing the lock.
func TestEarlyReadWaitedForAtPlan(t *testing.T) {
	for _, failed := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "st")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		store := &state.Store{Dir: dir}
		lock, err := store.LockWithin(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		r := &earlyRead{dir: dir, lock: lock, done: make(chan struct{})}
		m, unlock, ok := r.takeOver(dir, discardLog) // the read is still under way
		if !ok {
			t.Fatal("not handed over")
		}
		got := make(chan ipvs.Table)
		go func() { tb, _ := m.Current(); got <- tb }()
		unlocked := make(chan struct{})
		go func() { unlock(); close(unlocked) }()
		select {
		case <-got:
			t.Fatal("Current returned before the read ended")
		case <-unlocked:
			t.Fatal("unlock returned before the read ended")
		case <-time.After(50 * time.Millisecond):
		}
		want := ipvs.Table{}
		if failed {
			r.err = errors.New("read failed")
		} else {
			r.table, r.took = want, time.Second
		}
		close(r.done)
		tb := <-got
		if failed && tb != nil {
			t.Errorf("a failed read gave a table: %v", tb)
		}
		if !failed && tb == nil {
			t.Error("the read's table was not given")
		}
		<-unlocked
		l, err := store.LockWithin(context.Background(), 0)
		if err != nil {
			t.Fatalf("the lock was not released after the read: %v", err)
		}
		l.Unlock()
	}
}
