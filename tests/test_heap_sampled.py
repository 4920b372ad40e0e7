"""The sampled heap mode (python -m yep --heap --heap-sample SIZE,
yep.heap_start(sample=...)) end to end on the allocs fixture: its
estimates of known allocations over several seeds, on the right functions
and Python lines; reports that say they are sampled; snapshots, periodic
dumps and native stacks; reproducible seeds; clear errors."""
import os
import re
import subprocess
import sys

import pytest

import proto_reader
import yep
from conftest import definition_line, needs_program, run_yep, write_script

MiB = 1 << 20
SEEDS = (1, 2, 3, 4, 5)

# Rows of the text report in MiB: "flat flat% sum% cum cum%  name  file:line".
ROW = re.compile(r"^\s*(-?[\d.]+)MiB\s+(-?[\d.]+)%\s+(-?[\d.]+)%\s+(-?[\d.]+)MiB\s+(-?[\d.]+)%\s+(\S+)(?:\s+(\S+))?\s*$")

SCRIPT = """\
import allocs
allocs.alloc_big()
allocs.alloc_churn()
"""
BIG_LINE, CHURN_LINE = 2, 3


def rows_of(text):
    """[(name, 'file:line' or None, flat MiB, cum MiB)]"""
    return [(m.group(6), m.group(7), float(m.group(1)), float(m.group(4)))
            for m in map(ROW.match, text.splitlines()) if m]


def flat(rows, name):
    return sum(f for n, _, f, _ in rows if n == name)


