#!/usr/bin/env bash
# ipvs-scale.sh: 1,000 services x 10 destinations whose real-server
# addresses differ per service (service i: 10.(60+i/250).(i%250).1-10),
# loaded by `kahook ipvs apply` and by `ipvsadm-restore`, round by round
# alternating which goes first; the same for an unchanged re-apply
# (kahook against `ipvsadm -C && ipvsadm-restore`). After every load the
# table must equal the restore input (`ipvsadm -Sn`, sorted). Needs IPVS:
#
#   flock /work/vm.lock vm/vm.sh run 'bash bench/ipvs-scale.sh'
#
# Environment: KAHOOK (default bin/kahook), ROUNDS (default 5).
# Prints one line per run and a summary (median, min-max) per series.
set -euo pipefail
cd "$(dirname "$0")/.."
KAHOOK=${KAHOOK:-bin/kahook}
ROUNDS=${ROUNDS:-5}
NS=kscale$$
TMP=$(mktemp -d)
cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
ip netns add "$NS"
# lo up: the kernel checks a destination address against the local table
# (inet_addr_type), which a namespace gets with its first address.
ip -n "$NS" link set lo up
nsx() { ip netns exec "$NS" "$@"; }

conf=$TMP/ipvs.conf
awk 'BEGIN {
	for (s = 0; s < 1000; s++) {
		printf "virtual_server 10.50.%d.%d 80 {\n protocol TCP\n lb_algo wrr\n lb_kind DR\n", int(s / 250), s % 250 + 1
		for (d = 1; d <= 10; d++)
			printf " real_server 10.%d.%d.%d 80 { weight %d }\n", 60 + int(s / 250), s % 250, d, d
		print "}"
	}
}' >"$conf"
k="$KAHOOK --syslog off --log-level warn --config $conf --state-dir $TMP/state"
nsx $k ipvs apply
nsx ipvsadm -Sn >"$TMP/rules"
sort "$TMP/rules" >"$TMP/want"
echo "rules: $(wc -l <"$TMP/rules") (kahook $($KAHOOK version 2>/dev/null | head -1))"
[ "$(grep -c '^-a' "$TMP/rules")" = 10000 ] || { echo "expected 10000 destinations" >&2; exit 1; }

ms() { echo $(($(date +%s%N) / 1000000)); }
# timed NAME CMD...: runs CMD in the namespace, records the wall time,
# then checks the table.
timed() {
	local name=$1 t0 t1
	shift
	t0=$(ms)
	nsx "$@" >/dev/null
	t1=$(ms)
	echo "$name $((t1 - t0))" | tee -a "$TMP/times"
	nsx ipvsadm -Sn | sort | cmp -s - "$TMP/want" || { echo "$name: table differs from the restore input" >&2; exit 1; }
}
restore() { nsx sh -c "ipvsadm-restore <$TMP/rules"; }
for r in $(seq 1 "$ROUNDS"); do
	# load from empty
	for tool in $([ $((r % 2)) = 1 ] && echo kahook restore || echo restore kahook); do
		nsx ipvsadm -C
		case $tool in
		kahook) timed kahook-load $k ipvs apply ;;
		restore) timed restore-load sh -c "ipvsadm-restore <$TMP/rules" ;;
		esac
	done
	# unchanged re-apply (the table is loaded)
	for tool in $([ $((r % 2)) = 1 ] && echo kahook restore || echo restore kahook); do
		case $tool in
		kahook) timed kahook-reapply $k ipvs apply ;;
		restore) timed restore-reapply sh -c "ipvsadm -C && ipvsadm-restore <$TMP/rules" ;;
		esac
	done
done
# Where a re-apply's time goes: one table read through /proc (the floor),
# process start, start + config parse, a table read through netlink
# (`ipvs show --rules`), and kahook's own debug timings of one re-apply
# and of one load from empty.
for _ in 1 2 3; do
	timed read-proc cat /proc/net/ip_vs
	timed kahook-version $KAHOOK version
	timed kahook-config-check $k config check
	timed kahook-show-rules $k ipvs show --rules
done
nsx $k --log-level debug ipvs apply 2>&1 | grep -E 'IPVS (planned|written|verified)' || true
nsx ipvsadm -C
nsx $k --log-level debug ipvs apply 2>&1 | grep -E 'IPVS (planned|written|verified)' || true
echo "summary (ms): name median min max n"
awk '{v[$1] = v[$1] " " $2} END {for (n in v) print n, v[n]}' "$TMP/times" | sort | while read -r name vals; do
	# shellcheck disable=SC2086
	printf '%s\n' $vals | sort -n | awk -v n="$name" '{a[NR] = $1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%s %s %s %s %d\n", n, m, a[1], a[NR], NR}'
done
