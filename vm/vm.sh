#!/usr/bin/env bash
# vm.sh: run commands and go test binaries inside a Debian kernel with IPVS,
# because the host kernel has none (CONFIG_IP_VS is not set).
#
# The VM boots Debian's own kernel (the one linux-image-amd64 depends on)
# under qemu TCG with a busybox initramfs that loads the IPVS, bridge, veth
# and 9p modules, mounts the host's / read-only over 9p under a tmpfs
# overlay, and runs the command in a chroot of that overlay: the host's
# keepalived, ipvsadm and kahook binaries run unchanged inside. Nothing
# leaves the VM: qemu gets no NIC (-nic none).
#
#   vm/vm.sh prepare                 fetch the kernel, build the initramfs
#   vm/vm.sh run [--] CMD...         run CMD (a shell command line) in the VM
#   vm/vm.sh test [PKG...]           build PKG's tests with -tags vm on the
#                                    host and run them in one VM boot
#
# Environment: KAHOOK_VM_CACHE (default .cache/vm), KAHOOK_VM_MEM (MiB,
# default 2048), KAHOOK_VM_SMP (default 2), KAHOOK_VM_TIMEOUT (seconds,
# default 2400), KAHOOK_VM_TESTFLAGS (extra flags for the test binaries,
# e.g. "-test.run TestVMApply"; by default only TestVM* tests run in the
# VM, everything else runs on the host).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KAHOOK_VM_CACHE:-$ROOT/.cache/vm}
MEM=${KAHOOK_VM_MEM:-2048}
SMP=${KAHOOK_VM_SMP:-2}
TIMEOUT=${KAHOOK_VM_TIMEOUT:-2400}
MODULE_NAMES="crc32c_generic libcrc32c nf_defrag_ipv4 nf_defrag_ipv6 nf_conntrack
ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh
ip_vs_sh ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh veth bridge dummy ipip
virtio_pci virtio_rng 9pnet_virtio 9p overlay"

log() { echo "vm: $*" >&2; }
die() { echo "vm: error: $*" >&2; exit 1; }

ensure_packages() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod || missing+=(busybox-static)
	command -v cpio >/dev/null || missing+=(cpio)
	command -v depmod >/dev/null || missing+=(kmod)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# kernel_package prints the image package linux-image-amd64 depends on,
# resolved now (it moves with Debian point releases).
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}

