"""Mixed Python + native stacks (python -m yep --mixed, yep.start(mixed=True)):
Python functions and lines take the place of the interpreter's frames, in
every output format, per thread, checked against known truths: a 3:1 split
of the C fixture's hot function between two Python callers, the line of
each call, a pure-Python loop, CPU time from getrusage, and go tool pprof."""
import gzip
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import SPIN_THREAD_TIME, marked_line, needs, needs_program, parse_report, run_yep, write_script
from proto_reader import stacks

# caller_a calls burn_hot three times for each call from caller_b, in the
# same rounds, so both see the same conditions.
SPLIT = """
import resource
import hotcold

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def caller_a(n):
    for _ in range(3):
        hotcold.burn_hot(n)  # call-a

def caller_b(n):
    hotcold.burn_hot(n)  # call-b

start = cpu()
for r in range({rounds}):
    n = 1_000_000 + (r * 7919) % 70_000  # rounds of varying length: no phase lock with the timer
    caller_a(n)
    caller_b(n)
print(f"CPU {{cpu() - start:.4f}}")
"""

SPIN = """
def spin(n):
    total = 0
    for i in range(n):
        total += i * i  # hot-line
    return total

spin({n})
"""


def profiled(tmp_path, hotcold, body, *options, name="work.py"):
    script = write_script(tmp_path, name, body)
    result = run_yep(["--mixed", "-f", "250", *options, str(script)], cwd=tmp_path,
                     env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    return script, result


def load(path):
    import yep

    return yep.load(path)


def stats_of(stats, function):
    """(cc, nc, tt, ct, callers) of a function, its lines summed (stats by line)."""
    rows = [value for (_, _, func), value in stats.stats.items() if func == function]
    assert rows, sorted(stats.stats)
    return (sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows), {})


def py_callers(stats, callee, filename):
    """{(line, function): seconds} of the Python frames calling `callee` directly."""
    out = {}
    for (file, line, func), (cc, nc, tt, ct, callers) in stats.stats.items():
        if func != callee:
            continue
        for (cfile, cline, cfunc), (_, _, _, cct) in callers.items():
            if cfile.endswith(filename):
                out[(cline, cfunc)] = out.get((cline, cfunc), 0) + cct
    return out


def test_native_time_splits_3_to_1_between_python_callers_at_their_lines(hotcold, tmp_path):
    script, result = profiled(tmp_path, hotcold, SPLIT.format(rounds=120))
    stats = load(tmp_path / "work.py.prof").stats(lines=True)
    # Between burn_hot's C wrapper and the Python caller there is nothing
    # but the caller's line: the interpreter's own frames are hidden.
    callers = py_callers(stats, "py_burn_hot", "work.py")
    line_a, line_b = marked_line(script, "# call-a"), marked_line(script, "# call-b")
    assert set(callers) == {(line_a, "caller_a"), (line_b, "caller_b")}, callers
    a, b = callers[(line_a, "caller_a")], callers[(line_b, "caller_b")]
    assert a / (a + b) == pytest.approx(0.75, abs=0.04), callers
    # Each caller is called from the module at its own line.
    assert set(py_callers(stats, "caller_a", "work.py")) == {(marked_line(script, "    caller_a(n)"), "<module>")}


def debug_file_of(executable):
    """The detached debug file (by build id) of an ELF file, if one is installed."""
    try:
        notes = subprocess.run(["readelf", "-n", executable], capture_output=True, text=True, timeout=60).stdout
    except FileNotFoundError:
        return None
    build_id = re.search(r"Build ID: ([0-9a-f]+)", notes)
    if not build_id:
        return None
    path = f"/usr/lib/debug/.build-id/{build_id.group(1)[:2]}/{build_id.group(1)[2:]}.debug"
    return path if os.path.exists(path) else None


