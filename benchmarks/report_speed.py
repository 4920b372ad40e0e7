"""End-to-end time of `yep report` on a typical profile, side by side with
`go tool pprof -top` on the same file, in one run.

Run as ``.venv/bin/python benchmarks/report_speed.py`` (``make bench`` does).
It records compare.py's workload (numpy, a C extension compiled here with -g,
pure Python) with ``python -m yep -f 250`` for a few thousand samples, then
times these whole commands on that one file, interleaved in a rotating order
after one uncounted warm-up run each:

  - ``yep report``, symbol cache off (YEP_SYMBOL_CACHE=off): every library's
    DWARF read again, as on the first report that meets a library;
  - ``yep report`` with the symbol cache filled (in a folder of its own, so
    the user's ~/.cache is neither used nor changed): the usual case, the
    libraries (libpython, libc, numpy) already seen;
  - the C++ ``yep-convert`` binary with the same cache, without Python;
  - ``python -c "import yep"`` and ``python -c pass``: the start-up share;
  - ``go tool pprof -top`` (skipped, saying so, where go is not installed).

It prints medians, minimums and ratios. Nothing passes or fails on a time.
"""
import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yep
from compare import (PYTHON, WORKLOAD, build_extension, calibrate, check, cpu_model, fmt_s, median, samples_of,
                     table, timed, top_entry_pprof, top_entry_yep, workload_env, yep_cmd)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile-seconds", type=float, default=15.0,
                        help="work time of the profiled run (default 15 s: a few thousand samples at 250 Hz)")
    parser.add_argument("--reps", type=int, default=10, help="runs of each command (default 10)")
    parser.add_argument("--slow-seconds", type=float, default=2.0,
                        help="a command slower than this (warm-up run) runs only --slow-reps times")
    parser.add_argument("--slow-reps", type=int, default=2, help="runs of a slow command (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yep-report-speed-") as tmp:
        workdir = Path(tmp)
        build_extension(workdir)
        script = workdir / "workload.py"
        script.write_text(WORKLOAD)
        env = workload_env(workdir)
        units, _ = calibrate(script, env, workdir, args.profile_seconds)
        profile = workdir / "workload.prof"
        _, proc = timed(yep_cmd(script, units, profile, hz=250), env=env, cwd=workdir)
        check(proc, "profiling the workload with python -m yep -f 250")
        print(f"End-to-end report time: yep report vs go tool pprof -top; Python {sys.version.split()[0]}; "
              f"{cpu_model()}, {os.cpu_count()} CPUs")
        print(f"  profile: {samples_of(proc)} samples at -f 250, {profile.stat().st_size / 1024:.0f} KiB; "
              f"median of {args.reps} runs each, interleaved, after one uncounted warm-up run each")

        cache = workdir / "symbol-cache"
        off = dict(env, YEP_SYMBOL_CACHE="off")
        warm = dict(env, YEP_SYMBOL_CACHE=str(cache))
        report = [PYTHON, "-m", "yep", "report", str(profile)]
        # The C++ binary itself, not the console script (a Python launcher that execs it).
        convert = Path(yep.__file__).with_name("yep-convert")
        commands = [
            ("yep report, symbol cache off", report, off, top_entry_yep),
            ("yep report, symbol cache warm", report, warm, top_entry_yep),
            ("yep-convert (C++), cache warm", [str(convert), str(profile)], warm, top_entry_yep),
            ('python -c "import yep"', [PYTHON, "-c", "import yep"], env, None),
            ("python -c pass", [PYTHON, "-c", "pass"], env, None),
        ]
        go = shutil.which("go")
        if go:
            home = workdir / "gohome"
            (home / "cache").mkdir(parents=True)
            go_env = dict(env, HOME=str(home), GOCACHE=str(home / "cache"), GOPATH=str(home / "go"),
                          GOTOOLCHAIN="local")
            go_env.pop("PPROF_BINARY_PATH", None)
            commands.append(("go tool pprof -top", [go, "tool", "pprof", "-top", str(profile)], go_env,
                             top_entry_pprof))
        else:
            print("  note: go is NOT installed (Debian: golang-go): the `go tool pprof -top` row is left out")

        tops, reps = {}, {}
        for name, cmd, cmd_env, top in commands:  # warm-up: fills the cache, the page cache, go's build cache
            seconds, proc = timed(cmd, env=cmd_env, cwd=workdir)
            check(proc, name)
            if top:
                tops[name] = top(proc.stdout)
            # go tool pprof takes seconds here: repeated less, to keep make bench short.
            reps[name] = args.reps if seconds < args.slow_seconds else min(args.reps, args.slow_reps)
        times = {name: [] for name, *_ in commands}
        for rep in range(args.reps):
            for name, cmd, cmd_env, _ in commands[rep % len(commands):] + commands[:rep % len(commands)]:
                if rep < reps[name]:
                    times[name].append(timed(cmd, env=cmd_env, cwd=workdir)[0])

        warm_report = median(times["yep report, symbol cache warm"])
        rows = [(name, fmt_s(median(times[name])), fmt_s(min(times[name])), str(len(times[name])),
                 f"{median(times[name]) / warm_report:.2f}x", tops.get(name, "")) for name, *_ in commands]
        table(("command", "median", "min", "runs", "/ yep report (warm)", "top flat row"), rows)
        cold_report = median(times["yep report, symbol cache off"])
        print(f"  ratio: yep report, cache off / cache warm = {cold_report / warm_report:.2f}x")
        if go:
            go_top = median(times["go tool pprof -top"])
            print(f"  ratio: go tool pprof -top / yep report (warm) = {go_top / warm_report:.2f}x; "
                  f"go tool pprof -top / yep report (cache off) = {go_top / cold_report:.2f}x")


if __name__ == "__main__":
    main()
