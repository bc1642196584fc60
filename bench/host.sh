#!/usr/bin/env bash
# host.sh: benchmarks that need no IPVS, on the host. Prints one JSON line
# per measurement (benchtool). Everything runs in namespaces this script
# creates or on loopback, and is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BT=bin/benchtool
N=${BENCH_N:-30}
NS=kbench$$
TMP=$(mktemp -d)
cleanup() {
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	[ -n "${WEB:-}" ] && kill "$WEB" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# notify master: kahook vs the shell script, 1, 16 and 256 VIPs.
# BENCH_HOST_ONLY=checks skips this part (the checks alone take a minute).
if [ "${BENCH_HOST_ONLY:-}" != checks ]; then
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" link add eth0 type veth peer name peer0
	ip -n "$NS" link set eth0 up
	ip -n "$NS" link set peer0 up
	ip -n "$NS" addr add 10.7.0.1/16 dev eth0
	for count in 1 16 256; do
		vips=""
		for i in $(seq 1 "$count"); do vips="$vips 10.7.$((100 + i / 250)).$((i % 250 + 1))"; done
		conf=$TMP/kahook-$count.conf
		{
			echo "instance VI_1 {"
			echo "    interface eth0"
			echo "    garp_master_repeat 1"
			echo "    garp_master_delay 0"
			echo "    virtual_ipaddress {"
			for v in $vips; do echo "        $v"; done
			echo "    }"
			echo "}"
		} >"$conf"
		k="bin/kahook --syslog off --log-level warn --config $conf --state-dir $TMP/state-$count"
		# Alternating round by round; the shell script takes ~20 s at 256
		# VIPs: five rounds are plenty there.
		$BT -alternate -n "$([ "$count" = 256 ] && echo 5 || echo "$N")" \
			-garp-netns "$NS" -garp-if peer0 -garp-vips "$vips" -- \
			"notify/kahook/$count" prepare="ip netns exec $NS $k notify backup VI_1" \
			ip netns exec "$NS" $k notify master VI_1 :: \
			"notify/shell/$count" prepare="VIPS='$vips' ip netns exec $NS sh bench/notify-shell.sh backup" \
			env VIPS="$vips" ip netns exec "$NS" sh bench/notify-shell.sh master
		VIPS="$vips" ip netns exec "$NS" sh bench/notify-shell.sh backup
		# The STOP/BACKUP path must finish well inside keepalived's second.
		$BT -name "notify/kahook-backup/$count" -n "$N" -prepare "ip netns exec $NS $k notify master VI_1" -- ip netns exec "$NS" $k notify backup VI_1
	done
fi

# checks: kahook vs curl and bash's /dev/tcp, against a loopback server.
bin/labweb -listen 127.0.0.1:18099 -name bench >/dev/null 2>&1 &
WEB=$!
for i in $(seq 50); do bash -c 'exec 3<>/dev/tcp/127.0.0.1/18099' 2>/dev/null && break; sleep 0.1; done
# Alternating rounds (benchtool -alternate): the tools compared share the
# shared machine's slow spells. At least 20 runs each.
CN=$((N < 20 ? 20 : N))
# The TCP check alternates with two floors: bin/gofloor (a Go program that
# only starts, and one that only connects through net.Dialer), to show
# how much of kahook's time any Go program pays before it does anything.
$BT -alternate -n "$CN" -- \
	check/kahook-tcp bin/kahook --syslog off check tcp 127.0.0.1:18099 :: \
	check/bash-tcp bash -c 'exec 3<>/dev/tcp/127.0.0.1/18099' :: \
	check/go-dial bin/gofloor 127.0.0.1:18099 :: \
	check/go-empty bin/gofloor
$BT -alternate -n "$CN" -- \
	check/kahook-http bin/kahook --syslog off check http http://127.0.0.1:18099/ :: \
	check/curl curl -sf -o /dev/null http://127.0.0.1:18099/
