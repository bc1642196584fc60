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

	// topSyntax: keepalived's root keywords (install_keyword_root) and
	// kahook's own blocks. Only virtual_server is checked keyword by
	// keyword; kahook's instance/realserver/global_defs keywords are
	// checked by the builder, keepalived's other blocks by keepalived.
	topSyntax := table("child_wait_time linkbeat_use_polling namespace_with_ipsets net_namespace net_namespace_ipvs use_pid_dir",
		map[string]*syntax{
			"virtual_server":           virtualServerSyntax,
			"virtual_server_group":     {values: true},
			"global_defs":              genericSyntax,
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
