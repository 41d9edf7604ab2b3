# otomi: build, test, bench, lint. Go is the only prerequisite.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/otomi/otomi/pkg/build.Version=$(VERSION) -X github.com/otomi/otomi/pkg/build.Commit=$(COMMIT)

# Interop tools are built once per machine, outside the repo, keyed by version.
TOOLS_CACHE ?= $(HOME)/.cache/otomi-tools
SOPS_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/getsops/sops/v3)
SOPS := $(TOOLS_CACHE)/sops-$(SOPS_VERSION)/sops

# The bundled example values repo and its test-only age key.
EXAMPLE := examples/demo
EXAMPLE_KEY := testdata/age/test-only.agekey

.PHONY: all build test test-unit tools bench lint demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/otomi ./cmd/otomi

# The real sops CLI (the version in go.mod) for the interop tests.
tools: $(SOPS)
$(SOPS):
	mkdir -p $(dir $@)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $@.tmp github.com/getsops/sops/v3/cmd/sops && mv $@.tmp $@

# Every test: unit, golden, interop with the real sops CLI, end to end.
test: tools
	OTOMI_TEST_SOPS=$(SOPS) $(GO) test -shuffle=on -count=1 ./...

# Unit tests only (no interop tools needed).
test-unit:
	$(GO) test -shuffle=on -count=1 ./pkg/...

# The main job on the bundled example values repo.
demo: build
	SOPS_AGE_KEY_FILE=$(EXAMPLE_KEY) bin/otomi validate-values --env-dir $(EXAMPLE)
	SOPS_AGE_KEY_FILE=$(EXAMPLE_KEY) bin/otomi values --env-dir $(EXAMPLE) --exclude-secrets > /dev/null
	@echo "merged values (secrets redacted): SOPS_AGE_KEY_FILE=$(EXAMPLE_KEY) bin/otomi values --env-dir $(EXAMPLE) --exclude-secrets"

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./pkg/cmdutil
	OTOMI_BIN=$(CURDIR)/bin/otomi $(GO) test -run '^$$' -bench . -benchtime 20x -count=1 ./tests

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
