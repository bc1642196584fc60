package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// MaxFileSize bounds a config file and each include: 16 MiB. A config of
// 10,000 virtual servers is about 2 MiB; anything much bigger is not a
// config (an include of /dev/zero, a log file matched by a glob) and would
// only make a root process use memory without end.
const MaxFileSize = 16 << 20

// maxSymlinks bounds the symlinks followed while resolving one path
// (Linux's MAXSYMLINKS is 40 as well; more is ELOOP).
const maxSymlinks = 40

// CheckSecure applies keepalived's enable_script_security rule to path
// (keepalived 2.2.7 lib/notify.c check_security): every object a root
// process meets while resolving it, the directories of the path as
// written, each symlink, the directories of each symlink's target and the
// final file, must be owned by root, and the directories and the file must
// not be writable by a group other than root's or by others (a directory
// with the sticky bit, like /tmp, is exempt from the write rule, as in
// keepalived). A symlink itself is judged by its owner only (its mode is
// always 0777); a root-owned symlink in a safe directory to a safe file is
// accepted, a symlink in a directory others can write is not. kahook runs
// as root and acts on what its files say, so a file another user can
// change, or swap through a directory or a symlink, is a way to root.
//
// The error names the offending object, the path asked for and the fix.
// CheckSecure does not look at the final object's type; ReadFile and the
// script checks require a regular file.
func CheckSecure(path string) error {
	_, _, err := resolveSecure(path)
	return err
}

// ResolveSecure is CheckSecure that also returns the resolved path: absolute,
// without symlinks, "." or "..", naming the same object as path did when
// it was checked. Every directory on it is root's alone, so it keeps naming
// that object against anyone but root.
func ResolveSecure(path string) (string, error) {
	p, _, err := resolveSecure(path)
	return p, err
}

// resolveSecure walks path one component at a time as the kernel resolves
// it (a symlink's target is spliced into the rest; ".." goes to the
// physical parent) and checks every object met. It returns the resolved
// path and the lstat of the final object.
func resolveSecure(path string) (string, *unix.Stat_t, error) {
	if path == "" {
		return "", nil, errors.New("check path: empty path")
	}
	full := path
	if !filepath.IsAbs(full) {
		wd, err := os.Getwd()
		if err != nil {
			return "", nil, fmt.Errorf("check %q: %w", path, err)
		}
		full = wd + "/" + full
	}
	var st unix.Stat_t
	if err := checkObject(path, "/", &st); err != nil {
		return "", nil, err
	}
	cur := "/"
	rest := components(full)
	hops := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			// cur is a resolved directory: its parent is lexical.
			cur = filepath.Dir(cur)
			if err := unix.Lstat(cur, &st); err != nil {
				return "", nil, fmt.Errorf("check %q: %w", path, &os.PathError{Op: "lstat", Path: cur, Err: err})
			}
			continue
		}
		next := filepath.Join(cur, name)
		if err := checkObject(path, next, &st); err != nil {
			return "", nil, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			hops++
			if hops > maxSymlinks {
				return "", nil, fmt.Errorf("check %q: %w", path, &os.PathError{Op: "resolve", Path: next, Err: unix.ELOOP})
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", nil, fmt.Errorf("check %q: %w", path, err)
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(components(target), rest...)
			continue
		case unix.S_IFDIR:
		default:
			if len(rest) > 0 {
				return "", nil, fmt.Errorf("check %q: %w", path, &os.PathError{Op: "resolve", Path: next, Err: unix.ENOTDIR})
			}
		}
		cur = next
	}
	return cur, &st, nil
}

// InsecureError is a path refused by CheckSecure: Object, met while
// resolving Path, is owned by a user other than root (Owner) or writable
// by a non-root group or by others.
type InsecureError struct {
	Path   string // the path asked for
	Object string // the file, directory or symlink that breaks the rule
	Kind   string // "file", "directory", "symlink", "FIFO"...
	Owner  bool   // true: owned by UID; false: writable by others (Mode, GID)
	UID    uint32
	GID    uint32
	Mode   uint32 // permission bits, with setuid/setgid/sticky
}

func (e *InsecureError) Error() string {
	if e.Owner {
		return fmt.Sprintf("%s %q is owned by uid %d, not root: refusing %q (keepalived's script security rule; %s)", e.Kind, e.Object, e.UID, e.Path, e.Fix())
	}
	return fmt.Sprintf("%s %q is writable by non-root users (mode %04o, group %d): refusing %q (keepalived's script security rule; %s)", e.Kind, e.Object, e.Mode, e.GID, e.Path, e.Fix())
}

// Fix is the command that makes Object pass the rule.
func (e *InsecureError) Fix() string {
	if e.Owner {
		if e.Kind == "symlink" {
			return fmt.Sprintf("chown -h root %q", e.Object)
		}
		return fmt.Sprintf("chown root %q", e.Object)
	}
	return fmt.Sprintf("chmod go-w %q", e.Object)
}

// checkObject lstats obj, met while resolving path, into st and applies
// the rule to it.
func checkObject(path, obj string, st *unix.Stat_t) error {
	if err := unix.Lstat(obj, st); err != nil {
		return fmt.Errorf("check %q: %w", path, &os.PathError{Op: "lstat", Path: obj, Err: err})
	}
	if SecureStat(st) {
		return nil
	}
	return &InsecureError{Path: path, Object: obj, Kind: fileKind(st.Mode), Owner: st.Uid != 0, UID: st.Uid, GID: st.Gid, Mode: st.Mode & 0o7777}
}