@pytest.mark.parametrize("debug_symbols", [True, False], ids=["with-dbg", "without-dbg"])
def test_a_stripped_distribution_python_with_and_without_its_debug_file(hotcold, tmp_path, debug_symbols):
    # Debian's python3.14 is a stripped, non-PIE executable whose eval loop
    # is split (.cold); its -dbg package installs a detached debug file.
    # The split and the hidden interpreter must not depend on that file: the
    # run without it hides /usr/lib/debug in a mount namespace of its own.
    executable = os.path.realpath(sys.executable)
    if not executable.startswith("/usr/bin/") or debug_file_of(executable) is None:
        pytest.skip("needs a distribution's python (/usr/bin) with its -dbg package installed "
                    "(CI: Debian's python3.14 in the sid chroot)")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding /usr/lib/debug needs root and unshare")
    script = write_script(tmp_path, "work.py", SPLIT.format(rounds=80))
    command = [sys.executable, "-m", "yep", "-f", "250", "-v", "--nodecount", "0", str(script)]
    if not debug_symbols:
        # A mount namespace of its own (private: nothing leaks out). Inside a
        # chroot, whose root is no mount point, private propagation cannot be
        # set: there the chroot's own namespace (the CI's) contains it.
        hide = ["sh", "-c", 'mount -t tmpfs tmpfs /usr/lib/debug && exec "$@"', "-"]
        private = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
        command = ["unshare", "--mount", "--propagation", "private" if private.returncode == 0 else "unchanged",
                   *hide, *command]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=str(hotcold)))
    assert result.returncode == 0, result.stderr
    stats = load(tmp_path / "work.py.prof").stats(lines=True)
    callers = py_callers(stats, "py_burn_hot", "work.py")
    line_a, line_b = marked_line(script, "# call-a"), marked_line(script, "# call-b")
    assert set(callers) == {(line_a, "caller_a"), (line_b, "caller_b")}, callers
    a, b = callers[(line_a, "caller_a")], callers[(line_b, "caller_b")]
    assert a / (a + b) == pytest.approx(0.75, abs=0.04), callers
    # The interpreter's frames are hidden, named or not.
    rows, total = parse_report(result.stdout)
    interpreter = os.path.basename(executable)
    shown = sum(flat for name, (flat, _, _) in rows.items() if name.startswith(interpreter + "+0x")
                or name.startswith("_PyEval_EvalFrameDefault"))
    assert shown <= 0.02 * total, result.stdout


def test_total_cpu_matches_getrusage_and_stacks_start_at_the_program(hotcold, tmp_path):
    script, result = profiled(tmp_path, hotcold, SPLIT.format(rounds=120), "-v", "--nodecount", "0")
    cpu = float(re.search(r"^CPU ([\d.]+)$", result.stdout, re.M).group(1))
    rows, total = parse_report(result.stdout)
    assert total == pytest.approx(cpu, rel=0.10), result.stdout
    module_row = next(line for line in result.stdout.splitlines() if "<module>  work.py:1" in line)
    cum = float(module_row.split()[3].rstrip("s"))
    assert cum == pytest.approx(total, rel=0.05), result.stdout  # the program runs under its <module>
    # yep's runner and runpy are not part of the program's stacks.
    for name in ("run_path", "Target.run", "_run_code", "_PyEval_EvalFrameDefault"):
        assert name not in rows, result.stdout
    folded = load(tmp_path / "work.py.prof").folded()
    main_stacks = [line for line in folded.splitlines() if "caller_" in line]
    assert main_stacks and all(line.startswith("<module>;caller_") for line in main_stacks), folded


SHARE = """
import time
import hotcold

def spin(seconds):  # pure Python
    start = time.process_time()
    total = 0
    while time.process_time() - start < seconds:
        for i in range(5_000):
            total += i * i  # spin-line
    return time.process_time() - start

def burn(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        hotcold.burn_hot(100_000)
    return time.process_time() - start

print(spin(0.8), burn(0.4))
"""


def test_pure_python_loop_has_its_share_at_its_line(hotcold, tmp_path):
    # The script measures its own CPU time in each phase: the truth.
    script, result = profiled(tmp_path, hotcold, SHARE, "-v", "--nodecount", "0")
    spin_cpu, burn_cpu = map(float, result.stdout.split()[:2])
    rows, total = parse_report(result.stdout)
    assert rows["spin"][1] / total == pytest.approx(spin_cpu / total, abs=0.05), (spin_cpu, result.stdout)
    assert rows["burn"][1] / total == pytest.approx(burn_cpu / total, abs=0.05), (burn_cpu, result.stdout)
    stats = load(tmp_path / "work.py.prof").stats(lines=True)
    line = marked_line(script, "# spin-line")
    by_line = {}
    for (file, number, func), (_, _, _, ct, _) in stats.stats.items():
        if func == "spin" and file.endswith("work.py"):
            by_line[number] = by_line.get(number, 0) + ct
    # The loop's two lines (its for: FOR_ITER and the jump back; its body)
    # hold spin's time, the body most (it once held 59% to the for's 41%).
    assert by_line.get(line - 1, 0) + by_line.get(line, 0) >= 0.85 * spin_cpu, (by_line, spin_cpu)
    assert max(by_line, key=by_line.get) == line, by_line


