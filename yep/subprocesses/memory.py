"""The line-memory kind of a process tree: ``yep memory`` follows the
processes its program starts, by default (``--no-subprocesses`` turns it
off), so that an ``@profile`` function is reported wherever it runs: in a
multiprocessing pool's workers (fork, spawn, forkserver), a
ProcessPoolExecutor, a ``subprocess.run([sys.executable, ...])`` child, an
``os.fork()`` child. Why by default, where ``python -m yep --subprocesses``
is an option: @profile already names what to measure, and a decorated
function left out of the report because it ran in a worker is a wrong
report, not a smaller one; following changes nothing else in the output
(still one report, children after this process's own tables), where the CPU
option turns the output file into a folder.

The parent (yep.cli's memory_main) makes a private folder (mkdtemp, 0700)
and exports it (yep.subprocesses.export); every child, at its first
@profile (a process that never decorates a function leaves no trace),
creates ``<pid>.prof`` there (reserve_file: O_EXCL, no symlink followed)
holding one pending line with its command line, starts the line tracer,
and when it ends (exit, os._exit, exec, SIGTERM: yep.run_ends) replaces that
line with its tables (line_memory.process_tables, one JSON line) and the
``# yep-process:`` record; one whose functions ran no line removes its file.
The parent reads the finished files after its program returns (collect),
reports each process under its own header, and names in one line those
still running or killed before they wrote (but for multiprocessing's
forkserver, which imports the program's main module where Pythons preload
it, and by design ends only after the program: the workers it forks report
the work).

Per process, not merged: each table is memory_profiler's table of one
process (Mem usage is that process's RSS; a line's Increment and Peak are
within one process), which summing over processes would make wrong; the
JSON (--json) gives each function its process, for tools that want sums.

Forked children inherit the tracer running, the interposer and the parent's
figures: line_tracer_after_fork drops those figures (and the RSS file the
thread had open, which reads the parent's), and the lines the forking
thread was running go on without counting an occurrence (they started in
the parent). The tracer holds no lock or thread of its own (all under the
GIL; the allocation counters are the forking thread's own, in TLS).

New interpreters start without yep's malloc interposer: before anything else, this hook
restarts the interpreter (os.execve, same pid, same argv: sys.orig_argv)
with the interposer preloaded and PYTHONMALLOC=malloc, as yep memory restarts
itself, and the restarted one puts the environment back before the program
runs, so its allocations are counted as the parent's are. Where that cannot
be (no sys.executable or sys.orig_argv, the interposer missing, the preload did
not take), the child runs on and its report says that its allocations were
not counted (RSS, time and hits are still there). Programs that are not
Python never load the hook and are not touched.
"""
import json
import os
import sys

from . import RECORD, SUFFIX, append_record, command_line, profile_files, reserve_file

RESTARTED = "YEP_MEMORY_RESTARTED"  # in a child restarted with the interposer: the environment to put back
PENDING = "# yep-pending:\t"
FORKSERVER = "from multiprocessing.forkserver import main"  # multiprocessing's forkserver's command line


def settings(count_allocations):
    """What a child needs to trace as its parent does (see export)."""
    return {"count_allocations": bool(count_allocations)}


# --- the parent ----------------------------------------------------------------


def follow(count_allocations):
    """Makes the private folder of a run's children and exports it; returns it."""
    import tempfile

    from .._errors import YepError
    from . import export

    try:
        folder = tempfile.mkdtemp(prefix="yep-memory-")
    except OSError as exc:
        raise YepError(f"cannot make a temporary folder for the child processes' reports "
                       f"({exc.strerror}): set TMPDIR to a writable folder, or use --no-subprocesses") from None
    export(folder, "memory", **settings(count_allocations))
    return folder


def collect(folder):
    """Stops following and reads the children's reports: (processes that
    ran a decorated function, oldest pid first; one line naming those that
    had not finished, or None). Removes the folder."""
    import shutil

    from . import ENV

    os.environ.pop(ENV, None)  # processes started from now on (at exit) are not followed
    try:
        complete, unfinished = profile_files(folder)
        processes = [p for p in map(_read, complete) if p is not None]
        missing = [m for m in map(_pending, unfinished) if m is not None]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    processes.sort(key=lambda p: p["pid"])
    note = None
    if missing:
        s = "" if len(missing) == 1 else "es"
        note = (f"yep memory: {len(missing)} child process{s} had not finished (still running, or killed) when "
                f"this report was written, so their lines are not in it: {'; '.join(missing)}")
    return processes, note


