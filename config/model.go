package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Defaults, named as keepalived names them.
const (
	DefaultPath           = "/etc/kahook/kahook.conf"
	DefaultStateDir       = "/run/kahook"
	DefaultMaintenanceDir = "/etc/kahook/maintenance"
	DefaultLBAlgo         = "wlc" // keepalived's IPVS_DEF_SCHED
	DefaultLBKind         = "NAT" // keepalived: "no forwarding method set, setting default NAT"
	// DefaultProtocol is keepalived 2.2's: "no protocol set - defaulting
	// to UDP" (check_data.c), since the kernel would take 0 as UDP.
	DefaultProtocol       = "UDP"
	DefaultPersistence    = 360 * time.Second // IPVS_SVC_PERSISTENT_TIMEOUT
	DefaultConnectTimeout = 5 * time.Second
	DefaultDelayLoop      = 60 * time.Second
	DefaultGARPRepeat     = 5
	DefaultGARPDelay      = 5 * time.Second
	DefaultGARPInterval   = 300 * time.Millisecond
	DefaultMiscTimeout    = 0 // keepalived: misc_timeout defaults to delay_loop
	// MaxConnectTimeout is keepalived's: connect_timeout is held in
	// microseconds in an unsigned int (check_api.c co_timeout_handler).
	MaxConnectTimeout      = 4294967295 * time.Microsecond
	MaxWeight              = 1<<31 - 1 // keepalived's IPVS_WEIGHT_LIMIT (INT32_MAX); the kernel takes an int
	MaxFWMark              = 1<<32 - 1
	MaxPersistenceTimeout  = 86400 * 31 * time.Second // LVS_MAX_TIMEOUT
	DefaultHTTPStatusCodes = "200-299"
)

// Config is kahook's typed view of a kahook.conf (or a keepalived.conf:
// the virtual_server blocks are keepalived's own).
type Config struct {
	Path           string                         `json:"path"`
	Files          []string                       `json:"files"`
	Global         Global                         `json:"global_defs"`
	Instances      []*Instance                    `json:"instances"`
	VirtualServers []*VirtualServer               `json:"virtual_servers"`
	Groups         map[string]*VirtualServerGroup `json:"virtual_server_groups,omitempty"`
	// RealServer is the `realserver { }` block of an LVS-DR/TUN real
	// server node (what `kahook realserver up` binds at boot).
	RealServer *RealServerNode `json:"realserver,omitempty"`
	// Skipped lists keywords kahook read past without using them.
	Skipped []Skip `json:"-"`
	// Warnings are keepalived's own corrections of legal but odd input
	// (no protocol -> UDP, quorum above the total weight...), applied the
	// same way so both load the same table.
	Warnings []Warning `json:"warnings,omitempty"`
	// Problems are what `keepalived -t` reports as config errors and then
	// reads past (unknown keywords, a '{' after one, a missing '{', a
	// value it falls back from): kahook reads past them the same way, so
	// both load the same table. `config check` fails on them; running
	// commands log them and carry on with what is valid.
	Problems []Warning `json:"problems,omitempty"`
	// Tree is the whole parsed file, for blocks kahook does not model.
	Tree *Node `json:"-"`
}

// Warning is a position and what keepalived (and so kahook) does there.
type Warning struct {
	Pos Pos    `json:"pos"`
	Msg string `json:"msg"`
	// Unlisted, on the last problem of a capped list, is how many
	// problems it stands for (they are counted, not listed).
	Unlisted int `json:"unlisted,omitempty"`
}

func (w Warning) String() string { return w.Pos.String() + ": " + w.Msg }

// ProblemCount is how many problems c has: those listed in Problems plus
// those a capped list only counts (Warning.Unlisted).
func (c *Config) ProblemCount() int {
	n := 0
	for _, p := range c.Problems {
		if p.Unlisted > 0 {
			n += p.Unlisted
		} else {
			n++
		}
	}
	return n
}

// Skip is a keyword kahook does not use; it is logged at debug level.
type Skip struct {
	Pos     Pos
	Keyword string
	Context string
}

