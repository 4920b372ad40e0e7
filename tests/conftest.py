"""Shared fixtures: the C extension fixture compiled in this test run, and
helpers to run yep's real CLI in a subprocess."""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def build_extension(source, outdir, opt="-O1", flags=()):
    """Compiles a one-file C extension with -g for this interpreter."""
    name = Path(source).stem
    target = Path(outdir) / (name + sysconfig.get_config_var("EXT_SUFFIX"))
    include = sysconfig.get_paths()["include"]
    subprocess.run(["cc", "-shared", "-fPIC", "-g", opt, *flags, f"-I{include}", str(source), "-o", str(target)],
                   check=True)
    return target


@pytest.fixture(scope="session")
def hotcold(tmp_path_factory):
    """Directory holding the compiled `hotcold` extension."""
    outdir = tmp_path_factory.mktemp("hotcold")
    shutil.copy(FIXTURES / "hotcold.c", outdir / "hotcold.c")
    build_extension(outdir / "hotcold.c", outdir)
    return outdir


@pytest.fixture(scope="session")
def allocs(tmp_path_factory):
    """Directory holding the compiled `allocs` extension (known allocations)."""
    outdir = tmp_path_factory.mktemp("allocs")
    shutil.copy(FIXTURES / "allocs.c", outdir / "allocs.c")
    build_extension(outdir / "allocs.c", outdir)
    return outdir


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


def run_yep(args, cwd, env=None, timeout=120, **kwargs):
    """Runs `python -m yep ARGS` and returns the CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.pop("CPUPROFILE_REALTIME", None)
    full_env.pop("CPUPROFILE_FREQUENCY", None)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "yep", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


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
