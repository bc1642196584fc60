#!/usr/bin/env bash
# vm.sh: benchmarks that need IPVS; run inside the VM harness by run.sh, all
# parts in one VM boot. Prints one JSON line per measurement, each part
# after a line "== part NAME" (run.sh files each part's lines apart).
#
#   bench/vm.sh [PART...]   parts: calib ipvs notify sync lab survivors
#                           (default: all; BENCH_PARTS does the same)
#
# BENCH_SMALL=1 shrinks every part for a quick trial (100 x 10 services,
# 100 real servers, one lab round). BENCH_ROUNDS: failover lab rounds
# (default 3); BENCH_IPVS_ROUNDS: alternating rounds of the IPVS and sync
# parts (default 5, after one untimed round); BENCH_NOTIFY_ROUNDS: of the
# notify part (default 3, no untimed round: one round of its four variants
# takes over two minutes under TCG at 1,000 x 10).
set -euo pipefail
cd "$(dirname "$0")/.."
BT=$PWD/bin/benchtool
SMALL=${BENCH_SMALL:-}
SERVICES=$([ -n "$SMALL" ] && echo 100 || echo 1000)
SYNC_SERVERS=$([ -n "$SMALL" ] && echo 100 || echo 1000)
ROUNDS=${BENCH_IPVS_ROUNDS:-$([ -n "$SMALL" ] && echo 3 || echo 5)}
NOTIFY_ROUNDS=${BENCH_NOTIFY_ROUNDS:-3}
LAB_ROUNDS=${BENCH_ROUNDS:-$([ -n "$SMALL" ] && echo 1 || echo 3)}
ALL_PARTS="calib ipvs notify sync lab survivors"

# gen_services VIPS PORT0: SERVICES virtual servers of 10 real servers each,
# shaped like a real director's: the services spread over VIPS addresses
# (10.50.0.0/16 when VIPS is 0: then ports 80 and 443 per address, else
# 10.7.100.1..VIPS with ports from PORT0), wrr/wlc/rr/sh, every third
# persistent, every fourth NAT (real port 8080), varied weights, and
# real-server addresses that differ per service (10.60.0.0/16: 10,000 of
# them). No checkers: apply and notify load every configured server.
gen_services() {
	awk -v n="$SERVICES" -v vips="$1" -v port0="$2" 'BEGIN {
		split("wrr wlc rr sh", algo, " ")
		for (s = 0; s < n; s++) {
			if (vips == 0) {
				a = int(s / 2); addr = sprintf("10.50.%d.%d", int(a / 250), a % 250 + 1); port = (s % 2) ? 443 : 80
			} else {
				addr = sprintf("10.7.100.%d", s % vips + 1); port = port0 + int(s / vips)
			}
			nat = (s % 4 == 3)
			printf "virtual_server %s %d {\n    delay_loop 6\n    lb_algo %s\n    lb_kind %s\n    protocol TCP\n", addr, port, algo[s % 4 + 1], nat ? "NAT" : "DR"
			if (s % 3 == 0) printf "    persistence_timeout 300\n"
			for (d = 0; d < 10; d++) {
				i = s * 10 + d
				printf "    real_server 10.60.%d.%d %d {\n        weight %d\n    }\n", int(i / 250), i % 250 + 1, nat ? 8080 : port, (s + d) % 5 + 1
			}
			printf "}\n"
		}
	}'
}

# newns NAME: a network namespace with lo up, removed on exit.
NSLIST=()
newns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	NSLIST+=("$1")
}
TMP=
cleanup() {
	for ns in "${NSLIST[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	[ -n "$TMP" ] && rm -rf "$TMP"
}

# The same loopback check as on the host: the ratio is the VM's (TCG)
# slowdown, to read the absolute VM figures with.
part_calib() {
	printf '{"name":"machine/vm","kernel":"%s","cpus":%s,"mem_mb":%s,"small":"%s"}\n' "$(uname -r)" "$(nproc)" "$(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo)" "$SMALL"
	bin/labweb -listen 127.0.0.1:18099 -name bench >/dev/null 2>&1 &
	local web=$!
	sleep 1
	$BT -name check/kahook-tcp-vm -n 20 -- bin/kahook --syslog off check tcp 127.0.0.1:18099
	kill "$web"
}