// Global is global_defs (kahook's keys; keepalived's are skipped).
type Global struct {
	StateDir       string `json:"state_dir"`
	MaintenanceDir string `json:"maintenance_dir"`
	// LVSSyncDaemon is keepalived's `lvs_sync_daemon IFACE INSTANCE ...`
	// line, copied into kahook.conf: its words after the keyword (nil when
	// absent). kahook does not run the sync daemon (keepalived does); it
	// only tells kahook that IPVS connections are synchronised.
	LVSSyncDaemon []string `json:"lvs_sync_daemon,omitempty"`
}

// Role names a set of ARP sysctl values (see package sysctl).
type Role string

const (
	RoleNone       Role = "none"
	RoleDirector   Role = "director"
	RoleRealServer Role = "realserver"
)

// IPVSAction is what a transition does with the instance's virtual servers.
type IPVSAction string

const (
	IPVSNone   IPVSAction = "none"
	IPVSLoad   IPVSAction = "load"
	IPVSRemove IPVSAction = "remove"
)

// Actions is what one side of a transition does.
type Actions struct {
	VIP    bool       `json:"vip"`
	Sysctl Role       `json:"sysctl"`
	IPVS   IPVSAction `json:"ipvs"`
}

// Instance is kahook's `instance NAME { ... }` block: one per keepalived
// vrrp_instance or vrrp_sync_group name.
type Instance struct {
	Pos       Pos    `json:"pos"`
	Name      string `json:"name"`
	Interface string `json:"interface"` // announce interface (GARP, sysctls)
	VIPs      []VIP  `json:"vips"`
	// FWMarks names fwmark virtual servers this instance owns (they have
	// no address to match against the VIPs).
	FWMarks []uint32 `json:"fwmarks,omitempty"`
	Master  Actions  `json:"master"`
	Backup  Actions  `json:"backup"` // BACKUP, FAULT, STOP and DELETED
	GARP    GARP     `json:"garp"`
	// BackupKeepsIPVS says why the backup side defaults to `ipvs load`
	// (synchronised connection state, see StatefulBackup); "" when it
	// does not or when the backup block sets ipvs.
	BackupKeepsIPVS string `json:"backup_keeps_ipvs,omitempty"`
	// backupIPVSSet: the backup block sets ipvs explicitly.
	backupIPVSSet bool
}

// RealServerNode is the `realserver { interface IF virtual_ipaddress { } }`
// block: the VIPs this node serves as a DR/TUN real server.
type RealServerNode struct {
	Pos       Pos    `json:"pos"`
	Interface string `json:"interface"`
	VIPs      []VIP  `json:"vips"`
}

// VIP is one virtual_ipaddress line.
type VIP struct {
	Pos    Pos          `json:"pos"`
	Prefix netip.Prefix `json:"prefix"`
	Dev    string       `json:"dev"`   // interface the address is bound to (default lo)
	Label  string       `json:"label"` // e.g. lo:0
	// devDefault: no "dev" was written.
	devDefault bool
}

// GARP is the gratuitous ARP schedule of an instance (keepalived's names).
type GARP struct {
	Repeat        int           `json:"garp_master_repeat"`
	Delay         time.Duration `json:"garp_master_delay"`
	Refresh       time.Duration `json:"garp_master_refresh"`
	RefreshRepeat int           `json:"garp_master_refresh_repeat"`
	Interval      time.Duration `json:"garp_interval"`
}

