# kahook. `make help` lists the targets. Everything that needs root
# (namespaces, IPVS, packages) says so and checks it.
SHELL   := /bin/bash
GO      ?= go
# Every target but help builds with Go (go.mod's version; Debian 12's
# golang-go is too old and deps.sh does not install Go).
ifneq ($(filter-out help,$(or $(MAKECMDGOALS),help)),)
ifeq ($(shell command -v $(GO) 2>/dev/null),)
$(error Go is needed (go.mod: $(shell sed -n 's/^go //p' go.mod) or later; Debian 12's golang-go is too old): install it from https://go.dev/dl/ and put its bin on PATH)
endif
endif
VERSION := $(shell scripts/version.sh)
COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# The shipped binary leaves out urfave/cli's man page generator and its
# markdown library (cmd/kahook/man.go): they cost every run its start-up.
TAGS    := urfave_cli_no_docs
export PATH := $(shell $(GO) env GOPATH 2>/dev/null)/bin:$(PATH)

.PHONY: help build test lint bench package demo clean FORCE

help:
	@echo "make build    static bin/kahook (CGO_ENABLED=0), version $(VERSION)"
	@echo "make test     the whole suite: lint, host tests, namespace tests, VM tests (root)"
	@echo "make demo     keepalived failover driving kahook, in network namespaces (root; in a VM when the kernel has no IPVS)"
	@echo "make bench    benchmarks next to ipvsadm, ipvsadm-restore, a shell script and curl (root)"
	@echo "make lint     gofmt, go vet, staticcheck"
	@echo "make package  dist/kahook_$(VERSION)_amd64.deb and .rpm"

build: bin/kahook bin/labweb

bin/kahook: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags "$(LDFLAGS)" -o $@ ./cmd/kahook

# The lab's web server and the demo driver: test tooling, not shipped.
bin/labweb: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./internal/labweb

bin/demo: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./internal/demo

test:
	scripts/test.sh

lint:
	scripts/lint.sh

bench:
	bench/run.sh

package: bin/kahook
	scripts/package.sh $(VERSION)

demo:
	scripts/demo.sh

clean:
	rm -rf bin dist .cache/testbin

FORCE:
