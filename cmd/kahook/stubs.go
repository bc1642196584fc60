package main

import "github.com/urfave/cli/v2"

// notImplemented registers a command whose issue has not landed: it is
// visible in --help and fails with exit 2, never a silent success.
func notImplemented(name, usageText string, sub ...string) *cli.Command {
	act := func(c *cli.Context) error {
		return usage("%s: not implemented yet", c.Command.FullName())
	}
	cmd := &cli.Command{Name: name, Usage: usageText + " (not implemented yet)", Action: act}
	for _, s := range sub {
		cmd.Subcommands = append(cmd.Subcommands, &cli.Command{Name: s, Usage: "(not implemented yet)", Action: act})
	}
	return cmd
}

func notifyCommand() *cli.Command {
	return notImplemented("notify", "run a VRRP transition: notify master|backup|fault|stop INSTANCE, or notify INSTANCE|GROUP NAME STATE PRIORITY")
}
func fifoCommand() *cli.Command {
	return notImplemented("fifo", "notify_fifo_script: apply keepalived's FIFO lines in order until SIGTERM")
}
func checkCommand() *cli.Command {
	return notImplemented("check", "one health check with keepalived's semantics", "tcp", "http", "ssl", "smtp", "misc", "agent", "file")
}
func syncCommand() *cli.Command {
	return notImplemented("sync", "one health-checked pass over the instance's IPVS pool")
}
func ipvsCommand() *cli.Command {
	return notImplemented("ipvs", "show, diff, apply or flush the IPVS table", "show", "apply", "diff", "flush")
}
func vipCommand() *cli.Command {
	return notImplemented("vip", "add, remove or list VIPs", "add", "del", "list")
}
func sysctlCommand() *cli.Command {
	return notImplemented("sysctl", "ARP sysctls for a role", "apply", "show")
}
func realserverCommand() *cli.Command {
	return notImplemented("realserver", "LVS-DR/TUN real server: sysctls, then VIP on lo", "up", "down")
}
func garpCommand() *cli.Command {
	return notImplemented("garp", "send gratuitous ARP")
}
func arpCommand() *cli.Command {
	return notImplemented("arp", "ARP tools", "probe")
}
func genhashCommand() *cli.Command {
	return notImplemented("genhash", "digest of a URL, as keepalived's genhash prints it")
}
func doctorCommand() *cli.Command {
	return notImplemented("doctor", "lint keepalived.conf and kahook.conf, check live state")
}
func importCommand() *cli.Command {
	return notImplemented("import", "print a kahook.conf drafted from a keepalived.conf")
}