// VirtualServer is a keepalived virtual_server block.
type VirtualServer struct {
	Pos      Pos            `json:"pos"`
	Addr     netip.AddrPort `json:"addr,omitzero"`
	FWMark   uint32         `json:"fwmark,omitempty"`
	Group    string         `json:"group,omitempty"`
	Family   int            `json:"ip_family,omitempty"` // 4, 6 or 0 (from the addresses)
	Protocol string         `json:"protocol"`
	LBAlgo   string         `json:"lb_algo"`
	LBKind   string         `json:"lb_kind"`
	// SchedFlags are keepalived's scheduler flag keywords (ops, sh-port...).
	SchedFlags             []string      `json:"sched_flags,omitempty"`
	PersistenceTimeout     time.Duration `json:"persistence_timeout,omitempty"`
	PersistenceGranularity string        `json:"persistence_granularity,omitempty"`
	PersistenceEngine      string        `json:"persistence_engine,omitempty"`
	DelayLoop              time.Duration `json:"delay_loop"`
	ConnectTimeout         time.Duration `json:"connect_timeout"`
	Retry                  int           `json:"-"` // -1: not set; inherited by the checks
	DelayBeforeRetry       time.Duration `json:"-"` // -1: not set; inherited by the checks
	Warmup                 time.Duration `json:"warmup,omitempty"`
	Quorum                 int           `json:"quorum"`
	Hysteresis             int           `json:"hysteresis"`
	InhibitOnFailure       bool          `json:"inhibit_on_failure,omitempty"`
	Alpha                  bool          `json:"alpha,omitempty"`
	Omega                  bool          `json:"omega,omitempty"`
	HASuspend              bool          `json:"ha_suspend,omitempty"`
	Virtualhost            string        `json:"virtualhost,omitempty"`
	Weight                 int           `json:"weight"` // default real server weight
	RealServers            []*RealServer `json:"real_servers"`
	SorryServer            *RealServer   `json:"sorry_server,omitempty"`
	// Instance is the instance that owns the virtual server ("" if none).
	Instance string `json:"instance,omitempty"`
}

// Name is how keepalived prints a virtual server in its logs and FIFO.
func (vs *VirtualServer) Name() string {
	switch {
	case vs.Group != "":
		return "group " + vs.Group
	case vs.FWMark != 0:
		return "fwmark " + strconv.FormatUint(uint64(vs.FWMark), 10)
	default:
		// Concatenated, not Sprintf: a sync pass names each real
		// server's virtual server several times (issue 18).
		return bracket(vs.Addr.Addr()) + ":" + protoLower(vs.Protocol) + ":" + strconv.Itoa(int(vs.Addr.Port()))
	}
}

// Service is one IPVS service a virtual server loads, identified as the
// kernel identifies it (keepalived's ipvswrapper.c): a fwmark of an
// address family, or a protocol, address and port. Entry is the
// virtual_server_group entry it comes from (zero when it is the block's
// own address or fwmark); keepalived resets such a service's netmask.
type Service struct {
	FWMark   uint32
	Family   int    // 4 or 6
	Protocol string // TCP, UDP or SCTP; "" for a fwmark
	Addr     netip.AddrPort
	Entry    Pos
}

// FromGroup reports whether s comes from a virtual_server_group entry.
func (s Service) FromGroup() bool { return s.Entry != (Pos{}) }

// String names s as ipvsadm does (TCP 10.0.0.1:80, FWM 1 IPv6).
func (s Service) String() string {
	if s.FWMark != 0 {
		if s.Family == 6 {
			return "FWM " + strconv.FormatUint(uint64(s.FWMark), 10) + " IPv6"
		}
		return "FWM " + strconv.FormatUint(uint64(s.FWMark), 10)
	}
	return s.Protocol + " " + s.Addr.String()
}

// Services yields the IPVS services vs loads, as keepalived 2.2.7 loads
// them: its fwmark (IPv4 unless ip_family inet6 or a server says IPv6),
// its address, or each entry of its group in order, every address of a
// range (a group fwmark entry without a family takes the virtual
// server's). A group that groups does not define yields none.
func (vs *VirtualServer) Services(groups map[string]*VirtualServerGroup) func(yield func(Service) bool) {
	return func(yield func(Service) bool) {
		for s, last := range vs.serviceRanges(groups) {
			if s.FWMark != 0 {
				if !yield(s) {
					return
				}
				continue
			}
			port := s.Addr.Port()
			for a := s.Addr.Addr(); ; a = a.Next() {
				s.Addr = netip.AddrPortFrom(a, port)
				if !yield(s) {
					return
				}
				if a == last || !a.IsValid() {
					break
				}
			}
		}
	}
}

