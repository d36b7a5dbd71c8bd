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

## test: the whole suite (vet, race-checked tests)
test: lint
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

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
