# agentcert — see README.md. Every target works on a clean clone with Go installed.
GO        ?= go
BIN       := bin/agentcert
PKGS      := ./...
FUZZTIME  ?= 10s

.PHONY: run test bench bench-report fuzz lint build clean interop-deps

build: ## build the CLI into bin/
	$(GO) build -o $(BIN) ./cmd/agentcert

run: build ## start the service with embedded dev defaults (SQLite in ./data, generated keys, printed bootstrap token)
	./$(BIN) serve

test: interop-deps ## the whole suite: gofmt/vet, then every test with the race detector
	@$(MAKE) --no-print-directory lint
	$(GO) test -race -count=1 -timeout 30m $(PKGS)
	cd testdata/interop/aries && $(GO) test -race -count=1 ./...

interop-deps: ## install the pinned npm packages the interop tests drive (when npm is present and the lock file changed)
	@stamp=testdata/interop/node_modules/.agentcert-installed; \
	if command -v npm >/dev/null 2>&1 && { [ ! -f $$stamp ] || [ testdata/interop/package-lock.json -nt $$stamp ]; }; then \
	  (cd testdata/interop && npm ci --no-audit --no-fund) && touch $$stamp; \
	fi

bench: ## benchmarks (single run; use -count and benchstat for comparisons)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

BENCH_SECS    ?= 10
BENCH_CLIENTS ?= 8
BENCH_VERIFY_SLOTS ?= 0
bench-report: ## measure issue 12's targets in one run and rewrite the generated tables of docs/benchmarks.md
	$(GO) run ./cmd/benchreport -secs $(BENCH_SECS) -clients $(BENCH_CLIENTS) -verify-slots $(BENCH_VERIFY_SLOTS) \
	  -command "make bench-report BENCH_SECS=$(BENCH_SECS) BENCH_CLIENTS=$(BENCH_CLIENTS) BENCH_VERIFY_SLOTS=$(BENCH_VERIFY_SLOTS)"

fuzz: ## run every fuzz target for FUZZTIME each (cmd/fuzzrun: a crasher fails, the Go 1.26 coordinator's deadline race is run again)
	$(GO) run ./cmd/fuzzrun -go $(GO) -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $(PKGS)

lint: ## gofmt and go vet must be clean
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin data
