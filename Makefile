# Oscar-C: the developer's entry points (`make help` lists them).
#
# The build itself is CMake; this file only names the usual runs of it.
# Every target that builds runs scripts/setup.sh first, which installs any
# missing Debian package and says nothing when all are there.
#
# Build directories:
#   build/          RelWithDebInfo, -Werror         make build, run, test
#   build-asan/     Debug (-O1 -g), ASan + UBSan    make asan, test
#   build-release/  Release, -Werror                make release, bench
#   build/stage/    `cmake --install` of build/, used by the embed check

SHELL       := /bin/bash
.SHELLFLAGS := -euo pipefail -c
MAKEFLAGS   += --no-print-directory
# Targets run one after the other; each build uses JOBS cores itself.
.NOTPARALLEL:

JOBS          ?= 2
CTEST_TIMEOUT ?= 600
CMAKE         ?= cmake
CTEST         ?= ctest
PREFIX        ?= /usr/local
# ARGS are passed to the programs that `make run` and `make bench` start.
ARGS          ?=

BUILD         := build
ASAN_BUILD    := build-asan
RELEASE_BUILD := build-release
STAGE         := $(CURDIR)/$(BUILD)/stage
EMBED_SRC     := $(CURDIR)/examples/embed
EMBED_PC      := $(CURDIR)/$(BUILD)/embed-pkgconfig
EMBED_CMAKE   := $(CURDIR)/$(BUILD)/embed-cmake

# Flags every configuration shares. The library directory is plain `lib`
# so that the staged copy's pkg-config directory is always lib/pkgconfig.
CONFIG_FLAGS := -DOSCAR_WERROR=ON -DCMAKE_INSTALL_LIBDIR=lib

# Sanitizer settings for the ASan test run. Criterion forks every test,
# so abort_on_error makes a sanitizer report crash that one test, which
# Criterion then names; leaks are checked when each test process exits.
# allocator_may_return_null lets out-of-memory paths see NULL, as they
# would with the system allocator.
OSCAR_ASAN_OPTIONS  ?= detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:allocator_may_return_null=1
OSCAR_UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1:abort_on_error=1

CTEST_FLAGS := --output-on-failure -j$(JOBS) --timeout $(CTEST_TIMEOUT) --no-tests=error

.PHONY: help setup build asan release run test check check-asan valgrind install \
	install-check embed bench clean format format-check check-layers

help:
	@echo "Oscar-C make targets:"
	@echo "  make run            build, then run examples/cluster: a local cluster of a supervisor"
	@echo "                      and two workers running seed 001's and 003's work through the"
	@echo "                      client API (the actor layer alone: build/examples/hello/oscar-hello)"
	@echo "  make test           the format and layer checks, build/ and build-asan/, the whole suite on each,"
	@echo "                      and the embed check"
	@echo "  make bench          Release build (build-release/), the peers (Erlang/OTP, CAF),"
	@echo "                      then the benchmarks side by side (JSON: build-release/bench.json)"
	@echo "  make build          configure and build build/ (RelWithDebInfo, -Werror)"
	@echo "  make asan           configure and build build-asan/ (ASan + UBSan)"
	@echo "  make release        configure and build build-release/ (Release)"
	@echo "  make check          the test suite on build/ only"
	@echo "  make check-asan     the test suite on build-asan/ only"
	@echo "  make valgrind       the memcheck pass alone (part of make check)"
	@echo "  make install-check  install build/ into build/stage, build and run examples/embed"
	@echo "                      against it with pkg-config and with find_package (alias: embed)"
	@echo "  make install        install build/ into PREFIX (default /usr/local)"
	@echo "  make setup          install the Debian packages that are missing"
	@echo "  make format-check   every C file laid out as .clang-format says (part of make test)"
	@echo "  make format         lay out every C file as .clang-format says"
	@echo "  make check-layers   fail on any call from actors/ into a higher layer (part of make test;"
	@echo "                      docs/architecture.md, Layers)"
	@echo "  make clean          remove every build directory"
	@echo "Variables: JOBS=$(JOBS) CTEST_TIMEOUT=$(CTEST_TIMEOUT) PREFIX=$(PREFIX) ARGS=..."

setup:
	@bash scripts/setup.sh

build: setup
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CONFIG_FLAGS)
	$(CMAKE) --build $(BUILD) -j$(JOBS)

asan: setup
	$(CMAKE) -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
	    -DOSCAR_SANITIZE=ON $(CONFIG_FLAGS)
	$(CMAKE) --build $(ASAN_BUILD) -j$(JOBS)

