package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kahook/kahook/arp"
)

func arpCommand() *cli.Command {
	return &cli.Command{
		Name:  "arp",
		Usage: "ARP tools",
		Subcommands: []*cli.Command{{
			Name:      "probe",
			Usage:     "ask who has each IP and list every MAC that answers its request (gratuitous ARP is not an answer); exit 1 when an IP has none or more than one",
			ArgsUsage: "IP...",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "interface", Aliases: []string{"i"}, Usage: "interface to probe on"},
				timeFlag("timeout", nil, time.Second, "how long to collect answers"),
				&cli.IntFlag{Name: "tries", Value: 3, Usage: "requests per IP"},
			},
			Action: func(c *cli.Context) error {
				e := getEnv(c)
				if c.String("interface") == "" || c.NArg() == 0 {
					return usage("arp probe: expected --interface IF and at least one IP")
				}
				var targets []netip.Addr
				for _, s := range c.Args().Slice() {
					a, err := netip.ParseAddr(s)
					if err != nil || !a.Unmap().Is4() {
						return usage("arp probe: %q is not an IPv4 address", s)
					}
					targets = append(targets, a.Unmap())
				}
				res, conflict, err := probe(c, c.String("interface"), targets, c.Int("tries"), flagTime(c, "timeout"))
				if err != nil {
					return err
				}
				if e.json {
					_ = printJSON(e.stdout, res)
				} else {
					for _, t := range targets {
						macs := res[t.String()]
						note := ""
						switch {
						case len(macs) == 0:
							note = "  (no answer)"
						case len(macs) > 1:
							note = "  CONFLICT: more than one node answers"
						}
						fmt.Fprintf(e.stdout, "%-16s %s%s\n", t, strings.Join(macs, " "), note)
					}
				}
				if conflict {
					return cli.Exit("", exitFailed)
				}
				for _, t := range targets {
					if len(res[t.String()]) == 0 {
						return cli.Exit("", exitFailed) // nobody answers for it
					}
				}
				return nil
			},
		}},
	}
}

// probe runs an ARP probe on ifname; results are keyed by IP text.
func probe(c *cli.Context, ifname string, targets []netip.Addr, tries int, timeout time.Duration) (map[string][]string, bool, error) {
	client, ifi, err := arp.Dial(ifname)
	if err != nil {
		return nil, false, usage("arp probe: %v", err)
	}
	defer client.Close()
	sender, err := arp.FirstIPv4(ifi)
	if err != nil {
		return nil, false, usage("arp probe: %v", err)
	}
	found, err := arp.Probe(c.Context, client, ifi.HardwareAddr, sender, targets, tries, timeout)
	if err != nil {
		return nil, false, failed(err)
	}
	out := map[string][]string{}
	conflict := false
	for _, t := range targets {
		out[t.String()] = emptyIfNil(found[t])
		if len(found[t]) > 1 {
			conflict = true
		}
	}
	return out, conflict, nil
}
