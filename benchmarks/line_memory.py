"""Line-by-line profilers side by side on the Julia workload (benchmarks/julia.py).

    .venv/bin/python benchmarks/line_memory.py [--width 300] [--maxiter 300] [--reps 3] [--mp-width 100]

Run it with each Python to compare (the README's table has one run per
version). In one run, interleaved in a rotating order (so no configuration
always runs first), --reps times each:

  a. python benchmarks/julia.py, unprofiled;
  b. yep memory benchmarks/julia.py (per line: RSS, allocated bytes, peak, time);
  c. python -m memory_profiler benchmarks/julia.py (per line: RSS), on the
     smaller --mp-width grid, since it is about 1000x slower, next to an
     unprofiled run of that same smaller grid, its baseline;
  d. kernprof -l -v benchmarks/julia.py (line_profiler: per line time).

Every profiler also prints its report, which the wall time includes. Prints
for each the median process wall time and the median work_seconds (the
calculation alone, timed by julia.py itself), each with its ratio to the
median of the unprofiled run of the same grid; and the work's CPU time: the
process's CPU time less that of the same command on a 1x1 grid (its start-up,
imports and report), which a busy machine inflates much less than wall time.
yep memory's row names the hook this Python gets (sys.monitoring on 3.12+,
bytecode probes on 3.11). memory_profiler and line_profiler are
pip-installed into this Python's environment when missing (and the script
says so). Nothing passes or fails on a time; a run whose iteration sum is
wrong or whose profiler printed no report stops the script.
"""
import argparse
import importlib.util
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare import cpu_model, table  # the shared helpers of benchmarks/

HERE = Path(__file__).resolve().parent
JULIA = HERE / "julia.py"
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def ensure_peer_tools():
    """pip-installs memory_profiler / line_profiler into this venv if missing."""
    missing = []
    if importlib.util.find_spec("memory_profiler") is None:
        missing.append("memory_profiler")
    if importlib.util.find_spec("line_profiler") is None or kernprof() is None:
        missing.append("line_profiler")
    if missing:
        print(f"Installing {', '.join(missing)} into {sys.prefix} with pip (missing)", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", *missing], check=True)
        importlib.invalidate_caches()


def kernprof():
    path = BIN / "kernprof"
    if path.exists():
        return str(path)
    return shutil.which("kernprof")


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd, cwd, timeout=900):
    """Runs cmd, returns (wall seconds, CPU seconds, CompletedProcess)."""
    start, cpu = time.perf_counter(), children_cpu()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, children_cpu() - cpu, proc


