"""The capture API: start/stop gperftools' CPU profiler from Python."""
import functools
import os
import sys

from ._errors import UnsupportedInterpreter, YepError
from .native import native as _native

_LOW_RATE_WARNING = 0.75  # warn when the achieved rate is below this share of the asked one


def own_thread(target):
    """A thread's target that marks the thread as yep's own first: a CPU
    profile of the program leaves its samples out (python/own_threads.h)."""
    def run():
        _native().mark_own_thread()
        try:
            target()
        finally:
            _native().unmark_own_thread()

    return run




def _fspath(path):
    from .user_paths import user_path

    return user_path(path)


def runner_root_code():
    """The code under which yep's command lines run a script (yep serve, yep
    memory, mprof run, python -m yep): mixed stacks start below it, so a
    script that starts a mixed profile itself does not show yep's frames."""
    from .runner import Target

    return Target.run.__code__


def python_frames(mixed=None):
    """Whether a profile records Python frames: ``mixed`` as asked, or by
    default (None) wherever this interpreter's frames can be read. Raises
    UnsupportedInterpreter when the running interpreter contradicts the
    layout yep was built for (never a guess); a version yep has no layout
    for records native stacks only, and says so once on stderr."""
    if mixed is not None:
        return bool(mixed)
    status, reason = _native().mixed_support()
    if status == "mismatch":
        raise UnsupportedInterpreter(f"not profiling: {reason}")
    if status != "ok":
        global _native_only_said
        if not _native_only_said:
            print(f"yep: {reason}: recording native stacks only", file=sys.stderr)
            _native_only_said = True
        return False
    return True


_native_only_said = False


def start(path="out.prof", frequency=None, mixed=None, _root_code=None, wall=False, subprocesses=False):
    """Start the CPU profiler, writing to ``path`` (str or os.PathLike).

    ``frequency`` is the sampling rate in Hz (default 100 Hz, or
    CPUPROFILE_FREQUENCY for native profiles). CPU-time sampling is capped by
    the kernel tick (typically 250 Hz); the profile records the rate really
    achieved. Each sample holds the sampled thread's Python frames merged
    with its native ones (see yep.mixed), wherever this interpreter is
    supported; ``mixed=False`` records native stacks only, with gperftools'
    own sampler (YEP 0.4's profiles). ``wall=True`` samples wall-clock time
    instead of CPU time (Python-frame profiles; for native ones start Python
    with CPUPROFILE_REALTIME=1, as ``python -m yep --wall`` does).
    A profile started while another runs (a script's own yep.start() under
    ``python -m yep``, a decorated function calling another) gets the samples
    of its own window, from the same sampler, at its rate; yep.stop() ends
    the last one started. gperftools' own profiler (``mixed=False``) runs
    one at a time: a profile started while it runs records nothing, and
    says so.
    ``subprocesses=True`` also profiles every Python process the program
    starts from now until yep.stop() (as ``python -m yep --subprocesses``):
    ``path`` is then a folder, made or emptied of an earlier run's profiles,
    where each process writes its own ``<pid>.prof``; ``yep report path``
    reads them as one profile with a "process" label. Processes started
    before yep.stop() write theirs when they end, after it if they outlive
    it.
    Raises YepError if the path cannot be written or another profiler owns
    the timer signal.
    """
    if subprocesses:
        _started.append(_begin_tree(path, frequency, mixed, _root_code, wall))
    else:
        _started.append(_begin(path, frequency, mixed, _root_code, wall))


