#!/bin/sh
# A plain shell notify script for the failover benchmark's lab (what
# operators write by hand): keepalived calls it as
#   lab-notify.sh STATEFILE INSTANCE VI_1 STATE PRIORITY
# It records "STATE START END" in STATEFILE for the benchmark.
statefile=$1
state=$4
start=$(date +%s.%N)
VIP=10.9.0.100
case "$state" in
MASTER)
	ipvsadm -A -t $VIP:80 -s rr 2>/dev/null || true
	ipvsadm -a -t $VIP:80 -r 10.9.0.11:80 -g 2>/dev/null || true
	ipvsadm -a -t $VIP:80 -r 10.9.0.12:80 -g 2>/dev/null || true
	ip addr add $VIP/32 dev lo 2>/dev/null || true
	for i in all lo eth0; do
		sysctl -qw net.ipv4.conf.$i.arp_ignore=0 net.ipv4.conf.$i.arp_announce=2
	done
	arping -q -U -S $VIP -c 1 -w 0 -i eth0 $VIP || true
	;;
*)
	ip addr del $VIP/32 dev lo 2>/dev/null || true
	ipvsadm -D -t $VIP:80 2>/dev/null || true
	;;
esac
echo "$state $start $(date +%s.%N)" >"$statefile.tmp" && mv "$statefile.tmp" "$statefile"