UPPER = """
def up(s, n):
    for _ in range(n):
        s.upper()  # upper-line

up("hello world " * 20_000, 4_000)
"""


def test_a_builtin_s_c_function_stays_under_its_python_caller(hotcold, tmp_path):
    # str.upper's C code is the interpreter's own, but a builtin's: it stays,
    # as the native frame under the line that calls it, with its time.
    script, _ = profiled(tmp_path, hotcold, UPPER)
    stats = load(tmp_path / "work.py.prof").stats()
    up = next(value for (file, _, func), value in stats.stats.items() if func == "up")
    callees = {key: callers for key, (_, _, _, _, callers) in stats.stats.items()
               if any(func == "up" for (_, _, func) in callers)}
    native = {key: sum(v[3] for (_, _, func), v in callers.items() if func == "up")
              for key, callers in callees.items() if not key[0].endswith(".py")}
    assert native, callees
    (file, _, name), seconds = max(native.items(), key=lambda item: item[1])
    assert seconds >= 0.8 * up[3], (native, up)
    # Named where the interpreter has symbols; an address in a stripped one.
    assert name in ("unicode_upper", "unicode_upper_impl") or "+0x" in name, native


def test_pure_python_loop_shows_the_function_and_line_not_the_interpreter(hotcold, tmp_path):
    script, result = profiled(tmp_path, hotcold, SPIN.format(n=12_000_000), "-v", "--lines", "--nodecount", "3")
    rows, total = parse_report(result.stdout)
    top = result.stdout.splitlines()[result.stdout.splitlines().index(next(
        line for line in result.stdout.splitlines() if line.lstrip().startswith("flat"))) + 1]
    assert " spin " in top and f"work.py:{marked_line(script, '# hot-line')}" in top, result.stdout
    spin_flat = sum(float(line.split()[0].rstrip("s")) for line in result.stdout.splitlines() if " spin " in line)
    assert spin_flat > 0.9 * total, result.stdout  # the loop's lines (the for and its body)
    assert "_PyEval_EvalFrameDefault" not in result.stdout
    # --interpreter shows what was hidden: the eval loop under spin (named
    # where the interpreter has symbols, an address of its file elsewhere).
    shown = run_yep(["report", "work.py.prof", "--interpreter", "--nodecount", "0"], cwd=tmp_path)
    interpreter = re.compile(r"_PyEval_EvalFrameDefault|^(lib)?python3[\d.]*(\.so[\d.]*)?\+0x")
    assert any(interpreter.search(name) for name in parse_report(shown.stdout)[0]), shown.stdout


