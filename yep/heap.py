"""Native heap profiling: gperftools' heap profiler and malloc hooks.

These need yep's malloc interposer preloaded (it records every malloc and
the program's anonymous mmaps, and forwards them to the program's own
allocator): run the program with ``python -m yep --heap script.py`` (which
restarts it so), or start Python with
``LD_PRELOAD=$(python -c 'import yep.heap; print(yep.heap.malloc_hooks_library())')``.
Under tcmalloc preloaded by the program itself, gperftools' hooks serve too.
Elsewhere they raise YepError saying so; they never record a silently
empty profile.

    yep.heap_start("run")          # profiles run.0001.heap, run.0002.heap, ...
    ...
    path = yep.heap_dump("after load")
    files = yep.heap_stop()        # dumps once more, then stops

    with yep.heap_profile("block") as h:
        ...
    h.files                        # the profiles written

    yep.heap_start("run", sample="512K")   # sampled: one allocation per 512 KiB
                                           # on average, weighted: estimates

    yep.heap_stats()               # {'live_bytes', 'peak_bytes', 'allocations', 'frees'}
"""
import atexit
import functools
import os

from ._errors import YepError
from .api import _fspath, python_frames, runner_root_code
from .native import native as _native


_owner = None  # the process whose heap_start() stops the profiler at exit


def heap_start(prefix="yep", mixed=None, _root_code=None, sample=None, seed=None, _stop_at_exit=True):
    """Start the heap profiler; profiles are written to PREFIX.NNNN.heap.
    A session still running when the program exits is stopped then, and
    its last profile written.

    Each stack is written once, to PREFIX.stacks, which the session's
    profiles before the last refer to (yep report reads them with it); the
    last profile (heap_stop's) is complete on its own. Sampled sessions
    write complete profiles only (they hold few stacks).

    Every allocation's stack holds the Python frames of the allocating
    thread merged with the native ones, so native memory is charged to the
    Python line that caused it, wherever this interpreter is supported;
    ``mixed=False`` records native stacks only.

    ``sample=BYTES`` (e.g. ``"512K"``, or True for that default) records
    one allocation per BYTES allocated on average instead of every one, at
    a fraction of the cost: each sample is weighted so that the profiles'
    objects and bytes are unbiased estimates (the reports say so). ``seed``
    (default: the YEP_HEAP_SEED environment variable, else random) makes
    the samples of a single-threaded run reproducible.
    """
    prefix = _fspath(prefix)
    from . import heap_run

    mean = heap_run.parse_sample(sample, "sample")
    if seed is None and os.environ.get(heap_run.SEED_VARIABLE):
        seed = heap_run.parse_seed(os.environ[heap_run.SEED_VARIABLE], heap_run.SEED_VARIABLE)
    elif seed is not None:
        seed = heap_run.parse_seed(seed, "seed")
    # The native side takes 0 as "no seed": seeds are passed on as seed + 1.
    _native().heap_start(prefix, python_frames(mixed), _root_code or runner_root_code(), mean,
                         0 if seed is None else seed + 1)
    global _owner
    if _stop_at_exit:
        if _owner is None:
            atexit.register(_stop_at_exit_of_owner)
        _owner = os.getpid()


def _stop_at_exit_of_owner():
    """A program that started the heap profiler and never stopped it still
    gets its last, complete profile, as yep.start() writes its file at exit
    (python -m yep --heap's session ends its own)."""
    if os.getpid() == _owner and heap_is_running():
        heap_stop()


def heap_dump(reason="yep.heap_dump"):
    """Write a heap profile now and return its path."""
    if not isinstance(reason, str):
        raise YepError(f"reason must be a str, not {type(reason).__name__}")
    return _native().heap_dump(reason)


def heap_stop():
    """Dump a last profile, stop, and return the paths of the session's profiles."""
    return list(_native().heap_stop())


def heap_is_running():
    return _native().heap_running()


def heap_stats(reset_peak=False):
    """Live and peak native heap bytes, counted by malloc hooks (cheap).

    The peak is the highest live figure since the hooks were installed (on
    first use) or since the last call with reset_peak=True.
    """
    return dict(_native().heap_stats(bool(reset_peak)))


def heap_profiler_stats():
    """The heap profiler's session in requested bytes (estimates when
    sampled): {'recording', 'sample' (mean bytes between samples, 0: every
    allocation), 'inuse_bytes', 'peak_bytes' (highest in use since
    heap_start), 'allocated_bytes', 'stacks', 'live_blocks', 'memory_bytes'
    (what yep's own tables hold)}. The figures of the last session stay
    readable after heap_stop()."""
    return dict(_native().heap_recorder_stats())


def malloc_hooks_library():
    """yep's malloc interposer (libyepmalloc.so), which --heap preloads."""
    return _native().malloc_hooks_library()


class heap_profile:
    """Heap-profile a block or a function into PREFIX.NNNN.heap files.

        with yep.heap_profile("load") as h:
            data = load()
        print(h.files[-1])
    """

    def __init__(self, prefix="yep", sample=None, seed=None):
        self.prefix = os.fspath(prefix)
        self.sample, self.seed = sample, seed
        self.files = []

    def __enter__(self):
        heap_start(self.prefix, sample=self.sample, seed=self.seed)
        return self

    def __exit__(self, *exc):
        self.files = heap_stop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with heap_profile(self.prefix, self.sample, self.seed):
                return func(*args, **kwargs)

        return wrapper
