package config

import (
	"strings"
	"testing"
)

// TestInterfaceNamesAreLinuxNames (issue 15, F9): an `interface` or a
// virtual_ipaddress `dev` that the kernel's dev_valid_name would refuse
// (a path, "..", whitespace, more than 15 bytes) is a config error at its
// file:line, never a path under /proc/sys; valid names (VLANs with a dot,
// dashes, 15 bytes) pass.
func TestInterfaceNamesAreLinuxNames(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"instance interface traversal", "instance VI_1 {\n    interface ../x\n    virtual_ipaddress { 10.0.0.1 }\n}\n", `kahook.conf:2: interface: interface name "../x" contains '/'`},
		{"instance interface dot-dot", "instance VI_1 {\n    interface ..\n    virtual_ipaddress { 10.0.0.1 }\n}\n", `kahook.conf:2: interface: interface name ".." is not a valid Linux interface name`},
		{"instance interface 16 bytes", "instance VI_1 {\n    interface abcdefghijklmnop\n    virtual_ipaddress { 10.0.0.1 }\n}\n", "kahook.conf:2: interface: interface name \"abcdefghijklmnop\" is 16 bytes"},
		{"realserver interface with a colon", "realserver {\n    interface eth0:1\n    virtual_ipaddress { 10.0.0.1 }\n}\n", `kahook.conf:2: interface: interface name "eth0:1" contains ':'`},
		{"vip dev traversal", "instance VI_1 {\n    interface eth0\n    virtual_ipaddress {\n        10.0.0.1/32 dev ../../tmp\n    }\n}\n", `kahook.conf:4: virtual_ipaddress 10.0.0.1/32: dev: interface name "../../tmp" contains '/'`},
		{"valid names", "instance VI_1 {\n    interface eth0.100\n    virtual_ipaddress {\n        10.0.0.1/32 dev abcdefghijklmno\n    }\n}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("kahook.conf", []byte(tc.conf), Options{})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid names refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestGlobalDirsAreAbsolute (issue 15, F11): state_dir and
// maintenance_dir must be absolute paths (keepalived runs kahook in /; a
// relative dir would follow whoever runs it), refused at file:line, and
// state_dir has no ".." component (config.CheckStateDirPath).
func TestGlobalDirsAreAbsolute(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"relative state_dir", "global_defs {\n    state_dir run/kahook\n}\n", `kahook.conf:2: state_dir "run/kahook": expected an absolute path`},
		{"relative maintenance_dir", "global_defs {\n    maintenance_dir maint\n}\n", `kahook.conf:2: maintenance_dir "maint": expected an absolute path`},
		// Hostile review F1: kahook creates a state dir one name at a
		// time; after a symlink ".." is the parent of its target.
		{"state_dir with ..", "global_defs {\n    state_dir /tmp/ulink/../st\n}\n", `kahook.conf:2: state_dir "/tmp/ulink/../st" has a ".." component`},
		{"state_dir ending in ..", "global_defs {\n    state_dir /run/kahook/..\n}\n", `kahook.conf:2: state_dir "/run/kahook/.." has a ".." component`},
		{"absolute", "global_defs {\n    state_dir /run/kahook\n    maintenance_dir /etc/kahook/maintenance\n}\n", ""},
		{"dots in a name", "global_defs {\n    state_dir /run/..kahook../x..\n}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("kahook.conf", []byte(tc.conf), Options{})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("absolute dirs refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