def _read(path):
    with open(path) as f:
        tables, record = f.read().rstrip("\n").rsplit("\n", 1)
    pid, parent, how, command = record[len(RECORD):].split("\t", 3)
    data = json.loads(tables)
    if not data["functions"]:
        return None
    return {"pid": int(pid), "parent_pid": int(parent), "started": how, "command": command, **data}


def _pending(path):
    name = os.path.basename(path)[:-len(SUFFIX)]
    try:
        with open(path) as f:
            first = f.readline().rstrip("\n")
    except OSError:
        first = ""
    if not first.startswith(PENDING):
        return name
    command = first[len(PENDING):]
    if FORKSERVER in command:  # lives until the program has ended, by design; its workers report for it
        return None
    return f"{name} ({command})"


# --- a child ---------------------------------------------------------------------


class _Process:
    """This process's part of the run: its file, made at its first @profile."""

    def __init__(self, folder, forked, counting):
        self.folder, self.forked, self.counting = folder, forked, counting
        self.path = None
        self.tracing = False  # set once the tracer runs (not while it calibrates: see end)

    def reserve(self):
        self.path = reserve_file(self.folder)
        with open(self.path, "w") as f:
            f.write(f"{PENDING}{command_line()}\n")

    def first_profile(self):
        from .. import line_memory

        try:
            self.reserve()
            if not line_memory.active():
                line_memory.enable(self.counting)
            self.tracing = True
        except Exception as exc:  # noqa: BLE001 - the program runs on, its lines not traced
            if self.path is not None:
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
            self.path = None
            print(f"yep: not tracing the lines of process {os.getpid()}: {exc}", file=sys.stderr)


def begin(settings, forked):
    from .. import line_memory
    from ..native import native as _native

    if forked:
        if line_memory.active():
            _native().line_tracer_after_fork()
            counting = line_memory.counting_allocations()
        else:
            counting = settings["count_allocations"] and _native().malloc_hooks_available()
        process = _Process(settings["folder"], True, counting)
        if line_memory.active() and line_memory.decorated_any():
            process.reserve()
            process.tracing = True
            line_memory.at_first_profile(None)
        else:
            line_memory.at_first_profile(process.first_profile)
        return process
    counting = settings["count_allocations"] and _with_hooks()
    import builtins

    from ..api import profile

    builtins.profile = profile  # as in the parent: a builtin under yep memory
    process = _Process(settings["folder"], False, counting)
    line_memory.at_first_profile(process.first_profile)
    return process


def end(process):
    from .. import line_memory

    line_memory.at_first_profile(None)
    if process.path is None:
        return
    if line_memory.active():
        line_memory.finish()
    # Ended (a pool's terminate()) before the tracer ran, while it measured
    # its own cost on a function of its own: no line of the program ran.
    tables = line_memory.process_tables() if process.tracing else []
    try:
        if not tables:
            os.unlink(process.path)
            return
        fd = os.open(process.path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "w") as f:
            f.write(json.dumps({"allocations_counted": process.counting, "functions": tables}) + "\n")
        append_record(process.path, process.forked)
    except FileNotFoundError:  # the parent has reported and removed the folder: too late for this one
        pass


def _with_hooks():
    """Whether this new interpreter counts allocations: it restarts itself
    with the interposer first if need be (does not return then)."""
    from ..native import native as _native

    native = _native()
    restarted = os.environ.pop(RESTARTED, None)
    if restarted is not None:
        for name, value in json.loads(restarted).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if native.malloc_hooks_available():
        return True
    argv = getattr(sys, "orig_argv", None)
    library = native.malloc_hooks_library()
    if restarted is not None or not argv or not sys.executable or ("/" in library and not os.path.exists(library)):
        return False
    from ..preload import preload_environment

    env = dict(os.environ)
    try:
        env.update(preload_environment(os.environ, library))
    except Exception:  # noqa: BLE001 - a path the loader cannot take: not counted
        return False
    env["PYTHONMALLOC"] = "malloc"
    env[RESTARTED] = json.dumps({name: os.environ.get(name) for name in ("LD_PRELOAD", "LD_LIBRARY_PATH",
                                                                           "PYTHONMALLOC")})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)
