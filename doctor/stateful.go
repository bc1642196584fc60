package doctor

import (
	"strings"

	"github.com/kahook/kahook/config"
)

// lintStateful warns where an instance's backup would lose synchronised
// IPVS state: connections are synchronised (lvs_sync_daemon, in kahook.conf
// or keepalived.conf), the instance has virtual servers, and the backup
// removes them. The kernel binds a synchronised connection or persistence
// template to a real server only if the backup has that service when the
// sync message arrives (issue 19 item 5; see config.StatefulReason).
// Persistence alone is no reason: without a sync daemon no template
// reaches the backup, so removing its services loses nothing. An
// instance without virtual servers (a NAT gateway) has nothing to lose.
// k may be nil.
func lintStateful(r *Report, kc *config.Config, k *Keepalived) {
	for _, in := range kc.Instances {
		if in.Backup.IPVS != config.IPVSRemove || len(kc.ServersOf(in.Name)) == 0 {
			continue
		}
		var why string
		fromKeepalived := false
		switch {
		case kc.Global.LVSSyncDaemon != nil:
			why = "lvs_sync_daemon " + strings.Join(kc.Global.LVSSyncDaemon, " ")
		case k != nil && k.SyncDaemon != nil:
			why = k.SyncDaemon.Key + " " + strings.Join(k.SyncDaemon.Args, " ") + " in " + k.Path
			fromKeepalived = true
		default:
			continue
		}
		var fix string
		switch rs := kc.BackupIsRealServer(in); {
		case rs != "":
			fix = "the backup is a real server of the pool (" + rs + ") and cannot keep IPVS loaded without a loop: accept that failover reschedules, or move the directors out of the pool"
		case fromKeepalived:
			fix = "copy the line into kahook.conf's global_defs as 'lvs_sync_daemon " + strings.Join(syncArgs(k.SyncDaemon, k), " ") + "' (and drop any 'ipvs remove' from instance " + in.Name + "'s backup block): the backup then keeps its services loaded"
		default:
			fix = "drop 'ipvs remove' from instance " + in.Name + "'s backup block (the default then keeps the services loaded)"
		}
		r.add(Warn, "stateful", in.Pos, fix,
			"instance %s: backup { ipvs remove } loses synchronised connection state (%s): the kernel binds a synchronised connection or persistence template only to a service the backup has loaded, so a failover reschedules persistence sessions and the new master counts no active connections", in.Name, why)
	}
}

// syncArgs turns keepalived's sync daemon line into global_defs' form
// (lvs_sync_daemon_interface IFACE in a vrrp_instance: IFACE INSTANCE).
func syncArgs(n *config.Node, k *Keepalived) []string {
	if n.Key == "lvs_sync_daemon" {
		return n.Args
	}
	for _, in := range k.Instances {
		if in.Node.First("lvs_sync_daemon_interface") == n {
			return []string{n.Arg(0), in.Name}
		}
	}
	return n.Args
}
