package config

import (
	"strings"
	"sync"
)

// syntax is the keyword table of one block level, as keepalived 2.2.7
// installs it (install_keyword/install_sublevel in check/check_parser.c,
// check_api.c, check_http.c, check_smtp.c, check_misc.c...). keys maps
// each keyword of the level to the table of its sub-level, or to nil for
// a keyword without one. A generic level is one kahook leaves to
// keepalived (vrrp_instance, global_defs...): every '{' there nests, as
// keepalived's skip_block counts them, and nothing in it is reported.
type syntax struct {
	keys    map[string]*syntax
	generic bool
	// values: every line up to the first '}' is a value, braces
	// included (keepalived's alloc_value_block: virtual_server_group).
	values bool
}

// genericSyntax is a block whose inside kahook does not check.
var genericSyntax = &syntax{generic: true}

func words(s string) []string { return strings.Fields(s) }

func table(plain string, subs map[string]*syntax) *syntax {
	t := &syntax{keys: map[string]*syntax{}}
	for _, k := range words(plain) {
		t.keys[k] = nil
	}
	for k, s := range subs {
		t.keys[k] = s
	}
	return t
}

// checkerCommon is install_checker_common_keywords (check_api.c).
func checkerCommon(conn bool) string {
	s := "retry delay_before_retry warmup delay_loop alpha log_all_failures"
	if conn {
		s += " connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark"
	}
	return s
}

// keepalivedGlobalDefs are the keywords of keepalived 2.2.7's global_defs
// block (init_global_keywords in core/global_parser.c), every build
// option's included: kahook reads past them.
const keepalivedGlobalDefs = `process_names process_name vrrp_process_name checker_process_name
lvs_process_name bfd_process_name router_id notification_email_from smtp_server smtp_helo_name
smtp_connect_timeout notification_email smtp_alert startup_script startup_script_timeout
shutdown_script shutdown_script_timeout max_auto_priority min_auto_priority_delay smtp_alert_vrrp
smtp_alert_checker checker_log_all_failures dynamic_interfaces no_email_faults default_interface
disable_local_igmp lvs_timeouts lvs_flush lvs_flush_on_stop lvs_flush_onstop lvs_sync_daemon
vrrp_mcast_group4 vrrp_mcast_group6 vrrp_garp_master_delay vrrp_garp_master_repeat
vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat vrrp_garp_lower_prio_delay
vrrp_garp_lower_prio_repeat vrrp_down_timer_adverts vrrp_garp_interval vrrp_gna_interval
vrrp_min_garp vrrp_garp_extra_if vrrp_vmac_garp_intvl vrrp_lower_prio_no_advert
vrrp_higher_prio_send_advert vrrp_version vrrp_iptables vrrp_ipsets nftables nftables_priority
nftables_ifindex nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark nftables_counters
vrrp_check_unicast_src vrrp_skip_check_adv_addr vrrp_strict vrrp_priority vrrp_no_swap
vrrp_rt_priority vrrp_cpu_affinity vrrp_rlimit_rttime vrrp_rlimit_rtime notify_fifo
notify_fifo_script vrrp_notify_fifo vrrp_notify_fifo_script vrrp_notify_priority_changes
fifo_write_vrrp_states_on_reload lvs_notify_fifo lvs_notify_fifo_script checker_priority
checker_no_swap checker_rt_priority checker_cpu_affinity checker_rlimit_rttime checker_rlimit_rtime
bfd_priority bfd_no_swap bfd_rt_priority bfd_cpu_affinity bfd_rlimit_rttime bfd_rlimit_rtime
snmp_socket enable_traps enable_snmp_vrrp enable_snmp_keepalived enable_snmp_rfc enable_snmp_rfcv2
enable_snmp_rfcv3 enable_snmp_checker enable_dbus dbus_service_name script_user
enable_script_security vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force
vrrp_netlink_monitor_rcv_bufs vrrp_netlink_monitor_rcv_bufs_force process_monitor_rcv_bufs
process_monitor_rcv_bufs_force lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force
lvs_netlink_monitor_rcv_bufs lvs_netlink_monitor_rcv_bufs_force rs_init_notifies no_checker_emails
vrrp_rx_bufs_policy vrrp_rx_bufs_multiplier vrrp_startup_delay log_unknown_vrids vmac_prefix
vmac_addr_prefix umask random_seed reload_check_config reload_time_file reload_repeat reload_file
include_check config_save_dir tmp_config_directory data_use_instance`

// kahookGlobalDefs are kahook's own global_defs keywords (load.go).
const kahookGlobalDefs = "state_dir maintenance_dir"

// instanceKeywords and realServerKeywords are the keywords of kahook's
// own blocks (instance.go); actionKeywords those of master { } and
// backup { }.
var (
	instanceKeywords   = words("interface virtual_ipaddress fwmark master backup garp_master_repeat garp_master_refresh_repeat garp_master_delay garp_master_refresh garp_interval")
	realServerKeywords = words("interface virtual_ipaddress")
	actionKeywords     = words("vip sysctl ipvs")
)