def _begin(path, frequency=None, mixed=None, root_code=None, wall=False):
    """Starts a profile as start() does; returns what it began (see _started)."""
    path = _fspath(path)
    if frequency is not None:
        try:
            frequency = float(frequency)
        except (TypeError, ValueError):
            raise YepError(f"frequency must be a number of Hz, not {frequency!r}") from None
        if not 1 <= frequency <= 4000:
            raise YepError(f"frequency must be between 1 and 4000 Hz, not {frequency:g}")
    from . import mixed as mixed_sampler

    if mixed_sampler.running():
        return "mixed", _start_inside(mixed_sampler, path, frequency, mixed, wall)
    if "yep._native" in sys.modules and _native().cpu_running():  # gperftools' own profiler
        print(f"yep: '{path}' records nothing: a native profile ('{_native().cpu_profile_path()}') is running, "
              f"and gperftools' profiler runs one at a time", file=sys.stderr)
        return "nothing", path
    if python_frames(mixed):
        return "mixed", mixed_sampler.start(path, frequency, root_code or runner_root_code(), wall=wall)
    native = _native()
    if wall and not native.cpu_wall_clock():
        raise YepError("native wall-clock profiles need CPUPROFILE_REALTIME=1 set before yep loads "
                       "(python -m yep --native --wall does it)")
    native.cpu_start(path, frequency or 0.0)
    return "native", path


def _begin_tree(folder, frequency, mixed, root_code, wall):
    """yep.start(..., subprocesses=True): this process's profile in the
    folder, and every Python process started below it followed."""
    from . import subprocesses
    from .subprocesses import cpu

    folder = _fspath(folder)
    if mixed is False:
        raise YepError("subprocesses=True follows processes with Python frames, not mixed=False profiles")
    if subprocesses.ENV in os.environ:
        raise YepError(f"this process is already one of a profiled process tree "
                       f"({subprocesses.exported_folder()}): its children are followed there")
    subprocesses.prepare_folder(folder)
    path = subprocesses.reserve_file(folder)
    try:
        begun = _begin(path, frequency, mixed, root_code, wall)
    except BaseException:
        os.unlink(path)
        raise
    if begun[0] != "mixed":  # another profiler runs: nothing to follow
        return begun
    subprocesses.export(folder, "cpu", **cpu.settings(True, frequency, wall))
    return "tree", (begun, path, folder)


# What each yep.start() began, in order: ("mixed", id), ("native", path),
# ("nothing", path) or ("tree", (what it began, its file, the folder));
# yep.stop() ends the last. The command line and the
# decorator hold theirs apart.
_started = []


def _start_inside(mixed_sampler, path, frequency, mixed, wall):
    """A profile inside a running one: its window of the same sampler. What
    it cannot have of its own (rate, timer, native stacks) is said once."""
    running = _native().mixed_rate()
    differs = [f"{running['requested_hz']:g} Hz"] if frequency is not None and frequency != running["requested_hz"] else []
    if wall != running["wall_clock"]:
        differs.append("wall-clock time" if running["wall_clock"] else "CPU time")
    if mixed is False:
        differs.append("Python frames")
    if differs:
        print(f"yep: '{path}' shares the running profile's sampler ({mixed_sampler.given_path()}): "
              f"{', '.join(differs)}", file=sys.stderr)
    return mixed_sampler.start(path, frequency)


def stop():
    """Stop the CPU profiler and finish the profile file.

    Returns a dict: path, samples, cpu_seconds, wall_seconds, requested_hz,
    achieved_hz, wall_clock. Warns on stderr when the achieved sampling rate
    is far below the requested one.
    """
    if not _started:
        raise YepError("no profile started by yep.start() is running; call yep.start() first")
    return _end(_started.pop())


def _end(begun):
    """Writes and ends what _begin began; returns its summary."""
    from . import mixed

    kind, what = begun
    if kind == "tree":
        from . import subprocesses

        begun, path, folder = what
        subprocesses.unexport()
        summary = _end(begun)
        subprocesses.append_record(path, forked=False)
        return {**summary, "path": folder}
    if kind == "nothing":
        return {"path": what, "samples": 0, "cpu_seconds": 0.0, "wall_seconds": 0.0, "requested_hz": 0.0,
                "achieved_hz": 0.0, "wall_clock": False}
    summary = mixed.stop(what) if kind == "mixed" else _native().cpu_stop()
    if summary.get("timer_handler_replaced_by"):
        from .timer_handler import say_replaced

        say_replaced(summary)
    else:
        _warn_if_rate_capped(summary)
    return summary