// serviceRanges yields what Services yields with each range of a group's
// entry as one Service, its first address, and the range's last address
// (the service's own address for one that is not a range; invalid for a
// fwmark). A range never leaves its last byte (IPv4) or 16-bit group
// (IPv6): parseRange refuses one that would (crossesBlock).
func (vs *VirtualServer) serviceRanges(groups map[string]*VirtualServerGroup) func(yield func(Service, netip.Addr) bool) {
	return func(yield func(Service, netip.Addr) bool) {
		switch {
		case vs.FWMark != 0:
			yield(Service{FWMark: vs.FWMark, Family: familyOr4(vs.Family)}, netip.Addr{})
		case vs.Group != "":
			g := groups[vs.Group]
			if g == nil {
				return
			}
			for _, e := range g.Entries {
				if e.FWMark != 0 {
					fam := e.Family
					if fam == 0 {
						fam = familyOr4(vs.Family)
					}
					if !yield(Service{FWMark: e.FWMark, Family: fam, Entry: e.Pos}, netip.Addr{}) {
						return
					}
					continue
				}
				if !yield(Service{Family: family(e.First), Protocol: vs.Protocol, Addr: netip.AddrPortFrom(e.First, e.Port), Entry: e.Pos}, e.Last) {
					return
				}
			}
		default:
			yield(Service{Family: family(vs.Addr.Addr()), Protocol: vs.Protocol, Addr: vs.Addr}, vs.Addr.Addr())
		}
	}
}

func familyOr4(f int) int {
	if f == 6 {
		return 6
	}
	return 4
}

