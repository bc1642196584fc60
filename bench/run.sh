#!/usr/bin/env bash
# run.sh: `make bench`. Host benchmarks on the host, IPVS benchmarks in the
# VM harness (the host kernel has no IPVS), all VM parts in one VM boot,
# then bench/RESULTS.md from bench/out/*.jsonl.
#
# BENCH_ONLY=host or vm runs one half; BENCH_PARTS (calib ipvs notify sync
# lab survivors, comma- or space-separated) runs only those VM parts. A
# partial run keeps the other parts' last results (bench/out/); a full run
# starts from an empty bench/out/. BENCH_SMALL=1: every VM part small (a
# trial, not a result). BENCH_N (host runs per timing, default 30),
# BENCH_ROUNDS (failover lab rounds, default 3), BENCH_IPVS_ROUNDS
# (alternating rounds of the IPVS and sync parts, default 5),
# BENCH_NOTIFY_ROUNDS (of the notify part, default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "make bench needs root (namespaces, IPVS)" >&2
	exit 2
fi
scripts/deps.sh bench
make -s bin/kahook bin/labweb
CGO_ENABLED=0 go build -o bin/benchtool ./internal/benchtool
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/gofloor ./internal/gofloor
CGO_ENABLED=0 go build -o bin/benchlab ./internal/benchlab
mkdir -p bench/out
kahook="$(bin/kahook --syslog off version | head -1)"
if [ -z "${BENCH_ONLY:-}" ] && [ -z "${BENCH_PARTS:-}" ]; then
	rm -f bench/out/*.jsonl bench/out/*.log
fi
rc=0
if [ "${BENCH_ONLY:-host}" = host ] && [ -z "${BENCH_PARTS:-}" ]; then
	echo "== host benchmarks" >&2
	bench/host.sh | tee bench/out/host.jsonl || rc=1
	printf '{"name":"run/host","date":"%s","kahook":"%s"}\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$kahook" >>bench/out/host.jsonl
fi
if [ "${BENCH_ONLY:-vm}" = vm ]; then
	echo "== VM benchmarks" >&2
	parts=${BENCH_PARTS:-}
	vmenv="BENCH_SMALL=${BENCH_SMALL:-} BENCH_ROUNDS=${BENCH_ROUNDS:-} BENCH_IPVS_ROUNDS=${BENCH_IPVS_ROUNDS:-} BENCH_NOTIFY_ROUNDS=${BENCH_NOTIFY_ROUNDS:-}"
	if bin/kahook --syslog off ipvs show >/dev/null 2>&1; then
		env $vmenv bench/vm.sh ${parts//,/ } | tee bench/out/vm.log || rc=1
	else
		KAHOOK_VM_TIMEOUT=5400 vm/vm.sh run "$vmenv bench/vm.sh ${parts//,/ }" | tee bench/out/vm.log || rc=1
	fi
	# One file per part (vm.sh prints "== part NAME DATE" before each).
	awk '/^== part / { f = "bench/out/vm-" $3 ".jsonl"; printf "" >f; next } f && /^\{/ { print >f }' bench/out/vm.log
	# When and with which kahook each part ran: a partial run keeps the
	# other parts' files, and RESULTS.md says which run each comes from.
	awk -v k="$kahook" '/^== part / { printf "{\"name\":\"run/%s\",\"date\":\"%s\",\"kahook\":\"%s\"}\n", $3, $4, k >>("bench/out/vm-" $3 ".jsonl") }' bench/out/vm.log
fi
machine="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/{print $2}') GiB, host kernel $(uname -r), $(go version | cut -d' ' -f3); report written $(date -u '+%Y-%m-%d %H:%M UTC')"
go run ./internal/benchreport -o bench/RESULTS.md -machine "$machine" bench/out/*.jsonl
echo "wrote bench/RESULTS.md" >&2
if [ "$rc" != 0 ]; then
	echo "make bench: a part FAILED (see the log above and bench/RESULTS.md)" >&2
fi
exit "$rc"
