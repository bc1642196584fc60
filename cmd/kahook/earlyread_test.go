package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
		_, unlock, ok := r.takeOver(spelt)
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
	if _, _, ok := r.takeOver(filepath.Join(t.TempDir(), "other")); ok {
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