def report(path, cwd, *args):
    result = run_yep(["report", str(path), "--nodecount", "0", *args], cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def sampled_python_run(tmp_path, name, program, mean, seed, pymalloc=""):
    """Runs PROGRAM (a script named NAME) under --heap-sample MEAN with
    Python's allocator PYMALLOC ("" for pymalloc itself): (the run, its last dump)."""
    script = write_script(tmp_path, name, program)
    result = run_yep(["--heap-sample", mean, "-o", "p", str(script)], cwd=tmp_path,
                     env={"YEP_HEAP_SEED": str(seed), "PYTHONMALLOC": pymalloc})
    assert result.returncode == 0, result.stderr
    return result, sorted(tmp_path.glob("p.*.heap"), key=lambda p: (len(p.name), p.name))[-1]


@pytest.fixture(scope="module")
def sampled_runs(allocs, tmp_path_factory):
    """One run of the script per seed at the default mean: {seed: (folder, last dump, stderr)}."""
    tmp = tmp_path_factory.mktemp("sampled")
    script = write_script(tmp, "mem.py", SCRIPT)
    runs = {}
    for seed in SEEDS:
        result = run_yep(["--heap", "--heap-sample", "512K", "-o", f"s{seed}", str(script)], cwd=tmp,
                         env={"PYTHONPATH": str(allocs), "YEP_HEAP_SEED": str(seed)})
        assert result.returncode == 0, result.stderr
        dumps = sorted(tmp.glob(f"s{seed}.*.heap"))
        assert dumps, result.stderr
        runs[seed] = (tmp, dumps[-1], result.stderr)
    return runs


def test_estimates_within_10_percent_for_every_seed(sampled_runs):
    churn = []
    for seed, (tmp, dump, _) in sampled_runs.items():
        inuse = rows_of(report(dump, tmp))
        allocated = rows_of(report(dump, tmp, "--sample-index", "alloc_space"))
        # In use: alloc_big's 64 MiB; the churn, all freed, exactly 0 (frees
        # of sampled blocks are matched exactly).
        assert flat(inuse, "alloc_big_impl") == pytest.approx(64, rel=0.10), (seed, inuse)
        assert flat(inuse, "alloc_churn_impl") == 0, (seed, inuse)
        # Allocated: 64 MiB + 1 GiB, each on its function.
        assert flat(allocated, "alloc_big_impl") == pytest.approx(64, rel=0.10), (seed, allocated)
        assert flat(allocated, "alloc_churn_impl") == pytest.approx(1024, rel=0.10), (seed, allocated)
        both = flat(allocated, "alloc_big_impl") + flat(allocated, "alloc_churn_impl")
        assert both == pytest.approx(64 + 1024, rel=0.10), (seed, allocated)
        churn.append(flat(allocated, "alloc_churn_impl"))
    # Different seeds, different samples: the estimates are not all one figure.
    assert len(set(churn)) > 1, churn


def test_samples_are_on_the_functions_and_python_lines(sampled_runs, allocs):
    tmp, dump, _ = sampled_runs[SEEDS[0]]
    lines = rows_of(report(dump, tmp, "--sample-index", "alloc_space", "--lines"))
    source = allocs / "allocs.c"
    where = {name: at for name, at, _, _ in lines if name in ("alloc_big_impl", "alloc_churn_impl")}
    # The malloc lines inside each function (allocs.c marks them).
    text = source.read_text().splitlines()
    assert text[int(where["alloc_big_impl"].split(":")[1]) - 1].strip().startswith("big[i] = malloc"), where
    assert "malloc(CHURN_BLOCK)" in text[int(where["alloc_churn_impl"].split(":")[1]) - 1], where
    # The script's lines: each call's line holds its function's bytes.
    cum = {at: c for name, at, _, c in lines if name == "<module>" and at and at.startswith("mem.py:")}
    assert cum[f"mem.py:{BIG_LINE}"] == pytest.approx(64, rel=0.10), lines
    assert cum[f"mem.py:{CHURN_LINE}"] == pytest.approx(1024, rel=0.10), lines
    # By function, alloc_big_impl is where allocs.c defines it.
    functions = rows_of(report(dump, tmp))
    big = [at for name, at, _, _ in functions if name == "alloc_big_impl"]
    assert big == [f"allocs.c:{definition_line(source, 'alloc_big_impl')}"]


def test_the_dump_and_the_report_say_sampled_and_the_rate(sampled_runs):
    tmp, dump, stderr = sampled_runs[SEEDS[0]]
    # The run's last line says it too.
    assert re.search(r"^yep: wrote s1\.0001\.heap.*: \d heap profiles? \(sampled: one allocation per 512 KiB on "
                     r"average\), peak about [\d.]+ MiB of native heap in use \(requested bytes\)$", stderr, re.M), stderr
    header, second = dump.read_text().splitlines()[:2]
    assert header.startswith("heap profile:") and header.endswith("@ heapprofile")
    assert second.startswith("# yep-sampled: 524288 ")
    text = report(dump, tmp)
    assert "# sampled: one allocation per 512 KiB on average was recorded; figures are estimates" in text
    # Other formats keep the comment too (folded has no place for it).
    report(dump, tmp, "--format", "dot", "-o", "sampled.dot")
    assert "one allocation per 512 KiB" in (tmp / "sampled.dot").read_text()
    # The proto: pprof's four sample types with the scaled figures, the
    # mean as the period, the comment among its comments.
    report(dump, tmp, "--format", "proto", "-o", "sampled.pb.gz")
    data = (tmp / "sampled.pb.gz").read_bytes()
    messages = proto_reader.profile_messages(data)
    strings = [v.decode() for n, _, v in messages if n == 6]
    assert [v for n, _, v in messages if n == 12] == [524288]
    comments = [strings[i] for n, w, v in messages if n == 13 for i in proto_reader.packed(v, w)]
    assert any(c.startswith("sampled: one allocation per 512 KiB") for c in comments), comments
    alloc_objects, alloc_space, _, inuse_space = proto_reader.sample_totals(data)
    header = re.match(r"heap profile:\s*(\d+):\s*(\d+) \[\s*(\d+):\s*(\d+)\]", dump.read_text())
    assert (alloc_objects, alloc_space, inuse_space) == (int(header[3]), int(header[4]), int(header[2]))


@needs_program("google-pprof", "go")
def test_google_pprof_and_go_pprof_read_the_sampled_dumps_alike(sampled_runs, tmp_path):
    tmp, dump, _ = sampled_runs[SEEDS[0]]
    ours = flat(rows_of(report(dump, tmp, "--sample-index", "alloc_space")), "alloc_churn_impl")
    perl = subprocess.run(["google-pprof", "--text", "--alloc_space", os.path.realpath(sys.executable), str(dump)],
                          capture_output=True, text=True, timeout=300)
    assert perl.returncode == 0, perl.stderr
    theirs = re.search(r"^\s*([\d.]+)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+\s+[\d.]+%\s+alloc_churn_impl", perl.stdout, re.M)
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"))
    go = subprocess.run(["go", "tool", "pprof", "-top", "-sample_index=alloc_space", str(dump)],
                        capture_output=True, text=True, timeout=300, env=env)
    assert go.returncode == 0, go.stderr
    go_mb = re.search(r"^\s*([\d.]+)MB\s+[\d.]+%\s+[\d.]+%\s+[\d.]+MB\s+[\d.]+%\s+alloc_churn_impl", go.stdout, re.M)
    # The comment line is skipped by both; the scaled figures are theirs too.
    assert theirs and go_mb, (perl.stdout, go.stdout)
    assert float(theirs.group(1)) == pytest.approx(ours, abs=0.1) and float(go_mb.group(1)) == pytest.approx(ours, abs=0.1)


def test_native_stacks_and_interval_dumps(allocs, tmp_path):
    script = write_script(tmp_path, "mem.py", SCRIPT)
    result = run_yep(["--heap", "--native", "--heap-sample", "256K", "--heap-interval", "256M", "-o", "n",
                      str(script)], cwd=tmp_path, env={"PYTHONPATH": str(allocs), "YEP_HEAP_SEED": "9"})
    assert result.returncode == 0, result.stderr
    dumps = sorted(tmp_path.glob("n.*.heap"), key=lambda p: (len(p.name), p.name))
    # About 1.06 GiB allocated (estimated): 4 dumps by volume, 1 at exit.
    assert len(dumps) >= 5, result.stderr
    assert all(d.read_text().splitlines()[1].startswith("# yep-sampled: 262144 ") for d in dumps)
    allocated = rows_of(report(dumps[-1], tmp_path, "--sample-index", "alloc_space"))
    assert flat(allocated, "alloc_churn_impl") == pytest.approx(1024, rel=0.10), allocated
    assert flat(rows_of(report(dumps[-1], tmp_path)), "alloc_big_impl") == pytest.approx(64, rel=0.10)
    assert "one allocation per 256 KiB" in report(dumps[-1], tmp_path)


def run_python(tmp_path, body, allocs, env=None):
    script = write_script(tmp_path, "api.py", body)
    full = dict(os.environ, PYTHONPATH=str(allocs), LD_PRELOAD=yep.heap.malloc_hooks_library(), **(env or {}))
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=full, capture_output=True, text=True,
                          timeout=120)


