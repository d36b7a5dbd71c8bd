# neko: the NEKO Defense API in Go. See README.md.
GO      ?= go
PKGS    ?= ./...
BENCH   ?= .

.PHONY: run test bench lint build clean

## run: serve on $PORT (default 8080) with the embedded database and demo data
run:
	$(GO) run ./cmd/neko serve

## build: build the neko binary into ./bin
build:
	$(GO) build -trimpath -o bin/neko ./cmd/neko

# Packages that run the embedded database (FerretDB on SQLite) are tested without the race
# detector: instrumenting SQLite makes them ~25x slower (minutes), and the concurrency that matters
# (engine, cache, resilience, server, loaders) is race-checked in the packages that own it.
DB_PKGS   = ./store/... ./cmd/...
RACE_PKGS = $$($(GO) list ./... | grep -v -e /store -e /cmd/)

## test: the whole suite: lint, race-checked tests, embedded-database tests
test: lint
	$(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)
	$(GO) test -count=1 -timeout 10m $(DB_PKGS)
	$(GO) test -run '^$$' -fuzz FuzzPrepareExecute -fuzztime 10s ./graphql/

## bench: every benchmark, with allocations
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -timeout 30m $(PKGS)

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin data

## load: short versions of the load profiles (dashboard flow, TV monitor flow, spike, stress,
## soak; about 2 minutes in all) against a local neko; fails when a threshold is missed
.PHONY: load bench-http
load:
	SHORT=1 benchmarks/profiles/run.sh all

## bench-http: the hit-path check, full stack vs bare Fiber over HTTP (wrk)
bench-http:
	benchmarks/hitpath.sh
