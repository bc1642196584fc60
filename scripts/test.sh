#!/usr/bin/env bash
# test.sh: the whole test suite (`make test`), as root on Debian 12:
#   1. dependencies (scripts/deps.sh test: every Debian package and Go
#      tool the suite uses)
#   2. lint: gofmt, go vet, staticcheck, static build
#   3. host tests: go test ./... (pure tests, network-namespace tests,
#      keepalived and nginx tests, packaging and demo tests)
#   4. VM tests: the tests that need IPVS, in Debian's kernel under qemu
#      (vm/vm.sh test), reported as go test output.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "make test needs root (network namespaces, IPVS, packages)" >&2
	exit 2
fi
scripts/deps.sh test
export PATH="$(go env GOPATH)/bin:$PATH"
scripts/lint.sh
echo "== host tests"
host=0
go test -count=1 -timeout 45m ./... || host=$?
echo "== VM tests (IPVS)"
vm=0
vm/vm.sh test || vm=$?
if [ $host -ne 0 ] || [ $vm -ne 0 ]; then
	echo "FAIL: host tests exit $host, VM tests exit $vm" >&2
	exit 1
fi
echo "all tests passed (host and VM)"