def test_api_snapshots_and_seeds(tmp_path, allocs):
    result = run_python(tmp_path, """
        import allocs, yep
        with yep.heap_profile("block", sample="512K", seed=3) as h:
            allocs.alloc_big()
            snapshot = yep.heap_dump("snapshot")
            allocs.alloc_churn()
        print(snapshot)
        # The same seed twice: the churn's samples are the same ones.
        for prefix in ("a", "b"):
            yep.heap_start(prefix, sample=64 << 10, seed=11)
            allocs.alloc_churn()
            print(yep.heap_stop()[-1])
        for bad in ("abc", -1, "2G", 1.5):
            try:
                yep.heap_start("x", sample=bad)
            except yep.YepError as e:
                print("error:", e)
        try:
            yep.heap_start("x", sample="512K", seed="s")
        except yep.YepError as e:
            print("error:", e)
        print("running", yep.heap_is_running())
    """, allocs)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    snapshot, a, b = lines[:3]
    # The snapshot, taken while recording: sampled, alloc_big's 64 MiB, no churn yet.
    assert open(snapshot).read().splitlines()[1].startswith("# yep-sampled: 524288 ")
    rows = rows_of(report(snapshot, tmp_path))
    assert flat(rows, "alloc_big_impl") == pytest.approx(64, rel=0.10)
    assert flat(rows_of(report(snapshot, tmp_path, "--sample-index", "alloc_space")), "alloc_churn_impl") == 0
    last = rows_of(report("block.0002.heap", tmp_path, "--sample-index", "alloc_space"))
    assert flat(last, "alloc_churn_impl") == pytest.approx(1024, rel=0.10)
    churn_a = flat(rows_of(report(a, tmp_path, "--sample-index", "alloc_space")), "alloc_churn_impl")
    churn_b = flat(rows_of(report(b, tmp_path, "--sample-index", "alloc_space")), "alloc_churn_impl")
    assert churn_a == churn_b == pytest.approx(1024, rel=0.05)
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == [
        "error: sample needs a size like 512K or 1M, not 'abc'",
        "error: sample needs a size like 512K or 1M, not '-1'",
        "error: sample takes a size from 1 byte to 1G, not '2G'",
        "error: sample needs a size like 512K or 1M, not 1.5",
        "error: seed must be a whole number from 0 to 2**63 - 1, not 's'",
    ], result.stdout
    assert "running False" in lines


