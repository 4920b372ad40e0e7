"""Slowdown of mixed Python + native stacks, side by side, in one run.

Run as ``.venv/bin/python benchmarks/mixed.py`` (``make bench`` does). The
workload is compare.py's (a C extension compiled here, numpy, pure Python),
timed without a profiler, under ``python -m yep --native`` (gperftools'
sampler, native stacks only), under the default ``python -m yep`` (Python
and native frames, yep's own sampler) at 100 Hz and at 250 Hz, and under
``py-spy record --native`` at 100 Hz (py-spy reads the stacks from
outside, stopping the process with ptrace for each sample). Runs are
interleaved in a rotating order; medians are printed with ratios. Nothing
passes or fails on a time.
"""
import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from compare import (PYTHON, WORKLOAD, build_extension, calibrate, check, cpu_model, fmt_s, median, table, timed,
                     work_seconds, workload_env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="work per run (default 4 s)")
    parser.add_argument("--reps", type=int, default=5, help="runs of each configuration (default 5)")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="yep-mixed-bench-") as tmp:
        workdir = Path(tmp)
        build_extension(workdir)
        script = workdir / "workload.py"
        script.write_text(WORKLOAD)
        env = workload_env(workdir)
        units, _ = calibrate(script, env, workdir, args.seconds)
        print(f"Python and native stacks: yep vs py-spy; Python {sys.version.split()[0]}; {cpu_model()}; "
              f"{units} units of work (about {args.seconds:g} s), median of {args.reps} runs each, interleaved")

        def yep(*options):
            return lambda rep: [PYTHON, "-m", "yep", *options, "-o", str(workdir / f"run-{rep}.prof"),
                                str(script), str(units)]

        configs = [
            ("no profiler", lambda rep: [PYTHON, str(script), str(units)]),
            ("python -m yep --native (100 Hz)", yep("--native")),
            ("python -m yep (Python frames, 100 Hz)", yep()),
            ("python -m yep -f 250", yep("-f", "250")),
        ]
        if os.path.exists(py_spy):
            configs.append(("py-spy record --native (100 Hz)",
                            lambda rep: [py_spy, "record", "--native", "--rate", "100", "--format", "raw", "-o",
                                         str(workdir / f"spy-{rep}.txt"), "--", PYTHON, str(script), str(units)]))
        else:
            print("  note: py-spy not installed (pip install py-spy): its row is left out")
        wall = {name: [] for name, _ in configs}
        work = {name: [] for name, _ in configs}
        for rep in range(args.reps):
            for name, command in configs[rep % len(configs):] + configs[:rep % len(configs)]:
                seconds, proc = timed(command(rep), env=env, cwd=workdir)
                check(proc, name)
                wall[name].append(seconds)
                work[name].append(work_seconds(proc))
        base_wall, base_work = median(wall["no profiler"]), median(work["no profiler"])
        rows = [(name, fmt_s(median(wall[name])), fmt_s(median(work[name])),
                 f"{median(wall[name]) / base_wall:.3f}x", f"{median(work[name]) / base_work:.3f}x")
                for name, _ in configs]
        table(("run", "process wall", "work loop", "wall / none", "work / none"), rows)
        print("  (process wall: the whole command, start-up and writing the profile included; work loop: the "
              "workload's own timing of its loop)")
        native = median(work["python -m yep --native (100 Hz)"])
        mixed = median(work["python -m yep (Python frames, 100 Hz)"])
        print(f"  ratio: yep / no profiler = {mixed / base_work:.3f}x work loop "
              f"({100 * (mixed / base_work - 1):+.1f}%); yep / yep --native = {mixed / native:.3f}x")
        if os.path.exists(py_spy):
            spy = median(wall["py-spy record --native (100 Hz)"])
            ours = median(wall["python -m yep (Python frames, 100 Hz)"])
            print(f"  ratio: py-spy --native / yep = {spy / ours:.2f}x process wall time")


if __name__ == "__main__":
    main()
