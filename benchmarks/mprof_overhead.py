"""Overhead of sampling memory over time: `yep mprof run` vs memory_profiler's
`mprof run`, at 1 ms and 100 ms intervals, on the Julia workload
(benchmarks/julia.py), side by side in one run, interleaved. Also `--heap`
at 1 ms: the native heap line too (the program then runs under tcmalloc,
with Python's objects through malloc).

    .venv/bin/python benchmarks/mprof_overhead.py [--width 300] [--reps 3]
"""
import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def run(cmd, cwd):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"mprof_overhead.py: {' '.join(cmd)} failed:\n{proc.stderr}")
    work = float(re.search(r"work_seconds=([\d.]+)", proc.stdout).group(1))
    return wall, work


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    julia = [str(HERE / "julia.py"), str(args.width)]
    configs = [("unprofiled", [sys.executable, *julia])]
    for interval in ("0.001", "0.1"):
        configs.append((f"yep mprof run -T {interval}",
                        [str(BIN / "yep"), "mprof", "run", "-T", interval, "-o", f"yep{interval}.dat", *julia]))
        if (BIN / "mprof").exists():
            configs.append((f"memory_profiler mprof run -T {interval}",
                            [str(BIN / "mprof"), "run", "-T", interval, "-o", f"mp{interval}.dat", *julia]))
    configs.append(("yep mprof run --heap -T 0.001",
                    [str(BIN / "yep"), "mprof", "run", "--heap", "-T", "0.001", "-o", "heap.dat", *julia]))
    times = {name: [] for name, _ in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for name, cmd in configs[rep % len(configs):] + configs[:rep % len(configs)]:
                times[name].append(run(cmd, tmp))
    base_wall = statistics.median(w for w, _ in times["unprofiled"])
    base_work = statistics.median(k for _, k in times["unprofiled"])
    print(f"mprof run overhead: Julia set {args.width}x{args.width}, maxiter 300; median of {args.reps} "
          f"interleaved runs; Python {sys.version.split()[0]}")
    print(f"  {'run':40} {'wall':>8} {'wall ratio':>11} {'work':>8} {'work ratio':>11}")
    for name, _ in configs:
        wall = statistics.median(w for w, _ in times[name])
        work = statistics.median(k for _, k in times[name])
        print(f"  {name:40} {wall:7.3f}s {wall / base_wall:10.2f}x {work:7.3f}s {work / base_work:10.2f}x")


if __name__ == "__main__":
    main()
