"""`yep mprof run`: memory over time of a program, into memory_profiler's
.dat format.

The program runs as a child process; yep samples its RSS from a C++ thread
(yep.memory_usage on the Popen, so 1 ms intervals are cheap) and streams
MEM (and CHLD) records into the file. A Python program runs under
`python -m yep mprof _child`, which makes `profile` a builtin that records
a bracket for each call of a @profile function, and `profile.timestamp` /
`yep.label` spans; those FUNC records are appended when it ends. With
--heap the child runs with yep's malloc interposer (Python objects through malloc) and
samples its own native heap at the same interval, from a native thread of
its own; those HEAP records (which memory_profiler's reader skips) are
appended too. With --heap-sample BYTES (which implies --heap) those
figures are the sampled heap profiler's estimate of the bytes in use
(yep/heap_sampler.h: one allocation recorded per BYTES on average,
weighted), and a `HEAPSAMPLED <mean>` record says so.
"""
import argparse
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

from ._errors import YepError
from .atomic_file import create_empty
from .arg_parser import Parser
from .usage import decimal, fail


def run_main(argv):
    parser = Parser(
        prog="yep mprof run", description="Sample the memory of a program over time into an mprof .dat file.")
    parser.add_argument("--interval", "-T", type=decimal("--interval", 0.001, 3600), default=0.1, help="seconds between samples (default 0.1)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--include-children", "-C", action="store_true", help="add the children's memory to MEM")
    group.add_argument("--multiprocess", "-M", action="store_true", help="record each child as its own line (CHLD)")
    parser.add_argument("--python", action="store_true",
                        help="run PROGRAM with this Python (implied for a .py file): enables @profile brackets")
    parser.add_argument("--heap", action="store_true",
                        help="also sample the Python program's native heap (the bytes it holds from malloc, "
                             "Python objects included): a second line beside RSS")
    parser.add_argument("--heap-sample", metavar="BYTES",
                        help="--heap, with the heap line from the sampled heap profiler (one allocation recorded "
                             "per BYTES allocated on average, e.g. 512K): an estimate of the bytes requested since "
                             "the program started, marked as sampled in the file and the plot")
    parser.add_argument("-o", "--output", help="the .dat file (default: mprofile_<date>.dat here)")
    # memory_profiler exits 0 unless -E; yep always passes the program's status through.
    parser.add_argument("--exit-code", "-E", action="store_true",
                        help="accepted for memory_profiler's command lines: the exit status is always the program's")
    parser.add_argument("program", help="a Python script or any command")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    args = parser.parse_args(argv)
    from . import mprof_file
    from .memory_sampling import memory_usage

    if args.interval <= 0:
        return fail(f"--interval must be positive, not {args.interval:g}")
    output = args.output or mprof_file.default_name()
    directory = os.path.dirname(os.path.abspath(output))
    if not os.access(directory, os.W_OK):
        return fail(f"cannot write '{output}': the directory {directory} is not writable or does not exist")
    python = args.python or args.program.endswith(".py")
    funcs, env = None, None
    sample = 0
    if args.heap_sample is not None:
        from . import heap_run

        try:
            sample = heap_run.parse_sample(args.heap_sample)
        except YepError as exc:
            return fail(str(exc))
        args.heap = True
    if args.heap and not python:
        return fail(f"--heap samples the heap of a Python program from inside it; '{args.program}' is not one "
                    "(give a .py file, or --python)")
    if python:
        if not os.path.exists(args.program):
            return fail(f"cannot run '{args.program}': no such file")
        heap = []
        if args.heap:
            from . import heap_run

            try:
                env = heap_run.hooks_environment({"heap_sample": sample})
            except YepError as exc:
                return fail(str(exc))
            heap = ["--heap", repr(args.interval)] + (["--heap-sample", str(sample)] if sample else [])
        fd, funcs = tempfile.mkstemp(prefix="yep-mprof-", suffix=".func")
        os.close(fd)
        command = [sys.executable, "-m", "yep", "mprof", "_child", funcs, *heap, args.program, *args.args]
    else:
        if not shutil.which(args.program):
            return fail(f"cannot run '{args.program}': no such command")
        command = [args.program, *args.args]

    print(f"yep: sampling memory every {args.interval:g} s into {output}", file=sys.stderr)
    try:
        create_empty(output)  # safely, in a shared folder too (yep/atomic_file.py)
    except YepError as exc:
        if funcs:
            os.unlink(funcs)
        return fail(str(exc))
    try:
        with open(output, "w") as dat:
            dat.write("CMDLINE " + " ".join(shlex.quote(a) for a in [args.program, *args.args]) + "\n")
            if sample:
                dat.write(mprof_file.format_heap_sampled(sample))
            dat.flush()
            child = subprocess.Popen(command, env=env)
            try:
                memory_usage(child, interval=args.interval, include_children=args.include_children,
                             multiprocess=args.multiprocess, stream=dat)
            except KeyboardInterrupt:  # Ctrl-C reached the program too: let it end, keep the file
                pass
            status = child.wait()
    except (OSError, YepError) as exc:
        with contextlib.suppress(OSError):
            os.unlink(output)  # no half-written .dat passed off as a profile
        return fail(f"cannot sample '{args.program}': {exc}")
    finally:
        if funcs:
            if os.path.exists(output):
                with open(funcs) as records, open(output, "a") as dat:
                    dat.write(records.read())
            os.unlink(funcs)
    if status < 0:  # killed by a signal: end the same way
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    return status


