#!/usr/bin/env bash
# package.sh VERSION: build kahook_VERSION-1_ARCH.deb and
# kahook-VERSION-1.ARCH.rpm with nfpm for amd64 and arm64 (the static
# binary cross-builds cleanly) into $KAHOOK_DIST (default dist/).
# KAHOOK_ARCHES narrows the list (the tests build amd64 only).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${1:?usage: package.sh VERSION}
export PATH="$(go env GOPATH)/bin:$PATH"
scripts/deps.sh package
mkdir -p dist/gen
# The man page and completions come from the command tree itself. The
# shipped binary has no man page generator (-tags urfave_cli_no_docs, see
# cmd/kahook/man.go): a development build of the same tree prints it.
CGO_ENABLED=0 go build -o dist/gen/kahook-man ./cmd/kahook
dist/gen/kahook-man --syslog off man 8 | gzip -9n >dist/gen/kahook.8.gz
dist/gen/kahook-man --syslog off man --readme README.md 5 | gzip -9n >dist/gen/kahook.conf.5.gz
dist/gen/kahook-man --syslog off completion bash >dist/gen/kahook.bash
dist/gen/kahook-man --syslog off completion zsh >dist/gen/_kahook
rm -f dist/gen/kahook-man
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
OUT=${KAHOOK_DIST:-dist}
mkdir -p "$OUT"
build() {
	CGO_ENABLED=0 GOARCH=$1 go build -trimpath -tags urfave_cli_no_docs -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" -o bin/kahook ./cmd/kahook
}
for arch in ${KAHOOK_ARCHES:-amd64 arm64}; do
	build "$arch"
	for fmt in deb rpm; do
		ARCH=$arch VERSION=$VERSION nfpm package --config nfpm.yaml --packager "$fmt" --target "$OUT/" >/dev/null
	done
done
build amd64 # leave bin/kahook built for this machine
ls -1 "$OUT"/*.deb "$OUT"/*.rpm
