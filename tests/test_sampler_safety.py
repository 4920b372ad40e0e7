"""The default profile's SIGPROF handler never deadlocks, and threads that
Python did not create keep their whole native stacks.

The hang this guards against: a handler that walked stacks with libunwind
touched libunwind's thread-local storage, which lives in dynamically
allocated TLS once a new object with TLS had been loaded; __tls_get_addr
then grew the thread's TLS vector with realloc inside the handler, over an
interrupted malloc holding the arena lock, and the program hung for good.
Here a program loads 120 small libraries that each have a __thread array
(with ctypes), between bursts of allocations, while two other threads
allocate all along, under the default profile at the highest rate; 50
runs, each with a timeout, and 50 more with OpenMP threads running too.
(The libunwind-based sampler hung in 7 of 20 such runs.)
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, build_extension, run_yep, write_script

RUNS = 50


@pytest.fixture(scope="module")
def tls_libraries(tmp_path_factory):
    """120 shared objects, each with its own 4 KiB __thread array."""
    outdir = tmp_path_factory.mktemp("tls")
    source = outdir / "tls.c"
    source.write_text("__thread char yep_tls_block[4096];\n"
                      "int touch(int i) { yep_tls_block[i & 4095] += 1; return yep_tls_block[0]; }\n")
    subprocess.run(["cc", "-c", "-fPIC", "-O1", str(source), "-o", str(outdir / "tls.o")], check=True)
    paths = []
    for i in range(120):
        path = outdir / f"libtls{i:03d}.so"
        subprocess.run(["cc", "-shared", str(outdir / "tls.o"), "-o", str(path)], check=True)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def native_threads(tmp_path_factory):
    """Directory holding the compiled `native_threads` extension (pthread and OpenMP)."""
    outdir = tmp_path_factory.mktemp("native_threads")
    source = outdir / "native_threads.c"
    source.write_text((FIXTURES / "native_threads.c").read_text())
    build_extension(source, outdir, flags=("-fopenmp",))
    return outdir


LOADER = """
import ctypes, sys, threading

stop = False

def churn():  # mallocs all along (past pymalloc's 512 bytes): its TLS vector goes stale at every load
    while not stop:
        for n in (600, 1500, 3000, 7000):
            bytearray(n)

churners = [threading.Thread(target=churn) for _ in range(2)]
for t in churners:
    t.start()
{omp_start}
libraries = []
for i, path in enumerate(sys.argv[1:]):
    libraries.append(ctypes.CDLL(path))  # nothing here touches its TLS: the first to may be a signal handler
    for _ in range(1500):
        bytearray(2000 + 8 * i)  # a burst of allocations, past pymalloc: glibc's malloc and its locks
stop = True
for t in churners:
    t.join()
{omp_join}
print("loaded", len(libraries))
"""

OMP_START = """
import native_threads
omp = threading.Thread(target=lambda: [native_threads.omp_burn(3_000_000) for _ in range(30)])
omp.start()
"""


@pytest.mark.parametrize("with_omp", [False, True], ids=["plain", "openmp"])
def test_loading_libraries_with_tls_under_the_default_profile_never_hangs(tls_libraries, native_threads,
                                                                          tmp_path, with_omp):
    script = write_script(tmp_path, "loader.py", LOADER.format(omp_start=OMP_START if with_omp else "",
                                                               omp_join="omp.join()" if with_omp else ""))
    env = dict(os.environ, PYTHONPATH=str(native_threads))
    env.pop("CPUPROFILE_FREQUENCY", None)
    command = [sys.executable, "-m", "yep", "-f", "4000", "-o", "run.prof", str(script), *map(str, tls_libraries)]
    # Two at a time (the machine may have two cores), each in its own directory.
    for first in range(0, RUNS, 2):
        running = []
        for run in range(first, min(first + 2, RUNS)):
            directory = tmp_path / f"run{run}"
            directory.mkdir()
            running.append((run, subprocess.Popen(command, cwd=directory, env=env, stdout=subprocess.PIPE,
                                                  stderr=subprocess.PIPE, text=True)))
        for run, process in running:
            try:
                out, err = process.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                pytest.fail(f"run {run} of {RUNS} hung (killed after 120 s)")
            assert process.returncode == 0, (run, err)
            assert f"loaded {len(tls_libraries)}" in out, (run, out, err)
            assert re.search(r"yep: wrote run\.prof: \d+ samples", err), (run, err)


def folded_by_thread(path):
    import yep

    stacks = {}
    for line in yep.load(path).folded(threads=True).splitlines():
        stack, value = line.rsplit(" ", 1)
        stacks[stack] = stacks.get(stack, 0) + int(value)
    return stacks


def test_a_native_pthread_keeps_its_whole_stack_and_its_name(native_threads, tmp_path):
    script = write_script(tmp_path, "pt.py", """
        import native_threads
        for _ in range(8):
            native_threads.run_pthread(40_000_000)
    """)
    result = run_yep(["-f", "250", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(native_threads)})
    assert result.returncode == 0, result.stderr
    stacks = folded_by_thread(tmp_path / "pt.py.prof")
    leaf = {s: v for s, v in stacks.items() if s.endswith(";native_leaf")}
    assert sum(leaf.values()) > 0.5 * sum(stacks.values()), stacks
    # Root first: the thread's label (its kernel name), the thread's start in
    # libc (start_thread, or an address where libc has no symbols), and every
    # native caller down to the leaf.
    whole = re.compile(r"thread yep-native \(\d+\);[^;]+;.*native_thread_main;native_middle;native_leaf")
    complete = sum(v for s, v in leaf.items() if whole.fullmatch(s))
    assert complete >= 0.95 * sum(leaf.values()), leaf


def test_openmp_workers_keep_their_callers(native_threads, tmp_path):
    script = write_script(tmp_path, "omp.py", """
        import native_threads
        for _ in range(10):
            native_threads.omp_burn(20_000_000)
    """)
    result = run_yep(["-f", "250", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(native_threads)})
    assert result.returncode == 0, result.stderr
    stacks = folded_by_thread(tmp_path / "omp.py.prof")
    leaf = {s: v for s, v in stacks.items() if s.endswith(";omp_leaf")}
    assert sum(leaf.values()) > 0.5 * sum(stacks.values()), stacks
    # The calling thread runs the parallel region under its Python line; the
    # two workers, threads Python never saw, under libgomp and the thread's
    # start: no sample is a lone leaf.
    outlined = {s: v for s, v in leaf.items() if re.search(r";omp_burn\._omp_fn\.\d+;omp_leaf$", s)}
    assert sum(outlined.values()) >= 0.95 * sum(leaf.values()), leaf
    workers = {s: v for s, v in outlined.items() if "<module>" not in s}
    # (libgomp's thread start and libc's under it: named or not, two frames
    # at least; CI once saw one sample in some 150 stop at libgomp's frame)
    whole = sum(v for s, v in workers.items() if re.search(r"^thread [^;]+;[^;]+;[^;]+;.*omp_burn\._omp_fn", s))
    assert workers and whole >= 0.97 * sum(workers.values()), workers
    assert sum(workers.values()) > 0.4 * sum(outlined.values()), outlined
