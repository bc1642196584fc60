package state

import (
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
