"""Side-by-side measurements of yep, printed as tables of medians and ratios.

Run as ``.venv/bin/python benchmarks/compare.py`` (``make bench`` does). In
one run, on this machine, it

  a. profiles a workload (numpy, a C extension compiled here with -g, pure
     Python) with ``python -m yep -f 250`` and times, on that same profile,
     ``yep report`` against ``google-pprof --text`` and ``go tool pprof -top``
     (each skipped with a note when not installed), interleaved;
  b. times the workload without a profiler and under ``python -m yep`` at
     100 Hz (the default) and 250 Hz, interleaved, and prints the slowdown;
  c. runs the C++ Google Benchmark of the converter
     (build/py/converter_benchmark) briefly and prints its lines.

Nothing here passes or fails on a time: it prints measurements and ratios.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable

WORKLOAD = '''\
"""compare.py's workload: UNITS rounds of numpy, C extension and pure Python work."""
import sys
import time

import numpy as np

import bench_kernels


def python_work(n):
    counts = {}
    for i in range(n):
        key = "k%d" % (i % 997)
        counts[key] = counts.get(key, 0) + (i * 7) // 3
    return sum(counts.values())


def numpy_work(a, b):
    c = a @ b
    s = np.sort(c, axis=None)
    return float(np.fft.rfft(s[:4096]).real.sum() + np.linalg.norm(c))


