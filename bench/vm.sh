#!/usr/bin/env bash
# vm.sh: benchmarks that need IPVS; run inside the VM harness by run.sh.
# Prints one JSON line per measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
BT=bin/benchtool
NS=kbench$$
TMP=$(mktemp -d)
cleanup() {
	for ns in "$NS" "$NS-rs"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up
nsx() { ip netns exec "$NS" "$@"; }

# The same loopback check as on the host: the ratio is the VM's (TCG)
# slowdown, to read the absolute VM figures below with.
bin/labweb -listen 127.0.0.1:18099 -name bench >/dev/null 2>&1 &
sleep 1
$BT -name check/kahook-tcp-vm -n 20 -- bin/kahook --syslog off check tcp 127.0.0.1:18099
kill %1 2>/dev/null || true

# IPVS: 1,000 services x 10 destinations.
conf=$TMP/ipvs.conf
for s in $(seq 0 999); do
	echo "virtual_server 10.50.$((s / 250)).$((s % 250 + 1)) 80 {"
	echo " protocol TCP"
	echo " lb_algo wrr"
	echo " lb_kind DR"
	for d in $(seq 1 10); do echo " real_server 10.60.0.$d 80 { weight $d }"; done
	echo "}"
done >"$conf"
k="bin/kahook --syslog off --log-level warn --config $conf --state-dir $TMP/state"
nsx $k ipvs apply
nsx ipvsadm -Sn >"$TMP/rules"
awk '{print "ipvsadm " $0}' "$TMP/rules" >"$TMP/rules.sh"
echo "ipvs rules: $(wc -l <"$TMP/rules")" >&2
nsx ipvsadm -C
$BT -name ipvs/kahook-load -n 5 -warmup 1 -prepare "ip netns exec $NS ipvsadm -C" -- ip netns exec "$NS" $k ipvs apply
$BT -name ipvs/restore-load -n 5 -warmup 1 -prepare "ip netns exec $NS ipvsadm -C" -- ip netns exec "$NS" sh -c "ipvsadm-restore <$TMP/rules"
# One run: 11,000 ipvsadm processes take minutes under TCG.
$BT -name ipvs/shell-load -n 1 -warmup 0 -prepare "ip netns exec $NS ipvsadm -C" -- ip netns exec "$NS" sh "$TMP/rules.sh"
nsx ipvsadm -C
nsx $k ipvs apply
$BT -name ipvs/kahook-reapply -n 10 -warmup 1 -- ip netns exec "$NS" $k ipvs apply
$BT -name ipvs/restore-reapply -n 5 -warmup 1 -- ip netns exec "$NS" sh -c "ipvsadm -C && ipvsadm-restore <$TMP/rules"
nsx ipvsadm -C

# sync: one pass over 10, 100 and 1,000 healthy real servers (TCP_CHECK),
# served by one backend namespace holding 100 addresses x 10 ports.
RS=$NS-rs
ip netns add "$RS"
ip -n "$RS" link set lo up
ip link add kbd$$ type veth peer name kbr$$
ip link set kbd$$ netns "$NS"
ip link set kbr$$ netns "$RS"
ip -n "$NS" link set kbd$$ name eth0
ip -n "$RS" link set kbr$$ name eth0
ip -n "$NS" link set eth0 up
ip -n "$RS" link set eth0 up
ip -n "$NS" addr add 10.9.1.254/24 dev eth0
for i in $(seq 1 100); do ip -n "$RS" addr add 10.9.1.$i/24 dev eth0; done
ports=$(seq -s, -f '0.0.0.0:%g' 8000 8009)
ip netns exec "$RS" bin/labweb -listen "$ports" -name rs >/dev/null 2>&1 &
sleep 1
for total in 10 100 1000; do
	conf=$TMP/sync-$total.conf
	{
		echo "instance VI_1 {"
		echo " interface eth0"
		echo " virtual_ipaddress { 10.9.1.200 }"
		echo " garp_master_repeat 1"
		echo " garp_master_delay 0"
		echo "}"
		echo "virtual_server 10.9.1.200 80 {"
		echo " protocol TCP"
		echo " lb_algo rr"
		echo " lb_kind DR"
		n=0
		for port in $(seq 8000 8009); do
			for ip in $(seq 1 100); do
				[ $n -ge "$total" ] && break 2
				echo " real_server 10.9.1.$ip $port { TCP_CHECK { connect_timeout 1 } }"
				n=$((n + 1))
			done
		done
		echo "}"
	} >"$conf"
	k="bin/kahook --syslog off --log-level warn --config $conf --state-dir $TMP/sync-state-$total"
	nsx $k notify master VI_1
	$BT -name "sync/$total" -n 10 -warmup 1 -- ip netns exec "$NS" $k sync
	nsx $k notify backup VI_1
done

# Failover in the lab: kahook vs a shell notify script.
bin/benchlab -kahook bin/kahook -labweb bin/labweb -shell bench/lab-notify.sh -n "${BENCH_ROUNDS:-10}"
bin/benchlab -kahook bin/kahook -labweb bin/labweb -survivors
