# omsd — see README.md. Every target works from a fresh clone.
GO       ?= go
BIN      ?= bin/omsd
SHARED   ?= ../shared
# The API reference renderer vendored in server/webdocs/swagger-ui (see docs-assets).
SWAGGER_UI_VERSION := $(shell cat server/webdocs/swagger-ui/VERSION)
CODEGEN  := $(GO) run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen
# golangci-lint, pinned; `go run` fetches it through the module proxy on a fresh machine.
GOLANGCI := $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

.PHONY: all generate check-generate build run test lint contract-diff contract-check docs-assets docs-screenshot bench load stream-load fix-load fuzz prism portman stream-outside fix-outside outside

all: build

## generate: regenerate gen/ from openapi/openapi.oms.en.json + openapi/overlay.yaml
generate:
	$(CODEGEN) -config openapi/oapi-codegen.yaml openapi/openapi.oms.en.json

## check-generate: fail when regenerating changes anything (CI drift check)
check-generate: generate
	@git diff --exit-code -- gen/ openapi/ || { echo "gen/ is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "untracked files in gen/"; exit 1; }

## build: compile the omsd binary into bin/
build:
	$(GO) build -o $(BIN) .

## run: serve on 127.0.0.1:8080 with the embedded store and demo identities
run:
	$(GO) run . serve --dev

## test: every test, with the race detector (needs redis-server on PATH); about 3½ minutes on 2 cores
TEST_TIMEOUT ?= 6m
test:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## lint: vet, formatting, golangci-lint (.golangci.yml: errcheck, staticcheck, errorlint, funlen ≤ 80 lines, layering), the contract and secret-compare lints
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GOLANGCI) run ./...
	$(GO) test -count=1 -run 'TestContractIsValidOpenAPI|TestOpenOperationsAreExactlyTheAllowlist|TestSecretsAreComparedInConstantTime' ./server/

## contract-diff: the vendored contract has the upstream contract facts
contract-diff:
	$(SHARED)/tools/contract-diff $(SHARED)/reference/openapi.oms.en.json openapi/openapi.oms.en.json

## bench: Go benchmarks of the hot paths (numbers in docs/benchmarks.md); BENCHTIME=1x runs each once, as CI does
BENCHTIME ?= 1s
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./server/ ./server/fix/ ./server/fixacceptor/ ./server/trading/ ./server/token/ ./server/workflow/ ./server/risk/ ./server/venue/ ./server/latency/ ./store/...

## fuzz: the Go fuzz targets, each for its own execution count (about 30 s here; FUZZTIME=20s or 1000x
## overrides all), seed corpus in testdata/fuzz. Counts, not durations: a duration budget can end while a
## worker is minimizing a new input, and Go then fails the target with "context deadline exceeded"
## (go.dev/issue/75804). FUZZMINIMIZETIME bounds each minimization.
FUZZTIME ?=
FUZZMINIMIZETIME ?= 5s
FUZZ_TARGETS := ./server/:FuzzGate:80000x ./server/:FuzzValidatorCheck:120000x \
	./server/fix:FuzzRead:1500000x ./server/fix:FuzzSession:1200000x
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest#*:}; \
	  test -z "$(FUZZTIME)" || budget=$(FUZZTIME); \
	  echo "== $$name ($$pkg, $$budget)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg || exit 1; done

## prism: Prism proxies (pinned, test/outside) judge a traffic run through them against a live omsd, memory then Redis
prism:
	bash test/outside/run.sh prism

## portman: Portman contract tests and fuzzed variations run by newman against a live omsd, memory then Redis
portman:
	bash test/outside/run.sh portman

## stream-outside: the Streaming API through the real JavaScript client (centrifuge-js, pinned in test/outside) over WebSocket, HTTP-streaming and SSE against a live omsd, memory then Redis
stream-outside:
	bash test/outside/run.sh stream

## fix-outside: the FIX API driven by the real QuickFIX C++ engine (test/outside/fix/initiator, built here; needs Debian's g++ and libquickfix-dev), memory then Redis
fix-outside:
	$(MAKE) -C test/outside/fix
	OMSD_QUICKFIX_INITIATOR=$(CURDIR)/test/outside/fix/initiator OMSD_FIX_OUTSIDE=true $(GO) test -count=1 -run '^TestQuickFIX$$' -v ./server/e2e/

## outside: fuzz, prism, portman, stream-outside and fix-outside
outside: fuzz prism portman stream-outside fix-outside

## contract-check: what a new upstream contract breaks (NEW=path/to/openapi.json); exit 1 when it breaks
contract-check:
	@test -n "$(NEW)" || { echo "usage: make contract-check NEW=path/to/new-upstream.json"; exit 2; }
	$(GO) run . contract check --overlay openapi/overlay.yaml $(NEW)

## docs-assets: re-fetch the pinned Swagger UI (server/webdocs/swagger-ui/VERSION) from npm into server/webdocs/swagger-ui
docs-assets:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null && tar xzf swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz) && \
	for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; do \
	  cp "$$tmp/package/$$f" server/webdocs/swagger-ui/$$f; done && \
	echo "server/webdocs/swagger-ui: swagger-ui-dist $(SWAGGER_UI_VERSION)"

## docs-screenshot: redraw docs/reference.png from a running `make run` (needs chromium)
docs-screenshot:
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
	  --disable-component-update --disable-sync --user-data-dir="$$dir" --hide-scrollbars --virtual-time-budget=10000 \
	  --window-size=1400,900 --screenshot=docs/reference.png http://127.0.0.1:8080/docs

## load: loopback load run (wrk) of health, a bearer route and recovery verify, memory then Redis (numbers in docs/benchmarks.md)
load:
	GO=$(GO) BIN=$(BIN) bash scripts/load.sh

## stream-load: loopback load run of the Streaming API (delivery latency at a fixed order rate, omsd memory per WebSocket subscriber, order throughput with and without subscribers), memory then Redis
stream-load:
	GO=$(GO) BIN=$(BIN) bash scripts/stream-load.sh

## fix-load: one FIX session through QuickFIX (NewOrderSingle → ExecutionReport(new) p50/p99 at RATE, and its maximum) on memory and Redis, and the REST order route on Redis (wrk) to compare
fix-load:
	bash scripts/fix-load.sh
