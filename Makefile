# Firebreak — the incident-response appliance.
# `make` prints this help. Tool versions are pinned here and in .ci/run.

GO        ?= go
BIN       := bin/firebreak
PKG       := github.com/firebreak-ir/firebreak
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X $(PKG)/appliance/internal/cli.version=$(VERSION)
DATA      ?= firebreak-data
LISTEN    ?= 127.0.0.1:8080
FUZZTIME  ?= 5s
TESTFLAGS ?=
# MODULE_KEY signs the first-party modules; made on first use for a development build,
# the release key for a release (its public half is embedded and trusted).
MODULE_KEY ?= bin/module-signing.key

.DEFAULT_GOAL := help
.PHONY: help build modules run test fuzz check bench image image-test clean uplot

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: modules ## build bin/firebreak, a static binary with everything it needs embedded
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./appliance/cmd/firebreak

modules: ## build and sign the first-party WebAssembly modules (modules/) for embedding
	$(GO) run ./appliance/cmd/modbuild -key $(MODULE_KEY) -out appliance/internal/modhost/firstparty/wasm modules

run: build ## run the appliance on ./firebreak-data, API on 127.0.0.1:8080, replaying the sample captures
	$(BIN) serve --data $(DATA) --listen $(LISTEN) --sample

test: build ## run every test (root-only tests skip without root), then each fuzz test for FUZZTIME
	FIREBREAK_MODULE_CACHE=$(CURDIR)/bin/test-modcache $(GO) test -count=1 -timeout 15m $(TESTFLAGS) ./...
	$(GO) test -count=1 -run '^$$' -bench AnalyzeLarge -benchtime 1x ./capture/
	cd sdk && $(GO) test -count=1 $(TESTFLAGS) ./...
	@FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

fuzz: ## run each fuzz test for FUZZTIME (e.g. make fuzz FUZZTIME=1m)
	@FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

check: ## vet, formatting, package docs, cross-build, and a clean tree
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) test -count=1 -run 'TestPackageDocs' .
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null ./appliance/cmd/firebreak
	cd sdk && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./modules/...
	@test -z "$$(git status --porcelain)" || { git status --porcelain; echo "the tree is dirty after the build"; exit 1; }

# The large mixed capture (2 M packets) the capture and module benchmarks share.
BENCH_PCAP ?= $(CURDIR)/bin/bench/large-mixed.pcap

bench: ## run the benchmarks for real, with their peer tools
	mkdir -p $(dir $(BENCH_PCAP))
	FIREBREAK_BENCH_PCAP=$(BENCH_PCAP) $(GO) test -run '^$$' -bench AnalyzeLarge -benchtime 1s -timeout 60m ./capture/
	FIREBREAK_BENCH_PCAP=$(BENCH_PCAP) $(GO) test -run '^$$' -bench AnalyzeModules -benchtime 3x ./appliance/internal/modhost/
	$(GO) test -run '^$$' -bench . -skip 'AnalyzeLarge|AnalyzeModules|ExportLarge' -benchtime 3s ./...
	$(GO) test -run '^$$' -bench ExportLarge -benchtime 1x -timeout 30m ./appliance/internal/cli/

image: build ## build the bootable appliance disk image, bin/image/firebreak.img (see images/README.md)
	images/build.sh $(BIN) bin/image

image-test: image ## boot the image under qemu: console, containment, power cut, rebuild gives the same bytes
	cd images && FIREBREAK_IMAGE=$(CURDIR)/bin/image/firebreak.img FIREBREAK_BINARY=$(CURDIR)/bin/image/firebreak \
		$(GO) test -count=1 -v -timeout 40m $(TESTFLAGS) ./imagetest/

# The console's chart library, pinned: its npm tarball and the files taken from it.
UPLOT_VERSION := 1.6.32
UPLOT_TGZ_SHA256 := 4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
UPLOT_DIR := appliance/internal/console/web/assets/vendor

uplot: ## re-fetch the console's pinned chart library (uPlot) from npm and check its sha256
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && \
	echo "$(UPLOT_TGZ_SHA256)  uplot-$(UPLOT_VERSION).tgz" | sha256sum -c --quiet && tar xzf uplot-$(UPLOT_VERSION).tgz && \
	cd $(CURDIR) && cp $$tmp/package/dist/uPlot.iife.min.js $$tmp/package/dist/uPlot.min.css $(UPLOT_DIR)/ && \
	cp $$tmp/package/LICENSE $(UPLOT_DIR)/uPlot.LICENSE.txt && echo "uPlot $(UPLOT_VERSION) in $(UPLOT_DIR)"

clean: ## remove build output (not the data directory)
	rm -rf bin
