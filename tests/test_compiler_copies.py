"""A function the compiler made two of (GCC's ".constprop.0" copy beside the
function itself, named in DWARF too under LTO, as Debian's python3.14 has
_PyObject_MakeTpCall.constprop.1) is one function in every report: one row
in the text report and its comparisons, one pstats entry, one pprof
function. Before, its two halves were two rows with the same name."""
import pstats
import shutil
import subprocess

import pytest

from conftest import FIXTURES, build_extension, needs_program, parse_report, run_yep, write_script

# Each entry point burns the same number of loop iterations, so each copy
# gets about half of the run.
PROGRAM = """
import time
import clones

end = time.thread_time() + 2.0
while time.thread_time() < end:
    clones.burn_fixed(2_000_000)       # burn.constprop.0
    clones.burn_step(2_000_000, 1)     # burn itself
"""

LTO_FLAGS = ("-flto", "-flto-partition=max", "-fno-semantic-interposition")


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    directory = tmp_path_factory.mktemp("clones")
    shutil.copy(FIXTURES / "clones.c", directory / "clones.c")
    extension = build_extension(directory / "clones.c", directory, opt="-O3", flags=LTO_FLAGS)
    symbols = subprocess.run(["nm", str(extension)], capture_output=True, text=True, check=True).stdout.split()
    # The test's premise: the compiler did make a copy of burn.
    assert "burn" in symbols and any(s.startswith("burn.constprop.") for s in symbols), symbols
    script = write_script(directory, "prog.py", PROGRAM)
    result = run_yep(["-o", "out.prof", str(script)], cwd=directory, env={"PYTHONPATH": str(directory)})
    assert result.returncode == 0, result.stderr
    return directory / "out.prof"


def report(*args, cwd):
    result = run_yep(["report", *map(str, args)], cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def burn_rows(text):
    return [line for line in text.splitlines() if " burn" in line and "py_burn" not in line]


def test_one_row_holds_both_copies(profile):
    text = report(profile, "--nodecount", "0", cwd=profile.parent)
    assert len(burn_rows(text)) == 1, text
    assert "constprop" not in text and "localalias" not in text and "lto_priv" not in text, text
    rows, total = parse_report(text)
    flat, cum, where = rows["burn"]
    # Both halves: each copy alone is about half the run.
    assert flat >= 0.8 * total, text
    assert where.startswith("clones.c:"), where


def test_the_comparison_matches_the_copies(profile):
    text = report(profile, "--base", profile, "--nodecount", "0", cwd=profile.parent)
    assert len(burn_rows(text)) == 1, text


def test_one_pstats_entry(profile):
    out = profile.parent / "out.pstats"
    report(profile, "--format", "pstats", "-o", out, cwd=profile.parent)
    stats = pstats.Stats(str(out)).stats
    # pstats keys are (file, line, name): one for burn, none for a copy.
    burns = [key for key in stats if key[2] == "burn" or key[2].startswith("burn.")]
    assert len(burns) == 1, sorted(stats)
    total = sum(tt for _, _, tt, _, _ in stats.values())
    assert stats[burns[0]][2] >= 0.8 * total


@needs_program("go")
def test_one_pprof_function(profile):
    out = profile.parent / "out.pb.gz"
    report(profile, "--format", "proto", "-o", out, cwd=profile.parent)
    raw = subprocess.run(["go", "tool", "pprof", "-raw", str(out)], capture_output=True, text=True, check=True).stdout
    # Locations: "  id: 0xADDR M=n function file:line:col s=start(system name)"; both copies' addresses name one
    # function, system name "burn".
    names = {line.split()[3] for line in raw.splitlines() if "clones.c" in line and " burn " in f" {line} "}
    assert names == {"burn"}, raw
    assert "constprop" not in raw, raw
