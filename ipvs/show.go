package ipvs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	mobyipvs "github.com/moby/ipvs"
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
		writeEntry(bw, k, t[k])
	}
	return bw.Flush()
}

// listName is ipvsadm's service column: "TCP  10.0.0.1:80", "FWM  7",
// cut at 33 characters for IPv4 as ipvsadm cuts it.
func listName(k ServiceKey) string {
	if k.FWMark != 0 {
		if k.Family == 6 {
			return fmt.Sprintf("FWM  %d IPv6", k.FWMark)
		}
		return fmt.Sprintf("FWM  %d", k.FWMark)
	}
	name := fmt.Sprintf("%-4s %s", ProtoName(k.Protocol), hostPort(k.Addr, k.Port))
	if k.Family != 6 && len(name) > 33 {
		name = name[:33]
	}
	return name
}

// destListName is ipvsadm's destination column (cut at 28 for IPv4).
func destListName(k ServiceKey, d *Dest) string {
	dname := d.Key.String()
	if k.Family != 6 && len(dname) > 28 {
		dname = dname[:28]
	}
	return dname
}

// writeEntry prints one service and its destinations as `ipvsadm -Ln`.
func writeEntry(bw *bufio.Writer, k ServiceKey, e *Entry) {
	s := e.Service
	fmt.Fprintf(bw, "%s %s", listName(k), s.Sched)
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
		fmt.Fprintf(bw, "  -> %-28s %-7s %-6d %-10d %-10d\n", destListName(k, d), FwdName(d.Fwd), d.Weight, d.ActiveConns, d.InactiveConns)
	}
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
		// ipvsadm's order (print_service_entry): -p, -M, -o, then -b.
		if flags := schedFlagNames(e.Service); flags != "" {
			fmt.Fprintf(bw, " -b %s", flags)
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
	flag := map[Protocol]string{ProtoTCP: "-t", ProtoUDP: "-u", ProtoSCTP: "--sctp-service"}[k.Protocol]
	return flag + " " + hostPort(k.Addr, k.Port)
}

