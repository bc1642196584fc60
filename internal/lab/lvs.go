package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options shape the LVS lab.
type Options struct {
	Nopreempt bool
	// MutualDR: the directors are also the real servers (each other's and
	// their own); the backup keeps the VIP on lo with realserver sysctls
	// and no IPVS rules.
	MutualDR bool
	// FIFO: director A gets its events through notify_fifo_script and
	// `kahook fifo`; B keeps the plain notify form.
	FIFO bool
	// Track: each director tracks `kahook check tcp` against a local
	// service on 127.0.0.1:8000 (StopLocalService makes it fail).
	Track bool
	// Sync: the master runs `kahook sync` as a vrrp_script.
	Sync bool
	// Notify, when set, replaces kahook as the notify script (benchmarks
	// compare a plain shell script). It is called with a state file path
	// and keepalived's four words, and writes "STATE START END" (unix
	// seconds) to that file.
	Notify string
	// GARPDelay is garp_master_delay (seconds); 0 means kahook's default.
	GARPDelay int
	// SyncDaemon: keepalived runs the IPVS connection sync daemon
	// (`lvs_sync_daemon eth0 VI_1` in global_defs; kahook.conf carries
	// the line too, as `kahook import` copies it).
	SyncDaemon bool
	// Persistence is the virtual server's persistence_timeout (seconds).
	Persistence int
	// BackupIPVS, when set, is kahook's `backup { ipvs BackupIPVS }`.
	BackupIPVS string
	// KeepalivedVS: keepalived alone, no kahook: the VIP in keepalived's
	// virtual_ipaddress on eth0 and the virtual_server in keepalived.conf
	// (its checker process loads IPVS in every VRRP state). State is
	// recorded by a small notify script.
	KeepalivedVS bool
}

// LVS is the lab with two keepalived directors.
type LVS struct {
	*Lab
	Opts                   Options
	A, B, RS1, RS2, Client *Node
	keepalived             map[*Node]*Proc
	local                  map[*Node]*Proc
}

// Directors are A then B.
func (x *LVS) Directors() []*Node { return []*Node{x.A, x.B} }

// BuildLVS creates the nodes, the real servers and both directors'
// configs, and starts keepalived on both.
func BuildLVS(l *Lab, o Options) (*LVS, error) {
	x := &LVS{Lab: l, Opts: o, keepalived: map[*Node]*Proc{}, local: map[*Node]*Proc{}}
	var err error
	add := func(name, ip, mac string) *Node {
		if err != nil {
			return nil
		}
		var n *Node
		n, err = l.AddNode(name, ip, mac)
		return n
	}
	x.A = add("a", IPA, MACA)
	x.B = add("b", IPB, MACB)
	if !o.MutualDR {
		x.RS1 = add("rs1", IPRS1, MACRS1)
		x.RS2 = add("rs2", IPRS2, MACRS2)
	}
	x.Client = add("client", IPCli, MACCli)
	if err != nil {
		return nil, err
	}
	l.say("lab: directors a (%s) and b (%s), client %s, VIP %s", IPA, IPB, IPCli, VIP)
	servers := []*Node{x.RS1, x.RS2}
	if o.MutualDR {
		servers = []*Node{x.A, x.B}
	}
	for _, rs := range servers {
		if !o.MutualDR {
			// A DR real server: ARP sysctls first, then the VIP on lo.
			if _, err := rs.Run(l.Kahook, "--syslog", "off", "realserver", "up", "--vip", VIP, "--interface", "eth0"); err != nil {
				return nil, err
			}
			l.say("%s: kahook realserver up (arp_ignore=1, arp_announce=2, VIP on lo)", rs.Name)
		}
		if _, err := rs.Start("web-"+rs.Name, l.Labweb, "-listen", ":80", "-name", rs.Name); err != nil {
			return nil, err
		}
	}
	for _, d := range x.Directors() {
		if err := x.writeConfigs(d, servers); err != nil {
			return nil, err
		}
		if o.Track {
			if err := x.StartLocalService(d); err != nil {
				return nil, err
			}
		}
	}
	for i, d := range x.Directors() {
		if err := x.StartKeepalived(d); err != nil {
			return nil, err
		}
		if o.Nopreempt && i == 0 {
			// With nopreempt whoever wins the first election keeps the
			// role: b starts once a (the higher priority) is MASTER,
			// or on a loaded host b may win it (a's start was late).
			if err := x.WaitState(d, "MASTER", 60*time.Second); err != nil {
				return nil, err
			}
		}
	}
	return x, nil
}

func (x *LVS) path(d *Node, name string) string { return filepath.Join(x.Dir, d.Name+"-"+name) }