def hook_name():
    """How yep memory gets its line events in this Python."""
    proc = subprocess.run([PYTHON, "-c", "import yep._native as n; print(n.line_tracer_hook_name())"],
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    return proc.stdout.strip() or "?"


def check(proc, name, report_marker):
    """The run worked, its sum of iterations was printed, and so was its report."""
    if proc.returncode != 0:
        sys.exit(f"{name} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    if "iterations_sum=" not in proc.stdout:
        sys.exit(f"{name} printed no iterations_sum:\n{proc.stdout[-2000:]}")
    if report_marker and report_marker not in proc.stdout:
        sys.exit(f"{name} printed no report (no {report_marker!r}): was @profile active?\n{proc.stdout[-2000:]}")


def work_seconds(proc):
    return float(re.search(r"work_seconds=([\d.]+)", proc.stdout).group(1))


def iterations_sum(proc):
    return int(re.search(r"iterations_sum=(\d+)", proc.stdout).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=300, help="grid width (and height) (default 300)")
    parser.add_argument("--maxiter", type=int, default=300, help="iterations per point at most (default 300)")
    parser.add_argument("--reps", type=int, default=3, help="runs of each configuration (default 3)")
    parser.add_argument("--mp-width", type=int, default=100,
                        help="grid width for memory_profiler and its unprofiled baseline (default 100)")
    args = parser.parse_args()
    started = time.perf_counter()

    ensure_peer_tools()
    w, m, mw = str(args.width), str(args.maxiter), str(args.mp_width)
    mp_base = f"unprofiled ({args.mp_width}x{args.mp_width} grid)"
    # (name, grid width, baseline name, command before its grid width, marker of the profiler's report)
    configs = [
        ("unprofiled", args.width, None, [PYTHON, str(JULIA)], None),
        (f"yep memory ({hook_name()})", args.width, "unprofiled", [PYTHON, "-m", "yep", "memory", str(JULIA)],
         "Occurrences"),
        ("line_profiler (kernprof -l -v)", args.width, "unprofiled",
         [kernprof(), "-l", "-v", "-o", "julia.lprof", str(JULIA)], "Per Hit"),
        (mp_base, args.mp_width, None, [PYTHON, str(JULIA)], None),
        ("python -m memory_profiler", args.mp_width, mp_base, [PYTHON, "-m", "memory_profiler", str(JULIA)],
         "Mem usage"),
    ]
    print(f"Julia set (benchmarks/julia.py), maxiter {args.maxiter}: {args.width}x{args.width} grid, "
          f"memory_profiler on {args.mp_width}x{args.mp_width}; {args.reps} runs each, interleaved in a "
          f"rotating order")
    print(f"  {cpu_model()}, {os.cpu_count()} CPUs; Python {platform.python_version()} ({PYTHON})", flush=True)

    wall = {c[0]: [] for c in configs}
    work = {c[0]: [] for c in configs}
    cpu = {c[0]: [] for c in configs}
    startup_cpu = {c[0]: [] for c in configs}
    sums = {c[0]: set() for c in configs}
    with tempfile.TemporaryDirectory(prefix="yep-line-memory-") as tmp:
        timed([PYTHON, str(JULIA), mw, m], cwd=tmp)  # warm the page cache
        for rep in range(args.reps):
            order = configs[rep % len(configs):] + configs[:rep % len(configs)]
            for name, width, _, cmd, marker in order:
                t, c, proc = timed(cmd + [str(width), m], cwd=tmp)
                check(proc, name, marker)
                wall[name].append(t)
                cpu[name].append(c)
                work[name].append(work_seconds(proc))
                sums[name].add(iterations_sum(proc))
                _, c, proc = timed(cmd + ["1", m], cwd=tmp)  # the same command with next to no work
                check(proc, name, marker)
                startup_cpu[name].append(c)
            print(f"  run {rep + 1}/{args.reps} done ({time.perf_counter() - started:.0f} s so far)", flush=True)

    for width in {args.width, args.mp_width}:
        seen = set().union(*(sums[c[0]] for c in configs if c[1] == width))
        if len(seen) != 1:
            sys.exit(f"the sum of iterations of the {width} grid differs between runs: {sorted(seen)}")

    print()
    def work_cpu(name):
        return statistics.median(cpu[name]) - statistics.median(startup_cpu[name])

    rows = []
    for name, width, base, _, _ in configs:
        wl, wk, wc = statistics.median(wall[name]), statistics.median(work[name]), work_cpu(name)
        if base is None:
            ratios = ("1.00x", "1.00x", "1.00x")
        else:
            ratios = (f"{wl / statistics.median(wall[base]):.2f}x", f"{wk / statistics.median(work[base]):.2f}x",
                      f"{wc / work_cpu(base):.2f}x")
        rows.append((name, f"{width}x{width}", f"{wl:.3f} s", ratios[0], f"{wk:.3f} s", ratios[1], f"{wc:.3f} s",
                     ratios[2], str(next(iter(sums[name])))))
    table(("run", "grid", "wall (process)", "wall ratio", "work_seconds", "work ratio", "work cpu", "cpu ratio",
           "iterations_sum"), rows)
    print(f"  (medians of {args.reps} runs. wall: the whole command, start-up and printing the report included; "
          "work_seconds: the calculation alone, as julia.py times it; work cpu: the command's CPU time less that of "
          "the same command on a 1x1 grid. Ratios are to the unprofiled run of the same grid: memory_profiler's to "
          f"the {args.mp_width}x{args.mp_width} unprofiled run, the others' to the {args.width}x{args.width} one.)")
    print(f"  total time of this benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