// SecureStat is CheckSecure's rule for one object, from its lstat (or
// the fstat of an open directory): owned by root, and, unless it is a
// symlink (its mode means nothing) or a sticky directory (others cannot
// replace what root owns in it), not writable by a non-root group or by
// others.
func SecureStat(st *unix.Stat_t) bool {
	if st.Uid != 0 {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return true
	case unix.S_IFDIR:
		if st.Mode&unix.S_ISVTX != 0 {
			return true
		}
	}
	return (st.Gid == 0 || st.Mode&0o020 == 0) && st.Mode&0o002 == 0
}

// CheckStateDirPath is the rule for how a state dir is written
// (global_defs state_dir, --state-dir, KAHOOK_STATE_DIR): an absolute
// path (keepalived runs its scripts in /) without a ".." component.
// kahook creates the missing part of a state dir one component at a
// time, never through a symlink; after a symlink ".." is not the parent
// the text shows (the kernel goes to the parent of the link's target),
// so a path with ".." could be checked as one directory and created as
// another. A control character (C0, DEL, C1) is refused too: such a
// path from --state-dir or KAHOOK_STATE_DIR is a typo or a forgery, and
// a release that meets it goes ahead without the state dir. The error
// says what is wrong with dir.
func CheckStateDirPath(dir string) error {
	if strings.ContainsFunc(dir, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
		return fmt.Errorf("%q contains a control character", dir)
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%q is not an absolute path", dir)
	}
	if slices.Contains(strings.Split(dir, "/"), "..") {
		return fmt.Errorf("%q has a \"..\" component: after a symlink \"..\" is not the parent the path shows, so kahook refuses it; write the path without \"..\"", dir)
	}
	return nil
}

// components splits a path into its names, dropping empty ones and ".".
func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// fileKind names a file type for messages.
func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	}
	return "file"
}

// ReadFile reads a config file or an include without ever blocking or
// reading without bound: the path must name a regular file (a FIFO, a
// device or a directory is refused before it is opened), it is opened
// with O_NONBLOCK|O_NOCTTY|O_CLOEXEC and checked again with fstat, and it
// may hold at most MaxFileSize bytes. With secure (kahook running as
// root), the path must first pass CheckSecure and the resolved path is
// opened with O_NOFOLLOW; the opened file must be the one checked.
func ReadFile(path string, secure bool) ([]byte, error) {
	open := path
	var checked unix.Stat_t
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if secure {
		resolved, st, err := resolveSecure(path)
		if err != nil {
			return nil, err
		}
		open, checked = resolved, *st
		flags |= unix.O_NOFOLLOW
	} else if err := unix.Stat(path, &checked); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if err := regular(path, &checked); err != nil {
		return nil, err
	}
	var fd int
	var err error
	for {
		fd, err = unix.Open(open, flags, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if err := regular(path, &st); err != nil {
		return nil, err
	}
	if st.Dev != checked.Dev || st.Ino != checked.Ino {
		return nil, fmt.Errorf("%q changed while it was being opened: refusing it", path)
	}
	// A regular file never blocks; read it on the raw descriptor (an
	// os.File of an O_NONBLOCK descriptor would go through the poller).
	data := make([]byte, 0, st.Size+1)
	for len(data) <= MaxFileSize {
		if len(data) == cap(data) {
			data = slices.Grow(data, 4096) // it grew since fstat
		}
		n, err := unix.Read(fd, data[len(data):min(cap(data), MaxFileSize+1)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return data, nil
		}
		data = data[:len(data)+n]
	}
	return nil, tooBig(path)
}

// regular refuses anything but a regular file of at most MaxFileSize.
func regular(path string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%q is a %s, not a regular file: refusing to read it", path, fileKind(st.Mode))
	}
	if st.Size > MaxFileSize {
		return tooBig(path)
	}
	return nil
}

func tooBig(path string) error {
	return fmt.Errorf("%q is bigger than %d MiB, the most a config file may hold: refusing to read it", path, MaxFileSize>>20)
}

// CheckSecureDir is CheckSecure for a directory whose entries are
// themselves the input (maintenance_dir, the directory of a FILE_CHECK
// track_file, sync --textfile): the path must pass CheckSecure and the
// directory it resolves to must be a directory owned by root and not
// writable by a non-root group or by others, sticky bit or not. The sticky
// exemption keeps others from replacing what root owns in /tmp, but any
// user may still add a new name there, and in such a directory a new name
// is enough (a file named IP:PORT drains a real server). The error is an
// *InsecureError (Fix: chmod go-w) or says the path is not a directory.
func CheckSecureDir(path string) error {
	resolved, st, err := resolveSecure(path)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("check %q: %q is a %s, not a directory", path, resolved, fileKind(st.Mode))
	}
	if (st.Gid != 0 && st.Mode&0o020 != 0) || st.Mode&0o002 != 0 {
		return &InsecureError{Path: path, Object: resolved, Kind: "directory", UID: st.Uid, GID: st.Gid, Mode: st.Mode & 0o7777}
	}
	return nil
}