// StateDir is a director's kahook state dir.
func (x *LVS) StateDir(d *Node) string { return x.path(d, "state") }

// KahookConf is a director's kahook.conf.
func (x *LVS) KahookConf(d *Node) string { return x.path(d, "kahook.conf") }

func (x *LVS) kahookCmd(d *Node) string {
	return fmt.Sprintf("%s --config %s --state-dir %s", x.Kahook, x.KahookConf(d), x.StateDir(d))
}

func (x *LVS) writeConfigs(d *Node, servers []*Node) error {
	o := x.Opts
	var k strings.Builder
	if o.SyncDaemon {
		k.WriteString("global_defs {\n    lvs_sync_daemon eth0 VI_1\n}\n")
	}
	fmt.Fprintf(&k, "instance VI_1 {\n    interface eth0\n    virtual_ipaddress {\n        %s\n    }\n", VIP)
	if o.GARPDelay > 0 {
		fmt.Fprintf(&k, "    garp_master_delay %d\n", o.GARPDelay)
	}
	if o.MutualDR {
		k.WriteString("    backup {\n        vip on\n        sysctl realserver\n        ipvs remove\n    }\n")
	} else if o.BackupIPVS != "" {
		fmt.Fprintf(&k, "    backup {\n        ipvs %s\n    }\n", o.BackupIPVS)
	}
	k.WriteString("}\n")
	var vs strings.Builder
	fmt.Fprintf(&vs, "virtual_server %s 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind DR\n", VIP)
	if o.Persistence > 0 {
		fmt.Fprintf(&vs, "    persistence_timeout %d\n", o.Persistence)
	}
	for _, rs := range servers {
		fmt.Fprintf(&vs, "    real_server %s 80 {\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n", rs.IP)
	}
	vs.WriteString("}\n")
	k.WriteString(vs.String())
	if err := os.WriteFile(x.KahookConf(d), []byte(k.String()), 0o644); err != nil {
		return err
	}

	prio := 150
	if d == x.B {
		prio = 100
	}
	notify := x.kahookCmd(d) + " notify"
	if o.Notify != "" {
		notify = o.Notify + " " + x.path(d, "shell-state")
	}
	if o.KeepalivedVS {
		// Records the state only: keepalived does everything else.
		script := x.path(d, "record-state.sh")
		body := "#!/bin/sh\nnow=$(date +%s.%N)\necho \"$4 $now $now\" >\"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			return err
		}
		notify = script + " " + x.path(d, "shell-state")
	}
	var ka strings.Builder
	fmt.Fprintf(&ka, "global_defs {\n    router_id lab-%s\n    script_user root\n", d.Name)
	if o.SyncDaemon {
		ka.WriteString("    lvs_sync_daemon eth0 VI_1\n")
	}
	useFIFO := o.FIFO && d == x.A
	if useFIFO {
		fmt.Fprintf(&ka, "    notify_fifo %s\n    notify_fifo_script \"%s fifo\"\n", x.path(d, "notify.fifo"), x.kahookCmd(d))
	}
	ka.WriteString("}\n")
	var tracks []string
	if o.Track {
		fmt.Fprintf(&ka, "vrrp_script chk_local {\n    script \"%s --syslog off check tcp --connect-timeout 0.5 127.0.0.1:8000\"\n    interval 1\n    fall 2\n    rise 2\n}\n", x.Kahook)
		tracks = append(tracks, "chk_local")
	}
	if o.Sync {
		fmt.Fprintf(&ka, "vrrp_script chk_pool {\n    script \"%s sync --deadline 5s\"\n    interval 2\n    timeout 8\n    fall 1\n    rise 1\n}\n", x.kahookCmd(d))
		tracks = append(tracks, "chk_pool")
	}
	fmt.Fprintf(&ka, "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id %s\n    priority %d\n    advert_int 1\n", VRID, prio)
	if o.Nopreempt {
		ka.WriteString("    nopreempt\n")
	}
	if o.KeepalivedVS {
		fmt.Fprintf(&ka, "    virtual_ipaddress {\n        %s/32 dev eth0\n    }\n", VIP)
	}
	if len(tracks) > 0 {
		fmt.Fprintf(&ka, "    track_script {\n        %s\n    }\n", strings.Join(tracks, "\n        "))
	}
	if !useFIFO {
		fmt.Fprintf(&ka, "    notify \"%s\"\n", notify)
	}
	ka.WriteString("}\n")
	if o.KeepalivedVS {
		ka.WriteString(vs.String())
	}
	return os.WriteFile(x.path(d, "keepalived.conf"), []byte(ka.String()), 0o644)
}

