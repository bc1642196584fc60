package notify_test

import (
	"syscall"

	"golang.org/x/sys/unix"
)

func clockBoottime(ts *syscall.Timespec) error {
	var u unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &u); err != nil {
		return err
	}
	ts.Sec, ts.Nsec = u.Sec, u.Nsec
	return nil
}
