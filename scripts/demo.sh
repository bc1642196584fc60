#!/usr/bin/env bash
# demo.sh: `make demo`. Builds kahook and the lab tools, then runs the
# failover demo; on a kernel without IPVS (CONFIG_IP_VS unset) it runs it
# inside the VM harness, Debian's own kernel under qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (network namespaces, IPVS)" >&2
	exit 2
fi
scripts/deps.sh demo
make -s bin/kahook bin/labweb bin/demo
if bin/kahook --syslog off ipvs show >/dev/null 2>&1; then
	exec bin/demo --kahook bin/kahook --labweb bin/labweb
fi
echo "demo: this kernel has no IPVS: running the demo inside the VM harness (vm/vm.sh: Debian's kernel under qemu, this machine's / mounted read-only)"
exec vm/vm.sh run "bin/demo --kahook bin/kahook --labweb bin/labweb"