func bracket(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

func protoLower(p string) string {
	if p == "" {
		return "none"
	}
	return strings.ToLower(p)
}

// RealServer is a real_server (or sorry_server) block with keepalived's
// inheritance from the virtual server already resolved.
type RealServer struct {
	Pos  Pos        `json:"pos"`
	Addr netip.Addr `json:"addr"`
	Port uint16     `json:"port"`
	// CheckPort is the port as written when keepalived's start-up
	// correction changed Port (a DR/TUN server's port reset to the
	// service's): keepalived's checkers copied the real server's address
	// at parse time (queue_checker in check_api.c), before
	// validate_check_config reset it, so they still connect to this one.
	// 0: the checkers use Port.
	CheckPort        uint16   `json:"check_port,omitempty"`
	Weight           int      `json:"weight"`
	LBKind           string   `json:"lb_kind"`
	UThreshold       uint32   `json:"uthreshold,omitempty"`
	LThreshold       uint32   `json:"lthreshold,omitempty"`
	InhibitOnFailure bool     `json:"inhibit_on_failure,omitempty"`
	Alpha            bool     `json:"alpha,omitempty"`
	Virtualhost      string   `json:"virtualhost,omitempty"`
	Checks           []*Check `json:"checks,omitempty"`
	// OtherChecks are keepalived checkers kahook does not run
	// (BFD_CHECK).
	OtherChecks []string `json:"other_checks,omitempty"`
	Sorry       bool     `json:"sorry,omitempty"`
}

// Endpoint is "IP:PORT" as maintenance files and logs name a real server.
func (rs *RealServer) Endpoint() string {
	return netip.AddrPortFrom(rs.Addr, rs.Port).String()
}

// CheckKind is a keepalived checker keyword.
type CheckKind string

const (
	CheckHTTP CheckKind = "HTTP_GET"
	CheckSSL  CheckKind = "SSL_GET"
	CheckTCP  CheckKind = "TCP_CHECK"
	CheckSMTP CheckKind = "SMTP_CHECK"
	CheckMisc CheckKind = "MISC_CHECK"
)

// Conn is where a checker connects (defaults: the real server's).
type Conn struct {
	IP       netip.Addr    `json:"connect_ip,omitzero"`
	Port     uint16        `json:"connect_port,omitempty"`
	BindTo   netip.Addr    `json:"bindto,omitzero"`
	BindPort uint16        `json:"bind_port,omitempty"`
	Timeout  time.Duration `json:"connect_timeout"`
	// BindIf is bind_if: kahook uses it as the zone of an IPv6
	// link-local destination, which keepalived requires it for.
	BindIf string `json:"bind_if,omitempty"`
	// FWMark is fwmark: the mark (SO_MARK) on the check's socket, which
	// policy routing (`ip rule add fwmark N ...`) can route by; 0: none.
	FWMark uint32 `json:"fwmark,omitempty"`
}

// Check is one checker block of a real server.
type Check struct {
	Pos              Pos           `json:"pos"`
	Kind             CheckKind     `json:"kind"`
	Conn             Conn          `json:"conn"`
	Retry            int           `json:"retry"`
	DelayBeforeRetry time.Duration `json:"delay_before_retry"`
	Warmup           time.Duration `json:"warmup,omitempty"`
	DelayLoop        time.Duration `json:"delay_loop"`
	Alpha            bool          `json:"alpha,omitempty"`
	HTTP             *HTTPCheck    `json:"http,omitempty"`
	SMTP             *SMTPCheck    `json:"smtp,omitempty"`
	Misc             *MiscCheck    `json:"misc,omitempty"`
	UDP              *UDPCheck     `json:"udp,omitempty"`
	DNS              *DNSCheck     `json:"dns,omitempty"`
	File             *FileCheck    `json:"file,omitempty"`
}

// HTTPCheck holds HTTP_GET/SSL_GET settings.
type HTTPCheck struct {
	URLs        []URL  `json:"urls"`
	Virtualhost string `json:"virtualhost,omitempty"`
	Protocol    string `json:"http_protocol"` // 1.0, 1.0C, 1.1
	EnableSNI   bool   `json:"enable_sni,omitempty"`
}

// URL is a url { } block.
type URL struct {
	Pos         Pos    `json:"pos"`
	Path        string `json:"path"`
	Digest      string `json:"digest,omitempty"`
	StatusCode  string `json:"status_code"` // keepalived form, e.g. "200-299 301"
	Virtualhost string `json:"virtualhost,omitempty"`
}

// SMTPCheck holds SMTP_CHECK settings; Hosts are extra `host { }` targets.
type SMTPCheck struct {
	HeloName string `json:"helo_name"`
	Hosts    []Conn `json:"hosts,omitempty"`
}

// MiscCheck holds MISC_CHECK settings.
type MiscCheck struct {
	Path    string        `json:"misc_path"`
	Timeout time.Duration `json:"misc_timeout"`
	Dynamic bool          `json:"misc_dynamic,omitempty"`
	User    string        `json:"user,omitempty"`
}

// VirtualServerGroup is a virtual_server_group block.
type VirtualServerGroup struct {
	Pos     Pos          `json:"pos"`
	Name    string       `json:"name"`
	Entries []GroupEntry `json:"entries"`
	// zeroMark: the group has a "fwmark 0" entry, which keepalived keeps
	// in its fwmark list (what it checks fwmark services by) and kahook
	// loads no service for.
	zeroMark bool
}

// GroupEntry is one line of a virtual_server_group: an address range and
// port, or a fwmark.
type GroupEntry struct {
	Pos    Pos        `json:"pos"`
	First  netip.Addr `json:"first,omitzero"`
	Last   netip.Addr `json:"last,omitzero"` // == First when not a range
	Port   uint16     `json:"port,omitempty"`
	FWMark uint32     `json:"fwmark,omitempty"`
	Family int        `json:"family,omitempty"` // fwmark entry: 4, 6 or 0
}

// Instance returns the instance called name, or nil.
func (c *Config) Instance(name string) *Instance {
	for _, in := range c.Instances {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// ServersOf returns the virtual servers an instance owns.
func (c *Config) ServersOf(instance string) []*VirtualServer {
	var out []*VirtualServer
	for _, vs := range c.VirtualServers {
		if vs.Instance == instance {
			out = append(out, vs)
		}
	}
	return out
}