@pytest.mark.parametrize("args, env, message", [
    (["--heap-sample", "abc"], {}, "--heap-sample needs a size like 512K or 1M, not 'abc'"),
    (["--heap-sample", "0"], {}, "--heap-sample takes a size from 1 byte to 1G, not '0'"),
    (["--heap-sample", "4G"], {}, "--heap-sample takes a size from 1 byte to 1G, not '4G'"),
    (["--heap-sample", "512K"], {"YEP_HEAP_SEED": "x"},
     "YEP_HEAP_SEED must be a whole number from 0 to 2**63 - 1, not 'x'"),
])
def test_bad_input_is_one_line_and_status_2(tmp_path, args, env, message):
    script = write_script(tmp_path, "s.py", "print('ran')\n")
    result = run_yep(["--heap", *args, str(script)], cwd=tmp_path, env=env)
    assert result.returncode == 2 and "ran" not in result.stdout, result
    assert result.stderr.strip().splitlines() == [f"yep: error: {message}"]


def test_subprocesses_sample_at_the_parents_mean(allocs, tmp_path):
    script = write_script(tmp_path, "tree.py", """
        import subprocess, sys
        import allocs
        allocs.alloc_big()
        subprocess.run([sys.executable, "-c", "import allocs; allocs.alloc_churn()"], check=True)
    """)
    result = run_yep(["--heap", "--heap-sample", "256K", "--subprocesses", "-o", "tree", str(script)], cwd=tmp_path,
                     env={"PYTHONPATH": str(allocs)})
    assert result.returncode == 0, result.stderr
    profiles = [p for p in (tmp_path / "tree").glob("*.heap") if p.name.count(".") == 1]
    assert len(profiles) == 2, list((tmp_path / "tree").iterdir())
    assert all(p.read_text().splitlines()[1].startswith("# yep-sampled: 262144 ") for p in profiles)
    text = report(tmp_path / "tree", tmp_path, "--sample-index", "alloc_space")
    assert text.count("sampled: one allocation per 256 KiB") == 2, text
    rows = rows_of(text)
    assert flat(rows, "alloc_churn_impl") == pytest.approx(1024, rel=0.10), text
    assert flat(rows, "alloc_big_impl") == pytest.approx(64, rel=0.10), text


def test_threads_count_down_on_their_own(allocs, tmp_path):
    # Four threads churn 1 GiB each: each has its own countdown and
    # generator, and the estimate of the 4 GiB holds.
    script = write_script(tmp_path, "threads.py", """
        import threading
        import allocs
        threads = [threading.Thread(target=allocs.alloc_churn) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    """)
    result = run_yep(["--heap", "--heap-sample", "512K", "-o", "t", str(script)], cwd=tmp_path,
                     env={"PYTHONPATH": str(allocs), "YEP_HEAP_SEED": "5"})
    assert result.returncode == 0, result.stderr
    dump = sorted(tmp_path.glob("t.*.heap"), key=lambda p: (len(p.name), p.name))[-1]
    allocated = rows_of(report(dump, tmp_path, "--sample-index", "alloc_space"))
    assert flat(allocated, "alloc_churn_impl") == pytest.approx(4096, rel=0.10), allocated
    assert flat(rows_of(report(dump, tmp_path)), "alloc_churn_impl") == 0


OBJECTS = """\
import sys
def build():
    return [str(i) * 4 for i in range(400_000)]
kept = build()
truth = sum(map(sys.getsizeof, kept)) + sys.getsizeof(kept)
print("truth", truth)
"""


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_python_objects_are_sampled_in_pymalloc_at_their_line(tmp_path, seed):
    # The sampled mode keeps pymalloc and samples its objects through
    # Python's allocator hooks: 400,000 str objects (and their list) kept by
    # the list comprehension's line, within 10%. At a mean of 32 KiB that is
    # about 1,000 samples, a standard error of 3% (at 512 KiB, 13%: each
    # sample of a small object stands for about the mean).
    result, last = sampled_python_run(tmp_path, "objs.py", OBJECTS, "32K", seed)
    truth = int(re.search(r"^truth (\d+)", result.stdout, re.M).group(1))
    rows = rows_of(report(last, tmp_path, "--sort", "cum"))
    # The function's row: the comprehension's own frame up to 3.11
    # (build.<locals>.<listcomp>, defined on line 3), build itself from 3.12 on.
    at = [cum for name, where, _, cum in rows if (name, where) in (("build.<locals>.<listcomp>", "objs.py:3"),
                                                                    ("build", "objs.py:2"))]
    assert at and max(at) == pytest.approx(truth / MiB, rel=0.10), (truth / MiB, rows[:8])


CHURNED_OBJECTS = """\
import sys
def churn():
    for _ in range(5):
        garbage = [str(i) * 4 for i in range(200_000)]
        del garbage
def build():
    return [str(i) * 4 for i in range(200_000)]
blocks = sys.getallocatedblocks()
churn()
kept = build()
print("blocks", sys.getallocatedblocks() - blocks - len(kept) - 1)
print("truth", sum(map(sys.getsizeof, kept)) + sys.getsizeof(kept))
"""