// topSyntax is keepalived's keyword tree, built on first use: a run that
// reads no config (`kahook check tcp` as a vrrp_script) never needs it,
// and building it at package init cost such a run 5% of its
// instructions (issue 18).
var topSyntax = sync.OnceValue(func() *syntax {
	urlSyntax := table("path digest status_code virtualhost regex regex_no_match regex_options regex_min_offset regex_max_offset regex_stack", nil)
	// httpSyntax is HTTP_GET's and SSL_GET's (install_http_ssl_check_keyword).
	httpSyntax := table(checkerCommon(true)+" nb_get_retry virtualhost http_protocol enable_sni fast_recovery", map[string]*syntax{"url": urlSyntax})
	smtpSyntax := table("helo_name "+checkerCommon(true), map[string]*syntax{"host": table(checkerCommon(true), nil)})

	checkerSyntax := map[string]*syntax{
		"HTTP_GET":   httpSyntax,
		"SSL_GET":    httpSyntax,
		"TCP_CHECK":  table(checkerCommon(true), nil),
		"SMTP_CHECK": smtpSyntax,
		"MISC_CHECK": table(checkerCommon(false)+" misc_path misc_timeout misc_dynamic user", nil),
		"PING_CHECK": table(checkerCommon(true), nil),
		"UDP_CHECK":  table(checkerCommon(true)+" payload require_reply min_reply_length max_reply_length", nil),
		"DNS_CHECK":  table(checkerCommon(true)+" type name", nil),
		"FILE_CHECK": table("track_file weight", nil),
		"BFD_CHECK":  table("name alpha", nil),
	}

	realServerSyntax := table("weight lvs_method uthreshold lthreshold inhibit_on_failure notify_up notify_down alpha retry delay_before_retry warmup connect_timeout delay_loop smtp_alert virtualhost snmp_name", checkerSyntax)

	virtualServerSyntax := table("ip_family retry delay_before_retry warmup connect_timeout delay_loop inhibit_on_failure lb_algo lvs_sched hashed ops flag-1 flag-2 flag-3 sh-port sh-fallback mh-port mh-fallback lb_kind lvs_method persistence_engine persistence_timeout persistence_granularity protocol ha_suspend smtp_alert virtualhost snmp_name alpha omega quorum_up quorum_down quorum hysteresis weight sorry_server sorry_server_inhibit sorry_server_lvs_method",
		map[string]*syntax{"real_server": realServerSyntax})

	// global_defs is keepalived's block with kahook's few keywords added:
	// a keyword neither knows is reported as keepalived -t reports it
	// ("Unknown keyword 'state_dri'"). notification_email's block holds
	// values (read_value_block in email_handler).
	globalSyntax := table(keepalivedGlobalDefs+" "+kahookGlobalDefs, map[string]*syntax{"notification_email": {values: true}})

	// topSyntax: keepalived's root keywords (install_keyword_root) and
	// kahook's own blocks. virtual_server and global_defs are checked
	// keyword by keyword here; kahook's instance and realserver blocks by
	// the builder (instance.go), keepalived's other blocks by keepalived.
	topSyntax := table("child_wait_time linkbeat_use_polling namespace_with_ipsets net_namespace net_namespace_ipvs use_pid_dir",
		map[string]*syntax{
			"virtual_server":           virtualServerSyntax,
			"virtual_server_group":     {values: true},
			"global_defs":              globalSyntax,
			"SSL":                      genericSyntax,
			"bfd_instance":             genericSyntax,
			"garp_group":               genericSyntax,
			"interface_up_down_delays": genericSyntax,
			"linkbeat_interfaces":      genericSyntax,
			"static_ipaddress":         genericSyntax,
			"static_routes":            genericSyntax,
			"static_rules":             genericSyntax,
			"track_file":               genericSyntax,
			"track_group":              genericSyntax,
			"vrrp_instance":            genericSyntax,
			"vrrp_script":              genericSyntax,
			"vrrp_sync_group":          genericSyntax,
			"vrrp_track_file":          genericSyntax,
			"vrrp_track_process":       genericSyntax,
			"realserver":               genericSyntax, // kahook's
			"instance":                 genericSyntax, // kahook's block; keepalived's is a plain keyword
		})
	return topSyntax
})

// suggest returns the known keyword closest to word (a "did you mean"),
// or "" when none is close: at most two edits, fewer for short words.
func suggest(word string, known []string) string {
	best, bestD := "", 3
	if len(word) <= 4 {
		bestD = 2
	}
	lw := strings.ToLower(word)
	for _, k := range known {
		lk := strings.ToLower(k)
		// The (byte) distance is at least the difference in length: a
		// word far longer than every keyword (a megabyte of junk) costs no
		// table. Once there is a best, a keyword at its distance can still
		// win the tie.
		limit := bestD
		if best != "" {
			limit++
		}
		if d := len(lw) - len(lk); d >= limit || -d >= limit {
			continue
		}
		// Ties go to the alphabetically first keyword: known comes from a
		// map, and the hint must not change from run to run.
		if d := editDistance(lw, lk); d < bestD || d == bestD && best != "" && k < best {
			best, bestD = k, d
		}
	}
	return best
}

func (s *syntax) names() []string {
	out := make([]string, 0, len(s.keys))
	for k := range s.keys {
		out = append(out, k)
	}
	return out
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance: a swap of two neighbours ("wieght") is one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := 0; j <= len(b); j++ {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