THREADS = """
import threading
import hotcold

def work_alpha():
    for _ in range(150):
        hotcold.burn_hot(1_000_000)

def work_beta():
    for _ in range(150):
        hotcold.burn_cold(1_000_000)

threads = [threading.Thread(target=work_alpha, name="alpha"), threading.Thread(target=work_beta, name="beta")]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def test_threads_are_sampled_labelled_and_split(hotcold, tmp_path):
    profiled(tmp_path, hotcold, THREADS)
    profile = load(tmp_path / "work.py.prof")
    split = profile.folded(threads=True).splitlines()
    by_thread, values = {}, {}
    for line in split:
        stack, value = line.rsplit(" ", 1)
        root = stack.split(";")[0]
        by_thread.setdefault(root, []).append(stack)
        values[stack] = int(value)
    alpha = [r for r in by_thread if re.fullmatch(r"thread alpha \(\d+\)", r)]
    beta = [r for r in by_thread if re.fullmatch(r"thread beta \(\d+\)", r)]
    assert alpha and beta, list(by_thread)
    # Each thread's samples are its own work, never the other's (a few are
    # the thread starting or ending, outside its target function).
    assert not any("work_beta" in s for s in by_thread[alpha[0]])
    assert not any("work_alpha" in s for s in by_thread[beta[0]])
    in_target = sum(values[s] for s in by_thread[alpha[0]] if "work_alpha" in s)
    assert in_target >= 0.8 * sum(values[s] for s in by_thread[alpha[0]]), by_thread[alpha[0]]
    assert any(s.endswith("work_alpha;py_burn_hot;burn_hot") for s in by_thread[alpha[0]]), by_thread[alpha[0]]
    # Merged (the default), no thread roots.
    assert not any(line.startswith("thread ") for line in profile.folded().splitlines())


def test_a_thread_running_before_the_start_has_full_stacks_and_its_name(hotcold, tmp_path):
    # Started before yep.start and ended before yep.stop: its samples hold its
    # Python and native frames (yep.start has each running thread set itself
    # up at its next Python call) and its name.
    body = """
    import threading, time, yep, hotcold

    def spin_in_worker():
        start = time.process_time()
        while time.process_time() - start < 1.0:
            hotcold.burn_hot(100_000)

    worker = threading.Thread(target=spin_in_worker, name="early-worker")
    worker.start()
    time.sleep(0.05)
    yep.start("pre.prof", mixed=True)
    worker.join()
    yep.stop()
    """
    script = write_script(tmp_path, "pre.py", body)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(hotcold)), timeout=120)
    assert result.returncode == 0, result.stderr
    folded = load(tmp_path / "pre.prof").folded(threads=True).splitlines()
    total = sum(int(line.rsplit(" ", 1)[1]) for line in folded)
    burning = sum(int(line.rsplit(" ", 1)[1]) for line in folded
                  if re.match(r"thread early-worker \(\d+\);.*;spin_in_worker;py_burn_hot;burn_hot ", line))
    assert burning >= 0.8 * total, folded


def test_every_output_format_shows_python_and_native_frames(hotcold, tmp_path):
    script, _ = profiled(tmp_path, hotcold, SPLIT.format(rounds=40),
                         "--format", "pstats,callgrind,proto,folded,html,source")
    stats = load(tmp_path / "work.py.prof").stats()
    keys = {(os.path.basename(f), func) for f, _, func in stats.stats}
    assert ("work.py", "caller_a") in keys and ("hotcold.c", "burn_hot") in keys, keys
    callgrind = (tmp_path / "work.py.prof.callgrind").read_text()
    assert "fn=" in callgrind and "caller_a" in callgrind and "burn_hot" in callgrind
    html = (tmp_path / "work.py.prof.html").read_text()
    assert "caller_a" in html and "burn_hot" in html
    # The source listing of a Python function: its own lines, with time on the call.
    source = run_yep(["report", "work.py.prof", "--format", "source", "--list", "^caller_a$"], cwd=tmp_path).stdout
    call_row = next(line for line in source.splitlines() if "# call-a" in line)
    assert re.search(r"[1-9][\d.]*s", call_row), source


@needs_program("go")
def test_go_tool_pprof_shows_python_and_native_frames_together(hotcold, tmp_path):
    script, _ = profiled(tmp_path, hotcold, SPLIT.format(rounds=60), "--format", "proto")
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"), PPROF_TMPDIR=str(tmp_path))
    out = subprocess.run(["go", "tool", "pprof", "-traces", str(tmp_path / "work.py.prof.pb.gz")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    traces = out.stdout.split("-----------+-------------------------------------------------------")
    # One trace, leaf first: burn_hot, its wrapper, the Python caller, the module.
    wanted = re.compile(r"burn_hot\s*\n\s*py_burn_hot\s*\n\s*caller_a\s*\n\s*<module>")
    assert any(wanted.search(t) for t in traces), out.stdout


def peer_top(command, env):
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("reader", ["go tool pprof", "google-pprof"])
def test_gperftools_readers_see_the_default_profile_as_a_native_one(hotcold, tmp_path, reader):
    # The .prof itself, not a conversion: its stacks are native, and the
    # Python frames ride in lines these readers skip. So they show native
    # names, the 3:1 split, and no node for a Python frame.
    if shutil.which(reader.split()[0]) is None:
        pytest.skip(f"{reader} is not installed (gperftools 2.17 and later no longer ship google-pprof)")
    from test_cpu_profile import WORKLOAD  # burn_hot does 3x burn_cold's work

    profiled(tmp_path, hotcold, WORKLOAD.format(rounds=60))
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"), PPROF_TMPDIR=str(tmp_path))
    profile = str(tmp_path / "work.py.prof")
    if reader == "go tool pprof":
        out = peer_top(["go", "tool", "pprof", "-top", "-nodecount=500", profile], env)
    else:
        out = peer_top(["google-pprof", "--text", "--nodecount=500", os.path.realpath(sys.executable), profile], env)
    units = {"": 1.0, "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "mins": 60.0}
    flat = {}
    for value, unit, name in re.findall(r"^\s*([\d.]+)(ns|us|µs|ms|s|mins|)\s+[\d.]+%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+(.+?)\s*$",
                                        out, re.M):
        flat[name] = flat.get(name, 0) + float(value) * units[unit]
    assert not [n for n in flat if n.startswith("<unknown>") or re.fullmatch(r"0x1[0-9a-f]{15}", n)], out
    hot, cold = flat.get("burn_hot", 0), flat.get("burn_cold", 0)
    assert hot > 0 and cold > 0, out
    assert hot / (hot + cold) == pytest.approx(0.75, abs=0.05), out


def test_compiling_the_script_is_the_programs_time_and_every_reader_counts_it(tmp_path):
    # runpy reads and compiles the script before its <module> runs: those
    # samples have no frame of the program's own, only the parser's native
    # frames under yep's runner. They stay (python script.py pays for its
    # compiling too), as native frames with no runner above them; and no
    # record starts with pc 0, which google-pprof reads as the end of the
    # data (it once showed such a profile as empty).
    body = "def big():\n" + "".join(f"    x{i} = ({i} + {i}) * {i} - {i} // 3\n" for i in range(60000)) + "big()\n"
    script = write_script(tmp_path, "big.py", body)
    result = run_yep(["-f", "250", str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = int(re.search(r"wrote \S+: (\d+) samples", result.stderr).group(1))
    data = (tmp_path / "big.py.prof").read_bytes()
    words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data) - 7, 8)]
    i, counted, records = 5, 0, []
    while not (words[i] == 0 and words[i + 1] == 1 and words[i + 2] == 0):
        count, depth = words[i], words[i + 1]
        records.append(words[i + 2:i + 2 + depth])
        counted += count
        i += 2 + depth
    assert records and all(r and r[0] != 0 for r in records)
    assert counted == written

    load(tmp_path / "big.py.prof").save(tmp_path / "big.pb.gz", "proto")
    samples = stacks((tmp_path / "big.pb.gz").read_bytes())
    files = {file for frames, _ in samples for _, file, *_ in frames}
    assert not [f for f in files if f.endswith(("runpy.py", "runner.py")) or f == "<frozen runpy>"], files
    # Running big() takes milliseconds, compiling it most of the run: those
    # samples are native only, and hold most of the time.
    python_free = sum(v[0] for frames, v in samples if not any(f.endswith("big.py") for _, f, *_ in frames))
    assert python_free > 0.6 * sum(v[0] for _, v in samples), samples

    if shutil.which("google-pprof"):
        out = subprocess.run(["google-pprof", "--text", os.path.realpath(sys.executable), str(tmp_path / "big.py.prof")],
                             capture_output=True, text=True, timeout=300, env=dict(os.environ, HOME=str(tmp_path)))
        assert f"Total: {written} samples" in out.stdout, out.stdout + out.stderr


def test_samples_outside_the_scripts_run_are_yeps_own(tmp_path):
    # Under the CLI, the main thread runs yep's code (and python -m's runpy)
    # before and after the script: such a sample has no frame of the
    # program's and is yep's own, counted for the period and not recorded
    # (CI once found <frozen runpy> at the root of a profile). yep's folder
    # is the root code's: here the script's own, so its spin() outside
    # program() stands for yep's code, and only program()'s 0.6 s remain.
    script = write_script(tmp_path, "outside.py", SPIN_THREAD_TIME + """