func fwdSwitch(f Forward) string {
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
func LBKind(f Forward) string {
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

// Stats are a service's or destination's counters and rates, as
// `ipvsadm -L --stats` and `--rate` print them.
type Stats struct {
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"in_packets"`
	OutPkts  uint64 `json:"out_packets"`
	InBytes  uint64 `json:"in_bytes"`
	OutBytes uint64 `json:"out_bytes"`
	CPS      uint64 `json:"conns_per_second"`
	InPPS    uint64 `json:"in_packets_per_second"`
	OutPPS   uint64 `json:"out_packets_per_second"`
	InBPS    uint64 `json:"in_bytes_per_second"`
	OutBPS   uint64 `json:"out_bytes_per_second"`
}

// TableStats holds the counters of a table: per service, and per
// destination of each service.
type TableStats struct {
	Services map[ServiceKey]Stats
	Dests    map[ServiceKey]map[DestKey]Stats
}

func statsFrom(s mobyipvs.SvcStats) Stats {
	return Stats{Conns: uint64(s.Connections), InPkts: uint64(s.PacketsIn), OutPkts: uint64(s.PacketsOut),
		InBytes: s.BytesIn, OutBytes: s.BytesOut, CPS: uint64(s.CPS), InPPS: uint64(s.PPSIn),
		OutPPS: uint64(s.PPSOut), InBPS: uint64(s.BPSIn), OutBPS: uint64(s.BPSOut)}
}

// ReadStats reads the counters of every service and destination through
// moby/ipvs (kahook's own dumps skip them).
func ReadStats(ctx context.Context, k Kernel) (TableStats, error) {
	return bounded(ctx, "read IPVS statistics", func() (TableStats, error) {
		ts := TableStats{Services: map[ServiceKey]Stats{}, Dests: map[ServiceKey]map[DestKey]Stats{}}
		svcs, err := k.GetServices()
		if err != nil {
			return ts, err
		}
		for _, ms := range svcs {
			s, err := fromMobyService(ms)
			if err != nil {
				return ts, err
			}
			ts.Services[s.Key] = statsFrom(ms.Stats)
			mds, err := k.GetDestinations(ms)
			if err != nil {
				return ts, err
			}
			ds := map[DestKey]Stats{}
			for _, md := range mds {
				ds[fromMobyDest(md).Key] = statsFrom(mobyipvs.SvcStats(md.Stats))
			}
			ts.Dests[s.Key] = ds
		}
		return ts, nil
	})
}

// ListFormat selects one of ipvsadm's list views.
type ListFormat int

const (
	ListDefault ListFormat = iota // ipvsadm -Ln
	ListStats                     // ipvsadm -Ln --stats
	ListRate                      // ipvsadm -Ln --rate
)

// ListOptions are ipvsadm's list switches.
type ListOptions struct {
	Format ListFormat
	// Exact prints numbers unabridged (ipvsadm --exact).
	Exact bool
	// Service (-t/-u/-f) lists that service only, without the version
	// line, as ipvsadm does.
	Service *ServiceKey
}

// ErrNoSuchService is ipvsadm's "No such service" for a -t/-u/-f that
// is not in the table.
var ErrNoSuchService = errors.New("no such service")

// WriteListOptions prints a table as `ipvsadm -Ln` with --stats, --rate,
// --exact and a service filter do (ipvsadm.c print_title,
// print_service_entry, print_largenum); stats may be empty for
// ListDefault.
func WriteListOptions(w io.Writer, t Table, stats TableStats, opt ListOptions) error {
	if opt.Format == ListDefault && opt.Service == nil {
		return WriteList(w, t)
	}
	keys := t.Keys()
	if opt.Service != nil {
		if _, ok := t[*opt.Service]; !ok {
			return ErrNoSuchService
		}
		keys = []ServiceKey{*opt.Service}
	}
	bw := bufio.NewWriter(w)
	if opt.Service == nil {
		fmt.Fprintln(bw, versionLine())
	}
	switch opt.Format {
	case ListStats:
		fmt.Fprintf(bw, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case ListRate:
		fmt.Fprintf(bw, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	default:
		fmt.Fprintln(bw, "Prot LocalAddress:Port Scheduler Flags")
		fmt.Fprintln(bw, "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn")
	}
	num := func(v uint64) { bw.WriteString(largeNum(v, opt.Exact)) }
	for _, k := range keys {
		e := t[k]
		if opt.Format == ListDefault {
			writeEntry(bw, k, e)
			continue
		}
		s := stats.Services[k]
		fmt.Fprintf(bw, "%-33s", listName(k))
		if opt.Format == ListStats {
			num(s.Conns)
			num(s.InPkts)
			num(s.OutPkts)
			num(s.InBytes)
			num(s.OutBytes)
		} else {
			num(s.CPS)
			num(s.InPPS)
			num(s.OutPPS)
			num(s.InBPS)
			num(s.OutBPS)
		}
		fmt.Fprintln(bw)
		for _, d := range e.SortedDests() {
			ds := stats.Dests[k][d.Key]
			fmt.Fprintf(bw, "  -> %-28s", destListName(k, d))
			if opt.Format == ListStats {
				num(ds.Conns)
				num(ds.InPkts)
				num(ds.OutPkts)
				num(ds.InBytes)
				num(ds.OutBytes)
			} else {
				fmt.Fprintf(bw, " %8d %8d %8d", uint32(ds.CPS), uint32(ds.InPPS), uint32(ds.OutPPS))
				num(ds.InBPS)
				num(ds.OutBPS)
			}
			fmt.Fprintln(bw)
		}
	}
	return bw.Flush()
}

// largeNum is ipvsadm's print_largenum: 9 columns, abridged with K, M,
// G, T unless exact.
func largeNum(i uint64, exact bool) string {
	if exact {
		s := fmt.Sprint(i)
		width := 9
		if len(s) > 8 {
			width = len(s) + 1
		}
		return fmt.Sprintf("%*d", width, i)
	}
	switch {
	case i < 100000000:
		return fmt.Sprintf("%9d", i)
	case i < 1000000000:
		return fmt.Sprintf("%8dK", i/1000)
	case i < 100000000000:
		return fmt.Sprintf("%8dM", i/1000000)
	case i < 100000000000000:
		return fmt.Sprintf("%8dG", i/1000000000)
	}
	return fmt.Sprintf("%8dT", i/1000000000000)
}

// WriteTimeout prints `ipvsadm -L --timeout`.
func WriteTimeout(w io.Writer, tcp, tcpFin, udp time.Duration) error {
	_, err := fmt.Fprintf(w, "Timeout (tcp tcpfin udp): %d %d %d\n", int(tcp.Seconds()), int(tcpFin.Seconds()), int(udp.Seconds()))
	return err
}

// ConnFile is where the kernel lists IPVS connections (per network
// namespace, that of the reader).
const ConnFile = "/proc/net/ip_vs_conn"

// Conn is one IPVS connection entry.
type Conn struct {
	Protocol    string         `json:"protocol"`
	Source      netip.AddrPort `json:"source"`
	Virtual     netip.AddrPort `json:"virtual"`
	Destination netip.AddrPort `json:"destination"`
	State       string         `json:"state"`
	Expires     int            `json:"expires_seconds"`
}

// ReadConns parses ConnFile's text (its first line is a header).
func ReadConns(r io.Reader) ([]Conn, error) {
	out := []Conn{}
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 9 {
			continue
		}
		var c Conn
		var err error
		c.Protocol, c.State = f[0], f[7]
		if c.Source, err = connAddrPort(f[1], f[2]); err == nil {
			if c.Virtual, err = connAddrPort(f[3], f[4]); err == nil {
				c.Destination, err = connAddrPort(f[5], f[6])
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s line %q: %w", ConnFile, sc.Text(), err)
		}
		if c.Expires, err = strconv.Atoi(f[8]); err != nil {
			return nil, fmt.Errorf("%s line %q: expires: %w", ConnFile, sc.Text(), err)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

// connAddrPort reads the kernel's address (8 hex digits for IPv4, the
// colon form for IPv6) and hex port.
func connAddrPort(addr, port string) (netip.AddrPort, error) {
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		v, herr := strconv.ParseUint(addr, 16, 32)
		if herr != nil {
			return netip.AddrPort{}, err
		}
		a = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// WriteConns prints connections as `ipvsadm -Lnc` does (ipvsadm.c
// list_conn, print_conn).
func WriteConns(w io.Writer, conns []Conn) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "IPVS connection entries")
	fmt.Fprintf(bw, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	for _, c := range conns {
		expire := fmt.Sprintf("%02d:%02d", c.Expires/60, c.Expires%60)
		fmt.Fprintf(bw, "%-3s %-6s %-11s %-18s %-18s %s\n", c.Protocol, expire, c.State,
			hostPort(c.Source.Addr(), c.Source.Port()), hostPort(c.Virtual.Addr(), c.Virtual.Port()), hostPort(c.Destination.Addr(), c.Destination.Port()))
	}
	return bw.Flush()
}
