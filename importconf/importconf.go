// Package importconf drafts a kahook.conf from a keepalived.conf: one
// `instance` per vrrp_instance (its interface and VIPs, the VIPs made host
// addresses for lo) and the virtual_server blocks as they are.
package importconf

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/kahook/kahook/config"
)

// garpKeys are keepalived's per-instance gratuitous ARP settings kahook
// understands; the global vrrp_garp_* forms are their defaults.
var garpKeys = []string{"garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat", "garp_interval"}

// Draft writes the kahook.conf for tree (read from path).
func Draft(w io.Writer, path string, tree *config.Node) error {
	var b strings.Builder
	fmt.Fprintf(&b, `# kahook.conf drafted by "kahook import %s". Review it before use.
#
# keepalived keeps running VRRP; kahook binds the VIPs (IPv4 on lo, IPv6 on
# the announce interface), sets the ARP sysctls, sends gratuitous ARP and
# loads the IPVS services of the instance that owns their address.
# In keepalived.conf, for each vrrp_instance below:
#   - remove the VIPs from virtual_ipaddress (kahook binds them; keepalived
#     2.x accepts a VRRPv2 instance without VIPs),
#   - add:  notify "/usr/sbin/kahook notify"
#   - and remove the virtual_server blocks if kahook (not keepalived's
#     checker) is to load them.

`, path)
	globalGARP := map[string]string{}
	if g := tree.First("global_defs"); g != nil {
		for _, k := range garpKeys {
			if n := g.First("vrrp_" + k); n != nil {
				globalGARP[k] = n.Arg(0)
			}
		}
	}
	seen := map[netip.Addr]string{}
	for _, in := range tree.Find("vrrp_instance") {
		draftInstance(&b, in, globalGARP, seen)
	}
	var rest []*config.Node
	for _, n := range tree.Children {
		if n.Key == "virtual_server_group" || n.Key == "virtual_server" {
			rest = append(rest, n)
		}
	}
	if len(rest) > 0 {
		b.WriteString("# The LVS blocks, as keepalived has them.\n")
		if err := config.Render(&b, rest, 0); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func draftInstance(b *strings.Builder, in *config.Node, globalGARP map[string]string, seen map[netip.Addr]string) {
	name := in.Arg(0)
	iface := ""
	if n := in.First("interface"); n != nil {
		iface = n.Arg(0)
	}
	fmt.Fprintf(b, "# from vrrp_instance %s (%s)\ninstance %s {\n", name, in.Pos, quote(name))
	if iface == "" {
		iface = "eth0"
		b.WriteString("    # FIXME: the vrrp_instance names no interface\n")
	}
	fmt.Fprintf(b, "    interface %s\n", iface)
	var vips []string
	if vb := in.First("virtual_ipaddress"); vb != nil {
		for _, l := range vb.Children {
			a, ok := vipAddr(l.Key)
			if !ok {
				fmt.Fprintf(b, "    # skipped virtual_ipaddress %q: not an address\n", l.Text())
				continue
			}
			if other, dup := seen[a]; dup {
				fmt.Fprintf(b, "    # skipped %s: already a VIP of instance %s\n", a, other)
				continue
			}
			seen[a] = name
			vips = append(vips, fmt.Sprintf("        %s    # was: %s", a, l.Text()))
		}
	}
	if len(vips) > 0 {
		b.WriteString("    virtual_ipaddress {\n" + strings.Join(vips, "\n") + "\n    }\n")
	} else {
		b.WriteString("    # no VIPs: kahook only loads and removes the IPVS services\n    master {\n        vip off\n    }\n")
	}
	for _, k := range garpKeys {
		v := globalGARP[k]
		if n := in.First(k); n != nil {
			v = n.Arg(0)
		}
		if v != "" {
			fmt.Fprintf(b, "    %s %s\n", k, v)
		}
	}
	b.WriteString("}\n\n")
}

// vipAddr reads the address of a keepalived VIP ("10.0.0.1/24" and the
// like): on lo kahook binds host addresses only.
func vipAddr(s string) (netip.Addr, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}

func quote(s string) string {
	if strings.ContainsAny(s, " \t!#{}\"") {
		return `"` + s + `"`
	}
	return s
}
