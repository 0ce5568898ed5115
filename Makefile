# localsa - the two commands of the README, and the build.
#   make          build into build/ (binaries in build/bin, libraries in build/lib)
#   make test     install missing Debian packages, build with ASan+UBSan into
#                 build-asan/, run every test (unit and lab) with CTest
#   make demo     install missing packages, build, run the demo on a simulated fabric
#   make bench    run the benchmarks (bench/run)
#   make fuzz     coverage-guided fuzzing with clang's libFuzzer (tests/fuzz/run), 60 s per target
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all build test demo bench fuzz deps clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

deps:
	tools/deps

test: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLOCALSA_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest -j $(JOBS) --output-on-failure $(CTEST_ARGS)

demo: deps build
	tools/demo

bench: deps build
	bench/run

fuzz: deps
	LOCALSA_DEPS_EXTRA=clang tools/deps
	tests/fuzz/run --seconds $(or $(FUZZ_SECONDS),60)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
