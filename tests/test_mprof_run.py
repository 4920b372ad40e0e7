"""`yep mprof run`: memory over time into memory_profiler's .dat format, with
function brackets and labels checked against times the program records
itself, known allocation sizes, and children."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_yep, write_script


def read_dat(path):
    from yep import mprof_file

    return mprof_file.read(path)


def test_brackets_labels_and_a_known_peak(tmp_path):
    script = write_script(tmp_path, "prog.py", """
        import json, time, yep

        marks = []

        @profile
        def alloc():
            start = time.time()
            block = bytearray(200 * 2**20)
            time.sleep(0.3)
            del block
            marks.append((start, time.time()))

        @profile
        def idle():
            time.sleep(0.05)

        with profile.timestamp("warmup"):
            time.sleep(0.1)
        alloc()
        with yep.label("between"):
            time.sleep(0.1)
        alloc()
        idle()
        json.dump(marks, open("marks.json", "w"))
    """)
    result = run_yep(["mprof", "run", "--interval", "0.01", "-o", "run.dat", str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = read_dat(tmp_path / "run.dat")
    assert data.cmdline.endswith("prog.py")
    marks = json.loads((tmp_path / "marks.json").read_text())
    brackets = [f for f in data.funcs if f.name == "__main__.alloc"]
    assert len(brackets) == 2
    for bracket, (start, end) in zip(brackets, marks):
        # The bracket encloses the call (times are written with 4 decimals, as memory_profiler does).
        assert bracket.start <= start + 1e-4 and bracket.end >= end - 1e-4
        assert bracket.end - bracket.start < (end - start) + 0.05
        assert bracket.level == 0
    assert len([f for f in data.funcs if f.name == "__main__.idle"]) == 1
    assert {f.name for f in data.funcs if f.is_label} == {".warmup", ".between"}
    # The 200 MiB block, above the memory the process had when alloc() began
    # (not the first sample: the interpreter was still starting then).
    assert data.peak - brackets[0].mem_start == pytest.approx(200, rel=0.05)


def test_children_summed_or_separate(tmp_path):
    script = write_script(tmp_path, "pool.py", """
        import multiprocessing, time

        def work(_):
            block = bytearray(150 * 2**20)
            time.sleep(0.5)
            return len(block)

        if __name__ == "__main__":
            with multiprocessing.get_context("fork").Pool(1) as pool:
                pool.map(work, [0])
    """)
    result = run_yep(["mprof", "run", "--interval", "0.02", "--include-children", "-o", "sum.dat", str(script)],
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summed = read_dat(tmp_path / "sum.dat")
    assert summed.peak - summed.mem[0][0] >= 150 * 0.95
    result = run_yep(["mprof", "run", "--interval", "0.02", "--multiprocess", "-o", "each.dat", str(script)],
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    each = read_dat(tmp_path / "each.dat")
    assert each.children, "no CHLD records"
    assert max(max(m for m, _ in series) for series in each.children.values()) >= 150
    assert each.peak < 150  # the parent's own line stays the parent's


def test_exit_code_other_commands_and_errors(tmp_path):
    script = write_script(tmp_path, "fails.py", "import sys; sys.exit(3)\n")
    # The program's status, as every yep command passes it (memory_profiler's
    # mprof exits 0 unless -E; -E is still accepted).
    assert run_yep(["mprof", "run", "-o", "a.dat", str(script)], cwd=tmp_path).returncode == 3
    assert run_yep(["mprof", "run", "--exit-code", "-o", "b.dat", str(script)], cwd=tmp_path).returncode == 3
    result = run_yep(["mprof", "run", "-o", "c.dat", "sleep", "1"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(read_dat(tmp_path / "c.dat").mem) >= 2
    missing = run_yep(["mprof", "run", "nothing.py"], cwd=tmp_path)
    assert missing.returncode == 2 and "cannot run 'nothing.py'" in missing.stderr
    bad = run_yep(["mprof", "run", "-o", "/nonexistent-dir/x.dat", str(script)], cwd=tmp_path)
    assert bad.returncode == 2 and "/nonexistent-dir" in bad.stderr


def test_heap_line_beside_rss(tmp_path):
    """--heap: HEAP records follow the program's native heap exactly, Python
    objects and numpy's buffers alike, and fall when they are freed (RSS,
    with the interposer, need not). yep.memory_usage(backend="heap") gives the
    same figure from Python."""
    script = write_script(tmp_path, "heap.py", """
        import json, time
        import numpy as np
        import yep

        MIB = 2**20
        marks = {}

        def hold(name, make):
            time.sleep(0.05)
            marks[name + "_start"] = time.time()
            block = make()
            time.sleep(0.2)
            marks[name + "_freed"] = time.time()
            del block
            time.sleep(0.2)

        hold("bytes", lambda: bytearray(200 * MIB))    # a Python object: malloc under PYTHONMALLOC=malloc
        hold("numpy", lambda: np.ones(10 * MIB))       # numpy's buffer: 80 MiB from malloc
        marks["memory_usage"] = yep.memory_usage((bytearray, (50 * MIB,)), interval=0.001, backend="heap")
        json.dump(marks, open("marks.json", "w"))
    """)
    result = run_yep(["mprof", "run", "--heap", "--interval", "0.01", "-o", "h.dat", str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = read_dat(tmp_path / "h.dat")
    marks = json.loads((tmp_path / "marks.json").read_text())
    assert len(data.heap) > 50 and data.mem
    assert data.mem[0][1] - 0.05 <= data.heap[0][1] and data.heap[-1][1] <= data.mem[-1][1] + 0.05

    def heap_between(t0, t1):
        return [m for m, t in data.heap if t0 <= t <= t1]

    for name, mib in (("bytes", 200), ("numpy", 80)):
        start, freed = marks[name + "_start"], marks[name + "_freed"]
        before = heap_between(start - 0.04, start - 0.005)
        held = heap_between(start + 0.05, freed - 0.005)
        after = heap_between(freed + 0.05, freed + 0.15)
        assert before and held and after, (name, marks, data.heap)
        assert max(held) - max(before) == pytest.approx(mib, rel=0.01), (name, before, held)
        assert max(after) - max(before) == pytest.approx(0, abs=1), (name, before, after)
    samples = marks["memory_usage"]
    assert max(samples) - samples[0] == pytest.approx(50, rel=0.02), samples

    mprof = Path(sys.executable).with_name("mprof")
    if mprof.exists():  # memory_profiler reads the file, skipping the HEAP records
        peak = subprocess.run([str(mprof), "peak", "h.dat"], capture_output=True, text=True, cwd=tmp_path)
        assert peak.returncode == 0 and f"{data.peak:.3f}" in peak.stdout, peak.stderr
    not_python = run_yep(["mprof", "run", "--heap", "-o", "x.dat", "sleep", "0.1"], cwd=tmp_path)
    assert not_python.returncode == 2 and not_python.stderr.count("\n") == 1
    assert "--heap samples the heap of a Python program" in not_python.stderr


def test_default_name_and_memory_profiler_reads_it(tmp_path):
    script = write_script(tmp_path, "s.py", "import time\nx = bytearray(50 * 2**20)\ntime.sleep(0.2)\n")
    result = run_yep(["mprof", "run", str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [dat] = tmp_path.glob("mprofile_*.dat")
    mprof = Path(sys.executable).with_name("mprof")
    if not mprof.exists():
        pytest.skip("memory_profiler's mprof not installed (make test installs it)")
    peak = subprocess.run([str(mprof), "peak", str(dat)], capture_output=True, text=True, cwd=tmp_path)
    assert peak.returncode == 0, peak.stderr
    assert f"{read_dat(dat).peak:.3f}" in peak.stdout


def test_label_and_profile_are_free_outside_mprof(tmp_path):
    script = write_script(tmp_path, "plain.py", """
        import yep
        with yep.label("x"):
            pass
        def f():
            return 1
        assert yep.profile(f) is f
        print("ok")
    """)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr


def test_the_julia_example_runs_copied_out_of_the_repository(tmp_path):
    # The README's mprof example, as a user copies it: alone in a directory.
    example = Path(__file__).resolve().parents[1] / "examples" / "julia_mprof.py"
    (tmp_path / "julia_mprof.py").write_text(example.read_text())
    result = run_yep(["mprof", "run", "-o", "j.dat", "julia_mprof.py", "100"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("iterations: "), result.stdout
    data = read_dat(tmp_path / "j.dat")
    assert {f.name for f in data.funcs if f.is_label} == {".create_range_of_zs", ".calculate_output"}
    assert {f.name for f in data.funcs if not f.is_label} == {"__main__.calc_pure_python"}
