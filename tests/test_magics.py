"""The IPython magics (%load_ext yep), driven through a real IPython shell.

%memit and %yep run in this process's InteractiveShell. %mprun counts
allocations through yep's malloc interposer, which must be preloaded from the start,
so its tests run the same kind of shell in a Python started with it.
Expected memory: a 1000x1000 float64 array is 8,000,000 bytes = 7.63 MiB;
[0] * 10**7 is a list of 10**7 pointers, 80,000,056 bytes = 76.29 MiB.
"""
import ctypes
import json
import os
import pstats
import re
import subprocess
import sys
import textwrap

import pytest

IPython = pytest.importorskip("IPython")
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from conftest import needs, require  # noqa: E402

ARRAY_MIB = 8_000_000 / 2**20      # 7.63
LIST_MIB = 80_000_056 / 2**20      # 76.29
MEMIT = re.compile(r"^peak memory: ([\d.]+) MiB, increment: (-?[\d.]+) MiB$", re.M)


@pytest.fixture(scope="module")
def shell():
    require("numpy")
    # glibc's malloc raises its mmap threshold after large frees, and then
    # serves big blocks from memory it already holds, which hides them from
    # RSS. Fixing the threshold at its default (M_MMAP_THRESHOLD = -3) gives
    # each big block fresh pages, whatever earlier tests in this process did.
    ctypes.CDLL(None).mallopt(-3, 128 * 1024)
    sh = InteractiveShell.instance()
    run(sh, "%colors nocolor")
    run(sh, "%load_ext yep")
    run(sh, "import numpy as np")
    return sh


def run(sh, cell):
    """Runs a cell; returns (success, stdout + stderr, captured rich outputs)."""
    with capture_output() as captured:
        result = sh.run_cell(cell)
    return result.success, captured.stdout + captured.stderr, captured.outputs


def memit(sh, cell):
    ok, out, _ = run(sh, cell)
    assert ok, out
    found = MEMIT.findall(out)
    assert len(found) == 1, out
    return float(found[0][0]), float(found[0][1])


def test_load_ext_registers_and_unloads_every_magic(shell):
    for kind in ("line", "cell"):
        for name in ("memit", "mprun", "yep"):
            assert name in shell.magics_manager.magics[kind]
    run(shell, "%unload_ext yep")
    assert "memit" not in shell.magics_manager.magics["line"]
    ok, out, _ = run(shell, "%load_ext yep")
    assert ok and "memit" in shell.magics_manager.magics["line"], out


def test_memit_new_array_increments_by_its_size(shell):
    peak, increment = memit(shell, "%memit np.ones((1000, 1000))")
    assert increment == pytest.approx(ARRAY_MIB, abs=0.5)
    assert peak > increment


def test_memit_view_costs_nothing_and_a_copy_costs_the_array(shell):
    run(shell, "X = np.ones((1000, 1000))")
    assert memit(shell, "%memit X.T")[1] < 0.5  # a view: no copy
    assert memit(shell, "%memit np.asfortranarray(X)")[1] == pytest.approx(ARRAY_MIB, abs=0.5)  # a copy
    assert memit(shell, "%memit np.ascontiguousarray(X)")[1] < 0.5  # already C-contiguous: no copy


def test_memit_catches_a_temporary_freed_within_the_statement(shell):
    ok, out, _ = run(shell, "r = %memit -o [0] * 10**7")
    assert ok, out
    result = shell.user_ns["r"]
    assert result.increment == pytest.approx(LIST_MIB, abs=3)
    assert result.mem_after[0] - result.baseline < 1  # the list was freed before the statement ended
    assert result.method == "exact peak (VmHWM)"
    assert f"increment: {result.increment:.2f} MiB" in out


