# Floe: the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin/floe
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Packages with long integration tests get this much time in all.
TEST_TIMEOUT ?= 45m

.PHONY: all deps build demo test matrix unit lint clean

all: build

deps: ## install the PostgreSQL server and staticcheck when missing
	@deploy/install-deps.sh

build: ## build bin/floe (a static binary: CGO is off)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/floe

demo: deps build ## run Floe end to end on a throwaway PostgreSQL (about a minute; cmd/floe-demo runs bin/floe)
	$(GO) run ./cmd/floe-demo -floe $(BIN) $(DEMO_FLAGS)

lint: deps ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: run gofmt -w on the files above'; exit 1; }
	$(GO) vet ./...
	$$($(GO) env GOPATH)/bin/staticcheck ./...

test: deps lint build ## the whole suite: unit, integration and crash tests against real servers, then a short stressed round
	$(GO) test -count=1 -p 2 -timeout $(TEST_TIMEOUT) ./...
	$(GO) run ./deploy/stress -plan short $(STRESS_FLAGS)

matrix: deps ## the server versions: capture conformance, live decoders and a crash test on PostgreSQL 13-18, MariaDB 10.11/11.4/11.8, MySQL 9.7 (~25 min; MATRIX_PG="13 18" MATRIX_MYSQL=mysql-9.7 narrow it)
	GO=$(GO) deploy/testdb/matrix.sh

unit: ## fast tests only (no servers)
	$(GO) test -count=1 -short ./...

clean:
	rm -rf bin .floe

.PHONY: bench
bench: deps build ## Floe vs the raw source speed in paired runs, PostgreSQL and MariaDB, targets met or not (not part of test; ~36 min; BENCH_FLAGS=-quick: a few min)
	$(GO) run ./cmd/floe-bench -floe $(BIN) $(BENCH_FLAGS)

.PHONY: bench-reads
bench-reads: deps build ## Trino query latency on Floe tables while floe streams vs after floe compact (issue 12; PostgreSQL; starts Trino and S3; BENCH_FLAGS=-reads-duration 30m for the goal)
	$(GO) run ./cmd/floe-bench -floe $(BIN) -source postgres -scenarios reads $(BENCH_FLAGS)

.PHONY: stress
stress: deps ## crash, watermark and convergence tests hundreds of times under CPU burners and jitter (hours; results in deploy/stress/results)
	$(GO) run ./deploy/stress -out deploy/stress/results $(STRESS_FLAGS)

.PHONY: bench-memory
bench-memory: deps build ## only the memory scenarios of bench: peak RSS of a 10M-row transaction, of 50 MiB values and over 1, 50 and 200 tables, both sources
	$(GO) run ./cmd/floe-bench -floe $(BIN) -memory $(BENCH_FLAGS)

# The container image: an OCI image archive built from bin/floe with no
# container daemon and no base image (deploy/image). GOARCH=arm64 make image
# builds it for arm64. Timestamps come from the last commit, so a clean
# checkout of one commit gives one image digest.
IMAGE             ?= floe:$(VERSION)
IMAGE_ARCHIVE     ?= bin/floe-image.tar
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: image
image: build ## the container image as an OCI archive in bin/floe-image.tar (load it with podman load -i, push with skopeo)
	env -u GOARCH $(GO) run ./deploy/image -floe $(BIN) -arch $(shell $(GO) env GOARCH) -version $(VERSION) \
		-revision "$$(git rev-parse HEAD 2>/dev/null)" -created $(SOURCE_DATE_EPOCH) -tag $(IMAGE) -out $(IMAGE_ARCHIVE)