// StartKeepalived starts (or restarts) a director's keepalived, as
// systemd would after a crash.
func (x *LVS) StartKeepalived(d *Node) error {
	args := []string{"keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp"}
	if x.Opts.KeepalivedVS {
		args = args[:len(args)-1] // and its checker process, which loads IPVS
	}
	args = append(args, "--use-file", x.path(d, "keepalived.conf"),
		"--pid", x.path(d, "k.pid"), "--vrrp_pid", x.path(d, "v.pid"), "--checkers_pid", x.path(d, "c.pid"))
	p, err := d.Start("keepalived-"+d.Name, args...)
	if err != nil {
		return err
	}
	x.keepalived[d] = p
	return nil
}

// Release runs on d what keepalived.service's kahook drop-in runs as
// ExecStopPost when keepalived exits (packaging/systemd/keepalived.service.d):
// `kahook release --all`, with the lab's config and state paths. The lab
// runs keepalived without systemd, so a crash test runs it by hand.
func (x *LVS) Release(d *Node) (string, error) {
	return d.Run(x.Kahook, "--syslog", "off", "--config", x.KahookConf(d), "--state-dir", x.StateDir(d), "release", "--all")
}

// Keepalived is a director's keepalived process.
func (x *LVS) Keepalived(d *Node) *Proc { return x.keepalived[d] }

// StartLocalService starts the service a director's track_script checks.
func (x *LVS) StartLocalService(d *Node) error {
	p, err := d.Start("local-"+d.Name, x.Labweb, "-listen", "127.0.0.1:8000", "-name", "local")
	if err != nil {
		return err
	}
	x.local[d] = p
	return nil
}

// StopLocalService makes a director's track_script fail.
func (x *LVS) StopLocalService(d *Node) { x.local[d].Stop() }

// kahookState is the part of state.json the lab reads.
type kahookState struct {
	Instances map[string]struct {
		State    string    `json:"state"`
		Applied  bool      `json:"applied"`
		Updated  time.Time `json:"updated"`
		Received time.Time `json:"received"`
	} `json:"instances"`
}

// shellState reads what a custom notify script recorded.
func (x *LVS) shellState(d *Node) (state string, start, end time.Time) {
	data, err := os.ReadFile(x.path(d, "shell-state"))
	if err != nil {
		return "", start, end
	}
	f := strings.Fields(string(data))
	if len(f) != 3 {
		return "", start, end
	}
	unix := func(s string) time.Time {
		v, _ := strconv.ParseFloat(s, 64)
		return time.Unix(0, int64(v*1e9))
	}
	return f[0], unix(f[1]), unix(f[2])
}

// State is the VRRP state kahook (or the custom notify script) last
// applied on a director.
func (x *LVS) State(d *Node) string {
	if x.Opts.Notify != "" || x.Opts.KeepalivedVS {
		s, _, _ := x.shellState(d)
		return s
	}
	data, err := os.ReadFile(filepath.Join(x.StateDir(d), "state.json"))
	if err != nil {
		return ""
	}
	var st kahookState
	if json.Unmarshal(data, &st) != nil {
		return ""
	}
	s, ok := st.Instances["VI_1"]
	if !ok || !s.Applied {
		return ""
	}
	return s.State
}

// Timing is when a director's last transition was received and done.
func (x *LVS) Timing(d *Node) (received, done time.Time) {
	if x.Opts.Notify != "" || x.Opts.KeepalivedVS {
		_, received, done = x.shellState(d)
		return
	}
	data, err := os.ReadFile(filepath.Join(x.StateDir(d), "state.json"))
	if err != nil {
		return
	}
	var st kahookState
	if json.Unmarshal(data, &st) == nil {
		s := st.Instances["VI_1"]
		return s.Received, s.Updated
	}
	return
}

