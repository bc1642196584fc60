package state

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestReadable: Readable, which a sync pass runs before its checks in
// place of a whole Load (issue 18), fails exactly when Load fails: only
// for a state file that cannot be read at all; a missing, refused or
// corrupt file is no error.
func TestReadable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(dir string) string // returns the store's dir
		wantErr bool
	}{
		{"missing file", func(dir string) string { return dir }, false},
		{"valid file", func(dir string) string {
			os.WriteFile(filepath.Join(dir, stateName), []byte(`{"version": 1}`), 0o600)
			return dir
		}, false},
		{"does not parse", func(dir string) string {
			os.WriteFile(filepath.Join(dir, stateName), []byte(`{"version": `), 0o600)
			return dir
		}, false},
		{"symlink refused", func(dir string) string {
			os.WriteFile(filepath.Join(dir, "other"), []byte(`{"version": 1}`), 0o600)
			os.Symlink(filepath.Join(dir, "other"), filepath.Join(dir, stateName))
			return dir
		}, false},
		{"directory refused", func(dir string) string {
			os.Mkdir(filepath.Join(dir, stateName), 0o700)
			return dir
		}, false},
		{"dir is a file: cannot be read", func(dir string) string {
			p := filepath.Join(dir, "file")
			os.WriteFile(p, nil, 0o600)
			return p
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{Dir: tc.setup(t.TempDir()), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			_, loadErr := s.Load()
			err := s.Readable()
			if (err != nil) != tc.wantErr || (loadErr != nil) != tc.wantErr {
				t.Errorf("Readable() = %v, Load() error = %v, want error %v", err, loadErr, tc.wantErr)
			}
		})
	}
}

// TestParseState: the reasons a state file is refused, and a good one
// decoded in one pass (issue 18) with its content.
func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		name, data, reason string
	}{
		{"valid", `{"version": 1, "instances": {"VI_1": {"state": "MASTER"}}, "pools": {"VI_1": {"servers": {"a": {"up": true}}}}}`, ""},
		{"valid, no maps", `{"version": 1}`, ""},
		{"no version", `{"instances": {}}`, "no version"},
		{"unknown version", `{"version": 2, "instances": {}}`, "unknown version 2 (this kahook writes version 1)"},
		{"unknown version, other layout", `{"version": 2, "instances": 5}`, "unknown version 2 (this kahook writes version 1)"},
		{"wrong types", `{"version": 1, "instances": 5}`, "does not parse: json: cannot unmarshal number into Go struct field State.instances of type map[string]*state.InstanceState"},
		{"version of the wrong type", `{"version": "1"}`, "does not parse: json: cannot unmarshal string into Go struct field .version of type int"},
		{"syntax", `{"version": 1,`, "does not parse: unexpected end of JSON input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, reason := parseState([]byte(tc.data))
			if reason != tc.reason {
				t.Fatalf("reason %q, want %q", reason, tc.reason)
			}
			if reason != "" {
				return
			}
			if st.Version != Version || st.Instances == nil || st.Pools == nil {
				t.Errorf("state %+v: want version %d and non-nil maps", st, Version)
			}
			if tc.name == "valid" && (st.Instances["VI_1"] == nil || st.Instances["VI_1"].State != "MASTER" || !st.Pools["VI_1"].Servers["a"].Up) {
				t.Errorf("content lost: %+v", st)
			}
		})
	}
}

// TestPrepareRefusesBeforeCreating: a missing state dir under a directory
// a non-root user can change is refused as it stands (an *UnsafeError)
// and nothing is created there, as README's security model says
// ("refused ... nothing created"); under a safe or a root-owned sticky
// directory it is created 0700.
func TestPrepareRefusesBeforeCreating(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the state dir rule applies as root")
	}
	for _, tc := range []struct {
		name   string
		mode   os.FileMode
		uid    int
		unsafe bool
	}{
		{"parent owned by a user", 0o755, 65534, true},
		{"parent writable by others", 0o777, 0, true},
		{"parent writable by a group", 0o775, 0, false}, // root's group: allowed (config rule)
		{"parent sticky and writable by others", os.ModeSticky | 0o777, 0, false},
		{"safe parent", 0o755, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "parent")
			if err := os.Mkdir(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(parent, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(parent, tc.uid, 0); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(parent, "a", "state")
			err := (&Store{Dir: dir}).Prepare()
			var unsafe *UnsafeError
			if got := errors.As(err, &unsafe); got != tc.unsafe {
				t.Fatalf("Prepare: %v, want unsafe %v", err, tc.unsafe)
			}
			entries, rerr := os.ReadDir(parent)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if tc.unsafe {
				if len(entries) != 0 {
					t.Errorf("a refused state dir created %s", filepath.Join(parent, entries[0].Name()))
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			st, err := os.Stat(dir)
			if err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("state dir not created 0700: %v %v", st, err)
			}
		})
	}
}
