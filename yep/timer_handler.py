"""When the program replaces yep's timer signal handler (its own SIGPROF
handler, another profiler, a library's), the profile's samples stop there.
The capture notices it at stop (python/signal_owner.h), keeps the asked
sampling period instead of scaling the samples to the time measured, and
this module names the handler's owner: on stderr, and in a "# yep-note:"
line of the profile that reports show in their header."""
import os
import signal
import stat
import sys

NOTE = "# yep-note:\t"


def owner(summary):
    """The new handler in words: the Python function signal.signal was
    given, else what the capture found (an object file's function)."""
    found = summary["timer_handler_replaced_by"]
    if found != "Python's signal module":
        return found
    handler = signal.getsignal(signal.SIGALRM if summary["wall_clock"] else signal.SIGPROF)
    code = getattr(getattr(handler, "__func__", handler), "__code__", None)
    name = getattr(handler, "__qualname__", None) or repr(handler)
    if code is None:
        return f"{name}, through signal.signal"
    return f"{name} ({code.co_filename}:{code.co_firstlineno}), through signal.signal"


def say_replaced(summary):
    signal_name = "SIGALRM" if summary["wall_clock"] else "SIGPROF"
    measured = "wall" if summary["wall_clock"] else "CPU"
    held = summary["samples"] / summary["requested_hz"] if summary["requested_hz"] else 0.0
    total = summary["wall_seconds" if summary["wall_clock"] else "cpu_seconds"]
    text = (f"the program replaced yep's {signal_name} handler with {owner(summary)}: sampling stopped there, "
            f"so the profile holds {held:.2f} s of the {total:.2f} s {measured} the run used")
    print(f"yep: {text}", file=sys.stderr)
    # Appended to the profile just written: only a regular file of ours (the
    # note is the header's, not needed for a device; a FIFO whose reader
    # has gone would block the open), never through a link.
    try:
        fd = os.open(summary["path"], os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return text
    with os.fdopen(fd, "a") as f:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            f.write(f"{NOTE}{text.replace(chr(10), ' ').replace(chr(9), ' ')}\n")
    return text
