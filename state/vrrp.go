package state

// VRRP is the state of a VRRP instance or sync group as keepalived names
// it in notify arguments and FIFO lines (vrrp/vrrp_notify.c), and as
// kahook records it.
type VRRP string

// The states keepalived reports.
const (
	Master  VRRP = "MASTER"
	Backup  VRRP = "BACKUP"
	Fault   VRRP = "FAULT"
	Stop    VRRP = "STOP"
	Deleted VRRP = "DELETED"
)

func (s VRRP) String() string { return string(s) }

// IsMaster reports whether the state makes the node active.
func (s VRRP) IsMaster() bool { return s == Master }
