#!/bin/sh
# The hand-written notify script kahook replaces, for comparison: the same
# work for an instance with the VIPs in $VIPS on lo, announced on eth0,
# and, where $IPVS_RULES names an `ipvsadm -Sn` file, its IPVS services
# (loaded before the VIPs come up, flushed after they go, as kahook orders
# a transition).
#   notify-shell.sh master|backup
set -e
case "$1" in
master)
	if [ -n "${IPVS_RULES:-}" ]; then
		ipvsadm-restore <"$IPVS_RULES"
	fi
	for i in all lo eth0; do
		sysctl -qw net.ipv4.conf.$i.arp_ignore=0 net.ipv4.conf.$i.arp_announce=2
	done
	for v in $VIPS; do
		ip addr add "$v/32" dev lo
		arping -q -U -S "$v" -c 1 -w 0 -i eth0 "$v" || true # exits 1: no reply to an unsolicited ARP
	done
	;;
backup)
	for v in $VIPS; do
		ip addr del "$v/32" dev lo 2>/dev/null || true
	done
	if [ -n "${IPVS_RULES:-}" ]; then
		ipvsadm -C
	fi
	;;
esac