@pytest.mark.parametrize("pymalloc", ["", "pymalloc_debug"])
def test_python_objects_freed_leave_the_in_use_estimate(tmp_path, pymalloc):
    # 1,000,000 small str objects made and dropped, 200,000 kept. Their
    # frees must all be matched: the churning line holds nothing in use and
    # has allocated 5 times what the building line did, which holds the kept
    # bytes; and pymalloc's own count of its blocks stays right (a sampled
    # object is served outside pymalloc's pools: sys.getallocatedblocks()
    # once drifted by one per sampled object freed). Under pymalloc's debug
    # hooks (-X dev, PYTHONMALLOC=pymalloc_debug) the wrappers take the
    # marked path instead.
    result, last = sampled_python_run(tmp_path, "churn.py", CHURNED_OBJECTS, "16K", 7, pymalloc)
    truth = int(re.search(r"^truth (\d+)", result.stdout, re.M).group(1))
    # (the interpreter's own blocks come and go a little: a few hundred)
    assert abs(int(re.search(r"^blocks (-?\d+)", result.stdout, re.M).group(1))) < 2_000, result.stdout

    def at(rows, *functions):
        return max([cum for name, where, _, cum in rows if name in functions and where and where.startswith("churn.py")],
                   default=0)

    inuse = rows_of(report(last, tmp_path, "--sort", "cum"))
    allocated = rows_of(report(last, tmp_path, "--sort", "cum", "--sample-index", "alloc_space"))
    # (the comprehension's own frame up to 3.11, the function itself from 3.12 on)
    churned, built = ("churn", "churn.<locals>.<listcomp>"), ("build", "build.<locals>.<listcomp>")
    assert at(inuse, *built) == pytest.approx(truth / MiB, rel=0.10), inuse[:8]
    assert at(inuse, *churned) < 0.05 * truth / MiB, inuse[:8]
    # (each round allocates what build() does: its temporaries too)
    assert at(allocated, *churned) == pytest.approx(5 * at(allocated, *built), rel=0.10), allocated[:8]


GROWN_LISTS = """\
def grow():
    items = []
    for i in range(40):
        items.append(None)   # the item array grows by realloc, within pymalloc's pools
    return items
def churn():
    for _ in range(5):
        garbage = [grow() for _ in range(50_000)]
        del garbage
churn()
"""


@pytest.mark.parametrize("pymalloc", ["", "pymalloc_debug"])
def test_python_blocks_grown_by_realloc_are_matched_when_freed(tmp_path, pymalloc):
    # Lists grown item by item: their arrays are reallocated, small enough
    # to stay in pymalloc's pools. A sampled realloc must be matched when the
    # list dies like any other sample: everything made here is freed, so
    # nothing is left in use at grow's lines (once, samples of reallocs were
    # left in the pools, where frees are not seen: 66 MiB "in use"). The
    # samples also double the live map from Python's allocator (this run
    # once hung there).
    _, last = sampled_python_run(tmp_path, "grown.py", GROWN_LISTS, "16K", 3, pymalloc)
    grown = [(n, w, f) for n, w, f, _ in rows_of(report(last, tmp_path, "--sample-index", "alloc_space"))
             if n == "grow"]
    allocated = sum(f for _, _, f in grown)
    assert allocated > 20, grown  # (about 70 MiB of item arrays and lists)
    inuse = sum(f for n, _, f, _ in rows_of(report(last, tmp_path)) if n == "grow")
    assert inuse < 0.02 * allocated, (inuse, allocated)


def test_a_dump_asked_for_in_a_library_initializer_is_written(tmp_path):
    """OpenBLAS's initializer maps 32 MiB at numpy's import (a sample at
    once, standing for 32 MiB): that crosses a 16 MiB in-use interval and
    asks for a dump while the initializer's thread holds the loader's lock
    and waits. The dump must not need that lock (it did once: a
    thread_local's destructor, registered on first use, takes it)."""
    from conftest import require
    require("numpy")
    script = write_script(tmp_path, "imp.py", "import numpy\nprint('imported')\n")
    result = run_yep(["--heap", "--heap-sample", "512K", "--heap-inuse-interval", "16M", str(script)], cwd=tmp_path,
                     timeout=60, env={"YEP_HEAP_SEED": "1"})
    assert result.returncode == 0 and result.stdout == "imported\n", result.stderr
    assert len(list(tmp_path.glob("imp.py.*.heap"))) >= 2, result.stderr
