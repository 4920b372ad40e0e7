# Two entry points (README "Quick start"):
#   make demo   install what is missing, then profile the bundled example
#   make test   install what is missing, then run every test (C++ and pytest)
#               on every supported CPython, with a per-version summary
# Both are idempotent: each step runs only when its inputs changed.
#
# For daily work, one interpreter: make test-3.12 (or make test PYTHONS=3.12,
# which adds the summary). make sid-shell opens a shell in the sid chroot.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build/py
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The CPythons make test runs the suite on, in this order, and where each
# comes from (tests/interpreters/ has one script per job):
#   3.11        python3 (PYTHON), in .venv, built in build/py; C++ tests too
#   3.12 3.13   pyenv's builds, in build/venv/X.Y, built in build/py-X.Y;
#               absent from pyenv: a loud SKIP in the summary
#   3.14 3.15   Debian's, in a Debian sid chroot made under build/sid, venvs
#               in its /opt/venv/X.Y, built in build/py-X.Y
# KNOWN_FAILING: pre-releases; their failures are reported, not fatal.
# 3.15 is left out of a plain make test (about 12 minutes: CI's whole run
# stays under an hour); make test-3.15, or PYTHONS="... 3.15", runs it.
PYTHONS ?= 3.11 3.12 3.13 3.14
PYENV_PYTHONS := 3.12 3.13
SID_PYTHONS := 3.14 3.15
KNOWN_FAILING := 3.15
MATRIX := tests/interpreters

# Debian packages the build, the tests and the peer tools need.
DEBIAN_PACKAGES := g++ make pkg-config libgoogle-perftools-dev google-perftools \
	pybind11-dev zlib1g-dev libdw-dev libelf-dev libunwind-dev libbenchmark-dev libgtest-dev golang-go \
	valgrind graphviz chromium firefox-esr debootstrap clang
# Python packages for building and testing, in every venv (all must install).
BUILD_PACKAGES := scikit-build-core cmake ninja pytest
# Peer packages the tests use or compare yep with: each may fail to install
# on a new interpreter; its tests then skip with the reason.
PEER_PACKAGES := numpy gprof2dot snakeviz memray memory_profiler line_profiler matplotlib ipython nbclient nbformat \
	ipykernel guppy3 websocket-client py-spy psutil cython
# pybind11 from PyPI for the versions newer than Debian's pybind11-dev knows.
MATRIX_BUILD_PACKAGES := $(BUILD_PACKAGES) pybind11

# The sid chroot: Debian's packages for 3.14/3.15 and what the suite runs
# beside them (no google-pprof: gperftools 2.18 no longer ships it; no
# browser: those tests skip, they run on the pyenv versions). graphviz for
# the call graph's SVG (yep report --format svg runs dot).
SID := build/sid
SID_MIRROR ?= http://deb.debian.org/debian
SID_PACKAGES := ca-certificates g++ make pkg-config libgoogle-perftools-dev libdw-dev libelf-dev zlib1g-dev \
	golang-go valgrind graphviz
IN_SID := $(MATRIX)/in-sid.sh $(SID) $(CURDIR)

SOURCES := CMakeLists.txt pyproject.toml README.md $(shell find yep python converters cmake tests/cpp benchmarks \
	-type f \( -name '*.py' -o -name '*.html' -o -name '*.cpp' -o -name '*.h' -o -name '*.c' -o -name '*.cmake' \) 2>/dev/null)

# Each version's venv and the pip command that builds yep into it.
venv_of = $(if $(filter 3.11,$1),$(VENV),$(if $(filter $(SID_PYTHONS),$1),$(SID)/opt/venv/$1,build/venv/$1))
PIP_INSTALL_YEP = -m pip install -q --no-build-isolation --no-deps --config-settings=build-dir=build/py-$* .

.PHONY: demo test deps install bench clean sid sid-shell wheel fuzz FORCE \
	$(addprefix test-,3.11 $(PYENV_PYTHONS) $(SID_PYTHONS)) $(addprefix setup-,3.11 $(PYENV_PYTHONS) $(SID_PYTHONS))

# Runs in build/examples, where the demo's extension is (and not in the
# source tree, whose yep/ has no compiled _native module).
demo: install build/examples/.built
	cd build/examples && PYTHONPATH=. ../../$(PY) -m yep -v ../../examples/demo.py

# Every version in PYTHONS, even after one failed; the summary at the end.
test:
	PYENV_PYTHONS="$(PYENV_PYTHONS)" SID_PYTHONS="$(SID_PYTHONS)" KNOWN_FAILING="$(KNOWN_FAILING)" SID=$(SID) \
		WHEEL_TESTS="$(foreach t,$(WHEEL_TESTS),$(if $(filter $(firstword $(subst :, ,$(t))),$(PYTHONS)),$(t)))" \
		VENVS="$(foreach v,$(PYTHONS),$(v)=$(call venv_of,$(v)))" MAKE="$(MAKE)" $(MATRIX)/matrix.sh $(PYTHONS)