import yep

def program():
    spin(0.6)

yep.start("outside.prof", frequency=250, _root_code=program.__code__)
spin(0.4)
program()
yep.stop()
""")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "outside.prof").read_bytes()
    own = int(re.search(rb"own_samples=(\d+)", text).group(1))
    taken = own + int(re.search(rb" samples=(\d+)", text).group(1))
    cpu = float(re.search(rb" cpu_seconds=([\d.]+)", text).group(1))
    profile = load(tmp_path / "outside.prof")
    # Below program(): spin at the root, never <module>. (Only a sample in
    # yep.start()'s or yep.stop()'s own Python code, which this made-up
    # root does not cover, may start at <module>: a sample or two.)
    folded = [line.rsplit(" ", 1) for line in profile.folded().splitlines()]
    outside = sum(int(ns) for stack, ns in folded if not stack.startswith("spin"))
    assert outside <= 4_000_000 * 2, folded
    # The profile holds program()'s 0.6 s; the 0.4 s before it (and the
    # drain thread's time) went to yep's own samples.
    total = float(re.search(r"Total: ([\d.]+)s", profile.render("text")).group(1))
    assert total == pytest.approx(0.6, abs=0.08), (total, own, taken)
    assert own * cpu / taken >= 0.35, (own, taken, cpu)


def test_two_files_of_one_name_read_apart_in_the_report(tmp_path):
    # pkg_a/util.py and pkg_b/util.py both define work(): the report names
    # each by the shortest tail of its path that tells them apart (they once
    # both read "work  util.py:1"), with their 2:1 split.
    for package, rounds in (("pkg_a", 2), ("pkg_b", 1)):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / "util.py").write_text(
            f"def work(n):\n    total = 0\n    for i in range({rounds} * n):\n        total += i\n    return total\n")
    script = write_script(tmp_path, "main.py", """
        from pkg_a import util as a
        from pkg_b import util as b
        for r in range(40):
            n = 200_000 + (r * 7919) % 20_000
            a.work(n)
            b.work(n)
    """)
    result = run_yep(["-v", "-f", "250", "--nodecount", "0", str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^\s*([\d.]+)s\s+[\d.]+%\s+[\d.]+%\s+[\d.]+s\s+[\d.]+%\s+work\s+(\S+)$", result.stdout, re.M)
    flat = {where: float(seconds) for seconds, where in rows}
    assert set(flat) == {"pkg_a/util.py:1", "pkg_b/util.py:1"}, result.stdout
    assert flat["pkg_a/util.py:1"] / sum(flat.values()) == pytest.approx(2 / 3, abs=0.07), flat


def test_a_layout_the_interpreter_contradicts_is_refused_and_the_program_runs(tmp_path):
    # From 3.13 on the interpreter publishes its frame layout at the start of
    # _PyRuntime (cookie "xdebugpy"). A sitecustomize spoils the cookie, as a
    # patch release that moved fields would spoil the offsets: yep refuses
    # in one line, and the program runs on, unprofiled.
    if sys.version_info < (3, 13):
        pytest.skip("CPython publishes its layout (_Py_DebugOffsets) from 3.13 on")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import ctypes\n"
        "cookie = ctypes.c_char.in_dll(ctypes.pythonapi, '_PyRuntime')\n"
        "ctypes.memmove(ctypes.addressof(cookie), b'spoiled!', 8)\n")
    script = write_script(tmp_path, "prog.py", "import sys\nprint('ran')\nsys.exit(3)\n")
    env = {"PYTHONPATH": str(site)}
    result = run_yep(["-v", str(script)], cwd=tmp_path, env=env)
    assert (result.returncode, result.stdout) == (3, "ran\n"), result
    assert result.stderr.splitlines() == [
        "yep: not profiling: this Python's published frame layout (_Py_DebugOffsets) has no valid cookie"], result
    assert not (tmp_path / "prog.py.prof").exists()
    api = write_script(tmp_path, "api.py", """
        import yep
        try:
            yep.start("api.prof")
        except yep.YepError as exc:
            print("refused:", exc)
        yep.start("native.prof", mixed=False)  # native stacks need no layout
        sum(range(100_000))
        print(yep.stop()["path"])
    """)
    result = subprocess.run([sys.executable, str(api)], cwd=tmp_path, capture_output=True, text=True,
                            env=dict(os.environ, **env), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["refused: not profiling: this Python's published frame layout "
                                          "(_Py_DebugOffsets) has no valid cookie", "native.prof"], result


def test_api_mixed_profile_flush_and_errors(hotcold, tmp_path):
    body = """
    import shutil, sys
    import yep, hotcold
    from yep import load

    def caller():
        hotcold.burn_hot(60_000_000)

    with yep.profile("api.prof", mixed=True):
        caller()
    yep.start("again.prof", mixed=True)
    caller()
    yep.flush()  # a complete file, readable while sampling goes on
    shutil.copy("again.prof", "flushed.prof")  # (reading it here would add samples)
    running = yep.is_running()
    caller()
    summary = yep.stop()
    print("flushed", load("flushed.prof").samples, running)
    print("stopped", load("again.prof").samples, summary["samples"], yep.is_running())
    """
    script = write_script(tmp_path, "api.py", body)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(hotcold)), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    flushed, running = int(lines[0].split()[1]), lines[0].split()[2]
    _, final, samples, running_after = lines[1].split()
    # Each caller() burns about as long: the flush saw about half of the samples.
    assert running == "True" and running_after == "False"
    assert int(final) == int(samples) and 0.3 * int(final) < flushed < 0.7 * int(final), lines
    folded = load(tmp_path / "api.prof").folded()
    assert any(line.startswith("caller;py_burn_hot;burn_hot ") or ";caller;py_burn_hot;burn_hot " in line
               for line in folded.splitlines()), folded


def test_wall_clock_profiles_have_python_frames_and_count_the_sleeping(hotcold, tmp_path):
    # 0.8 s asleep in time.sleep, then 0.3 s of CPU in burn_hot; the script
    # times each phase by the wall clock: the truth the profile must match.
    script = write_script(tmp_path, "w.py", """
        import time
        import hotcold

        def nap():
            time.sleep(0.8)  # sleep-line

        def work():
            start, wall = time.process_time(), time.perf_counter()
            while time.process_time() - start < 0.3:
                hotcold.burn_hot(200_000)
            return time.perf_counter() - wall

        started = time.perf_counter()
        nap()
        napped = time.perf_counter() - started
        print(napped, work())
    """)
    result = run_yep(["--wall", "-f", "250", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    napped, worked = map(float, result.stdout.split())  # each phase's wall time, as the script measured it
    stats = load(tmp_path / "w.py.prof").stats(lines=True)
    # By the wall clock: nap holds its time asleep, work its time burning.
    assert stats_of(stats, "nap")[3] == pytest.approx(napped, abs=0.06), (stats_of(stats, "nap"), napped)
    assert stats_of(stats, "work")[3] == pytest.approx(worked, abs=0.06), (stats_of(stats, "work"), worked)
    # The sleep is charged to its line, above the native call that sleeps.
    sleep_line = marked_line(script, "# sleep-line")
    assert any(func == "nap" and line == sleep_line for (_, line, func) in stats.stats), sorted(stats.stats)


# The same numpy workload under --mixed and under py-spy --native (which
# reads the stacks from outside with ptrace): the shares of the top
# Python-and-native stacks agree.
NUMPY = """
import numpy as np