def test_memit_result_object_has_memory_profilers_fields(shell):
    ok, out, _ = run(shell, "r = %memit -o -q -r 3 -i 0.01 -t 5 y = np.ones((1000, 1000))")
    assert ok and out == "", out  # -q: nothing printed
    r = shell.user_ns["r"]
    assert len(r.mem_usage) == 3 and len(r.mem_after) == 3
    assert (r.repeat, r.timeout, r.interval, r.include_children) == (3, 5.0, 0.01, False)
    assert r.mem_usage[0] - r.baseline == pytest.approx(ARRAY_MIB, abs=0.5)
    assert r.peak == max(r.mem_usage) and r.increment == r.peak - r.baseline
    assert str(r) == f"peak memory: {r.peak:.2f} MiB, increment: {r.increment:.2f} MiB"


def test_cell_memit_runs_the_first_line_as_setup_without_measuring_it(shell):
    # setup: 30.5 MiB kept; measured: 7.63 MiB more.
    peak, increment = memit(shell, "%%memit big = np.ones((2000, 2000))\nsmall = big[:1000, :1000].copy()\n")
    assert increment == pytest.approx(ARRAY_MIB, abs=0.5)
    assert "small" in shell.user_ns and "big" in shell.user_ns


def test_memit_keeps_the_statement_verbatim(shell):
    ok, out, _ = run(shell, "%memit -r2 print('a   b' + \"  c\")")
    assert ok and out.count("a   b  c") == 2, out


def test_memit_with_children_counts_a_child_process(shell):
    child = (f"import subprocess; subprocess.run([{sys.executable!r}, '-c', "
             f"'import time; x = bytearray(100 * 2**20); time.sleep(0.5)'])")
    run(shell, "import subprocess")
    assert memit(shell, "%memit -c " + child)[1] > 90
    assert memit(shell, "%memit " + child)[1] < 5


def test_memit_samples_and_says_so_where_the_peak_cannot_be_reset(shell, monkeypatch):
    import yep.memit

    monkeypatch.setattr(yep.memit, "CLEAR_REFS", "/nonexistent/clear_refs")
    ok, out, _ = run(shell, "%memit kept = np.ones((1000, 1000))")
    assert ok, out
    assert "sampled every 0.001 s: cannot reset the peak through /nonexistent/clear_refs" in out
    assert float(MEMIT.search(out).group(2)) == pytest.approx(ARRAY_MIB, abs=0.5)


@pytest.mark.parametrize("cell, message", [
    ("%memit", "UsageError: %memit needs a statement"),
    ("%memit -z 1", "UsageError: %memit: unrecognized arguments: -z"),
    ("%memit -r 0 1", "UsageError: %memit: -r must be 1 or more"),
    ("%memit -r", "UsageError: %memit: -r needs a value"),
    ("%memit x = (", "UsageError: %memit: SyntaxError: '(' was never closed (line 1)"),
    ("%mprun work()", "UsageError: %mprun needs -f FUNCTION"),
    ("%mprun -f nowhere nowhere()", "UsageError: %mprun -f nowhere: NameError: name 'nowhere' is not defined"),
    ("%mprun -f len len([])", "UsageError: %mprun -f len: not a Python function"),
    ("%mprun -T /nonexistent/r.txt -f get_ipython get_ipython()",
     "UsageError: %mprun -T: cannot write '/nonexistent/r.txt': the directory /nonexistent does not exist"),
    ("%yep", "UsageError: %yep needs a statement"),
    ("%yep --format pstats 1", "UsageError: %yep --format pstats writes a file next to the profile"),
    ("%yep --sort up 1", "UsageError: %yep: argument --sort: invalid choice: 'up'"),
])
def test_mistakes_are_one_line(shell, cell, message):
    ok, out, _ = run(shell, cell)
    assert not ok
    assert out.strip().splitlines() == [out.strip()] and out.startswith(message), out


def test_mprun_without_the_interposer_reports_rss_and_time_and_says_how_to_get_allocations(shell):
    run(shell, "def work():\n    a = np.ones((1000, 1000))\n    b = a.sum()\n    return b\n")
    ok, out, _ = run(shell, "%mprun -f work work()")
    assert ok, out
    row = next(line for line in out.splitlines() if "np.ones" in line)
    figures = re.findall(r"([-+]?[\d.]+) MiB", row)
    # Mem usage and Increment (RSS, read after every line): the array's pages.
    assert len(figures) == 2 and float(figures[1]) == pytest.approx(ARRAY_MIB, abs=0.5), row
    assert re.search(r"\s1\s", row) and re.search(r"\d (us|ms|s)\s", row), row  # one occurrence, its time
    assert "a.sum()" in out and "return b" in out
    note = out.strip().splitlines()[-1]
    assert note.startswith("(Allocated and Peak count allocations through yep's malloc interposer") and "LD_PRELOAD=" in note


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the line tracer uses sys.monitoring from 3.12 on")
def test_mprun_when_sys_monitoring_has_no_tool_id_left(shell):
    run(shell, "import sys\nfor i in (2, 3, 4):\n    sys.monitoring.use_tool_id(i, f'other{i}')\n"
               "def work():\n    return 1\n")
    try:
        ok, out, _ = run(shell, "%mprun -f work work()")
    finally:
        run(shell, "for i in (2, 3, 4):\n    sys.monitoring.free_tool_id(i)\n")
    assert not ok and out.strip().splitlines() == [out.strip()], out
    assert out.startswith("UsageError: %mprun: the line tracer needs a sys.monitoring tool id, and 2, 3 and 4 are "
                          "taken (2 by 'other2', 3 by 'other3', 4 by 'other4')"), out
    ok, out, _ = run(shell, "%mprun -f work work()")  # the functions were put back: it works once they are free
    assert ok and "return 1" in out, out


@pytest.mark.parametrize("magic", ["%memit", "%yep"])
def test_the_statements_exception_is_the_users_without_yeps_frames(shell, magic):
    run(shell, "def fails():\n    raise KeyError('from the notebook')\n")
    ok, out, _ = run(shell, f"{magic} fails()")
    assert not ok
    assert "KeyError: 'from the notebook'" in out and "raise KeyError" in out, out
    assert "yep/" not in out and "UsageError" not in out, out
    import yep

    assert not yep.is_running()


@pytest.fixture
def with_hotcold(shell, hotcold):
    sys.path.insert(0, str(hotcold))
    run(shell, "import hotcold")
    yield
    sys.path.remove(str(hotcold))


def test_yep_reports_the_native_function_and_shows_the_flame_graph(shell, with_hotcold):
    from conftest import parse_report

    ok, out, outputs = run(shell, "%yep hotcold.burn_hot(30_000_000)")
    assert ok, out
    rows, total = parse_report(out)
    assert "burn_hot" in rows and rows["burn_hot"][0] > 0.5 * total, out
    html = [o.data["text/html"] for o in outputs if "text/html" in o.data]
    assert len(html) == 1 and html[0].startswith("<iframe srcdoc=") and "burn_hot" in html[0]


def test_cell_yep_profiles_notebook_code_and_keeps_the_profile(shell, with_hotcold, tmp_path):
    from conftest import parse_report

    out_prof = tmp_path / "cell.prof"
    ok, out, _ = run(shell, f"%%yep -o {out_prof} --format pstats\n"
                            "def twice(n):\n    return hotcold.burn_hot(n) + hotcold.burn_cold(n)\n"
                            "twice(20_000_000)\n")
    assert ok, out
    assert out_prof.exists() and f"yep: wrote {out_prof}.pstats" in out
    assert "burn_hot" in parse_report(out)[0]
    names = {func[2] for func in pstats.Stats(str(out_prof) + ".pstats").stats}
    assert "burn_hot" in names and "burn_cold" in names


