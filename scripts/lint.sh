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
# No binary in git (issue 17 item 6): every tracked file must be text by
# git's own test (no NUL byte), so a build output or a stray executable
# fails the lint instead of being committed.
binaries=$(comm -23 <(git ls-files | sort) <(git grep -I --cached -l -e '' | sort) |
	while IFS= read -r f; do if [ -s "$f" ]; then echo "$f"; fi; done)
if [ -n "$binaries" ]; then
	echo "binary files are tracked by git (build outputs belong in .gitignore): $binaries" >&2
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
echo "lint: ok (gofmt, no committed binary, go vet, staticcheck, static build)"
