package check

import (
	"context"
	"errors"
	"os"
)

// File is the maintenance-file pattern: healthy while Path is absent
// (Present=false) or present (Present=true).
type File struct {
	Path    string
	Present bool
}

func (f File) String() string { return "file " + f.Path }

func (f File) Check(context.Context) Result {
	return timed(func() Result {
		_, err := os.Stat(f.Path)
		exists := err == nil
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return failf("stat %s: %v", f.Path, err)
		}
		switch {
		case exists && f.Present, !exists && !f.Present:
			return ok(f.Path + map[bool]string{true: " present", false: " absent"}[exists])
		case exists:
			return failf("%s exists", f.Path)
		default:
			return failf("%s does not exist", f.Path)
		}
	})
}
