"""The sampled heap mode (--heap-sample) outside `yep --heap`: in
`yep mprof run --heap`, whose HEAP line is then the sampled profiler's
estimate of the bytes in use, said so in the file and in the plot. Checked
on the allocs fixture, which keeps 64 MiB in 8 blocks."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_yep, write_script

MIB = 2 ** 20


def read_dat(path):
    from yep import mprof_file

    return mprof_file.read(path)


HOLDS_64_MIB = """
    import json, time
    import allocs

    marks = {"start": time.time()}
    time.sleep(0.2)
    allocs.alloc_big()          # 64 MiB in 8 blocks, kept
    marks["held"] = time.time()
    time.sleep(0.4)
    marks["end"] = time.time()
    json.dump(marks, open("marks.json", "w"))
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mprof_heap_line_from_the_sampled_profiler(allocs, tmp_path, seed):
    script = write_script(tmp_path, "hold.py", HOLDS_64_MIB)
    result = run_yep(["mprof", "run", "--heap-sample", "512K", "--interval", "0.02", "-o", "s.dat", str(script)],
                     cwd=tmp_path, env={"PYTHONPATH": str(allocs), "YEP_HEAP_SEED": str(seed)})
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "s.dat").read_text()
    assert "HEAPSAMPLED 524288\n" in text  # the file says the HEAP figures are estimates at that mean
    data = read_dat(tmp_path / "s.dat")
    assert data.heap_sample == 512 * 1024
    marks = json.loads((tmp_path / "marks.json").read_text())
    before = [m for m, t in data.heap if t < marks["start"] + 0.15]
    held = [m for m, t in data.heap if marks["held"] + 0.05 <= t <= marks["end"]]
    assert before and held, (marks, data.heap)
    # The profiler starts with the program: what it estimates is what the
    # program allocated since, the 64 MiB and a little of Python's own.
    assert max(held) - min(before) == pytest.approx(64, rel=0.10), (before, held)
    assert max(held) == pytest.approx(64, rel=0.10), held
    # No interval dumps nor a last one are left behind.
    assert not list(tmp_path.glob("*.heap"))
    mprof = Path(sys.executable).with_name("mprof")
    if mprof.exists():  # memory_profiler still reads the file, skipping the HEAP* records
        peak = subprocess.run([str(mprof), "peak", "s.dat"], capture_output=True, text=True, cwd=tmp_path)
        assert peak.returncode == 0 and f"{data.peak:.3f}" in peak.stdout, peak.stderr


def test_mprof_sampled_plot_and_exact_file_unchanged(allocs, tmp_path):
    pytest.importorskip("matplotlib")
    script = write_script(tmp_path, "hold.py", HOLDS_64_MIB)
    env = {"PYTHONPATH": str(allocs)}
    assert run_yep(["mprof", "run", "--heap-sample", "1M", "-o", "s.dat", str(script)], cwd=tmp_path,
                   env=env).returncode == 0
    assert run_yep(["mprof", "run", "--heap", "-o", "e.dat", str(script)], cwd=tmp_path, env=env).returncode == 0
    assert read_dat(tmp_path / "s.dat").heap_sample == MIB
    assert read_dat(tmp_path / "e.dat").heap_sample == 0 and "HEAPSAMPLED" not in (tmp_path / "e.dat").read_text()
    for name in ("s", "e"):
        plotted = run_yep(["mprof", "plot", "-o", f"{name}.svg", f"{name}.dat"], cwd=tmp_path)
        assert plotted.returncode == 0, plotted.stderr
    assert "sampled every 1 MiB: estimates" in (tmp_path / "s.svg").read_text()
    assert "sampled" not in (tmp_path / "e.svg").read_text()


@pytest.mark.parametrize("value", ["lots", "0", "2G", "-1K", ""])
def test_mprof_bad_heap_sample_is_one_line(tmp_path, value):
    script = write_script(tmp_path, "ok.py", "pass\n")
    result = run_yep(["mprof", "run", "--heap-sample", value, "-o", "x.dat", str(script)], cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--heap-sample" in result.stderr
    assert not (tmp_path / "x.dat").exists()


def test_mprof_heap_sample_needs_a_python_program(tmp_path):
    result = run_yep(["mprof", "run", "--heap-sample", "512K", "-o", "x.dat", "sleep", "0.1"], cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "samples the heap of a Python program" in result.stderr


def test_sampled_heap_metric_needs_the_sampled_profiler_and_the_record_round_trips(tmp_path):
    from yep import YepError, mprof_file
    from yep.native import native as _native

    native = _native()
    with pytest.raises(YepError, match="sampled heap profiler is not running"):
        native.RssSampler(0, 0.1, native.MemoryMetric.HEAP_SAMPLED)
    data = mprof_file.MprofData(cmdline="x.py", mem=[(1.0, 10.0)], heap=[(2.0, 10.0)], heap_sample=65536)
    mprof_file.write(tmp_path / "r.dat", data)
    assert mprof_file.read(tmp_path / "r.dat").heap_sample == 65536
    (tmp_path / "bad.dat").write_text("MEM 1.0 10.0\nHEAPSAMPLED lots\n")
    with pytest.raises(YepError, match="not an mprof record"):
        mprof_file.read(tmp_path / "bad.dat")
    assert mprof_file.sample_text(512 * 1024) == "512 KiB" and mprof_file.sample_text(1000) == "1000 bytes"
