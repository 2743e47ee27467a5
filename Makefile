# pushlab — see README.md. Every target works on a fresh machine with Go installed.
GO       ?= go
# go.mod asks for Go 1.27.3 (its race runtime no longer crashes on timers due at once inside a
# testing/synctest bubble); auto lets an older go command fetch that toolchain from the module proxy.
export GOTOOLCHAIN ?= auto
BIN      := bin
PKGS     := ./...
FUZZTIME ?= 30s
SOAK_ROUNDS ?= 100
SOAK_PHONES ?= 200
RAPID_CHECKS ?= 20000
RAPID_STEPS ?= 100
LIVE_CHECKS ?= 400
CLUSTER_CHECKS ?= 200
GREMLINS_VERSION := v0.6.0
# MUTATE_FILES: the relay core files (relay/*.go) mutate mutates, or all; MUTATE_TAGS: the build tags of the
# tests that judge the mutants (mutate adds the scenario library and the push-rule property; empty: unit tests only).
MUTATE_FILES ?= pushrule.go retry.go pushsettings.go
MUTATE_TAGS ?= mutate
MUTATE_TIMEOUT_COEFFICIENT ?= 2
MUTATE_SKIP = $(if $(filter all,$(MUTATE_FILES)),,$(filter-out $(MUTATE_FILES),$(notdir $(filter-out %_test.go,$(wildcard relay/*.go)))))

.PHONY: all build test run bench lint fuzz soak prop mutate clean

all: build

## build: compile relay, fakefcm and pushsim into bin/
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## test: go vet, the race-enabled test suite (properties included), and the scenario library in virtual time (what CI runs)
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)
	@mkdir -p out
	$(GO) run ./cmd/pushsim run --out out/test-library scenarios/library > out/test-library.log || { cat out/test-library.log; exit 1; }
	@tail -n 1 out/test-library.log

## run: the bundled scenario library in virtual time; reports in out/
run:
	@$(GO) run ./cmd/pushsim run --out out scenarios/library; status=$$?; \
	echo "Drive simulated phones by hand: run 'go run ./cmd/pushsim serve' (or bin/pushsim serve), then open the device lab at http://127.0.0.1:4200/ and the relay's console at http://127.0.0.1:4100/console/"; \
	exit $$status

## bench: benchmarks with their baselines, reported as medians and ratios
bench: build
	$(BIN)/pushsim bench

## lint: formatting, vet and module tidiness
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: run gofmt -w on the files above"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff

## prop: the property tests deep, for nightly runs (RAPID_CHECKS checks of about RAPID_STEPS actions; the live one LIVE_CHECKS, the cluster one CLUSTER_CHECKS), and the library's cluster scenarios on the live cluster twin
prop:
	RAPID_CHECKS=$(RAPID_CHECKS) RAPID_STEPS=$(RAPID_STEPS) PUSHLAB_LIVE_CHECKS=$(LIVE_CHECKS) PUSHLAB_CLUSTER_CHECKS=$(CLUSTER_CHECKS) PUSHLAB_LIVE_CLUSTER=1 \
		$(GO) test -count=1 -timeout 6h -run '^(TestProperty|TestLibraryClusterScenariosPassOnTheLiveCluster$$)' $(PKGS)

## fuzz: run every fuzz target for FUZZTIME each (default 30s)
fuzz:
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' $(PKGS) | while read pkg dir; do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
			echo "== $$pkg $$f"; $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
		done; \
	done

## soak: connect/kill/relaunch churn for SOAK_ROUNDS rounds of SOAK_PHONES phones; goroutines and heap must return to baseline
soak:
	PUSHLAB_SOAK_ROUNDS=$(SOAK_ROUNDS) PUSHLAB_SOAK_PHONES=$(SOAK_PHONES) $(GO) test -count=1 -timeout 1h -v -run '^TestSoak' ./relay/server/

## mutate: mutation testing of the relay core (MUTATE_FILES) with gremlins, one worker; judged by relay's tests built with MUTATE_TAGS; not part of test
mutate:
	@mkdir -p $(BIN) out
	GOBIN=$(CURDIR)/$(BIN) $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)
	GOFLAGS="$$GOFLAGS -count=1" $(BIN)/gremlins unleash --workers 1 --timeout-coefficient $(MUTATE_TIMEOUT_COEFFICIENT) \
		$(if $(MUTATE_TAGS),--tags $(MUTATE_TAGS)) -E '/' $(foreach f,$(MUTATE_SKIP),-E '^$(f)$$') \
		--output $(CURDIR)/out/mutate-$(if $(MUTATE_TAGS),harness,unit).json ./relay

clean:
	rm -rf $(BIN) out
