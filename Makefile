# smsflow — `make run` brings the whole stack up; `make test` runs every test against real services.
GO            ?= go
TEMPORAL_CLI  := v1.5.1
FUZZTIME      ?= 15s
export GOFLAGS ?= -buildvcs=false

.PHONY: run test build check fuzz bench bench-lifecycle bench-held bench-accept compose-config clean hubspot-project

## run: PostgreSQL, Temporal dev server + Web UI (:8233), API (:8080), worker and simulators; Ctrl-C stops all
run: build bin/temporal
	bin/devstack run

## test: gofmt/vet, then unit + integration tests against a throwaway PostgreSQL and Temporal dev server
test: check build bin/temporal hubspot-project
	bin/devstack exec -- $(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz

build:
	$(GO) build -o bin/ ./cmd/...

## hubspot-project: the HubSpot developer project (app card, workflow actions): npm packages from
## the lockfiles, the card type-checked, the project checked offline by HubSpot's project parser
hubspot-project:
	@command -v npm >/dev/null 2>&1 || { echo "hubspot-project: npm is missing (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }
	cd hubspot-project && npm ci --no-audit --no-fund && npm run --silent check
	cd hubspot-project/src/app/cards && npm ci --no-audit --no-fund && npx tsc --noEmit

# The Temporal CLI (dev server with the Web UI), built from its Go module outside our go.mod;
# Go's build cache makes later builds fast.
bin/temporal:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI)

check:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz: a short run of each fuzz target (longer by hand: make fuzz FUZZTIME=10m)
fuzz:
	@for target in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed 's/func //' | sort -u); do \
		pkg=$$(dirname $$(grep -rlE "^func $$target\(" --include='*_test.go' .)); \
		echo "fuzz $$target in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## bench-lifecycle: bare workflow vs full SMS lifecycle through the API, one dev server, one run
bench-lifecycle: build bin/temporal
	bin/devstack exec -- $(GO) run ./bench/lifecycle $(BENCHFLAGS)

## bench-held: 10,000 messages of one portal held to one window opening, drained against HubSpot's
## budget (BENCHFLAGS="-n 100000" for the large run; see bench/held for the flags)
bench-held: build bin/temporal
	bin/devstack exec -- $(GO) run ./bench/held $(BENCHFLAGS)

## bench-accept: API accept latency at fixed arrival rates (open loop), full lifecycles behind it
bench-accept: build bin/temporal
	bin/devstack exec -- $(GO) run ./bench/accept $(BENCHFLAGS)

## compose-config: validate docker-compose.yml (needs the docker-compose package; no engine needed)
compose-config:
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf .devstack