// WaitState waits until kahook on d applied state.
func (x *LVS) WaitState(d *Node, state string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if x.State(d) == state {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: kahook state %q after %v, want %s\n%s", d.Name, x.State(d), timeout, state, lastLines(x.keepalived[d].Output(), 15))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// HasVIP reports whether d has the VIP bound (on any interface).
func (x *LVS) HasVIP(d *Node) bool {
	out, _ := d.Run("ip", "-o", "addr", "show")
	return strings.Contains(out, " "+VIP+"/")
}

// Rules is `ipvsadm -Sn` on d.
func (x *LVS) Rules(d *Node) string {
	out, _ := d.Run("ipvsadm", "-Sn")
	return strings.TrimSpace(out)
}

// Sysctls is "all/eth0 arp_ignore arp_announce" effective values of d.
func (x *LVS) Sysctls(d *Node) string {
	read := func(iface, knob string) int {
		out, _ := d.Run("cat", "/proc/sys/net/ipv4/conf/"+iface+"/"+knob)
		v, _ := strconv.Atoi(strings.TrimSpace(out))
		return v
	}
	return fmt.Sprintf("arp_ignore=%d arp_announce=%d",
		max(read("all", "arp_ignore"), read("eth0", "arp_ignore")),
		max(read("all", "arp_announce"), read("eth0", "arp_announce")))
}

// ARPAnswers asks from the client who has the VIP and returns the names
// of the nodes whose MAC answered.
func (x *LVS) ARPAnswers() ([]string, error) {
	out, err := x.Client.Run(x.Kahook, "--syslog", "off", "--json", "arp", "probe", "--interface", "eth0", "--timeout", "800ms", VIP)
	if err != nil && !strings.Contains(out, "{") {
		return nil, err
	}
	var res map[string][]string
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		return nil, fmt.Errorf("arp probe output: %v: %s", err, out)
	}
	return x.namesOf(res[VIP]), nil
}

// NeighbourOfVIP is the node the client's neighbour entry for the VIP
// points to ("" if none).
func (x *LVS) NeighbourOfVIP() string {
	out, _ := x.Client.Run("ip", "neigh", "show", VIP, "dev", "eth0")
	f := strings.Fields(out)
	for i, w := range f {
		if w == "lladdr" && i+1 < len(f) {
			names := x.namesOf([]string{f[i+1]})
			if len(names) == 1 {
				return names[0]
			}
		}
	}
	return ""
}

func (x *LVS) namesOf(macs []string) []string {
	var names []string
	for _, m := range macs {
		name := m
		for _, n := range x.nodes {
			if strings.EqualFold(n.MAC, m) {
				name = n.Name
			}
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Get makes one request from the client through the VIP and returns the
// name of the server that answered.
func (x *LVS) Get() (string, error) {
	out, err := x.Client.Run("curl", "-s", "-m", "2", HTTPURL)
	return strings.TrimSpace(out), err
}

// StartProbe makes the client request the VIP every 20 ms.
func (x *LVS) StartProbe(name string) (*Proc, error) {
	return x.Client.Start(name, x.Labweb, "-probe", HTTPURL, "-interval", "20ms", "-timeout", "200ms")
}

// ProbeStats reads a probe's log: answers per server, failed requests,
// and the longest time between two answers (the outage the client saw).
type ProbeStats struct {
	Answers    map[string]int
	Failures   int
	Outage     time.Duration
	OutageAt   time.Time
	LastAnswer time.Time
	Total      int
}

// ReadProbe summarizes a probe log (read by Answers).
func ReadProbe(p *Proc) ProbeStats {
	st := ProbeStats{Answers: map[string]int{}}
	var last time.Time
	for _, a := range Answers(p.Output()) {
		st.Total++
		if a.Server == "" {
			st.Failures++
			continue
		}
		st.Answers[a.Server]++
		if !last.IsZero() && a.At.Sub(last) > st.Outage {
			st.Outage, st.OutageAt = a.At.Sub(last), last
		}
		last = a.At
	}
	st.LastAnswer = last
	return st
}

// Snapshot is the state of the lab seen from outside kahook.
type Snapshot struct {
	ARP       []string          // nodes answering ARP for the VIP
	Neighbour string            // where the client's entry points
	VIP       map[string]bool   // which director has the VIP bound
	IPVS      map[string]bool   // which director has IPVS rules
	Sysctls   map[string]string // effective ARP sysctls per director
	State     map[string]string // kahook's applied state per director
}

// Observe takes a Snapshot.
func (x *LVS) Observe() (Snapshot, error) {
	s := Snapshot{VIP: map[string]bool{}, IPVS: map[string]bool{}, Sysctls: map[string]string{}, State: map[string]string{}}
	var err error
	if s.ARP, err = x.ARPAnswers(); err != nil {
		return s, err
	}
	s.Neighbour = x.NeighbourOfVIP()
	for _, d := range x.Directors() {
		s.VIP[d.Name] = x.HasVIP(d)
		s.IPVS[d.Name] = x.Rules(d) != ""
		s.Sysctls[d.Name] = x.Sysctls(d)
		s.State[d.Name] = x.State(d)
	}
	return s, nil
}

func (s Snapshot) String() string {
	return fmt.Sprintf("ARP answered by %v, client neighbour -> %q, VIP %v, IPVS %v, sysctls %v, kahook state %v",
		s.ARP, s.Neighbour, s.VIP, s.IPVS, s.Sysctls, s.State)
}
