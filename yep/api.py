"""The capture API: start/stop gperftools' CPU profiler from Python."""
import functools
import os
import sys

from ._errors import UnsupportedInterpreter, YepError

_LOW_RATE_WARNING = 0.75  # warn when the achieved rate is below this share of the asked one


def _native():
    # Imported on first use: loading libprofiler arms its timer, which is
    # work a plain "import yep" should not do.
    try:
        from . import _native as native
    except ImportError as exc:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        raise YepError(f"yep's native module is missing ({exc}); is Python importing yep from its source "
                       f"tree in {here}? Run from another directory, after `make install`") from None
    global _fork_hook_registered
    if not _fork_hook_registered:
        # A forked child must not write into its parent's profile.
        os.register_at_fork(after_in_child=native.cpu_release_after_fork)
        _fork_hook_registered = True
    return native


_fork_hook_registered = False


def _fspath(path):
    try:
        path = os.fspath(path)
    except TypeError:
        raise YepError(f"profile path must be a str or os.PathLike, not {type(path).__name__}") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return path


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


def start(path="out.prof", frequency=None, mixed=None, _root_code=None, wall=False):
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
    Raises YepError if the profiler is already running, the path cannot be
    written, or another profiler owns the timer signal.
    """
    path = _fspath(path)
    if frequency is not None:
        try:
            frequency = float(frequency)
        except (TypeError, ValueError):
            raise YepError(f"frequency must be a number of Hz, not {frequency!r}") from None
        if not 1 <= frequency <= 4000:
            raise YepError(f"frequency must be between 1 and 4000 Hz, not {frequency:g}")
    from . import mixed as mixed_sampler

    if mixed_sampler.running():  # (the native profiler and the mixed sampler each refuse the other too)
        raise YepError(f"the CPU profiler is already running (writing '{mixed_sampler.given_path()}'); "
                       f"call yep.stop() before starting it again")
    if python_frames(mixed):
        mixed_sampler.start(path, frequency, _root_code or runner_root_code(), wall=wall)
    else:
        native = _native()
        if wall and not native.cpu_wall_clock():
            raise YepError("native wall-clock profiles need CPUPROFILE_REALTIME=1 set before yep loads "
                           "(python -m yep --native --wall does it)")
        native.cpu_start(path, frequency or 0.0)


def stop():
    """Stop the CPU profiler and finish the profile file.

    Returns a dict: path, samples, cpu_seconds, wall_seconds, requested_hz,
    achieved_hz, wall_clock. Warns on stderr when the achieved sampling rate
    is far below the requested one.
    """
    from . import mixed

    summary = mixed.stop() if mixed.running() else _native().cpu_stop()
    _warn_if_rate_capped(summary)
    return summary


def flush():
    """Write the samples gathered so far to the profile file. A mixed-stack
    profile's file is then complete, readable while sampling goes on."""
    from . import mixed

    if mixed.running():
        mixed.flush()
    else:
        _native().cpu_flush()


def is_running():
    """Whether the CPU profiler is running."""
    if "yep._native" not in sys.modules:
        return False
    return _native().cpu_running() or _native().mixed_running()


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
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with CpuProfile(self.path, self.frequency, self.mixed):
                return func(*args, **kwargs)

        return wrapper