def _end_after_the_programs(begun):
    """Ends the profiles the program started and left running, then `begun`
    (the command line's own); returns its summary."""
    while _started:
        stop()
    return _end(begun)


def flush():
    """Write the samples gathered so far to the profile file (the last
    started). A mixed-stack profile's file is then complete, readable while
    sampling goes on."""
    from . import mixed

    kind, what = _started[-1] if _started else ("native", None)
    if kind == "mixed":
        mixed.flush(what)
    elif kind == "native":
        _native().cpu_flush()


def is_running():
    """Whether the CPU profiler is running."""
    if "yep._native" not in sys.modules:
        return False
    return _native().cpu_running() or _native().mixed_recording()


def _warn_if_rate_capped(summary):
    requested, achieved = summary["requested_hz"], summary["achieved_hz"]
    seconds = summary["wall_seconds"] if summary["wall_clock"] else summary["cpu_seconds"]
    # Only judge the rate when enough samples were expected to measure it.
    if requested <= 0 or seconds * requested < 50 or achieved >= _LOW_RATE_WARNING * requested:
        return
    print(
        f"yep: asked for {requested:g} Hz but got {achieved:.0f} Hz (the kernel's timer tick caps "
        f"CPU-time sampling); the profile's times are scaled to the measured "
        f"{seconds:.2f} s, so they stay right",
        file=sys.stderr,
    )


def profile(*args, **kwargs):
    """Two profilers under one name, told apart by the arguments:

    CPU (YEP): ``yep.profile("out.prof", frequency=None, mixed=None)`` is a context
    manager and decorator that CPU-profiles into the file (see yep.start)::

        with yep.profile("out.prof"):
            work()

    Line memory (memory_profiler): ``@profile`` or ``@profile(precision=4,
    stream=f)`` on a function profiles it line by line in a ``yep memory``
    run and does nothing outside one (see yep.line_memory).
    """
    from . import line_memory, timestamps

    def decorate(func, **options):
        if timestamps.active:  # yep mprof run: a bracket per call
            return timestamps.wrap(func)
        return line_memory.register(func, **options)

    if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], (str, bytes, os.PathLike)):
        return decorate(args[0])
    if not args and kwargs and set(kwargs) <= {"precision", "stream"}:
        return functools.partial(decorate, **kwargs)
    return CpuProfile(*args, **kwargs)


def _timestamp(name):
    """memory_profiler's `with profile.timestamp("name"):` (see yep.label)."""
    from .timestamps import label

    return label(name)


profile.timestamp = _timestamp


class CpuProfile:
    """CPU-profile a block or a function into ``path`` (see yep.profile)."""

    def __init__(self, path="out.prof", frequency=None, mixed=None):
        self.path = _fspath(path)
        self.frequency = frequency
        self.mixed = mixed
        self.summary = None

    def __enter__(self):
        start(self.path, self.frequency, self.mixed)
        return self

    def __exit__(self, *exc):
        self.summary = stop()
        return False

    def __call__(self, func):
        """As a decorator: one profile over every call of the function, its
        file written after each (a Python-frame profile gathers over the
        calls, paused between them; a native one holds the last call). A
        call inside a call (recursion) is part of the outermost."""
        state = {"depth": 0, "profile": None}

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if state["depth"]:
                return func(*args, **kwargs)
            state["depth"] += 1
            try:
                self._begin_call(state)
                try:
                    return func(*args, **kwargs)
                finally:
                    self._end_call(state)
            finally:
                state["depth"] -= 1

        return wrapper

    def _begin_call(self, state):
        from . import mixed

        if state["profile"] is not None and mixed.is_open(state["profile"]):
            mixed.resume(state["profile"])
            return
        state["kind"], what = _begin(self.path, self.frequency, self.mixed)  # held here, across the calls
        state["profile"] = what if state["kind"] == "mixed" else None

    def _end_call(self, state):
        from . import mixed

        if state["kind"] == "mixed":
            mixed.pause(state["profile"])
        elif state["kind"] == "native":
            _native().cpu_stop()