release: setup
	$(CMAKE) -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release -DOSCAR_TESTS=OFF \
	    -DOSCAR_EXAMPLES=OFF $(CONFIG_FLAGS)
	$(CMAKE) --build $(RELEASE_BUILD) -j$(JOBS)

# run is the main job: a local cluster (a supervisor and two workers with
# two slots each, processes of the program itself), seed 001's spawns, a
# map of 1,000 futures and a gather, a repeated pure call, a failing task,
# a progress bar and a clean stop; it exits 0 only if every result was
# right. The actor layer alone is examples/hello (oscar-hello).
run: build
	$(BUILD)/examples/cluster/oscar-cluster $(ARGS)

# bench installs and builds the peers (never needed by the tests), then
# runs every workload for Oscar-C and the peers; a --json in ARGS wins.
bench: release
	@bash scripts/bench-setup.sh
	@bash bench/peers/build.sh $(RELEASE_BUILD)/bench/peers
	$(RELEASE_BUILD)/bench/oscar-bench --json $(RELEASE_BUILD)/bench.json $(ARGS)

# test runs everything CI runs. Prerequisites run in the order listed
# (.NOTPARALLEL), each once: the format check, build, the layer check (on
# build's object files), its tests, the embed check, the sanitizer build
# and its tests, so the output ends with ctest's summary.
test: format-check check-layers check install-check check-asan

# The layout of the C files is checked with the clang-format that
# scripts/setup.sh installs (Debian's), so that it is the same everywhere.
format-check: setup
	@bash scripts/check-format.sh

format: setup
	@bash scripts/check-format.sh --fix

# Lists every call from a file of actors/ into a layer above its own
# (docs/architecture.md, "Layers") and fails if there is one; reads the
# object files of build/. Part of make test.
check-layers: build
	@bash scripts/check-layers.sh $(BUILD)

check: build
	@echo "== tests: $(BUILD)/ (RelWithDebInfo)"
	$(CTEST) --test-dir $(BUILD) $(CTEST_FLAGS)

valgrind: build
	$(CTEST) --test-dir $(BUILD) $(CTEST_FLAGS) -R '^valgrind/'

check-asan: asan
	@echo "== tests: $(ASAN_BUILD)/ (AddressSanitizer + UndefinedBehaviorSanitizer)"
	ASAN_OPTIONS=$(OSCAR_ASAN_OPTIONS) UBSAN_OPTIONS=$(OSCAR_UBSAN_OPTIONS) \
	    $(CTEST) --test-dir $(ASAN_BUILD) $(CTEST_FLAGS)

install: build
	$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

# install-check installs build/ into a staging prefix and builds the embed
# example out of tree against that copy, the two ways a user would: with
# pkg-config (examples/embed/Makefile) and with find_package (its
# CMakeLists.txt, linking the shared and the static library). Then it runs
# the three programs, and builds and runs the client examples
# (examples/spawn, examples/futures) with pkg-config's one line.
install-check: build
	@echo "== install: $(BUILD)/ into $(BUILD)/stage"
	rm -rf $(STAGE) $(EMBED_PC) $(EMBED_CMAKE)
	$(CMAKE) --install $(BUILD) --prefix $(STAGE)
	@echo "== embed: pkg-config"
	PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig $(MAKE) -f $(EMBED_SRC)/Makefile \
	    OUT=$(EMBED_PC) CFLAGS="-O2 -g -Wall -Wextra -Werror"
	LD_LIBRARY_PATH=$(STAGE)/lib $(EMBED_PC)/oscar-embed
	@echo "== embed: find_package"
	$(CMAKE) -S $(EMBED_SRC) -B $(EMBED_CMAKE) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_PREFIX_PATH=$(STAGE) -DCMAKE_C_FLAGS="-Werror"
	$(CMAKE) --build $(EMBED_CMAKE) -j$(JOBS)
	$(EMBED_CMAKE)/oscar-embed
	$(EMBED_CMAKE)/oscar-embed-static
	@echo "== examples: spawn and futures, against the installed library (pkg-config)"
	for ex in spawn futures; do \
	    $${CC:-cc} -O2 -g -Wall -Wextra -Werror -o $(EMBED_PC)/oscar-$$ex \
	        $(CURDIR)/examples/$$ex/main.c \
	        $$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags --libs oscar); \
	    LD_LIBRARY_PATH=$(STAGE)/lib $(EMBED_PC)/oscar-$$ex; \
	done

embed: install-check

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(RELEASE_BUILD)
