"""The mixed Python + native stack sampler (``yep.start(path, mixed=True)``,
``python -m yep``, the default): the C++ sampler in python/mixed_sampler.*, plus
what only Python knows: the names of threads.

Every thread started while it runs leaves its name for the labels (through
``threading.setprofile``, a hook that removes itself at once), so threads
that end before the stop keep their names.
"""
import atexit
import os
import sys
import threading

_names = {}  # native thread id -> name
_windows = []  # the profiles recording now, in the order started: [(id, absolute path, path as given)]
_previous_hook = None
_owner = None  # the process that started the sampler


def _native():
    from .native import native

    return native()


def _thread_started(frame, event, arg):
    sys.setprofile(_previous_hook)
    thread = threading.current_thread()
    _names[thread.native_id] = thread.name
    if _previous_hook is not None:
        return _previous_hook(frame, event, arg)
    return None


def start(path, frequency, root_code=None, wall=False):
    """Starts a profile writing to path and returns its id. The first starts
    the sampler: root_code: stacks start above its root-most frame and the
    runpy frames above that (the CLI passes its runner's, so yep's frames
    are left out); wall: wall-clock time instead of CPU time. One started
    while the sampler runs (a profile inside a profile) shares it, with its
    rate, timer and root, and gets the samples of its own window."""
    global _previous_hook, _owner
    first = not running()
    if first:
        _names.clear()
        _windows.clear()  # (a forked child's copy of its parent's)
    import sysconfig

    profile_id = _native().mixed_start(path, frequency or 0.0, root_code, wall, sysconfig.get_paths()["stdlib"])
    _windows.append((profile_id, os.path.abspath(path), path))
    if first:
        _thread_names()  # those running now keep their names if they end before the stop
        _previous_hook = threading.getprofile()
        threading.setprofile(_thread_started)
        if _owner is None:
            atexit.register(_stop_at_exit)
        _owner = os.getpid()
    return profile_id


def _thread_names():
    for thread in threading.enumerate():
        if thread.native_id is not None:
            _names[thread.native_id] = thread.name
    return _names


def stop(profile_id=None):
    """Writes and ends a profile (default: the last started); the last one
    stops the sampler."""
    if profile_id is None:
        profile_id = _windows[-1][0]
    summary = _native().mixed_stop(profile_id, _thread_names())
    _windows[:] = [w for w in _windows if w[0] != profile_id]
    if not _windows:
        threading.setprofile(_previous_hook)
    return summary


def pause(profile_id):
    """Stops gathering into a profile and writes what it has; resume gathers on."""
    _native().mixed_pause(profile_id, _thread_names())


def is_open(profile_id):
    """Whether a profile this process started is still open (running or paused)."""
    return running() and any(w[0] == profile_id for w in _windows)


def resume(profile_id):
    _native().mixed_resume(profile_id)


def flush(profile_id=None):
    """Writes a whole profile so far (default: the last started) to its file; sampling goes on."""
    _native().mixed_flush(_windows[-1][0] if profile_id is None else profile_id, _thread_names())


def _stop_at_exit():
    """A program that started a profile and never stopped it still gets its
    file, as gperftools' profiler writes its own at exit."""
    while os.getpid() == _owner and _windows and running():
        stop()


def path():
    """The file the last started profile writes to."""
    return _windows[-1][1] if _windows else None


def given_path():
    """That file as the caller named it."""
    return _windows[-1][2] if _windows else None


def running():
    return "yep._native" in sys.modules and _native().mixed_running()
