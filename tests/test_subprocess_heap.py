"""python -m yep --heap --subprocesses: every Python process the program
starts (multiprocessing's fork, spawn and forkserver pools, subprocess of
a Python, os.fork, os.execv of a Python) records its native heap into one
folder, <pid>.heap each, read back as one heap profile whose samples carry
their process (yep/subprocesses/heap.py). Checked against the truth of a C
extension compiled here, whose functions allocate known bytes: kept (in
use at the process's end) and churned (allocated and freed). Non-Python
children and exit statuses pass through. Each run has a timeout, so a
hang fails."""
import gzip
import os
import pstats
import re

import pytest

import yep
from conftest import build_extension, run_yep, write_script
from proto_reader import fields, packed

MiB = 1 << 20

KIDS_C = r"""
/* Known allocations, each malloc called from the function named here (the
 * leaf of its stacks): what is kept stays allocated to the process's end.
 *   hot()    keeps 3 MiB (3 blocks), allocates and frees 12 MiB (4 KiB blocks)
 *   cold()   keeps 1 MiB (1 block),  allocates and frees 4 MiB (4 KiB blocks)
 *   keep(n)  keeps n bytes (1 block) */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1L << 20)
#define CHURN_BLOCK 4096L

void *volatile kids_escape;
static void *kept[1 << 16];
static long nkept;

static void hold(void *p) {
    kids_escape = p;
    if (nkept < (long)(sizeof kept / sizeof kept[0])) kept[nkept++] = p;
}

__attribute__((noinline, noclone)) void hot_impl(void) {
    for (int i = 0; i < 3; ++i) {
        char *p = malloc(MIB);
        memset(p, 1, MIB);
        hold(p);
    }
    for (long done = 0; done < 12 * MIB; done += CHURN_BLOCK) {
        char *p = malloc(CHURN_BLOCK);
        p[0] = (char)done;
        kids_escape = p;
        free(p);
    }
}

__attribute__((noinline, noclone)) void cold_impl(void) {
    char *p = malloc(MIB);
    memset(p, 1, MIB);
    hold(p);
    for (long done = 0; done < 4 * MIB; done += CHURN_BLOCK) {
        char *q = malloc(CHURN_BLOCK);
        q[0] = (char)done;
        kids_escape = q;
        free(q);
    }
}

__attribute__((noinline, noclone)) void keep_impl(long bytes) {
    char *p = malloc(bytes);
    memset(p, 2, bytes);
    hold(p);
}

static PyObject *hot(PyObject *self, PyObject *unused) { hot_impl(); Py_RETURN_NONE; }
static PyObject *cold(PyObject *self, PyObject *unused) { cold_impl(); Py_RETURN_NONE; }
static PyObject *keep(PyObject *self, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    keep_impl(n);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"hot", hot, METH_NOARGS, "keep 3 MiB, churn 12 MiB"},
    {"cold", cold, METH_NOARGS, "keep 1 MiB, churn 4 MiB"},
    {"keep", keep, METH_O, "keep n bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "kids", NULL, -1, methods};

PyMODINIT_FUNC PyInit_kids(void) { return PyModule_Create(&module); }
"""

# What one call allocates (alloc_space) and keeps (inuse_space), in bytes.
TRUTH = {"hot_impl": (15 * MiB, 3 * MiB), "cold_impl": (5 * MiB, 1 * MiB)}


@pytest.fixture(scope="module")
def kids(tmp_path_factory):
    """Directory holding the compiled `kids` extension."""
    outdir = tmp_path_factory.mktemp("kids")
    (outdir / "kids.c").write_text(KIDS_C)
    build_extension(outdir / "kids.c", outdir)
    return outdir


