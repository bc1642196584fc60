#!/usr/bin/env bash
# lint.sh: gofmt, go vet and staticcheck (v0.8.2), on the host build and
# on the VM tests' build tag; and the static build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
scripts/deps.sh lint
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then
	echo "gofmt would change: $bad" >&2
	exit 1
fi
go vet ./...
go vet -tags vm ./...
go vet -tags urfave_cli_no_docs ./cmd/kahook # the shipped build (cmd/kahook/man.go)
staticcheck ./...
staticcheck -tags vm ./...
staticcheck -tags urfave_cli_no_docs ./cmd/kahook
CGO_ENABLED=0 go build -tags urfave_cli_no_docs -o /tmp/kahook-lint-bin ./cmd/kahook
if ! file /tmp/kahook-lint-bin | grep -q "statically linked"; then
	echo "kahook is not statically linked: $(file /tmp/kahook-lint-bin)" >&2
	exit 1
fi
rm -f /tmp/kahook-lint-bin
echo "lint: ok (gofmt, go vet, staticcheck, static build)"
