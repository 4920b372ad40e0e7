"""The mixed Python + native stack sampler (``yep.start(path, mixed=True)``,
``python -m yep --mixed``): the C++ sampler in python/mixed_sampler.*, plus
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
_path = None  # absolute: the program may change directory
_given_path = None  # as the caller gave it, for messages
_previous_hook = None
_owner = None  # the process that started the sampler


def _native():
    from .api import _native as native

    return native()


def _thread_started(frame, event, arg):
    sys.setprofile(_previous_hook)
    thread = threading.current_thread()
    _names[thread.native_id] = thread.name
    if _previous_hook is not None:
        return _previous_hook(frame, event, arg)
    return None


def start(path, frequency, root_code=None, wall=False):
    """root_code: stacks start above its root-most frame and the runpy frames
    above that (the CLI passes its runner's, so yep's frames are left out);
    wall: wall-clock time instead of CPU time."""
    global _previous_hook, _owner, _path, _given_path
    _names.clear()
    _native().mixed_start(path, frequency or 0.0, root_code, wall)
    _path = os.path.abspath(path)
    _given_path = path
    _thread_names()  # those running now keep their names if they end before the stop
    _previous_hook = threading.getprofile()
    threading.setprofile(_thread_started)
    if _owner is None:
        atexit.register(_stop_at_exit)
    _owner = os.getpid()


def _thread_names():
    for thread in threading.enumerate():
        if thread.native_id is not None:
            _names[thread.native_id] = thread.name
    return _names


def stop():
    threading.setprofile(_previous_hook)
    return _native().mixed_stop(_thread_names())


def flush():
    """Writes the whole profile so far to its file; sampling goes on."""
    _native().mixed_flush(_thread_names())


def _stop_at_exit():
    """A program that started the sampler and never stopped it still gets
    its profile, as gperftools' profiler writes its own at exit."""
    if os.getpid() == _owner and running():
        stop()


def path():
    """The file the running sampler writes to."""
    return _path


def given_path():
    """That file as the caller named it."""
    return _given_path


def running():
    return "yep._native" in sys.modules and _native().mixed_running()
