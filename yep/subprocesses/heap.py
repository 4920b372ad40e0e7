"""The heap kind of a process tree's profiles (python -m yep --heap
--subprocesses): each process records its native heap with yep's heap
recorder (yep.heap, with yep's malloc interposer), Python frames in its stacks as the
parent's, into the folder:

- <pid>.heap (<pid>-1.heap for the program a process exec'd): reserved at
  the start (never an existing file nor through a symlink, as every
  profile of a tree), then replaced by the process's last dump, taken at
  its end and closed with its "# yep-process:" record;
- <pid>.0001.heap, <pid>.0002.heap, ...: its periodic dumps, when the
  program was run with --heap-interval, --heap-inuse-interval or
  --heap-time-interval (every process follows those settings; the
  folder's reader takes only each process's last dump), and <pid>.stacks,
  the stacks those dumps refer to (the last dump is complete on its own).

What a profile counts: a new interpreter (spawn, forkserver's server,
subprocess, exec), everything it allocates from yep's start on; a forked
child (os.fork, fork pools, a forkserver's workers), what it allocates
from the fork on, and of that what is still allocated at its end (blocks
inherited from its parent are not its own, freed or not).

The interposer must see a process's first malloc. A forked
child has its parent's. A new interpreter below the program has not: the
program runs in the environment it was started with, and its children
inherit that, so non-Python children run untouched. So a new Python,
when yep's hook starts it, replaces itself at once (os.execve, same pid,
same file descriptors, sys.orig_argv) by the same command with the interposer
(and PYTHONMALLOC=malloc unless --pymalloc, as the program), then puts
its environment back before its program runs, as python -m yep --heap
does for the program itself.
"""
import contextlib
import os
import sys

from .._errors import YepError
from . import append_record, reserve_file

SUFFIX = ".heap"
# Set in a new interpreter restarted with the interposer: the environment to put back.
RESTARTED = "YEP_SUBPROCESSES_HEAP"
INTERVALS = ("HEAP_PROFILE_ALLOCATION_INTERVAL", "HEAP_PROFILE_INUSE_INTERVAL", "HEAP_PROFILE_TIME_INTERVAL")


def settings(mixed, pymalloc, library, sample=None):
    """What a child needs to profile as its parent does (see export):
    called in the profiled program's process before its environment is
    put back, so the dump intervals are those its heap profile uses."""
    return {"mixed": bool(mixed), "pymalloc": bool(pymalloc), "library": library, "sample": sample or 0,
            "intervals": {name: os.environ[name] for name in INTERVALS if os.environ.get(name)}}


def prefix_of(path):
    """The prefix of a process's dumps: its reserved file's name, less .heap."""
    return path[:-len(SUFFIX)]


def begin(settings, forked):
    if not forked:
        _with_hooks(settings)  # may restart this interpreter (does not return then)
    from .. import heap

    path = reserve_file(settings["folder"], SUFFIX)
    try:
        with intervals_set(settings["intervals"]):  # read by the recorder as it starts
            heap.heap_start(prefix_of(path), settings["mixed"], sample=settings.get("sample") or None,
                            _stop_at_exit=False)
    except BaseException:
        os.unlink(path)
        raise
    return path, forked


def end(state):
    path, forked = state
    finish(path, forked)


def finish(path, forked):
    """Stops the heap profiler; its last dump becomes the reserved file,
    with the record saying whose it is."""
    from .. import heap

    last = heap.heap_stop()[-1]
    os.replace(last, path)
    append_record(path, forked)


def _with_hooks(settings):
    """Returns in a new interpreter that has the interposer preloaded and
    the environment its program was started with; otherwise restarts it so."""
    from .. import heap_run
    from ..native import native as _native

    restarted = RESTARTED in os.environ
    if restarted:
        heap_run.restore_environment(RESTARTED)
    if _native().malloc_hooks_available():
        return
    if restarted:
        raise YepError(f"yep's malloc interposer ({settings['library']}) was not preloaded in this interpreter")
    argv = getattr(sys, "orig_argv", None)
    if not argv:
        raise YepError("cannot restart this interpreter with yep's malloc interposer: it has no sys.orig_argv (Python 3.10+)")
    executable = sys.executable
    if not executable or os.path.realpath("/proc/self/exe") != os.path.realpath(executable):
        raise YepError(f"cannot restart this interpreter with yep's malloc interposer: sys.executable ({executable!r}) is not "
                       f"the program running (an embedded Python?)")
    env = heap_run.hooks_environment(settings, library=settings["library"], marker=RESTARTED)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(executable, argv, env)


@contextlib.contextmanager
def intervals_set(intervals):
    """gperftools' dump intervals (read once, as the heap profiler starts) set
    to `intervals` ({name: value}; the others unset) while inside."""
    saved = {name: os.environ.get(name) for name in INTERVALS}
    for name in INTERVALS:
        if name in intervals:
            os.environ[name] = intervals[name]
        else:
            os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
