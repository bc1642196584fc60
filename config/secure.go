package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// CheckSecure applies keepalived's enable_script_security rule to path:
// the file and every directory above it must be owned by root, and must
// not be writable by a non-root group or by others (a directory with the
// sticky bit, like /tmp, is exempt from the write rule). kahook runs as
// root and acts on what its config says, so a config another user can
// edit is a way to root.
func CheckSecure(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	parts := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	cur := "/"
	for i := -1; i < len(parts); i++ {
		if i >= 0 {
			cur = filepath.Join(cur, parts[i])
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(cur, &st); err != nil {
			return fmt.Errorf("%s: %w", cur, err)
		}
		mode := os.FileMode(st.Mode & 0o7777)
		isDir := st.Mode&syscall.S_IFMT == syscall.S_IFDIR
		if st.Uid != 0 {
			return fmt.Errorf("%s is owned by uid %d, not root: refusing %s (keepalived's script security rule; chown root)", cur, st.Uid, path)
		}
		if isDir && st.Mode&syscall.S_ISVTX != 0 {
			continue
		}
		if (st.Gid != 0 && mode&0o020 != 0) || mode&0o002 != 0 {
			return fmt.Errorf("%s is writable by non-root users (mode %04o): refusing %s (chmod go-w)", cur, mode, path)
		}
	}
	return nil
}
