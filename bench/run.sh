#!/usr/bin/env bash
# run.sh: `make bench`. Host benchmarks on the host, IPVS benchmarks in the
# VM harness (the host kernel has no IPVS), then bench/RESULTS.md.
# BENCH_N (runs per timing, default 30) and BENCH_ROUNDS (failover rounds,
# default 10) shorten it; BENCH_ONLY=host or vm runs one half and keeps the
# other half's last results (bench/out/).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "make bench needs root (namespaces, IPVS)" >&2
	exit 2
fi
scripts/deps.sh bench
make -s bin/kahook bin/labweb
CGO_ENABLED=0 go build -o bin/benchtool ./internal/benchtool
CGO_ENABLED=0 go build -o bin/benchlab ./internal/benchlab
mkdir -p bench/out
if [ "${BENCH_ONLY:-host}" = host ] || [ -z "${BENCH_ONLY:-}" ]; then
	echo "== host benchmarks" >&2
	bench/host.sh | tee bench/out/host.jsonl
fi
if [ "${BENCH_ONLY:-vm}" = vm ] || [ -z "${BENCH_ONLY:-}" ]; then
	echo "== VM benchmarks" >&2
	if bin/kahook --syslog off ipvs show >/dev/null 2>&1; then
		bench/vm.sh | tee bench/out/vm.jsonl
	else
		KAHOOK_VM_TIMEOUT=5400 vm/vm.sh run "BENCH_ROUNDS=${BENCH_ROUNDS:-10} bench/vm.sh" | tee bench/out/vm.jsonl
	fi
fi
touch bench/out/host.jsonl bench/out/vm.jsonl
machine="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/{print $2}') GiB, host kernel $(uname -r), $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%d)"
go run ./internal/benchreport -o bench/RESULTS.md -machine "$machine" bench/out/host.jsonl bench/out/vm.jsonl
echo "wrote bench/RESULTS.md" >&2