prepare() {
	ensure_packages
	mkdir -p "$CACHE"
	local pkg
	pkg=$(kernel_package)
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null
		pkg=$(kernel_package)
	fi
	[ -n "$pkg" ] || die "cannot resolve the kernel package linux-image-amd64 depends on"
	local kver=${pkg#linux-image-}
	local kdir=$CACHE/$pkg
	if [ ! -f "$kdir/boot/vmlinuz-$kver" ]; then
		log "fetching $pkg"
		rm -rf "$kdir" "$CACHE/deb"
		mkdir -p "$CACHE/deb" "$kdir"
		(cd "$CACHE/deb" && apt-get download "$pkg" >/dev/null 2>&1) || {
			apt-get update -qq >/dev/null
			(cd "$CACHE/deb" && apt-get download "$pkg" >/dev/null)
		}
		dpkg -x "$CACHE"/deb/"$pkg"_*.deb "$kdir"
		rm -rf "$CACHE/deb"
		depmod -b "$kdir" "$kver"
	fi
	local initrd=$CACHE/initramfs-$kver.cpio.gz
	local stamp
	stamp=$( (cat "$0"; echo "$MODULE_NAMES") | sha256sum | cut -c1-16)
	if [ ! -f "$initrd" ] || [ "$(cat "$initrd.stamp" 2>/dev/null)" != "$stamp" ]; then
		log "building initramfs for $kver"
		build_initramfs "$kdir" "$kver" "$initrd"
		echo "$stamp" >"$initrd.stamp"
	fi
	ln -sfn "$kdir/boot/vmlinuz-$kver" "$CACHE/vmlinuz"
	ln -sfn "$initrd" "$CACHE/initramfs.cpio.gz"
}

build_initramfs() {
	local kdir=$1 kver=$2 out=$3
	local work
	work=$(mktemp -d)
	mkdir -p "$work"/{bin,sbin,dev,proc,sys,mnt/host,mnt/rw,mnt/root,mnt/out,lib/modules}
	cp /bin/busybox "$work/bin/busybox"
	for app in $(/bin/busybox --list); do
		[ "$app" = busybox ] || ln -sf busybox "$work/bin/$app"
	done
	# modprobe --show-depends prints insmod lines in load order.
	: >"$work/modules.order"
	local m path
	for m in $MODULE_NAMES; do
		modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}' | while read -r path; do
			local base
			base=$(basename "$path")
			if ! grep -qx "$base" "$work/modules.order"; then
				cp "$path" "$work/lib/modules/$base"
				echo "$base" >>"$work/modules.order"
			fi
		done
	done
	cat >"$work/init" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod /lib/modules/$m 2>/dev/null; done </modules.order
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /mnt/host || { echo "vm: cannot mount host root"; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /mnt/out || { echo "vm: cannot mount out dir"; poweroff -f; }
mount -t tmpfs -o size=75% tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /mnt/root || { echo "vm: overlay mount failed"; poweroff -f; }
R=/mnt/root
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm && mount -t devpts devpts $R/dev/pts && mount -t tmpfs shm $R/dev/shm
mount -t tmpfs run $R/run
mkdir -p $R/vmout && mount --bind /mnt/out $R/vmout
hostname kahook-vm
ip link set lo up 2>/dev/null
echo "vm: kernel $(uname -r) up, $(grep -c ^processor /proc/cpuinfo) cpus, IPVS $(test -d /proc/net/ip_vs && echo yes || echo no)"
chroot $R /bin/sh -c '. /vmout/env; cd "$VM_CWD"; /bin/sh /vmout/cmd.sh' >/mnt/out/output 2>&1 </dev/null
echo $? >/mnt/out/rc
sync
poweroff -f
INIT
	chmod +x "$work/init"
	(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$work"
}

# run_in_vm CWD SCRIPT: boot, run SCRIPT (a file) with cwd CWD, print its
# output as it comes, return its exit code.
run_in_vm() {
	local cwd=$1 script=$2
	prepare
	local out
	out=$(mktemp -d "${TMPDIR:-/tmp}/kahook-vm.XXXXXX")
	cp "$script" "$out/cmd.sh"
	{
		printf 'export VM_CWD=%q\n' "$cwd"
		printf 'export PATH=%q\n' "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin"
		printf 'export HOME=/root KAHOOK_IN_VM=1\n'
		[ -n "${CI:-}" ] && printf 'export CI=%q\n' "$CI"
		for v in KAHOOK_BIN KAHOOK_TEST_BIN_DIR KAHOOK_KEEP KAHOOK_VM_TESTFLAGS; do
			[ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
		done
		true
	} >"$out/env"
	: >"$out/output"
	tail -n +1 -f "$out/output" &
	local tailpid=$!
	# Ctrl-C: qemu gets the same SIGINT and stops; leave nothing behind.
	trap 'kill "$tailpid" 2>/dev/null; rm -rf "$out"; exit 130' INT TERM
	local rc=0
	timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 \
		-accel tcg -cpu max -smp "$SMP" -m "$MEM" \
		-kernel "$CACHE/vmlinuz" -initrd "$CACHE/initramfs.cpio.gz" \
		-append "console=ttyS0 quiet loglevel=1 panic=-1 random.trust_cpu=on" \
		-nographic -no-reboot -nic none -monitor none -serial "file:$out/console" \
		-device virtio-rng-pci \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$out",mount_tag=out,security_model=none \
		</dev/null >/dev/null 2>"$out/qemu.err" || rc=$?
	sleep 0.3
	kill "$tailpid" 2>/dev/null || true
	wait "$tailpid" 2>/dev/null || true
	if [ ! -f "$out/rc" ]; then
		trap - INT TERM
		echo "vm: the VM did not report an exit code (qemu exit $rc); console:" >&2
		tail -n 40 "$out/console" >&2 || true
		cat "$out/qemu.err" >&2 || true
		[ -z "${KAHOOK_KEEP:-}" ] && rm -rf "$out"
		return 125
	fi
	trap - INT TERM
	rc=$(cat "$out/rc")
	grep -h '^vm:' "$out/console" >&2 || true
	# Golden files written with -update inside the VM land in the
	# writable share; copy them into the repo.
	if [ -d "$out/golden" ]; then
		(cd "$out/golden" && find . -type f) | while read -r f; do
			mkdir -p "$ROOT/$(dirname "$f")"
			cp "$out/golden/$f" "$ROOT/$f"
			log "updated ${f#./}"
		done
	fi
	[ -z "${KAHOOK_KEEP:-}" ] && rm -rf "$out"
	return "$rc"
}

cmd_run() {
	[ "${1:-}" = "--" ] && shift
	[ $# -gt 0 ] || die "usage: vm.sh run [--] COMMAND..."
	local script
	script=$(mktemp)
	printf '%s\n' "$*" >"$script"
	local rc=0
	run_in_vm "$(pwd)" "$script" || rc=$?
	rm -f "$script"
	return $rc
}

# cmd_test builds each package's vm-tagged tests on the host (compiling
# under TCG is slow) and runs them all in one boot, printing go test's
# closing lines.
cmd_test() {
	local pkgs=("$@")
	if [ ${#pkgs[@]} -eq 0 ]; then
		mapfile -t pkgs < <(cd "$ROOT" && grep -rl --include='*_test.go' '^//go:build.*\bvm\b' . | xargs -n1 dirname | sort -u | sed 's|^\./||')
	fi
	[ ${#pkgs[@]} -gt 0 ] || die "no packages with vm tests"
	local bindir=$CACHE/bin
	rm -rf "$bindir"
	mkdir -p "$bindir"
	(cd "$ROOT" && CGO_ENABLED=0 go build -tags urfave_cli_no_docs -o "$bindir/kahook" ./cmd/kahook && CGO_ENABLED=0 go build -o "$bindir/labweb" ./internal/labweb)
	local script
	script=$(mktemp)
	printf 'set -f\nfail=0\n' >"$script"
	local p name
	for p in "${pkgs[@]}"; do
		p=${p#./}
		name=$(echo "$p" | tr '/' '_')
		(cd "$ROOT" && CGO_ENABLED=0 go test -c -tags vm -o "$bindir/$name.test" "./$p")
		[ -f "$bindir/$name.test" ] || continue
		cat >>"$script" <<EOF
cd "$ROOT/$p"
start=\$(date +%s)
if "$bindir/$name.test" -test.v -test.timeout 40m -test.run '^TestVM' \$KAHOOK_VM_TESTFLAGS; then
	echo "ok  	github.com/kahook/kahook/$p	\$((\$(date +%s)-start))s	(in VM)"
else
	echo "FAIL	github.com/kahook/kahook/$p	\$((\$(date +%s)-start))s	(in VM)"
	fail=1
fi
EOF
	done
	echo 'exit $fail' >>"$script"
	local rc=0
	KAHOOK_BIN=$bindir/kahook KAHOOK_TEST_BIN_DIR=$bindir run_in_vm "$ROOT" "$script" || rc=$?
	rm -f "$script"
	return $rc
}

case "${1:-}" in
prepare) prepare ;;
run) shift; cmd_run "$@" ;;
test) shift; cmd_test "$@" ;;
*) die "usage: vm.sh prepare | run [--] CMD... | test [PKG...]" ;;
esac
