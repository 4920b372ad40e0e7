"""Native heap profiling end to end: `python -m yep --heap` on the allocs
fixture (known allocations), the heap API with yep's malloc interposer and without it,
--base, and the peers (google-pprof, go tool pprof) on the same files."""
import os
import re
import shutil
import subprocess
import sys

import pytest

import yep
from conftest import definition_line, needs_program, require, run_yep, write_script

MiB = 1 << 20

# Rows of the text report in MiB: "flat flat% sum% cum cum%  name  file:line".
ROW = re.compile(r"^\s*(-?[\d.]+)MiB\s+(-?[\d.]+)%\s+(-?[\d.]+)%\s+(-?[\d.]+)MiB\s+(-?[\d.]+)%\s+(\S+)(?:\s+(\S+))?\s*$")


def mib_rows(text):
    """{name: (flat MiB, cum MiB, 'file:line' or None)}"""
    return {m.group(6): (float(m.group(1)), float(m.group(4)), m.group(7))
            for m in map(ROW.match, text.splitlines()) if m}


def folded_bytes(profile_text, function):
    """Bytes of the stacks whose leaf is `function`, from folded output."""
    total = 0
    for line in profile_text.splitlines():
        stack, value = line.rsplit(" ", 1)
        if stack.split(";")[-1] == function:
            total += int(value)
    return total


SCRIPT = """
import os, sys
import numpy as np
import allocs
print("LD_PRELOAD", os.environ.get("LD_PRELOAD"), "PYTHONMALLOC", os.environ.get("PYTHONMALLOC"))
allocs.alloc_big()
allocs.alloc_churn()
array = np.ones(10_000_000)   # 80,000,000 bytes
sys.exit(5)
"""


@pytest.fixture(scope="module")
def heap_run(allocs, tmp_path_factory):
    require("numpy")
    tmp = tmp_path_factory.mktemp("heap")
    script = write_script(tmp, "mem.py", SCRIPT)
    result = run_yep(["--heap", "-v", "--nodecount", "0", str(script)], cwd=tmp,
                     env={"PYTHONPATH": str(allocs), "LD_PRELOAD": "", "PYTHONMALLOC": ""})
    files = sorted(tmp.glob("mem.py.*.heap"))
    return tmp, result, files


def test_heap_run_passes_the_program_through(heap_run):
    tmp, result, files = heap_run
    assert result.returncode == 5, result.stderr
    # The program sees the environment it was started with, not yep's.
    assert result.stdout.startswith("LD_PRELOAD  PYTHONMALLOC \n"), result.stdout
    line = re.search(r"^yep: wrote mem\.py\.0001\.heap.*heap profiles?(?:, the [^,]+ stacks in mem\.py\.stacks)?, "
                     r"peak ([\d.]+) MiB of native heap in use "
                     r"\(requested bytes\)$",
                     result.stderr, re.M)
    assert files and line, result.stderr
    # Peak: requested bytes, as the profile counts them. Everything big is kept
    # to the end (alloc_big's 64 MiB, the 76.3 MiB array, OpenBLAS's mmap'ed
    # buffers), so the peak is the last profile's total in use, plus at most
    # the churn's one 4 KiB block and the interpreter's passing garbage.
    total = float(re.search(r"^Total: ([\d.]+)MiB$", run_yep(["report", files[-1].name], cwd=tmp).stdout, re.M).group(1))
    assert 64 + 76.3 <= total <= float(line.group(1)) + 0.05 <= total + 2, (total, line.group(0))  # (peak: 0.1 MiB)


def test_inuse_report_puts_64_mib_on_alloc_big_with_its_line(heap_run, allocs):
    tmp, result, files = heap_run
    assert "Type: inuse_space" in result.stdout
    rows = mib_rows(result.stdout)
    flat, _, where = rows["alloc_big_impl"]
    assert flat == pytest.approx(64, rel=0.01), result.stdout
    assert where == f"allocs.c:{definition_line(allocs / 'allocs.c', 'alloc_big_impl')}"
    # The churn is all freed: nothing of it in use.
    assert rows.get("alloc_churn_impl", (0,))[0] < 0.01
    # The numpy array: 80,000,000 bytes on numpy's allocation path.
    assert any(76.29 <= flat <= 76.29 * 1.01 for flat, _, _ in rows.values()), result.stdout


def test_alloc_report_shows_the_churn(heap_run):
    tmp, _, files = heap_run
    result = run_yep(["report", files[-1].name, "--sample-index", "alloc_space", "--nodecount", "0"], cwd=tmp)
    assert result.returncode == 0, result.stderr
    assert "Type: alloc_space" in result.stdout
    flat, _, _ = mib_rows(result.stdout)["alloc_churn_impl"]
    assert flat == pytest.approx(1024, rel=0.01)
    objects = run_yep(["report", files[-1].name, "--sample-index", "alloc_objects", "--format", "folded"], cwd=tmp)
    assert folded_bytes(objects.stdout, "alloc_churn_impl") == (1 << 30) // 4096


