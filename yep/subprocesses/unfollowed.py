"""Without --subprocesses: what a profile leaves out of the process tree.
At the end of a run, one line says how many child processes the program
started, how much CPU they (and the processes they started in turn) used,
and the option that profiles them.

The count is of the processes this process started through Python, seen
by wrapping the functions that start one: os.fork, os.forkpty,
os.posix_spawn[p], os.system, and _posixsubprocess.fork_exec (subprocess
and multiprocessing's spawn and forkserver starts). Each wrapper calls the
original and notes the pid it returned, so a process is counted once
whatever path started it. A process started from C code, or by a
forkserver (its workers are not this process's children), is not counted;
its CPU is, once waited for: the CPU comes from getrusage(RUSAGE_CHILDREN)."""
import functools
import os
import sys

CHILDREN_NOISE_SECONDS = 0.1

_pids = set()
_unnamed = [0]  # os.system: a process, its pid never returned


def _noting_pid(start, pid_of):
    @functools.wraps(start)
    def started(*args, **kwargs):
        result = start(*args, **kwargs)
        pid = pid_of(result)
        if pid:  # 0: the forked child's side
            _pids.add(pid)
        return result

    started.__wrapped_by_yep__ = start
    return started


def _noting_system(system):
    @functools.wraps(system)
    def started(*args, **kwargs):
        _unnamed[0] += 1
        return system(*args, **kwargs)

    started.__wrapped_by_yep__ = system
    return started


def _wrap(module, name, wrapper):
    original = getattr(module, name, None)
    if original is not None and not hasattr(original, "__wrapped_by_yep__"):
        setattr(module, name, wrapper(original))


def start_counting():
    """Counts from now on the processes this process starts (see above)."""
    _wrap(os, "fork", lambda f: _noting_pid(f, lambda pid: pid))
    _wrap(os, "forkpty", lambda f: _noting_pid(f, lambda result: result[0]))
    _wrap(os, "posix_spawn", lambda f: _noting_pid(f, lambda pid: pid))
    _wrap(os, "posix_spawnp", lambda f: _noting_pid(f, lambda pid: pid))
    _wrap(os, "system", _noting_system)
    try:
        import _posixsubprocess
    except ImportError:
        return
    _wrap(_posixsubprocess, "fork_exec", lambda f: _noting_pid(f, lambda pid: pid))
    subprocess = sys.modules.get("subprocess")  # binds fork_exec as it is imported
    if subprocess is not None and getattr(subprocess, "_fork_exec", None) is not None:
        _wrap(subprocess, "_fork_exec", lambda f: _noting_pid(f, lambda pid: pid))


def started():
    """How many processes this process started since start_counting()."""
    return len(_pids) + _unnamed[0]


def note():
    """One line when child processes used CPU that the profile does not
    hold (only those waited for count), else None."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = usage.ru_utime + usage.ru_stime
    if seconds < CHILDREN_NOISE_SECONDS:
        return None
    count = started()
    who = (f"the {count} child process{'es' if count != 1 else ''} the program started" if count
           else "child processes")
    return (f"yep: {who} used {seconds:.2f} s CPU, which this profile does not hold: "
            f"python -m yep --subprocesses profiles them")