def test_yep_mixed_names_the_notebook_function_and_its_line(shell, with_hotcold, tmp_path):
    out_prof = tmp_path / "mixed.prof"
    ok, out, _ = run(shell, f"%%yep --mixed -o {out_prof}\n"
                            "def hot_caller(n):\n    return hotcold.burn_hot(n)\n"
                            "hot_caller(30_000_000)\n")
    assert ok, out
    import yep

    folded = yep.load(out_prof).folded()
    top = max(folded.splitlines(), key=lambda line: int(line.rsplit(" ", 1)[1]))
    # The cell's code at the root (IPython's own frames left out), then the
    # notebook function, then the C extension.
    assert re.match(r"<module>;hot_caller;py_burn_hot;burn_hot \d+$", top), folded
    rows = [line for line in yep.load(out_prof).text(lines=True).splitlines() if " hot_caller " in line]
    assert rows and rows[0].rstrip().endswith(":2"), rows  # the line of the call in the cell


def test_yep_passes_report_options_through(shell, with_hotcold):
    ok, out, _ = run(shell, "%yep --format source --list burn_hot hotcold.burn_hot(20_000_000)")
    assert ok, out
    assert "burn_hot" in out and "hotcold.c" in out and "SPIN(3 * n, x)" in out, out
    ok, out, _ = run(shell, "%yep --nodecount 3 --sort cum hotcold.burn_hot(20_000_000)")
    assert ok, out
    cums = [float(m.group(1)) for m in re.finditer(r"^\s+[\d.]+s\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)s", out, re.M)]
    assert len(cums) == 3 and cums == sorted(cums, reverse=True), out


def test_yep_compares_with_a_base_profile(shell, with_hotcold, tmp_path):
    base = tmp_path / "base.prof"
    ok, out, _ = run(shell, f"%yep -f 250 -o {base} hotcold.burn_hot(60_000_000); hotcold.burn_cold(200_000_000)")
    assert ok and base.exists(), out
    ok, out, outputs = run(shell, f"%yep -f 250 --base {base} hotcold.burn_hot(60_000_000); "
                                  "hotcold.burn_cold(400_000_000)")
    assert ok, out
    assert f"# base: {base} subtracted" in out and "      base        new     change  change%  name" in out, out
    rows = {line.split()[4]: line.split() for line in out.splitlines() if line.split()[4:5] in (["burn_cold"], ["burn_hot"])}
    (cold_before, cold_now), (hot_before, hot_now) = ((float(v.rstrip("s")) for v in rows[f][:2])
                                                      for f in ("burn_cold", "burn_hot"))
    # burn_cold got twice the work; burn_hot's change is the speed of the machine between the runs.
    assert cold_now == pytest.approx(2 * cold_before * hot_now / hot_before, rel=0.15), out
    assert rows["burn_cold"][2].startswith("+") and float(rows["burn_cold"][2].rstrip("s")) == pytest.approx(
        cold_now - cold_before, abs=0.0011), out
    html = [o.data["text/html"] for o in outputs if "text/html" in o.data]
    assert len(html) == 1 and "burn_cold" in html[0]
    ok, out, _ = run(shell, "%yep --normalize hotcold.burn_cold(1000)")
    assert not ok and "%yep: --normalize scales the base profile: give one with --base OLD" in out, out


def test_yep_while_a_profile_runs_profiles_its_statement(shell, with_hotcold, tmp_path):
    # %yep inside a profiled kernel once refused ("already running"): now
    # its profile is the statement's window of the running sampler, and the
    # running profile goes on and holds it too.
    import yep

    yep.start(str(tmp_path / "outer.prof"))
    try:
        ok, out, _ = run(shell, "%yep hotcold.burn_hot(40_000_000)")
        assert yep.is_running()
    finally:
        yep.stop()
    assert ok, out
    assert re.search(r"^\s*[\d.]+s\s+[\d.]+%.*\bburn_hot\b", out, re.M), out
    assert "burn_hot" in yep.load(tmp_path / "outer.prof").folded()


# %mprun: an IPython shell in a Python started with the interposer preloaded.

