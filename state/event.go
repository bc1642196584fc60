package state

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// EventKey orders the events of one instance. keepalived starts notify
// scripts without waiting for them, so on a fast flap a BACKUP run can
// take the lock after the MASTER run that followed it. The order that
// counts is the order keepalived forked them in: the process start time
// (since boot, in clock ticks) and, within one tick, the pid, which the
// kernel hands out in fork order. Both count from a boot, so the key
// carries the boot's id (/proc/sys/kernel/random/boot_id): an event of
// another boot is older than any event of this one, whatever its
// numbers say (a state_dir that outlives a reboot).
type EventKey struct {
	Boot   string `json:"boot,omitempty"`
	BootNS int64  `json:"boot_ns"`
	PID    int    `json:"pid"`
}

var (
	bootOnce sync.Once
	bootID   string
)

// BootID is this boot's id, "" if the kernel does not say.
func BootID() string {
	bootOnce.Do(func() {
		data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err == nil {
			bootID = strings.TrimSpace(string(data))
		}
	})
	return bootID
}

// userHZ is the unit of /proc/PID/stat's starttime: USER_HZ, 100 on
// every Linux architecture kahook ships for.
const userHZ = 100

// ProcessEvent is the key of the calling process: its start time.
func ProcessEvent() (EventKey, error) {
	return processEvent(os.Getpid())
}

func processEvent(pid int) (EventKey, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return EventKey{}, fmt.Errorf("read process start time: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return EventKey{}, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	fields := bytes.Fields(data[i+1:])
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return EventKey{}, fmt.Errorf("parse /proc/%d/stat: too few fields", pid)
	}
	ticks, err := strconv.ParseInt(string(fields[19]), 10, 64)
	if err != nil {
		return EventKey{}, fmt.Errorf("parse /proc/%d/stat starttime: %w", pid, err)
	}
	return EventKey{Boot: BootID(), BootNS: ticks * int64(time.Second/userHZ), PID: pid}, nil
}

// NowEvent is a key for an event read now (a FIFO line), ordered after
// every process that started before this moment.
func NowEvent() EventKey {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return EventKey{Boot: BootID(), BootNS: ts.Nano(), PID: os.Getpid()}
}

// pidWrapGap: pids further apart than this within one 10 ms tick are taken
// as a wrap of the pid counter, not as order. No machine forks 16k
// processes in one tick, and half the smallest pid_max (32768) is 16384.
const pidWrapGap = 1 << 14

// After reports whether k is a newer event than o. Of two keys from
// different boots only one of this boot is newer (a key of an older
// kahook, without a boot id, counts as another boot).
func (k EventKey) After(o EventKey) bool {
	if k.Boot != o.Boot {
		return k.Boot != "" && k.Boot == BootID()
	}
	if k.BootNS != o.BootNS {
		return k.BootNS > o.BootNS
	}
	d := k.PID - o.PID
	if d > pidWrapGap || d < -pidWrapGap {
		return d < 0
	}
	return d > 0
}

// IsZero reports an unset key.
func (k EventKey) IsZero() bool { return k.Boot == "" && k.BootNS == 0 && k.PID == 0 }
