#!/usr/bin/env bash
# reapply-ab.sh: two kahook binaries re-applying the same unchanged IPVS
# table (bench/vm.sh's 1,000 services x 10, gen_services), alternating
# round by round (the first of each round rotating), one untimed round
# first; per run the wall time, the CPU time (user+sys) and the table
# read's time from `--log-level debug` ("IPVS planned ... read="). The
# table is compared with the first load's `ipvsadm -Sn` after the first
# round. Needs IPVS (the VM):
#
#   flock /work/vm.lock vm/vm.sh run 'bash bench/reapply-ab.sh 15 OLD_BINARY bin/kahook'
#
# Prints a summary per binary and series: median min max n (ms).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=$1
shift
NS=kab$$
TMP=$(mktemp -d)
trap 'ip netns del $NS 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add $NS
ip -n $NS link set lo up
SERVICES=1000
eval "$(sed -n '/^gen_services()/,/^}/p' bench/vm.sh)"
gen_services 0 0 >"$TMP/ipvs.conf"
args="--syslog off --log-level debug --config $TMP/ipvs.conf --state-dir $TMP/state"
# shellcheck disable=SC2086
ip netns exec $NS "$1" $args ipvs apply 2>/dev/null
ip netns exec $NS ipvsadm -Sn | sort >"$TMP/want"
bins=("$@")
n=${#bins[@]}
for r in $(seq 0 "$ROUNDS"); do
	for i in $(seq 0 $((n - 1))); do
		j=$(((i + r) % n))
		bin=${bins[$j]}
		t0=$(date +%s%N)
		# shellcheck disable=SC2086
		ip netns exec $NS /usr/bin/time -f '%U %S' -o "$TMP/cpu" "$bin" $args ipvs apply 2>"$TMP/err"
		t1=$(date +%s%N)
		if [ "$r" -gt 0 ]; then
			echo "$j:$bin wall $(((t1 - t0) / 1000000))" >>"$TMP/times"
			awk -v b="$j:$bin" '{printf "%s cpu %d\n", b, ($1 + $2) * 1000}' "$TMP/cpu" >>"$TMP/times"
			sed -n 's/.*IPVS planned.* read=\([0-9.]*\)\(m\?s\).*/\1 \2/p' "$TMP/err" |
				awk -v b="$j:$bin" '{v = $1; if ($2 == "s") v *= 1000; printf "%s read %d\n", b, v}' >>"$TMP/times"
		fi
		if [ "$r" = 1 ]; then
			ip netns exec $NS ipvsadm -Sn | sort | cmp -s - "$TMP/want" || { echo "$bin: the table differs" >&2; exit 1; }
		fi
	done
done
echo "summary (ms): binary series median min max n"
awk '{k = $1 " " $2; v[k] = v[k] " " $3} END {for (k in v) print k, v[k]}' "$TMP/times" | sort | while read -r bin series vals; do
	# shellcheck disable=SC2086
	printf '%s\n' $vals | sort -n | awk -v k="$bin $series" '{a[NR] = $1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%s %s %s %s %d\n", k, m, a[1], a[NR], NR}'
done