# setup-X.Y: the venv with yep built for X.Y; test-X.Y: the suite on it.
PYTEST_ARGS := -P -m pytest -q -rfEs tests
setup-3.11: install
test-3.11: install
	$(VENV)/bin/ctest --test-dir $(BUILD) --output-on-failure; ctest=$$?; \
	$(MAKE) --no-print-directory fuzz; fuzz=$$?; \
	$(PY) $(PYTEST_ARGS); pytest=$$?; \
	exit $$(( ctest || fuzz || pytest ))

# The readers' fuzz targets (tests/fuzz/), built with clang's libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer, each run FUZZ_SECONDS
# from the crafted corpus kept in tests/fuzz/corpus/<reader> (.cpu, .heap and .sym
# files: *.prof is git-ignored; what it
# finds on the way goes to build/fuzz/found-<reader>; a crash's input to
# build/fuzz/crash-*). make test runs them; a finding fails the 3.11 job.
FUZZ_CXX ?= clang++
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := cpu_profile heap_profile symbol_cache
FUZZ_FLAGS := -std=c++17 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -Iconverters
FUZZ_OBJS := $(patsubst converters/%.cpp,build/fuzz/obj/%.o,$(filter-out converters/yep_convert_main.cpp,$(wildcard converters/*.cpp)))

build/fuzz/obj/%.o: converters/%.cpp $(wildcard converters/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/%_fuzzer: tests/fuzz/%_fuzzer.cpp tests/fuzz/reader_fuzzer.h $(FUZZ_OBJS)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJS) $$(pkg-config --libs libdw) -lz -o $@

fuzz: $(foreach t,$(FUZZ_TARGETS),build/fuzz/$(t)_fuzzer)
	@for t in $(FUZZ_TARGETS); do \
		[ -n "$$(ls tests/fuzz/corpus/$$t)" ] || { echo "fuzz: no corpus in tests/fuzz/corpus/$$t"; exit 1; }; \
		mkdir -p build/fuzz/found-$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		UBSAN_OPTIONS=print_stacktrace=1 build/fuzz/$${t}_fuzzer -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -max_len=131072 -print_final_stats=1 -artifact_prefix=build/fuzz/ \
			build/fuzz/found-$$t tests/fuzz/corpus/$$t 2>&1 | grep -E "^(stat::number_of_executed_units|==|SUMMARY|.*ERROR|No such)" ; \
		[ "$${PIPESTATUS[0]}" = 0 ] || { echo "fuzz: $$t found a bug, input in build/fuzz/"; exit 1; }; \
	done

$(addprefix setup-,$(PYENV_PYTHONS)): setup-%: build/venv/%/.yep-installed
$(addprefix test-,$(PYENV_PYTHONS)): test-%: build/venv/%/.yep-installed
	build/venv/$*/bin/python $(PYTEST_ARGS)

$(addprefix setup-,$(SID_PYTHONS)): setup-%: $(SID)/opt/venv/%/.yep-installed
$(addprefix test-,$(SID_PYTHONS)): test-%: $(SID)/opt/venv/%/.yep-installed
	$(IN_SID) /opt/venv/$*/bin/python $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/compare.py
	$(PY) benchmarks/line_memory.py
	$(PY) benchmarks/mprof_overhead.py
	$(PY) benchmarks/memit.py
	$(PY) benchmarks/census.py
	$(PY) benchmarks/mixed.py
	$(PY) benchmarks/report_speed.py

install: $(VENV)/.yep-installed

deps: $(VENV)/.deps-installed

# Debian packages: install only those missing.
build/.debian-packages: Makefile
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@mkdir -p build && touch $@

# 3.11: Debian's pybind11-dev builds the extension.
$(VENV)/.deps-installed: build/.debian-packages $(MATRIX)/venv.sh
	$(MATRIX)/venv.sh $(PYTHON) $(VENV) "$(BUILD_PACKAGES)" "$(PEER_PACKAGES)"
	touch $@

# The package, built by scikit-build-core in $(BUILD) (kept, so rebuilds are
# incremental), with the C++ tests and benchmarks built alongside.
$(VENV)/.yep-installed: $(VENV)/.deps-installed $(SOURCES)
	$(PY) -m pip install -q --no-build-isolation --no-deps \
		--config-settings=cmake.define.YEP_BUILD_TESTS=ON \
		--config-settings=cmake.define.YEP_BUILD_BENCHMARKS=ON .
	touch $@

# 3.12, 3.13: pyenv's builds. Only the extension is built (the C++ tests
# do not depend on the interpreter: they run once, on 3.11).
build/venv/%/.deps-installed: build/.debian-packages $(MATRIX)/venv.sh
	python=$$($(MATRIX)/pyenv-python.sh $*) && \
	$(MATRIX)/venv.sh $$python build/venv/$* "$(MATRIX_BUILD_PACKAGES)" "$(PEER_PACKAGES)"
	touch $@

build/venv/%/.yep-installed: build/venv/%/.deps-installed $(SOURCES)
	build/venv/$*/bin/python $(PIP_INSTALL_YEP)
	touch $@

# 3.14, 3.15: the sid chroot, then in it the venvs and the builds.
sid: $(SID)/.yep-ready

sid-shell: $(SID)/.yep-ready
	$(IN_SID) bash

# Always asked; sid-chroot.sh touches the stamp only when it remakes the
# chroot (its package list changed), so the venvs are not remade otherwise.
$(SID)/.yep-ready: build/.debian-packages FORCE
	$(MATRIX)/sid-chroot.sh $(SID) $(SID_MIRROR) "$(SID_PYTHONS)" $(SID_PACKAGES)

$(SID)/opt/venv/%/.deps-installed: $(SID)/.yep-ready $(MATRIX)/venv.sh
	$(IN_SID) $(MATRIX)/venv.sh /usr/bin/python$* /opt/venv/$* "$(MATRIX_BUILD_PACKAGES)" "$(PEER_PACKAGES)"
	touch $@

$(SID)/opt/venv/%/.yep-installed: $(SID)/opt/venv/%/.deps-installed $(SOURCES)
	$(IN_SID) /opt/venv/$*/bin/python $(PIP_INSTALL_YEP)
	touch $@

# ---- wheels ----------------------------------------------------------------
# make wheel: one self-contained wheel per supported CPython found here, in
# dist/ (packaging/make_wheel.py: auditwheel-repaired, libraries and their
# licences bundled); the sid versions' wheels are built in the sid chroot.
WHEEL_PYTHONS ?= 3.11 $(PYENV_PYTHONS) $(SID_PYTHONS)
wheel: $(addprefix wheel-,$(WHEEL_PYTHONS))

wheel-3.11: install
	$(PY) packaging/make_wheel.py --build-dir $(BUILD)
$(addprefix wheel-,$(PYENV_PYTHONS)): wheel-%: build/venv/%/.yep-installed
	build/venv/$*/bin/python packaging/make_wheel.py --build-dir build/py-$*
$(addprefix wheel-,$(SID_PYTHONS)): wheel-%: $(SID)/opt/venv/%/.yep-installed
	$(IN_SID) /opt/venv/$*/bin/python packaging/make_wheel.py --build-dir build/py-$*

# test-wheel-X.Y: X.Y's wheel installed and used in a clean Debian chroot
# (minbase, a Python and its venv module: no compiler, no -dev package), as
# a new user would (tests/wheel/). make test runs them for WHEEL_TESTS:
# the cp311 wheel on Debian bookworm, the newest supported one on sid.
WHEEL_TESTS ?= 3.11:bookworm 3.14:sid
CLEAN := build/clean
CLEAN_PACKAGES_bookworm := python3 python3-venv
CLEAN_PACKAGES_sid := python3.14 python3.14-venv
SMOKE := build/wheel-smoke
EXT_SUFFIX = $(shell $(1) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
$(CLEAN)/%/.yep-ready: build/.debian-packages FORCE
	tests/wheel/clean-chroot.sh $(CLEAN)/$* $* $(SID_MIRROR) $(CLEAN_PACKAGES_$*)

# The test extension for each Python, its source path mapped to the chroot's /work.
$(SMOKE)/3.11/.built: tests/fixtures/hotcold.c $(VENV)/.deps-installed
	mkdir -p $(@D)
	cc -shared -fPIC -O1 -g -fdebug-prefix-map=$(CURDIR)/tests/fixtures=/work \
		-I"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" $(CURDIR)/$< \
		-o $(@D)/hotcold$(call EXT_SUFFIX,$(PY))
	touch $@
$(addprefix $(SMOKE)/,$(addsuffix /.built,$(SID_PYTHONS))): $(SMOKE)/%/.built: tests/fixtures/hotcold.c $(SID)/.yep-ready
	mkdir -p $(@D)
	$(IN_SID) sh -c 'cc -shared -fPIC -O1 -g -fdebug-prefix-map=/src/tests/fixtures=/work \
		-I/usr/include/python$* /src/tests/fixtures/hotcold.c \
		-o $(SMOKE)/$*/hotcold$$(python$* -c "import sysconfig; print(sysconfig.get_config_var(\"EXT_SUFFIX\"))")'
	touch $@

test-wheel-%: FORCE
	suite=$(lastword $(subst :, ,$(filter $*:%,$(WHEEL_TESTS)))); \
	[ -n "$$suite" ] || { echo "test-wheel-$*: not in WHEEL_TESTS ($(WHEEL_TESTS))"; exit 2; }; \
	$(MAKE) --no-print-directory wheel-$* $(CLEAN)/$$suite/.yep-ready $(SMOKE)/$*/.built && \
	tests/wheel/run.sh $(CLEAN)/$$suite dist/yep_profiler-*-cp$(subst .,,$*)-*.whl $(SMOKE)/$*/hotcold*.so

# Pattern-rule stamps are kept (make would delete them as intermediates).
.SECONDARY:

# The demo's C extension, compiled for the venv's Python.
build/examples/.built: examples/demo_kernels.c $(VENV)/.deps-installed
	mkdir -p build/examples
	cc -shared -fPIC -O2 -g -I"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
		$< -o build/examples/demo_kernels"$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
	touch $@

FORCE:

clean:
	rm -rf build $(VENV)
