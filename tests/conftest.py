"""Shared fixtures: the C extension fixture compiled in this test run, and
helpers to run yep's real CLI in a subprocess; skips for peer packages and
tools that are missing on one interpreter (make test runs this suite on every
supported CPython, and not every peer has a build for each)."""
import atexit
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import textwrap
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PYTHON_VERSION = "%d.%d" % sys.version_info[:2]

# The symbol cache (converters/symbol_cache.h) of this run: a private folder
# of its own, not the user's ~/.cache/yep (tests of the cache give theirs).
_SYMBOL_CACHE = tempfile.mkdtemp(prefix="yep-test-symbols-")
os.environ["YEP_SYMBOL_CACHE"] = _SYMBOL_CACHE
atexit.register(shutil.rmtree, _SYMBOL_CACHE, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    """Says which interpreter this run tests, even under -q (CI logs show it)."""
    line = f"yep tests on Python {platform.python_version()} ({sys.executable}"
    base = getattr(sys, "_base_executable", None)
    if sys.prefix != sys.base_prefix and base:
        line += f", a venv of {os.path.realpath(base)}"
    line += ")"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line, bold=True)
    else:
        print(line)


def missing_modules(*modules):
    return [m for m in modules if importlib.util.find_spec(m) is None]


def skip_reason(missing):
    return (f"{', '.join(missing)} not installed for Python {PYTHON_VERSION} (no build of it for this "
            f"interpreter: make test lists the peer packages it could not install)")


def needs(*modules):
    """Marks a test that imports these peer packages (in the test or in the
    program it runs): skipped, with the reason, where one is missing."""
    missing = missing_modules(*modules)
    return pytest.mark.skipif(bool(missing), reason=skip_reason(missing))


def require(*modules):
    """The same as needs(), inside a fixture or a test."""
    missing = missing_modules(*modules)
    if missing:
        pytest.skip(skip_reason(missing))


# Programs some tests compare with, and why one may be absent.
PROGRAMS = {
    "google-pprof": "Debian's google-perftools (gperftools 2.18 and later, as in Debian sid, no longer ship it)",
    "go": "Debian's golang-go",
    "callgrind_annotate": "Debian's valgrind",
    "dot": "Debian's graphviz",
}


def program_missing(name):
    """Why `name` cannot be run here, or None when it is on PATH."""
    if shutil.which(name):
        return None
    return f"{name} not installed: it comes from {PROGRAMS[name]} (make test installs it where Debian has it)"


def needs_program(*names):
    """Marks a test that runs these programs: skipped, with the reason, where one is missing."""
    reasons = [r for r in map(program_missing, names) if r]
    return pytest.mark.skipif(bool(reasons), reason="; ".join(reasons))


def require_program(path, package):
    """Skips unless the console script `path` of a peer package exists."""
    if not Path(path).exists():
        pytest.skip(f"{Path(path).name} ({package}) not installed for Python {PYTHON_VERSION} "
                    f"(make test lists the peer packages it could not install)")


def build_extension(source, outdir, opt="-O1", flags=()):
    """Compiles a one-file C extension with -g for this interpreter."""
    name = Path(source).stem
    target = Path(outdir) / (name + sysconfig.get_config_var("EXT_SUFFIX"))
    include = sysconfig.get_paths()["include"]
    subprocess.run(["cc", "-shared", "-fPIC", "-g", opt, *flags, f"-I{include}", str(source), "-o", str(target)],
                   check=True)
    return target


def compiled_fixture(tmp_path_factory, name):
    """A directory holding tests/fixtures/<name>.c compiled as an extension."""
    outdir = tmp_path_factory.mktemp(name)
    shutil.copy(FIXTURES / f"{name}.c", outdir / f"{name}.c")
    build_extension(outdir / f"{name}.c", outdir)
    return outdir


@pytest.fixture(scope="session")
def hotcold(tmp_path_factory):
    """Directory holding the compiled `hotcold` extension."""
    return compiled_fixture(tmp_path_factory, "hotcold")


@pytest.fixture(scope="session")
def allocs(tmp_path_factory):
    """Directory holding the compiled `allocs` extension (known allocations)."""
    return compiled_fixture(tmp_path_factory, "allocs")


def definition_line(source, function):
    """Line number where a C function is defined in a fixture source."""
    for number, line in enumerate(Path(source).read_text().splitlines(), 1):
        if re.match(rf"^(__attribute__\(\(.*\)\) )?(static )?[\w ]+\*?{function}\(", line):
            return number
    raise AssertionError(f"{function} not found in {source}")


def marked_line(source, text):
    """Line number of the first line of a fixture source containing text."""
    for number, line in enumerate(Path(source).read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not found in {source}")


def yep_environment(env=None):
    """The environment a yep command runs in: this one, without gperftools'
    variables that would change the rate or the clock, plus `env`."""
    full_env = dict(os.environ)
    full_env.pop("CPUPROFILE_REALTIME", None)
    full_env.pop("CPUPROFILE_FREQUENCY", None)
    if env:
        full_env.update(env)
    return full_env


def run_yep(args, cwd, env=None, timeout=120, **kwargs):
    """Runs `python -m yep ARGS` and returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "yep", *args], cwd=cwd, env=yep_environment(env),
                          capture_output=True, text=True, timeout=timeout, **kwargs)


# spin(seconds): a script busy for that much of its own thread's CPU time
# (yep's drain thread runs beside it, so not the process's).
SPIN_THREAD_TIME = """
import time

def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
"""


def write_script(directory, name, body):
    path = Path(directory) / name
    path.write_text(textwrap.dedent(body))
    return path


# Parses rows of the text report: "flat flat% sum% cum cum%  name  file:line".
ROW = re.compile(r"^\s*([\d.]+)s\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)s\s+([\d.]+)%\s+(\S+)(?:\s+(\S+))?\s*$")


def parse_report(text):
    """{function name: (flat_seconds, cum_seconds, 'file:line' or None)} and total seconds."""
    rows = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(6)] = (float(m.group(1)), float(m.group(4)), m.group(7))
    total = re.search(r"^Total: ([\d.]+)s", text, re.M)
    return rows, float(total.group(1)) if total else None


def wait_for(predicate, timeout=30, what="condition"):
    """predicate()'s first true value, polled every 0.2 s; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
