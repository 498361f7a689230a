# Thin wrapper over CMake/CTest: run, check, check-asan, bench, install, clean.
BUILD ?= build
BRAID_TLS ?= mbedtls
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build run check check-asan check-openssl check-mbedtls3 fuzz bench install clean

all: build

deps:
	@sh contrib/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DBRAID_TLS=$(BRAID_TLS) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@sh contrib/run-demo.sh $(BUILD)/braid

check: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

check-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBRAID_SANITIZE=ON -DBRAID_TLS=$(BRAID_TLS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS) --timeout 600

# The OpenSSL backend (src/tls_openssl.cc); with $(BUILD) built too, test_tls_interop runs both.
check-openssl: deps
	@cmake -S . -B build-openssl -DCMAKE_BUILD_TYPE=Release -DBRAID_TLS=openssl >/dev/null
	@cmake --build build-openssl -j $(JOBS)
	@cd build-openssl && ctest --output-on-failure -j $(JOBS) --timeout 300

# mbedTLS 3.6 (what OpenWrt ships) beside Debian 12's 2.28: contrib/mbedtls3.sh unpacks Debian 13's
# packages into build-mbedtls3/root (never installed); the binaries carry an rpath to them.
check-mbedtls3: deps
	@sh contrib/mbedtls3.sh build-mbedtls3
	@cmake -S . -B build-mbedtls3 -DCMAKE_BUILD_TYPE=Release -DBRAID_TLS=mbedtls \
	  -DMBEDTLS_ROOT=$(abspath build-mbedtls3/root) >/dev/null
	@cmake --build build-mbedtls3 -j $(JOBS)
	@build-mbedtls3/braid version
	@cd build-mbedtls3 && ctest --output-on-failure -j $(JOBS) --timeout 300

FUZZ_TARGETS = fuzz_frame fuzz_hello fuzz_socks5 fuzz_config fuzz_http fuzz_datagram
FUZZ_SECONDS ?= 60
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DBRAID_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@for t in $(FUZZ_TARGETS); do mkdir -p build-fuzz/corpus-$$t && \
	  build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; done

# Benchmarks print figures; they are never part of `make check`.
bench: build
	@mkdir -p $(BUILD)/bench
	@if [ "$(BRAID_TLS)" = mbedtls ]; then cmake --build $(BUILD) --target aead_cost >/dev/null; fi
	@BRAID=$(abspath $(BUILD))/braid python3 tests/bench/stripe_bench.py --json $(BUILD)/bench/stripe.json
	@BRAID=$(abspath $(BUILD))/braid python3 tests/bench/forward_bench.py --json $(BUILD)/bench/forward.json
	@sh tests/bench/install-peers.sh
	@BRAID=$(abspath $(BUILD))/braid python3 tests/bench/peers_bench.py --json $(BUILD)/bench/peers.json --aead-cost $(abspath $(BUILD))/aead_cost

install: build
	@cmake --install $(BUILD) --prefix $(or $(PREFIX),/usr/local)

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-mbedtls3