def child_main(argv):
    """Runs a Python program with @profile brackets and labels recorded
    (argv: FUNCS [--heap INTERVAL [--heap-sample MEAN]] SCRIPT ARGS...)."""
    funcs, *argv = argv
    heap_interval, sample = None, 0
    if argv[:1] == ["--heap"]:
        heap_interval, argv = float(argv[1]), argv[2:]
    if argv[:1] == ["--heap-sample"]:
        sample, argv = int(argv[1]), argv[2:]
    script, *args = argv
    import builtins

    from . import heap_run, runner, timestamps
    from .api import profile
    from .native import native as _native

    timestamps.enable()
    builtins.profile = profile
    heap = dumps = None
    try:
        target = runner.Target(script=script)
        if heap_interval is not None:
            heap_run.restore_environment()
            native = _native()
            metric = native.MemoryMetric.HEAP
            if sample:
                dumps = _start_sampled(sample)
                metric = native.MemoryMetric.HEAP_SAMPLED
            heap = native.RssSampler(0, heap_interval, metric)
            heap.start()
    except YepError as exc:
        return fail(str(exc))
    outcome = target.outcome_of_run(args)
    timestamps.write(funcs)
    if heap is not None:
        heap.stop(True)
        _append_heap(funcs, heap.take()[0])
    if dumps is not None:
        _stop_sampled(dumps)
    runner.show_exception(outcome)
    return runner.finish(outcome)


def _start_sampled(mean):
    """Starts the sampled heap profiler for the HEAP line (native stacks
    only, no interval dumps: only its running estimate is read); returns
    the folder its last dump goes to."""
    from .heap import heap_start
    from .subprocesses.heap import INTERVALS, intervals_set

    folder = tempfile.mkdtemp(prefix="yep-mprof-heap-")
    try:
        with intervals_set(dict.fromkeys(INTERVALS, "0")):
            heap_start(os.path.join(folder, "mprof"), mixed=False, sample=mean, _stop_at_exit=False)
    except YepError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _stop_sampled(folder):
    from .heap import heap_is_running, heap_stop

    try:
        if heap_is_running():
            heap_stop()
    except YepError:
        pass
    shutil.rmtree(folder, ignore_errors=True)


def _append_heap(path, samples):
    from .mprof_file import format_heap

    with open(path, "a") as f:
        f.writelines(format_heap(b / 2 ** 20, ns / 1e9) for ns, b in samples)
