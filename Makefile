# The two commands of the README's quick start: `make run` and `make test`.
# Both install the system packages Hotline needs first (idempotent).

GO ?= go
GOFLAGS_TEST ?= -race -timeout 25m
CONFIG ?=

.PHONY: run test setup build vet fuzz bench load

setup:
	@scripts/setup.sh

build:
	$(GO) build -o bin/hotline ./cmd/hotline

run: setup
	$(GO) run ./cmd/hotline serve $(if $(CONFIG),-config $(CONFIG))

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

test: setup vet
	$(GO) test $(GOFLAGS_TEST) ./...

# Each fuzz target for FUZZTIME (go test allows one target per run).
FUZZTIME ?= 60s
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./media/ ./asr/ ./tts/ ./prosody/ ./knowledge/ ./redact/ ./dialog/... ./store/ ./routing/ ./webrtc/ ./api/

# SIPp load: make load CALLS=200 (concurrent 60 s calls).
CALLS ?= 50
load: build
	bench/load.sh $(CALLS)
