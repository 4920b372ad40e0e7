"""The object census side by side with heapy (guppy3), and the live view's
overhead on a running program, measured in one run.

1. Census time for 1M instances (about 2M objects with their ints): yep.census()
   vs guppy3's hpy().heap(), each in a fresh process, with both counts.
2. The live view's overhead: a workload that allocates and keeps objects,
   timed without and with yep.serve() running (census every second, or
   less often when a census is slow), interleaved, medians.

    .venv/bin/python benchmarks/census.py [--objects 1000000] [--reps 3]
"""
import argparse
import json
import statistics
import subprocess
import sys
import textwrap

from compare import cpu_model, table

CENSUS = textwrap.dedent("""\
    import json, sys, time
    class Leak:
        def __init__(self, i):
            self.i = i
    keep = [Leak(i) for i in range({n})]
    if sys.argv[1] == "yep":
        import yep
        yep.census()  # warm up (imports, first-use set-up)
        times = []
        for _ in range(3):
            start = time.perf_counter(); c = yep.census(); times.append(time.perf_counter() - start)
        print(json.dumps({{"seconds": min(times), "objects": c.count, "leak": c["__main__.Leak"].count}}))
    else:
        from guppy import hpy
        h = hpy()
        start = time.perf_counter(); heap = h.heap(); seconds = time.perf_counter() - start
        leak = [r.count for r in heap.bytype.stat.get_rows() if r.name == "__main__.Leak"][0]
        print(json.dumps({{"seconds": seconds, "objects": heap.count, "leak": leak}}))
    """)

WORKLOAD = textwrap.dedent("""\
    import json, sys, time
    if sys.argv[1] == "view":
        import yep
        yep.serve()
    kept = []
    start = time.perf_counter()
    for round in range(40):
        batch = [{{"i": i, "name": str(i), "values": [i, i + 1]}} for i in range({n})]
        kept.append(batch[::4])  # grows: a quarter of each batch stays
    print(json.dumps({{"seconds": time.perf_counter() - start, "objects": sum(map(len, kept))}}))
    """)


def run(code, arg):
    out = subprocess.run([sys.executable, "-P", "-c", code, arg], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"benchmarks/census.py: {arg} failed:\n{out.stderr}")
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(f"# {cpu_model()}, Python {sys.version.split()[0]}")

    code = CENSUS.format(n=args.objects)
    yep_run, heapy_run = run(code, "yep"), run(code, "heapy")
    print(f"\nCensus of {args.objects} instances of one class (+ their ints), fresh process each:")
    table(["tool", "seconds", "objects counted", "instances of the class"],
          [["yep.census()", f"{yep_run['seconds']:.3f}", yep_run["objects"], yep_run["leak"]],
           ["guppy3 hpy().heap()", f"{heapy_run['seconds']:.3f}", heapy_run["objects"], heapy_run["leak"]]])
    print(f"yep is {heapy_run['seconds'] / yep_run['seconds']:.1f}x faster (heapy's count includes the "
          f"{args.objects} instance __dict__s its traversal materializes)")

    code = WORKLOAD.format(n=50_000)
    plain, view = [], []
    for _ in range(args.reps):
        plain.append(run(code, "plain")["seconds"])
        view_run = run(code, "view")
        view.append(view_run["seconds"])
    p, v = statistics.median(plain), statistics.median(view)
    print(f"\nLive view overhead: a workload growing to {view_run['objects']} kept dicts "
          f"(~{view_run['objects'] * 6 // 1000}k objects), median of {args.reps}:")
    table(["run", "seconds"], [["without the view", f"{p:.2f}"], ["with yep.serve()", f"{v:.2f}"]])
    print(f"overhead ratio {v / p:.3f} (with / without)")


if __name__ == "__main__":
    main()
