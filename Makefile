# Two entry points (README "Quick start"):
#   make demo   install what is missing, then profile the bundled example
#   make test   install what is missing, then run every test (C++ and pytest)
# Both are idempotent: each step runs only when its inputs changed.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build/py
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build, the tests and the peer tools need.
DEBIAN_PACKAGES := g++ make pkg-config libgoogle-perftools-dev google-perftools \
	pybind11-dev zlib1g-dev libdw-dev libelf-dev libunwind-dev libbenchmark-dev libgtest-dev golang-go \
	valgrind chromium firefox-esr
# Python packages for building and testing, installed into .venv.
PIP_PACKAGES := scikit-build-core cmake ninja pytest numpy gprof2dot snakeviz memray memory_profiler line_profiler matplotlib ipython nbclient nbformat ipykernel guppy3 websocket-client py-spy

SOURCES := CMakeLists.txt pyproject.toml README.md $(shell find yep python converters tests/cpp benchmarks \
	-type f \( -name '*.py' -o -name '*.html' -o -name '*.cpp' -o -name '*.h' -o -name '*.c' -o -name '*.cmake' \) 2>/dev/null)

.PHONY: demo test deps install bench clean

# Runs in build/examples, where the demo's extension is (and not in the
# source tree, whose yep/ has no compiled _native module).
demo: install build/examples/.built
	cd build/examples && PYTHONPATH=. ../../$(PY) -m yep -v ../../examples/demo.py

test: install
	$(VENV)/bin/ctest --test-dir $(BUILD) --output-on-failure
	$(PY) -P -m pytest -q tests

bench: install
	$(PY) benchmarks/compare.py
	$(PY) benchmarks/line_memory.py
	$(PY) benchmarks/mprof_overhead.py
	$(PY) benchmarks/memit.py
	$(PY) benchmarks/census.py
	$(PY) benchmarks/mixed.py

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

$(VENV)/.deps-installed: build/.debian-packages
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_PACKAGES)
	touch $@

# The package, built by scikit-build-core in $(BUILD) (kept, so rebuilds are
# incremental), with the C++ tests and benchmarks built alongside.
$(VENV)/.yep-installed: $(VENV)/.deps-installed $(SOURCES)
	$(PY) -m pip install -q --no-build-isolation --no-deps \
		--config-settings=cmake.define.YEP_BUILD_TESTS=ON \
		--config-settings=cmake.define.YEP_BUILD_BENCHMARKS=ON .
	touch $@

# The demo's C extension, compiled for the venv's Python.
build/examples/.built: examples/demo_kernels.c $(VENV)/.deps-installed
	mkdir -p build/examples
	cc -shared -fPIC -O2 -g -I"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
		$< -o build/examples/demo_kernels"$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
	touch $@

clean:
	rm -rf build $(VENV)
