"""`python -m yep --heap`: run a program under gperftools' heap profiler.

tcmalloc must be the allocator from the first malloc on, so yep restarts
itself (os.execve, same pid, same stdin/stdout/stderr) with tcmalloc in
LD_PRELOAD, and by default PYTHONMALLOC=malloc so that Python's small
objects go through malloc and show up too. In the restarted process the
environment is put back as the program would have seen it, the profiler
starts, the program runs, and a last profile is dumped at exit. With
--subprocesses, every new Python below the program restarts itself so too
(yep.subprocesses.heap), with its own marker variable.
"""
import json
import os
import sys

from ._errors import YepError

CHILD = "YEP_HEAP_CHILD"  # set in the restarted process: the saved environment


def restart_under_tcmalloc(argv, opts):
    """Replaces this process with `python -m yep ARGV` under tcmalloc
    (ARGV starts with the sub-command: run, memory)."""
    env = tcmalloc_environment(opts)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "yep", *argv], env)


def tcmalloc_environment(opts, library=None, marker=CHILD):
    """This process's environment with tcmalloc preloaded (and, unless
    opts["pymalloc"], PYTHONMALLOC=malloc), saving what the program should
    see in the variable `marker` for restore_environment. `library`: the
    libtcmalloc to preload (default: yep's, which imports yep._native)."""
    from .preload import preload_environment

    if library is None:
        from .api import _native

        library = _native().tcmalloc_library()
    if "/" in library and not os.path.exists(library):
        raise YepError(f"tcmalloc not found at {library}: apt-get install libgoogle-perftools4 "
                       f"(Fedora: dnf install gperftools-libs)")
    saved = {name: os.environ.get(name) for name in
             ("LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONMALLOC", "HEAP_PROFILE_ALLOCATION_INTERVAL",
              "HEAP_PROFILE_INUSE_INTERVAL", "HEAP_PROFILE_TIME_INTERVAL")}
    env = dict(os.environ)
    env.update(preload_environment(os.environ, library))
    if not opts.get("pymalloc"):
        env["PYTHONMALLOC"] = "malloc"
    # gperftools reads its dump intervals once, when tcmalloc loads.
    for option, name in (("heap_interval", "HEAP_PROFILE_ALLOCATION_INTERVAL"),
                         ("heap_inuse_interval", "HEAP_PROFILE_INUSE_INTERVAL"),
                         ("heap_time_interval", "HEAP_PROFILE_TIME_INTERVAL")):
        if opts.get(option) is not None:
            env[name] = str(opts[option])
    env[marker] = json.dumps(saved)
    return env


def in_restarted_process():
    return CHILD in os.environ


def restore_environment(marker=CHILD):
    """Gives the program the environment it was started with."""
    saved = json.loads(os.environ.pop(marker))
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def parse_size(text, option):
    """'64M', '1G', '4096' -> bytes."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = str(text).strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "")
    try:
        value = int(float(number) * units[unit])
    except ValueError:
        raise YepError(f"{option} needs a size like 64M or 1G, not {text!r}") from None
    if value <= 0:
        raise YepError(f"{option} must be positive")
    return value