# verify_script FILE NS REFERENCE [VIPS]: FILE checks that the IPVS table in
# NS is REFERENCE (sorted `ipvsadm -Sn`; the order of services and of a
# service's destinations is the kernel's insertion order, not part of the
# table) and that every VIP is on lo; it fails loudly otherwise.
verify_script() {
	cat >"$1" <<EOF
ip netns exec $2 ipvsadm -Sn | sort >"$1.now"
if ! cmp -s "$1.now" "$3"; then
	echo "IPVS TABLE DIFFERS from the reference (diff reference now):" >&2
	diff "$3" "$1.now" | head -20 >&2
	exit 1
fi
for v in ${4:-}; do
	ip -n $2 -4 -o addr show dev lo | grep -qw "\$v/32" || { echo "VIP \$v is not on lo" >&2; exit 1; }
done
EOF
}

# IPVS: SERVICES x 10 from empty, re-applied unchanged, and one read, each
# pair of tools alternating round by round, the table compared after
# every load.
part_ipvs() {
	local NS=kbi$$
	newns "$NS"
	local conf=$TMP/ipvs.conf
	gen_services 0 0 >"$conf"
	local k="bin/kahook --syslog off --log-level warn --config $conf --state-dir $TMP/state"
	ip netns exec "$NS" $k ipvs apply
	# The reference: kahook's load as ipvsadm saves it, which is also
	# what ipvsadm-restore loads.
	ip netns exec "$NS" ipvsadm -Sn >"$TMP/rules"
	sort "$TMP/rules" >"$TMP/rules.sorted"
	local svcs dests
	svcs=$(grep -c '^-A' "$TMP/rules")
	dests=$(grep -c '^-a' "$TMP/rules")
	echo "ipvs: $svcs services, $dests destinations" >&2
	if [ "$svcs" != "$SERVICES" ] || [ "$dests" != $((SERVICES * 10)) ]; then
		echo "ipvs: kahook loaded $svcs services and $dests destinations, want $SERVICES and $((SERVICES * 10))" >&2
		return 1
	fi
	printf '{"name":"ipvs/size","services":%d,"destinations":%d,"distinct_real_servers":%d}\n' "$svcs" "$dests" "$(awk '/^-a/{print $5}' "$TMP/rules" | sed 's/:[0-9]*$//' | sort -u | wc -l)"
	verify_script "$TMP/verify.sh" "$NS" "$TMP/rules.sorted"
	$BT -alternate -n "$ROUNDS" -warmup 1 -prepare "ip netns exec $NS ipvsadm -C" -verify "sh $TMP/verify.sh" -- \
		ipvs/kahook-load ip netns exec "$NS" $k ipvs apply :: \
		ipvs/restore-load ip netns exec "$NS" sh -c "ipvsadm-restore <$TMP/rules"
	# The table is loaded (the last verify saw it): re-apply unchanged.
	$BT -alternate -n "$ROUNDS" -warmup 1 -verify "sh $TMP/verify.sh" -- \
		ipvs/kahook-reapply ip netns exec "$NS" $k ipvs apply :: \
		ipvs/restore-reapply ip netns exec "$NS" sh -c "ipvsadm -C && ipvsadm-restore <$TMP/rules"
	# Where an unchanged re-apply's time goes: one read of the table by
	# /proc and by ipvsadm, kahook's process start (`version`), its start
	# and the config's parse and checks (`config check`), alternating; then
	# ROUNDS re-applies with --log-level debug, whose "IPVS planned" line
	# times building the desired table, the read and the plan.
	$BT -alternate -n "$ROUNDS" -warmup 1 -- \
		ipvs/read-proc ip netns exec "$NS" cat /proc/net/ip_vs :: \
		ipvs/read-save ip netns exec "$NS" ipvsadm -Sn :: \
		ipvs/kahook-start ip netns exec "$NS" $k version :: \
		ipvs/kahook-parse ip netns exec "$NS" $k config check
	local split="" line
	for _ in $(seq "$ROUNDS"); do
		line=$(ip netns exec "$NS" $k --log-level debug ipvs apply 2>&1 | grep 'IPVS planned' || true)
		split="$split${split:+,}\"$(printf '%s' "$line" | tr -d '"\\')\""
	done
	printf '{"name":"ipvs/reapply-split","lines":[%s]}\n' "$split"
	ip netns exec "$NS" ipvsadm -C
}