@needs_program("google-pprof", "go")
def test_google_pprof_and_go_pprof_read_the_heap_profiles(heap_run, tmp_path):
    tmp, result, files = heap_run
    ours = list(mib_rows(result.stdout).items())[:2]  # numpy's 76.3 MiB array, then alloc_big_impl's 64 MiB
    out = subprocess.run(["google-pprof", "--text", "--inuse_space", os.path.realpath(sys.executable),
                          str(files[-1])], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    theirs = re.findall(r"^\s*([\d.]+)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+\s+[\d.]+%\s+(\S+)", out.stdout, re.M)[:2]
    proto = tmp_path / "heap.pb.gz"
    assert run_yep(["report", str(files[-1]), "--format", "proto", "-o", str(proto)], cwd=tmp).returncode == 0
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"))
    go = subprocess.run(["go", "tool", "pprof", "-top", "-sample_index=inuse_space", str(proto)],
                        capture_output=True, text=True, timeout=300, env=env)
    assert go.returncode == 0, go.stderr
    scale = {"B": 1 / MiB, "kB": 1 / 1024, "MB": 1, "GB": 1024}  # go pprof's units are powers of 1024
    go_top = [(float(size) * scale[unit], name) for size, unit, name in re.findall(
        r"^\s*([\d.]+)(B|kB|MB|GB)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+[kMG]?B\s+[\d.]+%\s+(\S+)", go.stdout, re.M)[:2]]
    # Same two top entries, same sizes (google-pprof and go pprof print MiB as "MB").
    assert [name for name, _ in ours] == [name for _, name in theirs] == [name for _, name in go_top], \
        (ours, out.stdout, go.stdout)
    for (_, (flat, _, _)), (size, _), (go_size, _) in zip(ours, theirs, go_top):
        assert float(size) == pytest.approx(flat, abs=0.1) and float(go_size) == pytest.approx(flat, abs=0.1)
    assert ours[1][0] == "alloc_big_impl" and ours[1][1][0] == pytest.approx(64, rel=0.01)


def test_base_shows_exactly_the_leak(allocs, tmp_path):
    script = write_script(tmp_path, "leaky.py", """
        import allocs, yep
        before = yep.heap_dump("before")
        for _ in range(5):
            allocs.leak(1)
        after = yep.heap_dump("after")
        print(before, after)
    """)
    result = run_yep(["--heap", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(allocs)})
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.split()
    grew = run_yep(["report", after, "--base", before, "--format", "folded"], cwd=tmp_path)
    assert grew.returncode == 0, grew.stderr
    assert folded_bytes(grew.stdout, "leak_impl") == 5 * MiB
    text = run_yep(["report", after, "--base", before, "--nodecount", "3"], cwd=tmp_path).stdout
    # The comparison's table: base, new, change, change% of the base; the leak first.
    first = text.splitlines()[text.splitlines().index(
        "      base        new     change  change%  name") + 1].split()
    assert first[2] == "+5.00MiB" and first[4] == "leak_impl", text
    convert = subprocess.run([os.path.join(os.path.dirname(sys.executable), "yep-convert"), "--base", before,
                              "--format", "folded", after], cwd=tmp_path, capture_output=True, text=True)
    assert convert.returncode == 0 and folded_bytes(convert.stdout, "leak_impl") == 5 * MiB


def test_interval_dumps(allocs, tmp_path):
    script = write_script(tmp_path, "churn.py", "import allocs\nallocs.alloc_churn()\n")
    result = run_yep(["--heap", "--heap-interval", "256M", "-o", "c", str(script)], cwd=tmp_path,
                     env={"PYTHONPATH": str(allocs)})
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("c.*.heap"))) >= 5  # 4 by volume, 1 at exit


def run_python(tmp_path, body, preload, allocs):
    script = write_script(tmp_path, "api.py", body)
    env = dict(os.environ, PYTHONPATH=str(allocs))
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = yep.heap.malloc_hooks_library()
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def test_heap_api_and_stats_with_hooks(tmp_path, allocs):
    result = run_python(tmp_path, """
        import allocs, yep
        with yep.heap_profile("block") as h:
            allocs.alloc_big()
        print("files", len(h.files), h.files[-1].endswith("block.0001.heap"))
        before = yep.heap_stats(reset_peak=True)
        allocs.free_big()
        freed = yep.heap_stats()
        allocs.alloc_big()
        again = yep.heap_stats()
        MiB = 1 << 20
        print("freed", round((before["live_bytes"] - freed["live_bytes"]) / MiB))
        print("peak kept", freed["peak_bytes"] >= before["live_bytes"])
        print("again", round((again["live_bytes"] - freed["live_bytes"]) / MiB))
        yep.heap_start("x")
        try:
            yep.heap_start("y")
        except yep.YepError as e:
            print("twice:", e)
        yep.heap_stop()
        try:
            yep.heap_stop()
        except yep.YepError as e:
            print("stop:", e)
        try:
            yep.heap_start("/nonexistent-dir/x")
        except yep.YepError as e:
            print("bad:", e)
    """, True, allocs)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "files 1 True" in out
    assert "freed 64" in out and "peak kept True" in out and "again 64" in out
    assert "twice: the heap profiler is already running" in out
    assert "stop: the heap profiler is not running" in out
    assert "bad: cannot write heap profiles to '/nonexistent-dir/x'" in out
    rows = mib_rows(run_yep(["report", "block.0001.heap"], cwd=tmp_path).stdout)
    assert rows["alloc_big_impl"][0] == pytest.approx(64, rel=0.01)


