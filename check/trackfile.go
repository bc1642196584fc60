package check

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/kahook/kahook/config"
)

// TrackFile is FILE_CHECK (keepalived's check_file.c and track_file.c):
// the file holds a number (read as strtol base 0 reads it: leading blanks,
// sign, 0x hex or 0 octal, up to the first other character; a missing or
// empty file is 0). With Weight 0 the server is down while the number is
// non-zero (zero with Reverse). Otherwise it stays up and its weight is
// BaseWeight + number x Weight (x -1 with Reverse), at least 0.
// The file is opened without following a symlink and must be a regular
// file (never a FIFO or device: the read must not block). As root, its
// value moves real servers, so the config rule applies (SecureTrackFile):
// a track file others can change, or one in a directory others can add a
// name to (even a sticky one like /tmp: creating the missing file is
// enough), is not read and the check fails with the reason. keepalived
// does not vet track files; kahook does (README, "Security model").
type TrackFile struct {
	Path       string
	Weight     int
	Reverse    bool
	BaseWeight int
}

func (f TrackFile) String() string { return "FILE_CHECK " + f.Path }

func (f TrackFile) Check(context.Context) Result {
	return timed(func() Result {
		v, err := readTrackFile(f.Path)
		if err != nil {
			return failf("track file: %v", err)
		}
		mult := int64(1)
		if f.Reverse {
			mult = -1
		}
		if f.Weight == 0 {
			if (v != 0) != f.Reverse {
				return failf("%s holds %d", f.Path, v)
			}
			return ok(fmt.Sprintf("%s holds %d", f.Path, v))
		}
		delta := v * int64(f.Weight) * mult
		if delta <= math.MinInt32 { // IPVS_WEIGHT_FAULT
			return failf("%s holds %d: weight %d", f.Path, v, delta)
		}
		w := min(max(int64(f.BaseWeight)+delta, 0), math.MaxInt32)
		r := ok(fmt.Sprintf("%s holds %d: weight %d", f.Path, v, w))
		r.Weight = int(w)
		return r
	})
}

// SecureTrackFile applies the config rule to a track file when running as
// root: its directory must pass config.CheckSecureDir (root's, not
// writable by others, sticky or not) and the file, when it exists,
// config.CheckSecure. Not root: nil.
func SecureTrackFile(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := config.CheckSecureDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("unsafe track file directory: %w", err)
	}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := config.CheckSecure(path); err != nil {
		return fmt.Errorf("unsafe track file: %w", err)
	}
	return nil
}

// readTrackFile reads the number in path (0 when missing or empty).
func readTrackFile(path string) (int64, error) {
	if err := SecureTrackFile(path); err != nil {
		return 0, fmt.Errorf("not read: %w", err)
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ENOENT) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	file := os.NewFile(uintptr(fd), path)
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", path)
	}
	buf := make([]byte, 127)
	n, _ := file.Read(buf)
	return strtol(string(buf[:n])), nil
}

// strtol is C's strtol(s, NULL, 0) without its errno cases: the longest
// number at the start of s, 0 when there is none.
func strtol(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := int64(10)
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && hexDigit(s[2]) >= 0:
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base = 8
	}
	var v int64
	for i := 0; i < len(s); i++ {
		d := int64(hexDigit(s[i]))
		if d < 0 || d >= base {
			break
		}
		if v > (math.MaxInt64-d)/base {
			break
		}
		v = v*base + d
	}
	if neg {
		v = -v
	}
	return v
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
