# The front door: CI and the README call these targets.
SHELL   := /bin/bash
GO      ?= go
PKGS    := ./...
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN     := bin/eucora
FUZZTIME ?= 20s

.PHONY: deb build test test-short conformance bench-connectors bench-factory bench bench-transfer bench-apt bench-hub bench-sync bench-rollout bench-console fuzz lint clean sdk-check

# urfave_cli_no_docs leaves out urfave/cli's man/markdown generators (unused)
# and the markdown library they pull in, whose init every command paid.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags urfave_cli_no_docs -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/eucora

# Unit, cluster, black-box and real-client tests, all under the race detector.
# internal/testreport prints each package's result, failures in full, every
# skipped test with its reason, and a closing "N passed, N failed, N skipped".
# Under CI=true a test whose system tool is missing fails instead of skipping.
# The Debian package dist/out/eucora_<version>_amd64.deb (dist/build-deb.sh):
# the binary, systemd units, /etc/eucora conffiles, man pages and shell
# completions generated from the CLI; reproducible (SOURCE_DATE_EPOCH,
# default the last commit's time). Needs dpkg-deb. docs/install.md.
deb: build
	bash dist/build-deb.sh $(BIN) $(VERSION) dist/out

test:
	set -o pipefail; $(GO) test -race -count=1 -timeout 15m -json $(PKGS) | $(GO) run ./internal/testreport

test-short:
	$(GO) test -short $(PKGS)

# Every connector against its plane's simulator (connectors/conformance),
# then one table: plane | cases | passed | duplicates | calls per publish.
conformance:
	@out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	EUCORA_CONFORMANCE_OUT=$$out $(GO) test -count=1 -run '^TestConformance$$' ./connectors/... && \
	$(GO) run ./connectors/conformance/table $$out

# Each connector publishing 1,000 versions to its simulator with 10% 429s and
# 1% dropped connections, serially and from 20 workers: calls per publish,
# duplicates, latency and the ratio of calls to a clean publish.
bench-connectors:
	@out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	EUCORA_BENCH_OUT=$$out $(GO) test -count=1 -run '^$$' -bench '^BenchmarkConnector$$' -benchtime 1x -timeout 0 ./connectors/... >/dev/null && \
	$(GO) run ./connectors/conformance/table $$out

bench: bench-transfer bench-apt bench-hub bench-sync bench-console

# The web console's Sites view of a 500-site hub, server time per page
# (target: < 200 ms; docs/console.md).
bench-console:
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkConsoleSites500$$' -benchtime 20x ./hub/

# The packaging factory: intake of a 2 GiB package and of 1,000 small debs
# against sha256sum (ratio, peak RSS), and vulnerability matching of 10,000
# components against 100,000 OSV records. Needs dpkg-deb.
bench-factory:
	bash bench/factory.sh

bench-transfer: build
	bash bench/transfer.sh

# The rollout orchestrator at the architecture document's scale (50,000
# devices, 5,000 apps, 500 sites, 5 rings) and at 1/10 and 1/2 of it: a
# reconciliation pass (target < 1 s of hub CPU, plane reads counted), a
# site's delta (< 100 ms), a ring's gate (< 50 ms). Not in `make bench`: it
# takes 10 minutes on 2 idle cores (30 on busy ones), most of it publishing
# to and reading from the simulators (SIZES=0.1 for a quick look;
# ANSWERS=DIR keeps the captured plane answers, and a rerun with them takes
# a few minutes).
bench-rollout:
	bash bench/rollout.sh

# EUCORA's APT mirror against aptly (needs aptly, apt-utils, gnupg, xz-utils).
bench-apt:
	bash bench/apt-mirror.sh

# Hub event ingest on 1 and 3 loopback nodes (target: >= 20,000 events/s on 3).
bench-hub: build
	bash bench/hub-events.sh

# Hub -> air-gapped edge with an APT publication: import against tar+zstd, and
# the second bundle's bytes after one new package (target: <= 1.01 x package
# + a fixed manifest overhead). Needs apt-utils, dpkg-dev, gnupg, xz-utils, zstd.
bench-sync: build
	bash bench/sync.sh

# The official Microsoft Graph Go SDK (msgraph-sdk-go) against the Intune
# simulator, unchanged. Its own module (connectors/intune/sdkcheck) keeps the
# SDK, which takes about 8 minutes and 4.6 GB to build on 2 cores, out of the
# main module and of `make test`.
sdk-check:
	cd connectors/intune/sdkcheck && $(GO) test -count=1 -timeout 30m ./...

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null; then staticcheck $(PKGS); fi

clean:
	rm -rf bin
