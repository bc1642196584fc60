#!/usr/bin/env bash
# deps.sh: install what kahook's build, tests, demo and packaging need on
# a Debian 12 machine, as root. Idempotent: only missing packages are
# installed, and apt-get update runs only when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
	keepalived ipvsadm iproute2 arping iputils-ping curl procps kmod file  # runtime and tests
	nginx-light                                                          # HTTP backend for check tests
	qemu-system-x86 busybox-static cpio                                  # VM harness (host kernel has no IPVS)
	lintian rpm rpmlint debootstrap systemd dpkg-dev                     # packaging tests
	hyperfine                                                            # benchmarks
	git make
)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages: ${missing[*]} (run as root)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# The packages start their daemons; the tests run their own keepalived
	# and nginx, in namespaces or on other ports. Stop only what this
	# install started (other test runs may be using theirs right now).
	for svc in keepalived nginx; do
		for p in "${missing[@]}"; do
			case "$p" in "$svc"|"$svc"-*) service "$svc" stop >/dev/null 2>&1 || true ;; esac
		done
	done
fi

# Go tools, pinned.
GOBIN=$(go env GOPATH)/bin
export PATH="$GOBIN:$PATH"
tool() { # tool NAME MODULE VERSION PKG
	if ! go version -m "$GOBIN/$1" 2>/dev/null | grep -qE "^\s+mod\s+$2\s+$3(\s|$)"; then
		echo "deps: installing $1 $3" >&2
		go install "$4@$3"
	fi
}
tool staticcheck honnef.co/go/tools v0.8.2 honnef.co/go/tools/cmd/staticcheck
tool nfpm github.com/goreleaser/nfpm/v2 v2.44.1 github.com/goreleaser/nfpm/v2/cmd/nfpm
