package config

import "strings"

// statefulBackups picks the backup side's IPVS default of each instance
// whose backup block does not set `ipvs`: `load` where the node's IPVS
// connection state is synchronised (global_defs `lvs_sync_daemon`) or the
// instance's virtual servers use persistence, and the layout allows it.
//
// Why (measured with keepalived 2.2.7 in the two-director lab, issue 19
// item 5): the kernel binds a synchronised connection or persistence
// template to a real server only if the backup has that service when the
// sync message arrives; otherwise the entry stays unbound, the template is
// dropped, and a new master counts no active connections. keepalived's own
// virtual_server handling keeps the services loaded in every VRRP state.
//
// It is not safe where the backup is itself a real server of the pool (the
// two-node DR layout: `backup { vip on sysctl realserver }`, or a
// `realserver { }` block): IPVS on that backup would forward the packets it
// should answer, and they would loop between the directors. There the
// default stays `remove`, and `doctor` warns that synchronised state is
// lost where a sync daemon runs (without one nothing is synchronised).
func (b *builder) statefulBackups() {
	for _, in := range b.cfg.Instances {
		if in.backupIPVSSet || in.Backup.IPVS != IPVSRemove {
			continue
		}
		if why := b.cfg.StatefulReason(in); why != "" && b.cfg.BackupIsRealServer(in) == "" {
			in.Backup.IPVS = IPVSLoad
			in.BackupKeepsIPVS = why
		}
	}
}

// StatefulReason says why the instance's IPVS state is worth keeping on a
// backup: "lvs_sync_daemon IFACE ..." when global_defs has it, else the
// virtual servers of the instance that have persistence ("" when none).
func (c *Config) StatefulReason(in *Instance) string {
	if c.Global.LVSSyncDaemon != nil {
		return "lvs_sync_daemon " + strings.Join(c.Global.LVSSyncDaemon, " ")
	}
	var names []string
	for _, vs := range c.ServersOf(in.Name) {
		if vs.PersistenceTimeout > 0 {
			names = append(names, vs.Name())
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "persistence_timeout on virtual_server " + strings.Join(names, ", ")
}

// BackupIsRealServer says why the instance's backup serves as a real
// server (then it must not keep IPVS loaded), or "" when it does not.
func (c *Config) BackupIsRealServer(in *Instance) string {
	switch {
	case in.Backup.VIP:
		return "backup { vip on }"
	case in.Backup.Sysctl == RoleRealServer:
		return "backup { sysctl realserver }"
	case c.RealServer != nil:
		return "a realserver { } block at " + c.RealServer.Pos.String()
	}
	return ""
}
