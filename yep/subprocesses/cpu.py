"""The CPU kind of a process tree's profiles (python -m yep --subprocesses,
yep.start(..., subprocesses=True)): each process samples its CPU (or wall)
time, with Python frames, into <pid>.prof of the folder."""
import os
import sys

from . import append_record, reserve_file


def settings(mixed, frequency, wall):
    """What a child needs to profile as its parent does (see export)."""
    return {"mixed": bool(mixed), "frequency": frequency, "wall": bool(wall)}


def begin(settings, forked):
    from .. import api

    del api._started[:]  # a forked child's copy of its parent's: not this process's
    path = reserve_file(settings["folder"])
    wall = settings["wall"]
    if wall and not settings["mixed"] and "yep._native" not in sys.modules:
        os.environ["CPUPROFILE_REALTIME"] = "1"  # read by libprofiler as it loads
    try:
        begun = api._begin(path, settings["frequency"], settings["mixed"], wall=wall)
    except BaseException:
        os.unlink(path)
        raise
    finally:
        if wall and not settings["mixed"]:
            os.environ.pop("CPUPROFILE_REALTIME", None)
    return begun, path, forked


def end(state):
    from .. import api

    begun, path, forked = state
    api._end(begun)
    append_record(path, forked)