@pytest.mark.parametrize("sample", [None, "512K"])
def test_a_session_never_stopped_writes_its_last_profile_at_exit(tmp_path, allocs, sample):
    # Before, the interval thread's destructor aborted the program at exit
    # (status 134, no profile).
    result = run_python(tmp_path, f"""
        import sys, allocs, yep
        yep.heap_start("left", sample={sample!r}, seed=7)
        allocs.alloc_big()
        print("leaving", flush=True)
        sys.exit(4)
    """, True, allocs)
    assert (result.returncode, result.stdout, result.stderr) == (4, "leaving\n", ""), result.stderr
    assert sorted(p.name for p in tmp_path.glob("left.*")) == ["left.0001.heap"]
    rows = mib_rows(run_yep(["report", "left.0001.heap"], cwd=tmp_path).stdout)
    assert rows["alloc_big_impl"][0] == pytest.approx(64, rel=0.01 if not sample else 0.3)


def test_heap_api_without_the_interposer_says_how_to_run(tmp_path, allocs):
    result = run_python(tmp_path, """
        import yep
        for call in (lambda: yep.heap_start("x"), yep.heap_stats, lambda: yep.heap_dump("r")):
            try:
                call()
            except yep.YepError as e:
                print("error:", e)
        print("alive")
    """, False, allocs)
    assert result.returncode == 0, result.stderr
    lines = [l for l in result.stdout.splitlines() if l.startswith("error:")]
    assert len(lines) == 3
    for line in lines:
        assert "yep's malloc hooks are not in this process" in line
        assert "python -m yep --heap" in line and "LD_PRELOAD=" in line
    assert "alive" in result.stdout
    assert not list(tmp_path.glob("x.*.heap"))


def test_heap_cli_errors(tmp_path, allocs):
    script = write_script(tmp_path, "s.py", "print('ran')\n")
    result = run_yep(["--heap", "-o", "/nonexistent-dir/p", str(script)], cwd=tmp_path)
    assert result.returncode == 2 and "ran" not in result.stdout
    assert result.stderr.strip().splitlines() == [
        "yep: error: cannot write heap profiles to '/nonexistent-dir/p': the directory /nonexistent-dir does not exist"]
    result = run_yep(["--heap", "-c", str(script)], cwd=tmp_path)
    assert result.returncode == 2 and "--heap profiles memory" in result.stderr


def test_truncated_and_broken_heap_files(heap_run, tmp_path):
    tmp, _, files = heap_run
    text = files[-1].read_text()
    (tmp_path / "cut.heap").write_text(text[:text.index("MAPPED_LIBRARIES")])  # no maps
    result = run_yep(["report", "cut.heap"], cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "cut.heap" in result.stderr
    # gperftools' 1 MiB cap drops trailing buckets but keeps the maps: read, said.
    header, rest = text.split("\n", 1)
    buckets, maps = rest.split("\nMAPPED_LIBRARIES:", 1)
    lines = buckets.splitlines()
    (tmp_path / "capped.heap").write_text(header + "\n" + "\n".join(lines[:len(lines) // 2]) + "\nMAPPED_LIBRARIES:"
                                          + maps)
    result = run_yep(["report", "capped.heap"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "truncated" in result.stdout


def test_interposer_from_a_folder_whose_path_has_spaces_is_preloaded(tmp_path):
    # The loader splits LD_PRELOAD at spaces: a virtual environment in
    # "My Projects" must still get its interposer preloaded (by file name, the
    # folder in LD_LIBRARY_PATH), and the program its own environment back.
    from yep.preload import preload_environment

    folder = tmp_path / "My Projects" / "lib dir"
    folder.mkdir(parents=True)
    library = folder / os.path.basename(os.path.realpath(yep.heap.malloc_hooks_library()))
    shutil.copy(os.path.realpath(yep.heap.malloc_hooks_library()), library)
    env = dict(os.environ, LD_LIBRARY_PATH="/nonexistent")
    env.pop("LD_PRELOAD", None)
    env.update(preload_environment(env, str(library)))
    assert env["LD_PRELOAD"] == library.name and env["LD_LIBRARY_PATH"] == f"{folder}:/nonexistent"
    check = subprocess.run([sys.executable, "-c", "import yep._native as n; print(n.malloc_hooks_available())"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and check.stdout == "True\n", check
    # And through yep: --heap restarts the program under it, in its own environment.
    script = write_script(tmp_path, "spaces.py", "import os\nprint(os.environ.get('LD_PRELOAD'))\n")
    result = run_yep(["--heap", "-o", str(tmp_path / "My Projects" / "h"), str(script)], cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "None\n", result
    assert (tmp_path / "My Projects" / "h.0001.heap").exists()
