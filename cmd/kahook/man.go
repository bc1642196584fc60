//go:build !urfave_cli_no_docs

package main

// The man page generator. urfave/cli's ToMarkdown and the markdown-to-roff
// library behind it (go-md2man, blackfriday) are compiled only without the
// urfave_cli_no_docs tag. The shipped binary is built with that tag
// (Makefile, scripts/package.sh, internal/testbin, vm/vm.sh): blackfriday's
// package initialisation alone was 60% of the instructions of every
// `kahook check tcp` run. scripts/package.sh generates the pages with a
// development build (`go run ./cmd/kahook man 8|5`), so the pages still
// come from the command tree and the README and cannot disagree with them.

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"
)

func manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print kahook(8) or kahook.conf(5) in roff (development builds only)",
		ArgsUsage: "[8|5]",
		Hidden:    true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "readme", Value: "README.md", Usage: "README whose '## Configuration reference' becomes kahook.conf(5)"},
		},
		Action: func(c *cli.Context) error {
			var md string
			switch c.Args().First() {
			case "", "8":
				tree, err := c.App.ToMarkdown()
				if err != nil {
					return failed(fmt.Errorf("render the command tree: %w", err))
				}
				md = "% kahook 8\n\n" + tree + kahook8Sections
			case "5":
				ref, err := configReference(c.String("readme"))
				if err != nil {
					return failed(err)
				}
				md = kahookConf5Head + ref + kahookConf5Tail
			default:
				return usage("man: expected section 8 (kahook) or 5 (kahook.conf)")
			}
			_, err := getEnv(c).stdout.Write(md2man.Render([]byte(md)))
			return err
		},
	}
}

// configReference returns the README's "## Configuration reference"
// section, its "###" subsections demoted to man subsections ("##").
func configReference(readme string) (string, error) {
	f, err := os.Open(readme)
	if err != nil {
		return "", fmt.Errorf("read the configuration reference: %w", err)
	}
	defer f.Close()
	var b strings.Builder
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "## Configuration reference":
			in = true
			continue
		case in && strings.HasPrefix(line, "## "):
			in = false
		case in && strings.HasPrefix(line, "### "):
			line = line[1:]
		case in && strings.HasPrefix(line, "|"):
			line = tableRow(line)
		}
		if in && line != "-" {
			b.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", readme, err)
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("%s has no '## Configuration reference' section", readme)
	}
	return b.String(), nil
}

// tableRow turns a README table row "| key | default | what |" into a man
// definition list entry (roff tables wider than the terminal do not wrap);
// the header and separator rows become "-", which the caller drops.
func tableRow(line string) string {
	var cells []string
	cell := ""
	for i := 1; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell += "|"
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell))
			cell = ""
		default:
			cell += string(line[i])
		}
	}
	if len(cells) < 3 || cells[0] == "key" || strings.HasPrefix(cells[0], "---") {
		return "-"
	}
	def := cells[2]
	switch cells[1] {
	case "":
	case "required":
		def += " (required)"
	default:
		def += " (default: " + cells[1] + ")"
	}
	return "\n" + cells[0] + "\n: " + def
}

