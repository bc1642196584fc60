package ipvs

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// versionLine is ipvsadm's first line, read from /proc/net/ip_vs (the
// same text ipvsadm builds from IPVS_CMD_GET_INFO).
func versionLine() string {
	f, err := os.Open("/proc/net/ip_vs")
	if err != nil {
		return "IP Virtual Server version ? (size=?)"
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line)
}

// WriteList prints a table as `ipvsadm -Ln` does: same header, columns,
// flags and ordering.
func WriteList(w io.Writer, t Table) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, versionLine())
	fmt.Fprintln(bw, "Prot LocalAddress:Port Scheduler Flags")
	fmt.Fprintln(bw, "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn")
	for _, k := range t.Keys() {
		e := t[k]
		s := e.Service
		var name string
		if k.FWMark != 0 {
			name = fmt.Sprintf("FWM  %d", k.FWMark)
			if k.Family == 6 {
				name += " IPv6"
			}
		} else {
			name = fmt.Sprintf("%-4s %s", ProtoName(k.Protocol), hostPort(k.Addr, k.Port))
			if k.Family != 6 && len(name) > 33 {
				name = name[:33]
			}
		}
		fmt.Fprintf(bw, "%s %s", name, s.Sched)
		if flags := schedFlagNames(s); flags != "" {
			fmt.Fprintf(bw, " (%s)", flags)
		}
		if s.Flags&FlagPersistent != 0 {
			fmt.Fprintf(bw, " persistent %d", s.Timeout)
			if k.Family == 4 && s.Netmask != 0xffffffff {
				m := s.Netmask
				fmt.Fprintf(bw, " mask %s", net.IPv4(byte(m), byte(m>>8), byte(m>>16), byte(m>>24)))
			}
			if k.Family == 6 && s.Netmask != 128 {
				fmt.Fprintf(bw, " mask %d", s.Netmask)
			}
			if s.PEName != "" {
				fmt.Fprintf(bw, " pe %s", s.PEName)
			}
		}
		if s.Flags&FlagOnePacket != 0 {
			fmt.Fprint(bw, " ops")
		}
		fmt.Fprintln(bw)
		for _, d := range e.SortedDests() {
			dname := d.Key.String()
			if k.Family != 6 && len(dname) > 28 {
				dname = dname[:28]
			}
			fmt.Fprintf(bw, "  -> %-28s %-7s %-6d %-10d %-10d\n", dname, FwdName(d.Fwd), d.Weight, d.ActiveConns, d.InactiveConns)
		}
	}
	return bw.Flush()
}

// flagNames are ipvsadm's names of the scheduler flags SCHED1..3, by
// scheduler ("" for the rest).
var flagNames = map[string][3]string{
	"sh": {"sh-fallback", "sh-port", "flag-3"},
	"mh": {"mh-fallback", "mh-port", "flag-3"},
	"":   {"flag-1", "flag-2", "flag-3"},
}

// schedFlagNames is ipvsadm's "(flag-1,flag-2)" / "(sh-fallback,sh-port)".
func schedFlagNames(s Service) string {
	names, ok := flagNames[s.Sched]
	if !ok {
		names = flagNames[""]
	}
	var out []string
	for i, bit := range []uint32{FlagSched1, FlagSched2, FlagSched3} {
		if s.Flags&bit != 0 {
			out = append(out, names[i])
		}
	}
	return strings.Join(out, ",")
}

// WriteRules prints a table in `ipvsadm -Sn` (ipvsadm-restore) form.
func WriteRules(w io.Writer, t Table) error {
	bw := bufio.NewWriter(w)
	for _, k := range t.Keys() {
		e := t[k]
		svc := ruleName(k)
		fmt.Fprintf(bw, "-A %s -s %s", svc, e.Service.Sched)
		if flags := schedFlagNames(e.Service); flags != "" {
			fmt.Fprintf(bw, " -b %s", flags)
		}
		s := e.Service
		if s.Flags&FlagPersistent != 0 {
			fmt.Fprintf(bw, " -p %d", s.Timeout)
			if k.Family == 4 && s.Netmask != 0xffffffff {
				m := s.Netmask
				fmt.Fprintf(bw, " -M %s", net.IPv4(byte(m), byte(m>>8), byte(m>>16), byte(m>>24)))
			}
			if k.Family == 6 && s.Netmask != 128 {
				fmt.Fprintf(bw, " -M %d", s.Netmask)
			}
		}
		if s.Flags&FlagOnePacket != 0 {
			fmt.Fprint(bw, " -o")
		}
		fmt.Fprintln(bw)
		for _, d := range e.SortedDests() {
			fmt.Fprintf(bw, "-a %s -r %s %s -w %d", svc, d.Key.String(), fwdSwitch(d.Fwd), d.Weight)
			if d.Fwd&fwdMask == FwdTunnel {
				fmt.Fprint(bw, " --tun-type ipip") // moby/ipvs only does ipip tunnels
			}
			fmt.Fprintln(bw)
		}
	}
	return bw.Flush()
}

func ruleName(k ServiceKey) string {
	if k.FWMark != 0 {
		if k.Family == 6 {
			return fmt.Sprintf("-f %d -6", k.FWMark)
		}
		return fmt.Sprintf("-f %d", k.FWMark)
	}
	flag := map[uint16]string{ProtoTCP: "-t", ProtoUDP: "-u", ProtoSCTP: "--sctp-service"}[k.Protocol]
	return flag + " " + hostPort(k.Addr, k.Port)
}

func fwdSwitch(f uint32) string {
	switch f & fwdMask {
	case FwdTunnel:
		return "-i"
	case FwdRoute, FwdLocalNode:
		return "-g"
	}
	return "-m"
}

// FlagNames are the service's flags by ipvsadm's names: "persistent",
// "ops" and the scheduler flags ("sh-fallback", "flag-1"...); never the
// kernel's "hashed".
func (s Service) FlagNames() []string {
	out := []string{}
	if s.Flags&FlagPersistent != 0 {
		out = append(out, "persistent")
	}
	if s.Flags&FlagOnePacket != 0 {
		out = append(out, "ops")
	}
	if f := schedFlagNames(s); f != "" {
		out = append(out, strings.Split(f, ",")...)
	}
	return out
}

// Granularity is the persistence netmask as keepalived's
// persistence_granularity writes it: dotted for IPv4 (255.255.255.0), a
// prefix length for IPv6 (64).
func (s Service) Granularity() string {
	if s.Key.Family == 6 {
		return fmt.Sprint(s.Netmask)
	}
	m := s.Netmask
	return net.IPv4(byte(m), byte(m>>8), byte(m>>16), byte(m>>24)).String()
}

// LBKind is the forwarding method by keepalived's lb_kind name: DR, NAT,
// TUN, or LOCAL (the kernel's choice for a local destination).
func LBKind(f uint32) string {
	switch f & fwdMask {
	case FwdMasq:
		return "NAT"
	case FwdLocalNode:
		return "LOCAL"
	case FwdTunnel:
		return "TUN"
	case FwdRoute:
		return "DR"
	}
	return "BYPASS"
}
