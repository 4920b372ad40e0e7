"""The measurement behind ``%memit``: the peak memory of running a statement.

The peak is exact on Linux: writing ``5`` to /proc/self/clear_refs resets
the kernel's high-water mark of this process's RSS (``VmHWM`` in
/proc/self/status) to its current RSS, so resetting it before the statement
and reading it after gives the highest RSS the statement reached, temporaries
it freed before it ended included, for a few microseconds and without a
sampler. Where clear_refs cannot be written, yep's native RSS sampler reads
the RSS every ``interval`` seconds instead (and the result says so). With
``include_children`` the sampler adds the memory of the child processes it
sees; the process's own exact peak is still a lower bound of the total.

RSS only grows when memory is newly touched: a statement served from heap
memory that earlier code freed (but malloc kept) would read as free. So,
after the garbage collection that memory_profiler also does, free heap pages
go back to the system first (glibc's malloc_trim), and the increment is
what the statement really needed.
"""
import ctypes
import gc
import os

from ._errors import YepError

MiB = float(2 ** 20)
CLEAR_REFS = "/proc/self/clear_refs"
STATUS = "/proc/self/status"
EXACT = "exact peak (VmHWM)"


class MemitResult:
    """memory_profiler's MemitResult (same fields, MiB), plus what yep knows.

    ``mem_usage``: the peak of each repeat; ``baseline``: the memory before
    the first; ``repeat``, ``timeout``, ``interval``, ``include_children``:
    the options. Added by yep: ``mem_after`` (the memory after each repeat),
    ``method`` (EXACT, or how the memory was sampled), ``peak`` and
    ``increment``.
    """

    def __init__(self, mem_usage, baseline, repeat, timeout, interval, include_children, mem_after=(),
                 method=""):
        self.mem_usage = list(mem_usage)
        self.baseline = baseline
        self.repeat = repeat
        self.timeout = timeout
        self.interval = interval
        self.include_children = include_children
        self.mem_after = list(mem_after)
        self.method = method

    @property
    def peak(self):
        return max(self.mem_usage)

    @property
    def increment(self):
        return self.peak - self.baseline

    def __str__(self):
        return f"peak memory: {self.peak:.2f} MiB, increment: {self.increment:.2f} MiB"

    def _repr_pretty_(self, p, cycle):
        p.text(f"<MemitResult : {self}>")


def _rss_bytes():
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm_bytes():
    with open(STATUS, "rb") as f:
        for line in f:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{STATUS} has no VmHWM")


def _reset_hwm():
    with open(CLEAR_REFS, "w") as f:
        f.write("5")


def exact_peak_available():
    """None when the high-water mark can be reset and read, else why not."""
    try:
        _reset_hwm()
        _hwm_bytes()
    except OSError as exc:
        return f"cannot reset the peak through {CLEAR_REFS} ({exc.strerror or exc})"
    return None


def _memory(include_children):
    """The memory now, in bytes: this process, plus its descendants if asked."""
    if not include_children:
        return _rss_bytes()
    from .memory_sampling import memory_usage

    return memory_usage(-1, include_children=True)[0] * MiB


def _sampled(run, interval, include_children):
    """(highest sample, last sample) in bytes, sampling every interval seconds."""
    __tracebackhide__ = True  # noqa: F841  (IPython and pytest leave this frame out of tracebacks)
    from .native import native as _native

    sampler = _native().RssSampler(pid=os.getpid(), interval=interval, include_children=include_children)
    sampler.start()
    try:
        run()
    finally:
        sampler.stop(last_sample=True)
    sizes = [size for _, size in sampler.take()[0]]
    return max(sizes), sizes[-1]


def _trim_heap():
    """Gives free heap pages back to the system (glibc), so that reusing
    them shows in RSS; does nothing where malloc_trim does not exist."""
    global _malloc_trim
    if _malloc_trim is None:
        _malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", False)
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


def measure(run, repeat=1, timeout=None, interval=0.001, include_children=False):
    """Runs ``run()`` repeat times; returns a MemitResult. The exceptions of
    ``run`` pass through unchanged (nothing is measured then). ``timeout`` is
    kept in the result for memory_profiler's sake: the statement always runs
    to its end, as it does in memory_profiler."""
    __tracebackhide__ = True  # noqa: F841
    if repeat < 1:
        raise YepError(f"repeat must be 1 or more, not {repeat}")
    if interval <= 0:
        raise YepError(f"interval must be more than 0 seconds, not {interval:g}")
    why_not = exact_peak_available()
    exact = why_not is None
    method = EXACT if exact else f"sampled every {interval:g} s: {why_not}"
    if include_children:
        method += f"; child processes sampled every {interval:g} s"
    gc.collect()  # as memory_profiler does: less noise from the garbage of earlier statements
    _trim_heap()
    baseline = _memory(include_children)
    peaks, after = [], []
    for _ in range(repeat):
        if exact:
            _reset_hwm()
        if exact and not include_children:
            run()
            peak, last = 0, _rss_bytes()
        else:
            peak, last = _sampled(run, interval, include_children)
        if exact:
            peak = max(peak, _hwm_bytes())  # with children: this process's exact peak bounds the total
        peaks.append(peak)
        after.append(last)
    return MemitResult([p / MiB for p in peaks], baseline / MiB, repeat, timeout, interval, include_children,
                       [a / MiB for a in after], method)
