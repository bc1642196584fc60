#!/usr/bin/env bash
# version.sh: kahook's version from git describe. On a release tag vX.Y.Z
# it is X.Y.Z; otherwise VERSION~dev.N.gHASH ('~' sorts before the release
# in dpkg and rpm), with .dirty for uncommitted changes.
set -euo pipefail
cd "$(dirname "$0")/.."
if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
	echo "${tag#v}"
	exit 0
fi
base=$(cat VERSION)
if desc=$(git describe --tags --long --match 'v[0-9]*' --dirty 2>/dev/null); then
	# vX.Y.Z-N-gHASH[-dirty]
	n=$(echo "$desc" | sed -E 's/^v[^-]+-([0-9]+)-g.*/\1/')
else
	n=$(git rev-list --count HEAD 2>/dev/null || echo 0)
fi
hash=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	dirty=".dirty"
fi
echo "${base}~dev.${n}.g${hash}${dirty}"