def matmuls(a):
    for _ in range(6):
        a @ a

def sorts(a):
    for _ in range(12):
        np.sort(a, axis=None)

def py_loop(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

a = np.random.default_rng(0).random((300, 300))
for _ in range({rounds}):
    matmuls(a)
    sorts(a)
    py_loop(100000)
"""


def python_chain_shares(stacks):
    """{(Python functions root to leaf, whether native code runs below the
    last of them): share} from [(frames root first as (name, file), count)]."""
    totals = {}
    for frames, count in stacks:
        python = [i for i, (name, file) in enumerate(frames) if file.endswith(".py")]
        if not python:
            continue
        key = (tuple(frames[i][0] for i in python), python[-1] < len(frames) - 1)
        totals[key] = totals.get(key, 0) + count
    whole = sum(totals.values())
    return {key: value / whole for key, value in totals.items()}


@needs("numpy")
def test_top_stacks_agree_with_py_spy_native(hotcold, tmp_path):
    py_spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(py_spy):
        pytest.skip("py-spy not installed (make test installs it)")
    script = write_script(tmp_path, "np_work.py", NUMPY.format(rounds=150))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    # 250 Hz each (some 500 samples), within 0.1: two separate runs sampled
    # at 100 Hz differed by more than 0.08 in a share about one run in ten.
    ours = run_yep(["--mixed", "-f", "250", "-o", "np.prof", "--format", "proto", str(script)], cwd=tmp_path, env=env)
    assert ours.returncode == 0, ours.stderr
    spy = subprocess.run([py_spy, "record", "--native", "--rate", "250", "--format", "raw", "-o", "spy.txt",
                          "--", sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert spy.returncode == 0, spy.stderr
    spy_stacks = []
    for line in (tmp_path / "spy.txt").read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = []
        for frame in stack.split(";"):
            m = re.fullmatch(r"(.*) \((.*?)(?::\d+)?\)", frame)
            frames.append((m.group(1), m.group(2)) if m else (frame, ""))
        spy_stacks.append((frames, int(count)))
    our_stacks = [([(name, file) for name, file, _, _ in reversed(frames)], values[0])
                  for frames, values in stacks((tmp_path / "np.prof.pb.gz").read_bytes())]
    spy_shares, our_shares = python_chain_shares(spy_stacks), python_chain_shares(our_stacks)
    print("py-spy:", sorted(spy_shares.items(), key=lambda kv: -kv[1])[:6])
    print("yep:   ", sorted(our_shares.items(), key=lambda kv: -kv[1])[:6])

    def by_chain(shares):  # (py-spy cannot tell a stripped interpreter's frames from native code)
        out = {}
        for (chain, _), share in shares.items():
            out[chain] = out.get(chain, 0) + share
        return out

    spy_chains, our_chains = by_chain(spy_shares), by_chain(our_shares)
    top = sorted(spy_chains, key=spy_chains.get, reverse=True)[:3]
    assert top, spy_shares
    for chain in top:
        assert our_chains.get(chain, 0) == pytest.approx(spy_chains[chain], abs=0.1), (chain, spy_shares, our_shares)
    assert {("<module>", "matmuls"), ("<module>", "sorts", "sort"), ("<module>", "py_loop")} == set(top), top
    # yep sees matmuls and sorts (through numpy's Python-level sort) running
    # native code, and py_loop running Python only.
    assert our_shares.get((("<module>", "matmuls"), True), 0) > 0.9 * our_chains[("<module>", "matmuls")]
    assert our_shares.get((("<module>", "sorts", "sort"), True), 0) > 0.9 * our_chains[("<module>", "sorts", "sort")]
    assert our_shares.get((("<module>", "py_loop"), False), 0) > 0.9 * our_chains[("<module>", "py_loop")]


HEAP = """
import numpy as np

def make_big():
    return np.ones((1000, 1000))  # big-line

def make_small():
    return np.ones((100, 1000))  # small-line

keep = [make_big() for _ in range(3)] + [make_small() for _ in range(5)]
print(len(keep))
"""


@needs("numpy")
def test_heap_charges_native_allocations_to_python_lines(tmp_path):
    script = write_script(tmp_path, "work.py", HEAP)
    result = run_yep(["--heap", "-o", "h", str(script)], cwd=tmp_path)  # Python frames: the default
    assert result.returncode == 0, result.stderr
    assert result.stdout == "8\n"
    profile = load(tmp_path / "h.0001.heap")
    inuse = {}
    for line in profile.folded(sample_index="inuse_space").splitlines():
        stack, value = line.rsplit(" ", 1)
        for caller in ("make_big", "make_small"):
            if f";{caller};ones;" in stack:
                inuse[caller] = inuse.get(caller, 0) + int(value)
    # numpy's buffers, 3 x 8,000,000 and 5 x 800,000 bytes, plus the array
    # objects themselves (Python objects are malloc'ed under --heap): well
    # under 1 KiB each.
    assert 24_000_000 <= inuse["make_big"] < 24_000_000 + 3 * 1024, inuse
    assert 4_000_000 <= inuse["make_small"] < 4_000_000 + 5 * 1024, inuse
    # Each at the line of its call, and the stacks start at the program.
    profile.save(tmp_path / "h.pb.gz", "proto")
    lines = {(name, line) for frames, _ in stacks((tmp_path / "h.pb.gz").read_bytes())
             for name, file, _, line in frames if file.endswith("work.py")}
    assert ("make_big", marked_line(script, "# big-line")) in lines
    assert ("make_small", marked_line(script, "# small-line")) in lines
    assert not any(name in ("Target.run", "run_path") for frames, _ in
                   stacks((tmp_path / "h.pb.gz").read_bytes()) for name, *_ in frames)


def test_a_program_that_never_stops_the_sampler_still_gets_its_profile(hotcold, tmp_path):
    script = write_script(tmp_path, "forgets.py", """
    import yep, hotcold

    def caller():
        hotcold.burn_hot(20_000_000)

    yep.start("forgot.prof", mixed=True)
    caller()
    """)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(hotcold)), timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # (no runner to cut here: the thread's start-up frames are hidden as the interpreter's)
    assert any(re.search(r"(^|;)<module>;caller;py_burn_hot;burn_hot \d+$", line)
               for line in load(tmp_path / "forgot.prof").folded().splitlines())


@pytest.mark.parametrize("command", [["serve"], ["memory"], ["mprof", "run", "-o", "m.dat"]])
def test_a_script_run_by_a_yep_command_starts_its_own_mixed_profile_at_its_module(hotcold, tmp_path, command):
    script = write_script(tmp_path, "own.py", """
    import yep, hotcold

    def caller():
        hotcold.burn_hot(20_000_000)

    yep.start("own.prof", mixed=True)
    caller()
    yep.stop()
    """)
    result = run_yep([*command, str(script)], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(hotcold)))
    assert result.returncode == 0, result.stderr
    # (a sample may fall in the wrapper py_burn_hot itself, around its call)
    stacks = [line for line in load(tmp_path / "own.prof").folded().splitlines() if "py_burn_hot" in line]
    assert stacks and all(re.match(r"<module>;caller;py_burn_hot(;burn_hot)? \d+$", line) for line in stacks), stacks
    assert any(line.startswith("<module>;caller;py_burn_hot;burn_hot ") for line in stacks), stacks


def test_mixed_to_an_unwritable_path_is_one_line_and_the_program_does_not_run(tmp_path):
    script = write_script(tmp_path, "w.py", "print('ran')\n")
    result = run_yep(["--mixed", "-o", str(tmp_path / "missing" / "out.prof"), str(script)], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"yep: error: cannot write the profile to '{tmp_path / 'missing' / 'out.prof'}': No such file or directory; "
        "choose a writable path"], result.stderr
    assert "ran" not in result.stdout and not (tmp_path / "missing").exists()

