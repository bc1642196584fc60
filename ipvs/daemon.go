package ipvs

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
)

// Daemon is a running IPVS connection synchronisation daemon (ipvsadm
// --start-daemon, keepalived's lvs_sync_daemon), as the kernel reports
// it (IPVS_CMD_GET_DAEMON, linux/ip_vs.h).
type Daemon struct {
	State     string     `json:"state"` // "master" or "backup"
	Interface string     `json:"mcast_interface"`
	SyncID    uint32     `json:"syncid"`
	MaxLen    uint16     `json:"maxlen,omitempty"` // bytes of a sync message; 0: unknown
	Group     netip.Addr `json:"group,omitzero"`   // multicast group
	Port      uint16     `json:"port,omitempty"`
	TTL       uint8      `json:"ttl,omitempty"`
}

// IP_VS_STATE_* and the IPVS_DAEMON_ATTR_* numbers (linux/ip_vs.h).
const (
	ipvsCmdGetDaemon = 11
	ipvsCmdAttrDmn   = 3

	ipvsStateMaster = 1
	ipvsStateBackup = 2

	ipvsDaemonAttrState  = 1
	ipvsDaemonAttrIfn    = 2
	ipvsDaemonAttrSyncID = 3
	ipvsDaemonAttrMaxLen = 4
	ipvsDaemonAttrGroup  = 5
	ipvsDaemonAttrGroup6 = 6
	ipvsDaemonAttrPort   = 7
	ipvsDaemonAttrTTL    = 8
)

// Daemons lists the sync daemons that run, master first (ipvsadm's
// order). moby/ipvs has no call for it: it is dumped over a generic
// netlink socket like the destinations (dump.go).
func (h *Handle) Daemons(ctx context.Context) ([]Daemon, error) {
	return bounded(ctx, "read IPVS sync daemons", func() ([]Daemon, error) {
		d, err := newDestDumper(h.family)
		if err != nil {
			return nil, fmt.Errorf("open generic netlink: %w", err)
		}
		defer d.Close()
		return d.daemons()
	})
}

func (d *destDumper) daemons() ([]Daemon, error) {
	var master, backup []Daemon
	req := func() []byte {
		master, backup = master[:0], backup[:0]
		return d.frame([]byte{ipvsCmdGetDaemon, ipvsGenlVersion, 0, 0})
	}
	err := d.dumpAll(req, func(typ uint16, v []byte) error {
		if typ != ipvsCmdAttrDmn {
			return nil
		}
		dm, state := parseDaemon(v)
		switch state {
		case ipvsStateMaster:
			master = append(master, dm)
		case ipvsStateBackup:
			backup = append(backup, dm)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(master, backup...), nil
}

// parseDaemon decodes one nested IPVS_CMD_ATTR_DAEMON.
func parseDaemon(b []byte) (Daemon, uint32) {
	var dm Daemon
	var state uint32
	for typ, v := range attrs(b) {
		switch {
		case typ == ipvsDaemonAttrState && len(v) >= 4:
			state = binary.NativeEndian.Uint32(v)
		case typ == ipvsDaemonAttrIfn:
			dm.Interface = cString(v)
		case typ == ipvsDaemonAttrSyncID && len(v) >= 4:
			dm.SyncID = binary.NativeEndian.Uint32(v)
		case typ == ipvsDaemonAttrMaxLen && len(v) >= 2:
			dm.MaxLen = binary.NativeEndian.Uint16(v)
		case typ == ipvsDaemonAttrGroup && len(v) >= 4:
			dm.Group = netip.AddrFrom4([4]byte(v[:4]))
		case typ == ipvsDaemonAttrGroup6 && len(v) >= 16:
			dm.Group = netip.AddrFrom16([16]byte(v[:16]))
		case typ == ipvsDaemonAttrPort && len(v) >= 2:
			dm.Port = binary.NativeEndian.Uint16(v)
		case typ == ipvsDaemonAttrTTL && len(v) >= 1:
			dm.TTL = v[0]
		}
	}
	switch state {
	case ipvsStateMaster:
		dm.State = "master"
	case ipvsStateBackup:
		dm.State = "backup"
	}
	return dm, state
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// WriteDaemons prints the sync daemons as `ipvsadm -Ln --daemon` does
// (ipvsadm.c list_daemon): one line each, the optional values only when
// the kernel reports them non-zero.
func WriteDaemons(w io.Writer, ds []Daemon) error {
	for _, d := range ds {
		s := fmt.Sprintf("%s sync daemon (mcast=%s, syncid=%d", d.State, d.Interface, d.SyncID)
		if d.MaxLen != 0 {
			s += fmt.Sprintf(", maxlen=%d", d.MaxLen)
		}
		if d.Group.IsValid() {
			s += ", group=" + d.Group.String()
		}
		if d.Port != 0 {
			s += fmt.Sprintf(", port=%d", d.Port)
		}
		if d.TTL != 0 {
			s += fmt.Sprintf(", ttl=%d", d.TTL)
		}
		if _, err := fmt.Fprintln(w, s+")"); err != nil {
			return err
		}
	}
	return nil
}
