#!/usr/bin/env bash
# deps.sh TARGET...: install what one make target needs on a Debian 12
# machine, as root: demo, test, package, bench or lint (no argument: test,
# which is everything). Idempotent: only missing packages are installed,
# apt-get update runs only when something is missing, and a pinned Go tool
# is built only when the target uses it and it is missing.
#
# The sets follow what each target runs (read the scripts when changing
# them):
#   demo    scripts/demo.sh: go build; bin/demo drives keepalived, ip, curl
#           and ipvsadm in namespaces; on a kernel without IPVS vm/vm.sh
#           (qemu, busybox, cpio, kmod) runs it on this machine's / .
#   package scripts/package.sh: go build, gzip, nfpm (a Go tool).
#   lint    scripts/lint.sh: go vet, staticcheck (a Go tool), file.
#   bench   bench/run.sh: host.sh (ip, sysctl, arping, curl, bash /dev/tcp)
#           and vm.sh in the VM (ipvsadm, ipvsadm-restore, keepalived).
#   test    scripts/test.sh: lint, every package's tests (keepalived and
#           genhash, nginx, arping, ping, curl; packaging: nfpm, lintian,
#           rpm, rpmlint, debootstrap, systemd-analyze, dpkg-deb, man) and
#           the VM tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every target builds kahook: Go as go.mod says (Debian 12's golang-go is
# 1.19, too old; deps.sh does not install Go).
want_go=$(sed -n 's/^go //p' go.mod)
if ! command -v go >/dev/null 2>&1; then
	echo "deps: Go $want_go or later is needed (go.mod) and there is no go on PATH; Debian 12's golang-go (1.19) is too old: install Go from https://go.dev/dl/ and put its bin on PATH" >&2
	exit 1
fi

BASE=(iproute2 procps kmod git make)
VM=(qemu-system-x86 busybox-static cpio kmod)
declare -A SETS=(
	[demo]="${BASE[*]} ${VM[*]} keepalived ipvsadm curl"
	[package]="${BASE[*]}"
	[lint]="${BASE[*]} file"
	[bench]="${BASE[*]} ${VM[*]} keepalived ipvsadm arping curl"
	[test]="${BASE[*]} ${VM[*]} keepalived ipvsadm arping iputils-ping curl file nginx-light lintian rpm rpmlint debootstrap systemd dpkg-dev man-db"
)
declare -A TOOLS=([package]="nfpm" [lint]="staticcheck" [test]="staticcheck nfpm")

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(test)
pkgs=()
tools=()
for t in "${targets[@]}"; do
	if [ -z "${SETS[$t]+x}" ]; then
		echo "deps: unknown target $t (demo, test, package, bench, lint)" >&2
		exit 2
	fi
	read -ra p <<<"${SETS[$t]}"
	pkgs+=("${p[@]}")
	read -ra p <<<"${TOOLS[$t]:-}"
	tools+=("${p[@]}")
done

# One dpkg-query for all: a package it does not know is missing too.
mapfile -t want < <(printf '%s\n' "${pkgs[@]}" | sort -u)
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${want[@]}" 2>/dev/null | awk '/ ok installed$/{print $1}' || true)
missing=()
for p in "${want[@]}"; do
	grep -qx "$p" <<<"$installed" || missing+=("$p")
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

# Go tools, pinned, only those the targets use.
GOBIN=$(go env GOPATH)/bin
export PATH="$GOBIN:$PATH"
tool() { # tool NAME MODULE VERSION PKG
	if ! go version -m "$GOBIN/$1" 2>/dev/null | grep -qE "^\s+mod\s+$2\s+$3(\s|$)"; then
		echo "deps: installing $1 $3" >&2
		go install "$4@$3"
	fi
}
for t in $(printf '%s\n' "${tools[@]}" | sort -u); do
	case "$t" in
	staticcheck) tool staticcheck honnef.co/go/tools v0.8.2 honnef.co/go/tools/cmd/staticcheck ;;
	nfpm) tool nfpm github.com/goreleaser/nfpm/v2 v2.44.1 github.com/goreleaser/nfpm/v2/cmd/nfpm ;;
	esac
done