def report(cwd, folder, *args):
    result = run_yep(["report", *args, str(folder)], cwd=cwd, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def by_process(folded):
    """{pid: {leaf function: bytes}} from `yep report --processes --format
    folded`, and {pid: root label}."""
    values, labels = {}, {}
    for line in folded.splitlines():
        stack, value = line.rsplit(" ", 1)
        frames = stack.split(";")
        m = re.search(r"\((\d+)(?:, fork of \d+)?\)$", frames[0])
        assert m, frames[0]
        pid = int(m.group(1))
        labels[pid] = frames[0]
        leaf = values.setdefault(pid, {})
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + int(value)
    return values, labels


def leaf_totals(folded):
    out = {}
    for line in folded.splitlines():
        stack, value = line.rsplit(" ", 1)
        leaf = stack.split(";")[-1]
        out[leaf] = out.get(leaf, 0) + int(value)
    return out


# Four tasks of each kind on a pool of two; the parent keeps 2 MiB itself.
POOL = """
import multiprocessing as mp
import os

import kids


def hot_task(_):
    kids.hot()
    return "hot", os.getpid()


def cold_task(_):
    kids.cold()
    return "cold", os.getpid()


def main():
    kids.keep(2 << 20)
    ctx = mp.get_context("{method}")
    with ctx.Pool(2) as pool:  # leaving it terminates the workers (SIGTERM)
        results = [r.get() for r in [pool.apply_async(t, (i,)) for i, t in enumerate([hot_task, cold_task] * 4)]]
    print("MAIN", os.getpid())
    for kind, pid in results:
        print("RAN", kind, pid)


if __name__ == "__main__":
    main()
"""


@pytest.fixture(scope="module", params=["fork", "spawn", "forkserver"])
def pool_tree(request, kids, tmp_path_factory):
    method = request.param
    tmp = tmp_path_factory.mktemp(f"pool-{method}")
    script = write_script(tmp, "pool.py", POOL.format(method=method))
    result = run_yep(["--heap", "--subprocesses", "-o", "tree", str(script)], cwd=tmp,
                     env={"PYTHONPATH": str(kids)}, timeout=180)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^yep: wrote tree: one heap profile per process", result.stderr, re.M), result.stderr
    main = int(re.search(r"^MAIN (\d+)$", result.stdout, re.M).group(1))
    ran = {}
    for kind, pid in re.findall(r"^RAN (\w+) (\d+)$", result.stdout, re.M):
        ran.setdefault(int(pid), {"hot": 0, "cold": 0})[kind] += 1
    assert sum(sum(r.values()) for r in ran.values()) == 8, result.stdout
    return method, tmp, main, ran


def test_a_pools_workers_hold_their_tasks_known_bytes_each_under_its_process(pool_tree):
    method, tmp, main, ran = pool_tree
    for index in ("alloc_space", "inuse_space"):
        column = 0 if index == "alloc_space" else 1
        # Merged: the tree's bytes on the worker functions, 3:1.
        totals = leaf_totals(report(tmp, "tree", "--sample-index", index, "--format", "folded").stdout)
        assert totals["hot_impl"] == 4 * TRUTH["hot_impl"][column], (index, totals.get("hot_impl"))
        assert totals["cold_impl"] == 4 * TRUTH["cold_impl"][column], (index, totals.get("cold_impl"))
        assert totals["hot_impl"] == 3 * totals["cold_impl"]
        # One root per process: each worker holds exactly what its tasks did.
        values, labels = by_process(report(tmp, "tree", "--processes", "--sample-index", index,
                                           "--format", "folded").stdout)
        for pid, kinds in ran.items():
            assert pid in values, (pid, labels)
            assert values[pid].get("hot_impl", 0) == kinds["hot"] * TRUTH["hot_impl"][column], (pid, values[pid])
            assert values[pid].get("cold_impl", 0) == kinds["cold"] * TRUTH["cold_impl"][column], (pid, values[pid])
            assert ("fork of" in labels[pid]) == (method != "spawn"), labels[pid]
            assert "keep_impl" not in values[pid], values[pid]  # a forked worker: its own, from the fork on
        # The parent's own 2 MiB, kept to its end, under the parent alone.
        assert values[main]["keep_impl"] == 2 * MiB, values[main]
        assert "pool.py" in labels[main] and "fork of" not in labels[main], labels[main]
        assert "hot_impl" not in values[main] and "cold_impl" not in values[main], values[main]


def label_totals(pb_gz, function, index):
    """{process label: value `index`} of the proto's samples whose leaf is `function`."""
    messages = list(fields(gzip.decompress(pb_gz)))
    strings = [v.decode() for n, _, v in messages if n == 6]
    names = {}
    for n, _, message in messages:
        if n == 5:
            f = {k: v for k, _, v in fields(message)}
            names[f.get(1)] = strings[f.get(2, 0)]
    leaf_of = {}
    for n, _, message in messages:
        if n == 4:
            loc = {k: v for k, _, v in fields(message) if k == 1}
            lines = [{k: v for k, _, v in fields(v)} for k, _, v in fields(message) if k == 4]
            leaf_of[loc[1]] = names.get(lines[0].get(1)) if lines else None
    out = {}
    for n, _, message in messages:
        if n != 2:
            continue
        ids, values, labels = [], [], {}
        for k, w, v in fields(message):
            if k == 1:
                ids += packed(v, w)
            elif k == 2:
                values += packed(v, w)
            elif k == 3:
                label = {lk: lv for lk, _, lv in fields(v)}
                labels[strings[label[1]]] = strings[label.get(2, 0)]
        if ids and leaf_of.get(ids[0]) == function:
            out[labels["process"]] = out.get(labels["process"], 0) + values[index]
    return out


def test_every_output_format_reads_the_tree_as_one_heap_profile(pool_tree, tmp_path):
    method, tmp, main, ran = pool_tree
    hot_kept = 4 * TRUTH["hot_impl"][1]
    # yep.load(FOLDER): one heap profile.
    profile = yep.load(tmp / "tree")
    assert [t for t, _ in profile.sample_types] == ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"]
    assert leaf_totals(profile.folded())["hot_impl"] == hot_kept
    # Text: the in-use bytes of each worker function.
    text = report(tmp, "tree", "--nodecount", "0").stdout
    assert "Type: inuse_space" in text
    rows = {m.group(2): float(m.group(1)) for m in re.finditer(r"^\s*([\d.]+)MiB\s.*?%\s+(\w+)\s", text, re.M)}
    assert rows["hot_impl"] == pytest.approx(12, abs=0.005) and rows["cold_impl"] == pytest.approx(4, abs=0.005), text
    # pstats: a function's own time is its bytes.
    report(tmp, "tree", "--format", "pstats", "-o", str(tmp_path / "t.pstats"))
    own = {k[2]: v[2] for k, v in pstats.Stats(str(tmp_path / "t.pstats")).stats.items()}
    assert own["hot_impl"] == hot_kept and own["cold_impl"] == hot_kept / 3, own
    # callgrind: hot_impl's own cost lines, all four events.
    report(tmp, "tree", "--format", "callgrind", "-o", str(tmp_path / "t.callgrind"))
    costs, current, names, after_calls = [0, 0, 0, 0], None, {}, False
    for line in (tmp_path / "t.callgrind").read_text().splitlines():
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:  # name compression: "(id) name" the first time, "(id)" after
            names.setdefault(m.group(2), m.group(3))
            if m.group(1) == "fn":
                current = names[m.group(2)]
        elif line.startswith("calls="):
            after_calls = True  # the next cost line is the call's inclusive cost
        elif re.match(r"^\d+( \d+){4}$", line):
            if current == "hot_impl" and not after_calls:
                costs = [a + int(b) for a, b in zip(costs, line.split()[1:])]
            after_calls = False
    assert costs[1] == 4 * TRUTH["hot_impl"][0] and costs[3] == hot_kept, costs
    # proto: each sample labelled with its process; the workers' bytes by label.
    report(tmp, "tree", "--format", "proto", "-o", str(tmp_path / "t.pb.gz"))
    by_label = label_totals((tmp_path / "t.pb.gz").read_bytes(), "hot_impl", 3)
    expected = {pid: kinds["hot"] * TRUTH["hot_impl"][1] for pid, kinds in ran.items() if kinds["hot"]}
    pids = {int(re.search(r"\((\d+)(?:, fork of \d+)?\)$", label).group(1)): v for label, v in by_label.items()}
    assert pids == expected and len(by_label) == len(expected), by_label
    # The flame graph: one root per process.
    report(tmp, "tree", "--processes", "--format", "html", "-o", str(tmp_path / "t.html"))
    page = (tmp_path / "t.html").read_text()
    assert "hot_impl" in page and all(f"({pid}" in page for pid in ran), method


TREE = """
import os, subprocess, sys

import kids


def main():
    print("MAIN", os.getpid(), flush=True)
    kids.keep(1 << 20)
    subprocess.run([sys.executable, "child.py"], check=True)
    subprocess.run(["true"], check=True)  # not a Python: runs as before, in the program's environment
    sh = subprocess.run(["sh", "-c", 'echo "preload=[$LD_PRELOAD] malloc=[$PYTHONMALLOC]"; exit 6'],
                        capture_output=True, text=True)
    print("SH", sh.returncode, sh.stdout.strip(), flush=True)
    pid = os.fork()
    if pid == 0:
        kids.keep(3 << 20)
        os._exit(3)
    print("FORK", pid, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "execd.py"])
    print("EXECD", pid, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
    sys.exit(5)


main()
"""

CHILD = """
import os

import kids

print("CHILD", os.getpid(), os.environ.get("LD_PRELOAD", "-"), os.environ.get("PYTHONMALLOC", "-"), flush=True)
kids.keep(2 << 20)
"""

EXECD = """
import sys

import kids

kids.keep(4 << 20)
sys.exit(4)
"""


def test_subprocess_fork_and_exec_children_each_have_their_process_and_bytes(tmp_path, kids):
    write_script(tmp_path, "child.py", CHILD)
    write_script(tmp_path, "execd.py", EXECD)
    script = write_script(tmp_path, "tree.py", TREE)
    # PYTHONMALLOC as the user set it: the program and its children see it,
    # though yep runs each Python with malloc; periodic dumps in every process.
    result = run_yep(["--heap", "--subprocesses", "--heap-interval", "2M", str(script)], cwd=tmp_path,
                     env={"PYTHONPATH": str(kids), "PYTHONMALLOC": "pymalloc"}, timeout=120)
    assert result.returncode == 5, result.stderr  # the program's own status
    out = result.stdout
    main = int(re.search(r"^MAIN (\d+)$", out, re.M).group(1))
    child = int(re.search(r"^CHILD (\d+) - pymalloc$", out, re.M).group(1))  # its environment, not yep's
    assert "SH 6 preload=[] malloc=[pymalloc]" in out, out
    forked, status = map(int, re.search(r"^FORK (\d+) (-?\d+)$", out, re.M).groups())
    execd, execd_status = map(int, re.search(r"^EXECD (\d+) (-?\d+)$", out, re.M).groups())
    assert (status, execd_status) == (3, 4), out
    folder = tmp_path / "tree.py.heap"  # the default: the script's name
    names = set(os.listdir(folder))
    # The forked child that exec'd wrote its profile before the exec; the
    # new program another, under the same pid.
    for name in (f"{main}.heap", f"{child}.heap", f"{forked}.heap", f"{execd}.heap", f"{execd}-1.heap"):
        assert name in names, names
    # Each process's periodic dumps sit beside its profile (--heap-interval).
    for prefix in (main, child, forked, f"{execd}-1"):
        assert f"{prefix}.0001.heap" in names, names
    values, labels = by_process(report(tmp_path, folder, "--processes", "--format", "folded").stdout)
    kept = {main: 1, child: 2, forked: 3, execd: 4}
    for pid, mib in kept.items():
        assert values[pid]["keep_impl"] == mib * MiB, (pid, values[pid])  # the forked child: not its parent's MiB
    assert "tree.py" in labels[main] and "fork of" not in labels[main], labels
    assert "child.py" in labels[child] and "fork of" not in labels[child], labels
    assert labels[forked].endswith(f"({forked}, fork of {main})"), labels
    assert "execd.py" in labels[execd], labels  # the exec'd program's profile; its forked self kept nothing
    alloc = leaf_totals(report(tmp_path, folder, "--sample-index", "alloc_space", "--format", "folded").stdout)
    assert alloc["keep_impl"] == 10 * MiB, alloc  # the tree's, once each: the periodic dumps are not read


def test_a_killed_process_is_left_out_with_a_note(tmp_path, kids):
    script = write_script(tmp_path, "killed.py", """
        import os, signal, time

        import kids

        kids.keep(1 << 20)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            kids.keep(5 << 20)
            os.write(w, b"x")
            time.sleep(60)
            os._exit(0)
        os.read(r, 1)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        print("KILLED", pid, os.waitstatus_to_exitcode(status))
    """)
    result = run_yep(["--heap", "--subprocesses", "-v", "--nodecount", "0", "-o", "tree", str(script)],
                     cwd=tmp_path, env={"PYTHONPATH": str(kids)}, timeout=120)
    assert result.returncode == 0, result.stderr
    pid = int(re.search(r"^KILLED (\d+) -9$", result.stdout, re.M).group(1))
    note = (f"yep: tree: left out 1 profile not finished (processes still running, or killed): {pid}.heap")
    assert note in result.stderr.splitlines(), result.stderr
    later = report(tmp_path, "tree", "--format", "folded")
    assert note in later.stderr.splitlines(), later.stderr
    assert leaf_totals(later.stdout)["keep_impl"] == MiB, later.stdout  # the parent's, not the killed child's


def test_refusals_get_one_line_and_status_2(tmp_path):
    script = write_script(tmp_path, "s.py", "print('ran')\n")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    result = run_yep(["--heap", "--subprocesses", "-o", "busy", str(script)], cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.splitlines() == ["yep: error: 'busy' holds other files than profiles: name another "
                                          "folder with -o"], result.stderr
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    result = run_yep(["--heap", "--subprocesses", "-o", "/nonexistent-dir/tree", str(script)], cwd=tmp_path,
                     timeout=60)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "/nonexistent-dir" in result.stderr, result.stderr