def native_work(n):
    return bench_kernels.spin(n) + bench_kernels.mix(n // 2)


def main(units):
    rng = np.random.default_rng(0)
    a, b = rng.random((320, 320)), rng.random((320, 320))
    start = time.perf_counter()
    total = 0.0
    for _ in range(units):
        total += python_work(12000)
        total += numpy_work(a, b)
        total += native_work(1000000)
    print("work_seconds=%.6f checksum=%.3f" % (time.perf_counter() - start, total % 1000))


if __name__ == "__main__":
    main(int(sys.argv[1]))
'''


# ---------------------------------------------------------------------------
# Helpers.

def note(text):
    print(f"  note: {text}")


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_s(seconds):
    return f"{seconds:.3f} s" if seconds == seconds else "n/a"


def timed(cmd, env=None, cwd=None, timeout=300):
    """Runs cmd, returns (wall seconds, CompletedProcess)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, proc


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = "  " + "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*headers).rstrip())
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row).rstrip())


def short(text, width=44):
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


# The first report row's function name, to see that the tools agree.
def top_entry_yep(out):
    for line in out.splitlines():
        m = re.match(r"^\s*[\d.]+s\s+[\d.]+%\s+[\d.]+%\s+[\d.]+s\s+[\d.]+%\s+(.*)$", line)
        if m:
            return m.group(1).strip()
    return "?"


def top_entry_pprof(out):
    # google-pprof --text: "  flat flat% sum% cum cum% name"; go -top: the same with units.
    for line in out.splitlines():
        m = re.match(r"^\s*[\d.]+\w*\s+[\d.]+%\s+[\d.]+%\s+[\d.]+\w*\s+[\d.]+%\s+(.*)$", line)
        if m:
            return m.group(1).strip()
    return "?"


# ---------------------------------------------------------------------------
# Setup: the C extension, the workload, a clean environment.

def build_extension(workdir):
    source = HERE / "bench_kernels.c"
    target = workdir / ("bench_kernels" + sysconfig.get_config_var("EXT_SUFFIX"))
    include = sysconfig.get_paths()["include"]
    subprocess.run(["cc", "-shared", "-fPIC", "-g", "-O2", f"-I{include}", str(source), "-o", str(target)],
                   check=True)
    return target


def workload_env(workdir):
    env = dict(os.environ)
    for name in ("CPUPROFILE", "CPUPROFILE_FREQUENCY", "CPUPROFILE_REALTIME", "CPUPROFILE_PER_THREAD_TIMERS",
                 "DEBUGINFOD_URLS"):  # no debuginfod: every tool reads only what is on this machine
        env.pop(name, None)
    env["PYTHONPATH"] = str(workdir)
    # One BLAS thread: the machine has few cores and extra threads spinning
    # would make the timings noisier without changing what is compared.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return env


def plain_cmd(script, units):
    return [PYTHON, str(script), str(units)]


def yep_cmd(script, units, outfile, hz=None, native=False):
    cmd = [PYTHON, "-m", "yep", "-o", str(outfile)] + (["--native"] if native else [])
    if hz is not None:
        cmd += ["-f", str(hz)]
    return cmd + [str(script), str(units)]


def work_seconds(proc):
    m = re.search(r"work_seconds=([\d.]+)", proc.stdout)
    return float(m.group(1)) if m else float("nan")


def samples_of(proc):
    m = re.search(r"yep: wrote .*?: (\d+) samples", proc.stderr)
    return int(m.group(1)) if m else None


def check(proc, what):
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"compare.py: {what} failed with exit status {proc.returncode}")


def calibrate(script, env, cwd, target_seconds):
    """Units of work that take about target_seconds of work time here."""
    units = 4
    _, proc = timed(plain_cmd(script, units), env=env, cwd=cwd)
    check(proc, "the workload")
    per_unit = max(work_seconds(proc) / units, 1e-4)
    return max(1, round(target_seconds / per_unit)), per_unit


# ---------------------------------------------------------------------------
# a. yep report vs the pprofs.

def compare_reports(script, env, workdir, args):
    print()
    print("a. Reading one profile: `yep report` vs the pprofs (wall time of the whole command, "
          f"median of {args.report_reps} runs, {args.slow_reps} for a command slower than {args.slow_seconds:g} s; "
          "interleaved, after one uncounted warm-up run each)")
    profile = workdir / "workload.prof"
    units = max(1, round(args.profile_seconds / args.per_unit))
    wall, proc = timed(yep_cmd(script, units, profile, hz=250), env=env, cwd=workdir)
    check(proc, "profiling the workload with python -m yep -f 250")
    size = profile.stat().st_size
    print(f"  profile: {samples_of(proc)} samples at -f 250 ({units} units of work, {wall:.1f} s to record), "
          f"{size / 1024:.0f} KiB")

    python_binary = os.path.realpath(PYTHON)
    yep_script = Path(PYTHON).with_name("yep")
    yep_report = [str(yep_script)] if os.access(yep_script, os.X_OK) else [PYTHON, "-m", "yep"]
    tools = [("yep report", yep_report + ["report", str(profile)], None, top_entry_yep)]
    yep_convert = shutil.which("yep-convert", path=str(Path(PYTHON).parent))
    if yep_convert:
        tools.append(("yep-convert (C++ CLI)", [yep_convert, str(profile)], None, top_entry_yep))
    if shutil.which("google-pprof"):
        tools.append(("google-pprof --text", ["google-pprof", "--text", python_binary, str(profile)], None,
                      top_entry_pprof))
    else:
        note("google-pprof is not installed (Debian: google-perftools): skipped")
    go = shutil.which("go")
    if go:
        home = workdir / "gohome"
        (home / "cache").mkdir(parents=True, exist_ok=True)
        go_env = dict(env, HOME=str(home), GOCACHE=str(home / "cache"), GOPATH=str(home / "go"),
                      GOTOOLCHAIN="local")
        go_env.pop("PPROF_BINARY_PATH", None)
        tools.append(("go tool pprof -top", [go, "tool", "pprof", "-top", str(profile)], go_env, top_entry_pprof))
    else:
        note("go is not installed (Debian: golang-go): `go tool pprof` skipped")

    times = {name: [] for name, *_ in tools}
    reps = {}
    tops = {}
    failed = set()
    for name, cmd, tool_env, top in tools:  # a warm-up round, not counted: page cache, first starts
        try:
            t, proc = timed(cmd, env=tool_env or env, cwd=workdir, timeout=args.peer_timeout)
        except subprocess.TimeoutExpired:
            failed.add(name)
            note(f"{name} took more than {args.peer_timeout:g} s: left out")
            continue
        if proc.returncode != 0:
            failed.add(name)
            note(f"{name} failed (exit {proc.returncode}): {short(proc.stderr, 100)}")
        else:
            tops[name] = top(proc.stdout)
        # A command that takes seconds a run is repeated less, to keep the script short.
        reps[name] = args.report_reps if t < args.slow_seconds else min(args.report_reps, args.slow_reps)
    if "yep report" in failed:
        raise SystemExit("compare.py: yep report failed on the workload's profile")
    for rep in range(args.report_reps):
        for name, cmd, tool_env, _top in tools:
            if name not in failed and rep < reps[name]:
                times[name].append(timed(cmd, env=tool_env or env, cwd=workdir)[0])

    base = median(times["yep report"])
    rows = []
    for name, *_ in tools:
        if name in failed:
            rows.append((name, "left out", "", "", "", ""))
            continue
        t = median(times[name])
        rows.append((name, fmt_s(t), f"{min(times[name]):.3f} s", str(len(times[name])), f"{t / base:.2f}x",
                     short(tops.get(name, "?"))))
    table(("command", "median", "min", "runs", "time / yep report", "top flat row"), rows)
    for name, *_ in tools:
        if name != "yep report" and name not in failed and times[name]:
            print(f"  ratio: {name} takes {median(times[name]) / base:.2f}x the time of yep report")


def compare_callgrind(profile, env, workdir, args):
    """`yep report --format callgrind` vs `google-pprof --callgrind` on the same file."""
    print()
    print(f"a2. Writing callgrind from the same profile (wall time of the whole command, median of "
          f"{args.report_reps} runs, interleaved)")
    if not shutil.which("google-pprof"):
        note("google-pprof is not installed (Debian: google-perftools): skipped")
        return
    yep_script = Path(PYTHON).with_name("yep")
    yep_report = [str(yep_script)] if os.access(yep_script, os.X_OK) else [PYTHON, "-m", "yep"]
    ours = workdir / "yep.callgrind"
    theirs = workdir / "pprof.callgrind"
    commands = {
        "yep report --format callgrind": yep_report + ["report", str(profile), "--format", "callgrind",
                                                       "-o", str(ours)],
        "google-pprof --callgrind": ["sh", "-c", f'google-pprof --callgrind "{os.path.realpath(PYTHON)}" '
                                                 f'"{profile}" > "{theirs}"'],
    }
    times = {name: [] for name in commands}
    for name, cmd in commands.items():  # warm-up, not counted
        check(timed(cmd, env=env, cwd=workdir)[1], name)
    for _ in range(args.report_reps):
        for name, cmd in commands.items():
            times[name].append(timed(cmd, env=env, cwd=workdir)[0])
    base = median(times["yep report --format callgrind"])
    rows = []
    for name, path in zip(commands, (ours, theirs)):
        t = median(times[name])
        rows.append((name, fmt_s(t), f"{min(times[name]):.3f} s", f"{t / base:.2f}x",
                     f"{path.stat().st_size / 1024:.0f} KiB"))
    table(("command", "median", "min", "time / yep", "output"), rows)
    print(f"  ratio: google-pprof --callgrind takes {median(times['google-pprof --callgrind']) / base:.2f}x "
          "the time of yep report --format callgrind")


# ---------------------------------------------------------------------------
# b. Overhead of profiling.

def overhead(script, env, workdir, args):
    print()
    units = max(1, round(args.overhead_seconds / args.per_unit))
    print(f"b. Slowdown of the workload under python -m yep ({units} units of work, about "
          f"{args.overhead_seconds:g} s; median of {args.overhead_reps} runs each, interleaved in a rotating order)")
    # Python frames (the default) and gperftools' own sampler (--native).
    configs = [("no profiler", None), ("python -m yep (100 Hz)", 100), ("python -m yep -f 250", 250),
               ("python -m yep --native (100 Hz)", -100)]
    wall = {name: [] for name, _ in configs}
    work = {name: [] for name, _ in configs}
    samples = {name: [] for name, _ in configs}
    timed(plain_cmd(script, 1), env=env, cwd=workdir)  # warm the page cache
    for rep in range(args.overhead_reps):
        # Interleaved, and in a rotating order so no configuration always runs first.
        turn = rep % len(configs)
        for name, hz in configs[turn:] + configs[:turn]:
            if hz is None:
                cmd = plain_cmd(script, units)
            else:
                cmd = yep_cmd(script, units, workdir / f"overhead-{abs(hz)}-{rep}.prof",
                              hz=None if abs(hz) == 100 else hz, native=hz < 0)
            t, proc = timed(cmd, env=env, cwd=workdir)
            check(proc, f"the workload ({name})")
            wall[name].append(t)
            work[name].append(work_seconds(proc))
            if hz is not None:
                samples[name].append(samples_of(proc) or 0)

    base_wall, base_work = median(wall["no profiler"]), median(work["no profiler"])
    rows = []
    for name, _ in configs:
        w, k = median(wall[name]), median(work[name])
        spread = (max(work[name]) - min(work[name])) / k if k else float("nan")
        rows.append((name, fmt_s(w), fmt_s(k), f"{100 * spread:.1f}%", f"{w / base_wall:.3f}x", f"{k / base_work:.3f}x",
                     str(int(median(samples[name]))) if samples[name] else "-"))
    table(("run", "process wall", "work loop", "loop spread", "wall / plain", "work / plain", "samples"), rows)
    print("  (process wall: the whole command, start-up and writing the profile included; work loop: the workload's "
          "own timing of its loop; loop spread: (max - min) / median of the work-loop times)")
    for name, _ in configs[1:]:
        print(f"  ratio: {name} / no profiler = {median(wall[name]) / base_wall:.3f}x process wall time, "
              f"{median(work[name]) / base_work:.3f}x work-loop time "
              f"({100 * (median(work[name]) / base_work - 1):+.1f}%)")


# ---------------------------------------------------------------------------
# d. Heap profiling: an allocation-heavy workload under --heap vs memray.

HEAP_WORKLOAD = """
import sys, time
import numpy as np
t0 = time.perf_counter()
for _ in range(int(sys.argv[1])):
    rows = [{"id": i, "name": str(i), "tags": [i, i + 1]} for i in range(20_000)]   # many small objects
    blocks = [bytearray(4096) for _ in range(2_000)]                                # native-size blocks
    arrays = [np.ones(50_000) for _ in range(20)]                                   # numpy buffers
    del rows, blocks, arrays
print(f"work_seconds={time.perf_counter() - t0:.6f}")
"""


def heap_overhead(env, workdir, args):
    print()
    script = workdir / "heap_workload.py"
    script.write_text(HEAP_WORKLOAD)
    t, proc = timed([PYTHON, str(script), "1"], env=env, cwd=workdir)
    check(proc, "the heap workload")
    units = max(1, round(args.overhead_seconds / max(work_seconds(proc), 1e-3)))
    print(f"d. Heap profiling an allocation-heavy workload (Python objects, 4 KiB blocks, numpy buffers; "
          f"{units} rounds, about {args.overhead_seconds:g} s plain; median of {args.heap_reps} interleaved runs)")
    configs = [("no profiler", [PYTHON, str(script), str(units)])]
    configs.append(("python -m yep --heap", [PYTHON, "-m", "yep", "--heap", "-o", str(workdir / "h"), str(script),
                                             str(units)]))
    configs.append(("python -m yep --heap --native", [PYTHON, "-m", "yep", "--heap", "--native", "-o",
                                                      str(workdir / "hn"), str(script), str(units)]))
    configs.append(("python -m yep --heap --pymalloc", [PYTHON, "-m", "yep", "--heap", "--pymalloc", "-o",
                                                        str(workdir / "hp"), str(script), str(units)]))
    # The sampled mode at its default mean, beside the exact one.
    configs.append(("python -m yep --heap --heap-sample 512K",
                    [PYTHON, "-m", "yep", "--heap", "--heap-sample", "512K", "-o", str(workdir / "hs"), str(script),
                     str(units)]))
    configs.append(("python -m yep --heap --heap-sample 512K --pymalloc",
                    [PYTHON, "-m", "yep", "--heap", "--heap-sample", "512K", "--pymalloc", "-o", str(workdir / "hsp"),
                     str(script), str(units)]))
    try:
        import memray  # noqa: F401
        configs.append(("memray run", [PYTHON, "-m", "memray", "run", "-f", "-o", str(workdir / "m.bin"),
                                       str(script), str(units)]))
        configs.append(("memray run --native", [PYTHON, "-m", "memray", "run", "--native", "-f", "-o",
                                                str(workdir / "mn.bin"), str(script), str(units)]))
        configs.append(("memray run --trace-python-allocators",
                        [PYTHON, "-m", "memray", "run", "--trace-python-allocators", "-f", "-o",
                         str(workdir / "mt.bin"), str(script), str(units)]))
    except ImportError:
        note("memray is not installed (pip install memray): skipped")
    wall = {name: [] for name, _ in configs}
    work = {name: [] for name, _ in configs}
    for rep in range(args.heap_reps):
        order = configs[rep % len(configs):] + configs[:rep % len(configs)]
        for name, cmd in order:
            t, proc = timed(cmd, env=env, cwd=workdir)
            check(proc, f"the heap workload ({name})")
            wall[name].append(t)
            work[name].append(work_seconds(proc))
    base_wall, base_work = median(wall["no profiler"]), median(work["no profiler"])
    rows = [(name, fmt_s(median(wall[name])), fmt_s(median(work[name])), f"{median(wall[name]) / base_wall:.2f}x",
             f"{median(work[name]) / base_work:.2f}x") for name, _ in configs]
    table(("run", "process wall", "work loop", "wall / plain", "work / plain"), rows)
    print("  (yep --heap: every malloc with its native stack and Python frames, Python objects included through "
          "PYTHONMALLOC=malloc; --native: the native stack only; "
          "--pymalloc leaves Python's small objects to pymalloc; --heap-sample 512K records one allocation per "
          "512 KiB on average, weighted (estimates). memray: Python stacks; --native adds native "
          "stacks; --trace-python-allocators adds pymalloc's objects)")
    for name, _ in configs[1:]:
        print(f"  ratio: {name} / no profiler = {median(work[name]) / base_work:.2f}x work-loop time")
    yep_work = median(work["python -m yep --heap"])
    sampled_work = median(work["python -m yep --heap --heap-sample 512K"])
    print(f"  ratio: python -m yep --heap --heap-sample 512K / python -m yep --heap = {sampled_work / yep_work:.2f}x "
          f"work-loop time")
    for name, _ in configs:
        if name.startswith("memray"):
            print(f"  ratio: {name} / python -m yep --heap = {median(work[name]) / yep_work:.2f}x work-loop time")


# ---------------------------------------------------------------------------
# c. The C++ converter benchmark.

def cpp_benchmark(workdir, args):
    print()
    binary = Path(args.benchmark_binary)
    print(f"c. C++ converter benchmark ({binary}, --benchmark_min_time={args.min_time})")
    if not os.access(binary, os.X_OK):
        note(f"{binary} not found: build it with `make install` (YEP_BUILD_BENCHMARKS=ON)")
        return
    out_json = workdir / "converter_benchmark.json"
    env = dict(os.environ)
    env.pop("DEBUGINFOD_URLS", None)
    _, proc = timed([str(binary), f"--benchmark_min_time={args.min_time}", f"--benchmark_out={out_json}",
                     "--benchmark_out_format=json"], env=env, cwd=workdir, timeout=600)
    if proc.returncode != 0:
        note(f"converter_benchmark failed (exit {proc.returncode}): {short(proc.stderr, 200)}")
        return
    for line in proc.stderr.splitlines() + proc.stdout.splitlines():
        if line.startswith(("Run on", "profile:", "Benchmark ", "BM_")):
            print("  " + line)
        elif line.startswith("***WARNING*** Library was built as DEBUG"):
            note("Google Benchmark warns that its own library (Debian's libbenchmark) was built without NDEBUG; "
                 "the code measured is libyepconv, built RelWithDebInfo (-O2)")
    try:
        results = {b["name"]: b for b in json.loads(out_json.read_text())["benchmarks"]}
    except (OSError, ValueError, KeyError):
        return

    def ms(name):
        b = results.get(name)
        if not b:
            return None
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
        return b["real_time"] * scale

    parse, cold, warm = ms("BM_Parse/real_time"), ms("BM_Symbolize/cold/real_time"), ms("BM_Symbolize/warm/real_time")
    write, whole = ms("BM_WriteText/30/real_time"), ms("BM_LoadAndReport/real_time")
    if None not in (parse, cold, write):
        total = parse + cold + write
        print(f"  phases of a report (parse + symbolize cold + write_text/30 = {total:.0f} ms): "
              f"parse {100 * parse / total:.0f}%, symbolize {100 * cold / total:.0f}%, "
              f"write {100 * write / total:.0f}%")
    if cold and warm:
        print(f"  ratio: symbolize with a new Symbolizer / with warm caches = {cold / warm:.2f}x")
    if whole and None not in (parse, cold, write):
        print(f"  ratio: load_profile+write_text / (parse + symbolize + write) = {whole / (parse + cold + write):.2f}x "
              "(the rest: read_file of the profile, check_valid, freeing the Profile)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile-seconds", type=float, default=8.0,
                        help="work time of the profiled run of part a (default 8)")
    parser.add_argument("--report-reps", type=int, default=5, help="repetitions of each report command (default 5)")
    parser.add_argument("--slow-seconds", type=float, default=2.0,
                        help="a report command slower than this (warm-up run) is repeated only --slow-reps times")
    parser.add_argument("--slow-reps", type=int, default=2, help="repetitions of a slow report command (default 2)")
    parser.add_argument("--peer-timeout", type=float, default=120.0,
                        help="seconds after which a report command is left out (default 120)")
    parser.add_argument("--overhead-seconds", type=float, default=1.5,
                        help="work time of each run of part b (default 1.5)")
    parser.add_argument("--overhead-reps", type=int, default=6, help="runs of each configuration (default 6)")
    parser.add_argument("--heap-reps", type=int, default=3, help="runs of each heap configuration (default 3)")
    parser.add_argument("--min-time", default="0.5", help="--benchmark_min_time of part c, seconds (default 0.5)")
    parser.add_argument("--benchmark-binary", default=str(Path("build", "py", "converter_benchmark")),
                        help="the C++ benchmark to run in part c (default build/py/converter_benchmark)")
    parser.add_argument("--skip", default="", help="parts to skip, e.g. --skip c or --skip ab")
    args = parser.parse_args()

    if not Path(args.benchmark_binary).is_absolute():
        args.benchmark_binary = str(ROOT / args.benchmark_binary)
    start = time.perf_counter()
    print(f"yep benchmarks on {cpu_model()}, {os.cpu_count()} CPUs; Linux {platform.release()}, "
          f"Python {platform.python_version()} ({os.path.realpath(PYTHON)})")
    with tempfile.TemporaryDirectory(prefix="yep-compare-") as tmp:
        workdir = Path(tmp)
        env = workload_env(workdir)
        if "a" not in args.skip or "b" not in args.skip:
            build_extension(workdir)
            script = workdir / "workload.py"
            script.write_text(WORKLOAD)
            units, args.per_unit = calibrate(script, env, workdir, 1.0)
            print(f"workload: numpy (1 BLAS thread) + C extension bench_kernels (cc -g -O2) + pure Python; "
                  f"one unit of work = {1000 * args.per_unit:.1f} ms here")
            if "a" not in args.skip:
                compare_reports(script, env, workdir, args)
                compare_callgrind(workdir / "workload.prof", env, workdir, args)
            if "b" not in args.skip:
                overhead(script, env, workdir, args)
        if "d" not in args.skip:
            heap_overhead(env, workdir, args)
        if "c" not in args.skip:
            cpp_benchmark(workdir, args)
    print()
    print(f"compare.py took {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
