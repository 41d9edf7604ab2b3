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
HELM_VERSION := $(shell $(GO) list -m -f '{{.Version}}' helm.sh/helm/v3)
HELM := $(TOOLS_CACHE)/helm-$(HELM_VERSION)/helm
HELMFILE_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/helmfile/helmfile)
HELMFILE := $(TOOLS_CACHE)/helmfile-$(HELMFILE_VERSION)/helmfile
KUBECONFORM_VERSION := v0.8.0
KUBECONFORM := $(TOOLS_CACHE)/kubeconform-$(KUBECONFORM_VERSION)/kubeconform
# A real kube-apiserver (and kubectl) of the version in tests/kube/tools/go.mod,
# with Debian's etcd, for the tests that need an API server.
KUBE_VERSION := $(shell awk '$$1 == "require" && $$2 == "k8s.io/kubernetes" {print $$3}' tests/kube/tools/go.mod)
KUBE_DIR := $(TOOLS_CACHE)/kube-$(KUBE_VERSION)
TOOLS_ENV := OTOMI_TEST_SOPS=$(SOPS) OTOMI_TEST_HELM=$(HELM) OTOMI_TEST_HELMFILE=$(HELMFILE) \
	OTOMI_TEST_KUBECONFORM=$(KUBECONFORM) OTOMI_TEST_KUBE_APISERVER=$(KUBE_DIR)/kube-apiserver OTOMI_TEST_KUBECTL=$(KUBE_DIR)/kubectl

# The bundled example values repo and its test-only age key.
EXAMPLE := examples/demo
EXAMPLE_KEY := testdata/age/test-only.agekey

.PHONY: all build test test-unit tools kube bench lint demo clean schemas gatekeeper

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/otomi ./cmd/otomi

# The reference CLIs, built from the versions in go.mod, for the interop and
# equivalence tests: sops, helm v3 (stamped with its version and a current
# default Kubernetes version, as its release builds are) and helmfile.
tools: $(SOPS) $(HELM) $(HELMFILE) $(KUBECONFORM) kube
kube:
	OTOMI_TOOLS_CACHE=$(TOOLS_CACHE) tests/kube/build.sh >/dev/null
$(KUBECONFORM):
	mkdir -p $(dir $@)
	GOBIN=$(dir $@) CGO_ENABLED=0 GOFLAGS= $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
$(SOPS):
	mkdir -p $(dir $@)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $@.tmp github.com/getsops/sops/v3/cmd/sops && mv $@.tmp $@
$(HELM):
	mkdir -p $(dir $@)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=35" -o $@.tmp helm.sh/helm/v3/cmd/helm && mv $@.tmp $@
$(HELMFILE):
	mkdir -p $(dir $@)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $@.tmp github.com/helmfile/helmfile && mv $@.tmp $@

# Every test: unit, golden, interop with the real sops CLI, equivalence with
# the real helmfile, end to end.
test: tools
	$(TOOLS_ENV) $(GO) test -shuffle=on -count=1 ./...

# Unit tests only (no interop tools needed).
test-unit:
	$(GO) test -shuffle=on -count=1 ./pkg/...

# The main job on the bundled example values repo.
demo: build
	SOPS_AGE_KEY_FILE=$(EXAMPLE_KEY) bin/otomi validate-values --env-dir $(EXAMPLE)
	SOPS_AGE_KEY_FILE=$(EXAMPLE_KEY) bin/otomi list --env-dir $(EXAMPLE)
	SOPS_AGE_KEY_FILE=$(EXAMPLE_KEY) bin/otomi template --env-dir $(EXAMPLE) --output-dir bin/demo-manifests
	SOPS_AGE_KEY_FILE=$(EXAMPLE_KEY) bin/otomi images --env-dir $(EXAMPLE)

bench: build tools
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./pkg/cmdutil ./pkg/render
	$(TOOLS_ENV) OTOMI_BIN=$(CURDIR)/bin/otomi $(GO) test -run '^$$' -bench . -benchtime 3x -count=1 ./tests

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin

# The Kubernetes API schemas built into validate-templates: the OpenAPI of each
# supported minor's k8s.io/kubernetes module (via the Go module proxy).
KUBE_SCHEMA_VERSIONS := v1.35.4 v1.34.4 v1.33.13 v1.32.13 v1.31.14
schemas:
	$(GO) run ./internal/cmd/genschemas -out pkg/validate/schemas $(KUBE_SCHEMA_VERSIONS)

# The gatekeeper-constraints chart's generated files (constraint CRDs, ConstraintTemplates in Gatekeeper's
# CEL engine, the policies' defaults) from policies/*.yaml; pkg/validate's tests fail while they are stale.
gatekeeper:
	$(GO) run ./internal/cmd/gengatekeeper