const kahook8Sections = `
# EXIT STATUS

**0**
: done, or healthy (checks, **sync** while quorum holds)

**1**
: failed, or unhealthy; **doctor** found a FAIL; **ipvs diff --exit-code** found the kernel differs from the config (an error is then 2); a release (**notify backup**, **fault**, **stop**, keepalived's generic notify with FAULT, BACKUP, STOP or DELETED, **release**) with a config that does not load, after releasing the VIPs it could find

**2**
: usage or configuration error (the message names **file:line**); nothing was changed or created

**2+weight**
: checks with **--dynamic** (keepalived's **misc_dynamic**): exit code 2+N sets the weight to N; under **--dynamic** a usage error exits 1 (down), since **misc_dynamic** reads 2 as up at weight 0

# ENVIRONMENT

**KAHOOK_CONFIG**
: the configuration file, as **--config**

**KAHOOK_STATE_DIR**
: the state and lock directory, as **--state-dir**

**GOGC**
: Go's garbage collector target. Unless it is set, a run collects nothing until its heap nears 1 GiB, and the runs that live as long as keepalived or a MASTER state (**fifo**, **garp --follow**, **garp --refresh**) collect at 400; when set, it applies to every run

**GOMEMLIMIT**
: Go's memory limit; when set (and **GOGC** is not), it replaces the 1 GiB at which a run starts collecting

# FILES

*/etc/kahook/kahook.conf*
: the configuration, see **kahook.conf**(5); root:root 0600 (kahook refuses a configuration others can change)

*/etc/kahook/maintenance/*
: a file named **IP:PORT** or **IP** drains that real server (**sync**; **global_defs maintenance_dir**)

*/run/kahook/*
: lock and state (**state.json**) of the last transition (**global_defs state_dir**, **--state-dir**)

*/etc/sysctl.d/60-kahook.conf*
: the ARP sysctls written by **kahook sysctl apply --persist**

*/lib/systemd/system/kahook-realserver.service*
: **kahook realserver up** at boot on an LVS-DR/TUN real server, **down** on stop

*/lib/systemd/system/keepalived.service.d/kahook-release.conf*
: **kahook release --all** whenever keepalived exits, for any reason (**ExecStopPost=**); */usr/lib/systemd/system/* in the RPM

*/lib/systemd/system/keepalived.service.d/kahook-reload.conf*
: **systemctl reload keepalived** also runs **kahook reload** (**ExecReload=**); */usr/lib/systemd/system/* in the RPM

*/usr/share/doc/kahook/examples/*
: keepalived.conf and kahook.conf pairs: a director, two-node DR, notify_fifo_script, sync, MISC_CHECK with misc_dynamic

# EXAMPLES

keepalived runs kahook on every VRRP transition (it appends INSTANCE or GROUP, the name, the new state and the priority). kahook runs as root: without script security keepalived reports a SECURITY VIOLATION and keepalived -t fails; keepalived's own VIP is a placeholder on lo, kahook binds the real VIPs of kahook.conf:

` + "```" + `
global_defs {
    enable_script_security
    script_user root
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        127.255.0.51/32 dev lo
    }
    notify "/usr/sbin/kahook notify"
}
` + "```" + `

A health check as a vrrp_script (exit 0 healthy, 1 not):

` + "```" + `
vrrp_script web {
    script "/usr/sbin/kahook check http http://127.0.0.1:8080/health"
    interval 2
    fall 3
    rise 2
}
` + "```" + `

By hand:

` + "```" + `
kahook config check                     # validate /etc/kahook/kahook.conf
kahook import /etc/keepalived/keepalived.conf > kahook.conf
kahook --dry-run notify master VI_1     # print what MASTER would change
kahook ipvs diff                        # the kernel's table against the config
kahook ipvs show                        # ipvsadm -Ln columns
kahook check tcp 10.0.0.11:80; echo $?
kahook doctor --probe                   # why a VIP does not answer ARP
` + "```" + `

# SEE ALSO

**kahook.conf**(5), **keepalived**(8), **keepalived.conf**(5), **ipvsadm**(8), **arping**(8), **ip-address**(8)
`

const kahookConf5Head = `% kahook.conf 5

# NAME

kahook.conf - kahook configuration file

# SYNOPSIS

*/etc/kahook/kahook.conf*

# DESCRIPTION

**kahook**(8) reads its VIPs, roles and IPVS services from this file (**--config FILE**, **KAHOOK_CONFIG**). The syntax is keepalived's, so **virtual_server** blocks copy across from **keepalived.conf**(5) unchanged; **kahook import** drafts the file from an existing keepalived configuration and **kahook config check** validates it.

`

const kahookConf5Tail = `
# EXAMPLE

` + "```" + `
instance VI_1 {
    interface eth0
    virtual_ipaddress {
        192.0.2.10
    }
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo wlc
    lb_kind DR
    real_server 198.51.100.11 80 { TCP_CHECK { connect_timeout 2 } }
    real_server 198.51.100.12 80 { TCP_CHECK { connect_timeout 2 } }
}
` + "```" + `

More in */usr/share/doc/kahook/examples/*.

# SEE ALSO

**kahook**(8), **keepalived.conf**(5), **ipvsadm**(8), */usr/share/doc/kahook/README.md* (the decisions behind the defaults)
`
