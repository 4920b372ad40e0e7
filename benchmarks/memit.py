"""%memit side by side: yep's and memory_profiler's, in one IPython shell.

    .venv/bin/python benchmarks/memit.py [--reps 20]

Both magics are called through their IPython Magics classes on the same
InteractiveShell, in blocks of 5 calls that alternate between the tools (so
that the garbage one leaves is mostly collected in its own block), --reps
times each:

  1. the time of one `%memit -q x = 1` (a trivial statement: what the magic
     itself costs), median and spread;
  2. what each reports for `%memit [0] * 10**7`, a 76.3 MiB list freed
     before the statement ends (accuracy, not time);
  3. the time of the gc.collect() both run before measuring, in this shell:
     most of what yep's %memit costs.

Prints the medians side by side and their ratio. Nothing passes or fails on
a time.
"""
import argparse
import gc
import io
import platform
import re
import statistics
import sys
import time
from contextlib import redirect_stdout

from compare import cpu_model, table  # the shared helpers of benchmarks/

TRIVIAL = "-q x = 1"
TEMPORARY = "[0] * 10**7"
LIST_MIB = 80_000_056 / 2**20
BLOCK = 5


def magics():
    from IPython.core.interactiveshell import InteractiveShell
    from memory_profiler import MemoryProfilerMagics

    from yep.magics import YepMagics

    shell = InteractiveShell.instance()
    return {"yep": YepMagics(shell=shell).memit, "memory_profiler": MemoryProfilerMagics(shell=shell).memit}


def increment(memit, stmt):
    out = io.StringIO()
    with redirect_stdout(out):
        memit(stmt)
    m = re.search(r"increment: (-?[\d.]+) MiB", out.getvalue())
    if not m:
        sys.exit(f"no %memit figure in {out.getvalue()!r}")
    return float(m.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20, help="timed %%memit calls per tool (default 20)")
    args = parser.parse_args()
    import memory_profiler

    import yep

    tools = magics()
    times = {name: [] for name in tools}
    for name, memit in tools.items():  # warm up: imports, first-use code pages
        memit(TRIVIAL)
    for block in range(0, args.reps, BLOCK):
        for name, memit in (tools.items() if block % (2 * BLOCK) == 0 else reversed(list(tools.items()))):
            for _ in range(min(BLOCK, args.reps - block)):
                start = time.perf_counter()
                memit(TRIVIAL)
                times[name].append(time.perf_counter() - start)
    seen = {name: increment(memit, TEMPORARY) for name, memit in tools.items()}
    collect = []
    for _ in range(args.reps):
        start = time.perf_counter()
        gc.collect()
        collect.append(time.perf_counter() - start)

    print(f"%memit: yep {yep.__version__} vs memory_profiler {memory_profiler.__version__}; "
          f"Python {platform.python_version()}; {cpu_model()}")
    rows = []
    for name in tools:
        t = times[name]
        rows.append([name, f"{statistics.median(t) * 1e3:.2f} ms", f"{min(t) * 1e3:.2f}-{max(t) * 1e3:.2f} ms",
                     f"{seen[name]:.2f} MiB"])
    table([f"tool ({args.reps} calls each)", "%memit x = 1, median", "min-max",
           f"%memit {TEMPORARY} (truth {LIST_MIB:.2f} MiB)"], rows)
    ratio = statistics.median(times["memory_profiler"]) / statistics.median(times["yep"])
    print(f"  memory_profiler's %memit takes {ratio:.0f}x yep's; of each, the gc.collect() both run first takes "
          f"{statistics.median(collect) * 1e3:.2f} ms here")


if __name__ == "__main__":
    main()