SHELL_SCRIPT = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
shell = InteractiveShell.instance()
shell.run_cell("%colors nocolor")
outputs = []
for cell in json.load(sys.stdin):
    with capture_output() as captured:
        result = shell.run_cell(cell)
    outputs.append({"ok": result.success, "out": captured.stdout + captured.stderr})
print(json.dumps(outputs))
"""


def run_with_hooks(cells, cwd):
    from yep.magics import hooks_environment

    env = dict(os.environ, **hooks_environment(), PYTHONPATH=str(cwd))
    done = subprocess.run([sys.executable, "-c", SHELL_SCRIPT], input=json.dumps(cells), capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rows(report):
    """{source line: (mem usage, increment, occurrences, allocated)} of a %mprun report."""
    found = {}
    for line in report.splitlines():
        m = re.match(r"^\s*\d+\s+([\d.]+) MiB\s+(-?[\d.]+) MiB\s+(\d+)\s+([+-][\d.]+) MiB\s+[\d.]+ MiB\s+[\d.]+ \w+"
                     r"\s+(.*)$", line)
        if m:
            found[m.group(5).strip()] = (float(m.group(1)), float(m.group(2)), int(m.group(3)), float(m.group(4)))
    return found


@needs("numpy")
def test_mprun_reports_the_lines_of_notebook_and_imported_functions(tmp_path):
    (tmp_path / "shapes.py").write_text(textwrap.dedent("""\
        def grid(n):
            cells = [0] * n
            return len(cells)
        """))
    outputs = run_with_hooks([
        "%load_ext yep",
        "import numpy as np, shapes",
        "def build(n):\n    a = np.ones((1000, 1000))\n    b = [0] * n\n    del b\n    return shapes.grid(n) + a.size\n",
        "%mprun -f build -f shapes.grid build(10**6)",
        "%mprun -f build build(10**6)",
        "%mprun -f build -T report.txt build('x')",
        "r = %mprun -r -f shapes.grid shapes.grid(10)",
        "print(r[0]['function'], r[0]['lines'][2]['hits'])",
        "from yep.native import native as _native\nprint('registered', len(_native().line_tracer_results()))",
    ], tmp_path)
    assert all(o["ok"] for o in outputs[:5]), outputs
    first = outputs[3]["out"]
    assert "Filename: <ipython-input-" in first and f"Filename: {tmp_path / 'shapes.py'}" in first, first
    lines = rows(first)
    assert set(lines) == {"a = np.ones((1000, 1000))", "b = [0] * n", "del b", "return shapes.grid(n) + a.size",
                          "cells = [0] * n", "return len(cells)"}, first
    assert lines["a = np.ones((1000, 1000))"][3] == pytest.approx(ARRAY_MIB, abs=0.01)
    assert lines["b = [0] * n"][3] == pytest.approx(8_000_056 / 2**20, abs=0.01)
    assert lines["del b"][3] == pytest.approx(-8_000_056 / 2**20, abs=0.01)
    assert lines["cells = [0] * n"][2] == 1
    assert "def build(n):" in first  # the line that never ran is listed, without figures
    # A second run of the same function starts from zero: one occurrence, not two.
    second = rows(outputs[4]["out"])
    assert second["b = [0] * n"][2] == 1 and "cells = [0] * n" not in second
    # The statement's exception is the user's, after the report (and -T wrote the report).
    failed = outputs[5]
    assert not failed["ok"] and "TypeError: can't multiply sequence by non-int of type 'str'" in failed["out"]
    assert rows(failed["out"])["a = np.ones((1000, 1000))"][2] == 1 and "yep/" not in failed["out"]
    assert (tmp_path / "report.txt").read_text().startswith("Filename: <ipython-input-")
    # -r returns the figures.
    assert outputs[7]["out"].strip() == "grid 1"
    # Each run's copies of the code are forgotten after its report: nothing stays registered.
    assert outputs[8]["out"].strip() == "registered 0"