# notify master for an instance with 16 VIPs and SERVICES x 10 services:
# kahook from a cold table (backup { ipvs remove }) and a warm one
# (backup { ipvs load }), and the shell script with ipvsadm-restore (cold)
# and without (warm), alternating; the transition ends at the gratuitous
# ARP, seen at the far end of the veth (benchtool -garp-*).
part_notify() {
	local NS=kbn$$
	newns "$NS"
	ip -n "$NS" link add eth0 type veth peer name peer0
	ip -n "$NS" link set eth0 up
	ip -n "$NS" link set peer0 up
	ip -n "$NS" addr add 10.7.0.1/16 dev eth0
	local vips="" i
	for i in $(seq 1 16); do vips="$vips 10.7.100.$i"; done
	vips=${vips# }
	local mode
	for mode in remove load; do
		{
			echo "instance VI_1 {"
			echo "    interface eth0"
			echo "    garp_master_repeat 1"
			echo "    garp_master_delay 0"
			echo "    virtual_ipaddress {"
			for v in $vips; do echo "        $v"; done
			echo "    }"
			echo "    backup {"
			echo "        ipvs $mode"
			echo "    }"
			echo "}"
			gen_services 16 8000
		} >"$TMP/notify-$mode.conf"
	done
	local kc="bin/kahook --syslog off --log-level warn --config $TMP/notify-remove.conf --state-dir $TMP/nstate-cold"
	local kw="bin/kahook --syslog off --log-level warn --config $TMP/notify-load.conf --state-dir $TMP/nstate-warm"
	ip netns exec "$NS" $kc notify master VI_1
	ip netns exec "$NS" ipvsadm -Sn >"$TMP/nrules"
	sort "$TMP/nrules" >"$TMP/nrules.sorted"
	echo "notify: $(grep -c '^-A' "$TMP/nrules") services, $(grep -c '^-a' "$TMP/nrules") destinations, $(echo "$vips" | wc -w) VIPs" >&2
	ip netns exec "$NS" $kc notify backup VI_1
	verify_script "$TMP/nverify.sh" "$NS" "$TMP/nrules.sorted" "$vips"
	# reset: no VIP, an empty table, whatever the last run left.
	cat >"$TMP/reset.sh" <<EOF
ip netns exec $NS ipvsadm -C
for v in $vips; do ip -n $NS addr del \$v/32 dev lo 2>/dev/null || true; done
EOF
	$BT -alternate -n "$NOTIFY_ROUNDS" -warmup 0 -verify "sh $TMP/nverify.sh" \
		-garp-netns "$NS" -garp-if peer0 -garp-vips "$vips" -- \
		notify/kahook-cold prepare="sh $TMP/reset.sh && ip netns exec $NS $kc notify backup VI_1" \
		ip netns exec "$NS" $kc notify master VI_1 :: \
		notify/kahook-warm prepare="sh $TMP/reset.sh && ip netns exec $NS $kw notify backup VI_1" \
		ip netns exec "$NS" $kw notify master VI_1 :: \
		notify/shell-cold prepare="sh $TMP/reset.sh" \
		env VIPS="$vips" IPVS_RULES="$TMP/nrules" ip netns exec "$NS" sh bench/notify-shell.sh master :: \
		notify/shell-warm prepare="sh $TMP/reset.sh && ip netns exec $NS ipvsadm-restore <$TMP/nrules" \
		env VIPS="$vips" ip netns exec "$NS" sh bench/notify-shell.sh master
	sh "$TMP/reset.sh"
}

# sync over SYNC_SERVERS real servers (TCP_CHECK; NAT, since keepalived
# resets a DR real server's port to the service's) against keepalived's own
# checker process on the same servers, alternating: a window of keepalived
# (SIGCONT ... SIGSTOP, CPU from /proc/PID/stat) then one kahook pass
# (CPU from rusage); checks counted as the TCP connections the servers'
# namespace accepted (PassiveOpens in its /proc/net/snmp).
part_sync() {
	local NS=kbs$$ KA=kbk$$ RS=kbr$$
	newns "$NS"
	newns "$KA"
	newns "$RS"
	ip -n "$NS" link add eth0 type veth peer name rs0 netns "$RS"
	ip -n "$KA" link add eth0 type veth peer name rs1 netns "$RS"
	ip -n "$NS" link set eth0 up
	ip -n "$KA" link set eth0 up
	ip -n "$RS" link set rs0 up
	ip -n "$RS" link set rs1 up
	ip -n "$NS" addr add 10.9.1.254/24 dev eth0
	ip -n "$RS" addr add 10.9.2.1/24 dev rs1
	ip -n "$KA" addr add 10.9.2.2/24 dev eth0
	ip -n "$KA" route add 10.9.1.0/24 via 10.9.2.1
	local i
	for i in $(seq 1 100); do ip -n "$RS" addr add "10.9.1.$i/24" dev rs0; done
	ip netns exec "$RS" bin/labweb -listen "$(seq -s, -f '0.0.0.0:%g' 8000 8009)" -name rs >/dev/null 2>&1 &
	local vs="$TMP/vs.conf"
	{
		echo "virtual_server 10.9.1.200 80 {"
		echo "    delay_loop 5"
		echo "    lb_algo rr"
		echo "    lb_kind NAT"
		echo "    protocol TCP"
		local n=0 port ip
		for port in $(seq 8000 8009); do
			for ip in $(seq 1 100); do
				[ $n -ge "$SYNC_SERVERS" ] && break 2
				echo "    real_server 10.9.1.$ip $port {"
				echo "        TCP_CHECK {"
				echo "            connect_timeout 1"
				echo "        }"
				echo "    }"
				n=$((n + 1))
			done
		done
		echo "}"
	} >"$vs"
	{
		echo "instance VI_1 {"
		echo "    interface eth0"
		echo "    virtual_ipaddress {"
		echo "        10.9.1.200"
		echo "    }"
		echo "    garp_master_repeat 1"
		echo "    garp_master_delay 0"
		echo "}"
		cat "$vs"
	} >"$TMP/sync.conf"
	{
		echo "global_defs {"
		echo "    router_id bench"
		echo "}"
		cat "$vs"
	} >"$TMP/keepalived.conf"
	keepalived -t -f "$TMP/keepalived.conf"
	local k="$PWD/bin/kahook --syslog off --log-level warn --config $TMP/sync.conf --state-dir $TMP/sstate"
	ip netns exec "$NS" $k notify master VI_1
	ip netns exec "$KA" keepalived -n -l -D -C -f "$TMP/keepalived.conf" -p "$TMP/ka.pid" -c "$TMP/ka-check.pid" -r "$TMP/ka-vrrp.pid" >"$TMP/keepalived.log" 2>&1 &
	# Up once its checker has loaded every real server.
	local up=0
	for i in $(seq 120); do
		up=$(ip netns exec "$KA" ipvsadm -Ln 2>/dev/null | grep -c -- '->.*Masq' || true)
		[ -s "$TMP/ka-check.pid" ] && [ "$up" = "$SYNC_SERVERS" ] && break
		sleep 1
	done
	if [ "$up" != "$SYNC_SERVERS" ]; then
		echo "sync: keepalived's checker loaded $up of $SYNC_SERVERS real servers" >&2
		tail -20 "$TMP/keepalived.log" >&2
		return 1
	fi
	sleep 4
	kill -STOP "$(cat "$TMP/ka-check.pid")"
	local counter="ip netns exec $RS awk '/^Tcp:/ { if (seen) { for (i = 1; i <= NF; i++) if (h[i] == \"PassiveOpens\") print \$i; exit } seen = 1; for (i = 1; i <= NF; i++) h[i] = \$i }' /proc/net/snmp"
	# benchtool runs in the director's namespace: kahook starts as it does
	# under keepalived, without `ip netns exec` in the measured CPU.
	ip netns exec "$NS" $BT -alternate -n "$ROUNDS" -warmup 1 -counter "$counter" -- \
		sync/keepalived pid="$TMP/ka-check.pid" sleep 20 :: \
		sync/kahook $k sync VI_1
	printf '{"name":"sync/servers","real_servers":%d,"keepalived":"%s"}\n' "$SYNC_SERVERS" "$(keepalived --version 2>&1 | head -1)"
	kill -CONT "$(cat "$TMP/ka-check.pid")"
	kill "$(cat "$TMP/ka.pid")"
	ip netns exec "$NS" $k notify backup VI_1
}

# Failover in the lab: kahook vs a shell notify script.
part_lab() {
	bin/benchlab -kahook bin/kahook -labweb bin/labweb -shell bench/lab-notify.sh -n "$LAB_ROUNDS"
}

# Stateful failover survivors (issue 19 item 5): one JSON line named
# survivors/SETUP per setup (benchreport renders them).
part_survivors() {
	bin/benchlab -kahook bin/kahook -labweb bin/labweb -survivors
}

if [ "${1:-}" = --part ]; then
	TMP=$(mktemp -d)
	trap cleanup EXIT INT TERM
	"part_$2"
	exit
fi
parts=${*:-${BENCH_PARTS:-$ALL_PARTS}}
failed=()
for p in ${parts//,/ }; do
	case " $ALL_PARTS " in *" $p "*) ;; *)
		echo "vm.sh: unknown part $p (parts: $ALL_PARTS)" >&2
		exit 2
		;;
	esac
	echo "== part $p $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	start=$(date +%s)
	# Each part in its own process: set -e holds inside it, and a failed
	# part is reported loudly without losing the others.
	if ! "$0" --part "$p"; then
		printf '{"name":"error/%s","error":"part %s failed: see the log above"}\n' "$p" "$p"
		failed+=("$p")
	fi
	echo "vm.sh: part $p took $(($(date +%s) - start)) s" >&2
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "vm.sh: FAILED parts: ${failed[*]}" >&2
	exit 1
fi
