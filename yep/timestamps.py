"""Function brackets and labels for `yep mprof run`, recorded by the program
itself: each call of a @profile function, and each `with yep.label("name"):`
(or memory_profiler's `with profile.timestamp("name"):`) block, becomes a
FUNC record with the RSS and time at its start and end and its nesting
level, written to the .dat file when the program ends.

Outside `yep mprof run` (and `yep memory`), labels are a no-op context.
"""
import contextlib
import functools
import inspect
import os
import threading
import time

active = False
_records = []  # FuncRecord, in the order calls ended
_local = threading.local()
_page = os.sysconf("SC_PAGE_SIZE")


def _rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _page / (1 << 20)


def _level():
    return getattr(_local, "depth", 0)


@contextlib.contextmanager
def _bracket(name):
    from .mprof_file import FuncRecord

    level = _level()
    _local.depth = level + 1
    mem_start, start = _rss_mib(), time.time()
    try:
        yield
    finally:
        _local.depth = level
        _records.append(FuncRecord(name, mem_start, start, _rss_mib(), time.time(), level))


def wrap(func):
    """The function, recording a bracket per call (generators and coroutines
    per activation between yields/awaits is not needed: per whole run)."""
    name = f"{func.__module__}.{func.__name__}"
    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def generator(*args, **kwargs):
            with _bracket(name):
                return (yield from func(*args, **kwargs))
        return generator
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def coroutine(*args, **kwargs):
            with _bracket(name):
                return await func(*args, **kwargs)
        return coroutine

    @functools.wraps(func)
    def plain(*args, **kwargs):
        with _bracket(name):
            return func(*args, **kwargs)
    return plain


def label(name):
    """`with yep.label("loading"):` marks a span of the mprof plot."""
    if not active:
        return contextlib.nullcontext()
    return _bracket("." + str(name))


def enable():
    global active
    active = True


def write(path):
    """Appends the FUNC records to `path`."""
    from .mprof_file import format_func

    with open(path, "a") as f:
        for record in _records:
            f.write(format_func(record))
