"""``yep.memory_usage``: memory_profiler's ``memory_usage``, sampled by a native thread.

The samples are read from /proc by yep's RSS sampler (python/rss_sampler.h)
in a C++ thread that never takes the GIL, so the interval can be as short as
a millisecond and the function being measured runs at full speed.
"""
import numbers
import os
import sys

from ._errors import YepError


def _popen_class():
    """subprocess.Popen, if the program imported subprocess (otherwise
    nothing can be one): yep's import of it would add its objects to every
    garbage collection of the profiled program."""
    module = sys.modules.get("subprocess")
    return module.Popen if module else ()


_MIB = float(2 ** 20)
_WAIT_SLICE = 0.1  # seconds: how often a long wait looks at Ctrl-C, the stream and the Popen

# memory_profiler's backend names -> what the sampler measures.
_BACKENDS = {None: "RSS", "psutil": "RSS", "posix": "RSS", "rss": "RSS",
             "psutil_pss": "PSS", "pss": "PSS", "psutil_uss": "USS", "uss": "USS", "heap": "HEAP"}


def memory_usage(proc=-1, interval=0.1, timeout=None, timestamps=False, include_children=False,
                 multiprocess=False, max_usage=False, retval=False, stream=None, backend=None,
                 max_iterations=None):
    """Memory used by a process, or by this one while a function runs, in MiB (2^20 bytes).

    ``proc`` is what to measure:

    - ``-1`` (default): this process, for ``timeout`` seconds (one sample without a timeout);
    - a pid (int, or a str of digits): that process, for ``timeout`` seconds (one sample
      without one), or until it exits;
    - a ``subprocess.Popen``: its process, until it exits or ``timeout`` seconds passed;
    - a callable ``f``, or ``(f,)``, ``(f, args)``, ``(f, args, kwargs)``: calls ``f(*args, **kwargs)``
      once, in this thread, while this process is sampled; a sample is taken right before and
      right after the call, so there are always at least two.

    Returns the list of samples, each a float of MiB, or ``(MiB, unix time)`` with
    ``timestamps``; with ``multiprocess`` each sample is ``[this process, child 1, child 2, ...]``
    (the children in MiB, depth first). ``max_usage`` returns only the largest sample (a float, or
    ``(MiB, unix time)`` with ``timestamps``). ``retval`` returns ``(samples, f's return value)``.
    ``include_children`` adds every descendant's memory to the process's. ``interval`` is the
    time between samples in seconds (1 ms is cheap). ``stream``: a text file that receives
    ``MEM <MiB> <time>`` lines (and ``CHLD <pid> <MiB> <time>`` with ``multiprocess``), as
    ``mprof`` writes them; the function then returns None. ``backend``: ``None``/``"psutil"``/
    ``"posix"`` measure RSS, ``"psutil_pss"`` PSS and ``"psutil_uss"`` USS (from
    /proc/<pid>/smaps_rollup, slower to read); ``"heap"`` (yep's own) measures this process's
    native heap: the bytes held from malloc, Python's objects included under
    ``PYTHONMALLOC=malloc`` (needs yep's malloc interposer preloaded, as under ``yep mprof run --heap``).
    ``max_iterations`` is accepted for memory_profiler's sake: yep calls ``f`` exactly once.

    Raises YepError for a process that does not exist, an interval that is not more than 0,
    or a ``proc`` or ``backend`` it does not understand. ``f``'s exceptions pass through.
    """
    interval = _seconds("interval", interval)
    if interval <= 0:
        raise YepError(f"interval must be more than 0 seconds, not {interval:g}")
    if timeout is not None:
        timeout = _seconds("timeout", timeout)
        if timeout < 0:
            raise YepError(f"timeout must be 0 seconds or more, not {timeout:g}")
    metric = _metric(backend)
    if max_iterations is not None and (not isinstance(max_iterations, numbers.Integral) or max_iterations < 1):
        raise YepError(f"max_iterations must be None or a whole number of 1 or more, not {max_iterations!r}")
    if stream is not None:
        timestamps = True

    options = dict(interval=interval, metric=metric, include_children=bool(include_children),
                   per_child=bool(multiprocess), max_only=bool(max_usage))
    call = _as_call(proc)
    if call is not None:
        samples, children, returned = _sample_call(call, options)
    else:
        samples, children = _sample_process(proc, timeout, options, stream, multiprocess)
        returned = None

    result = _result(samples, children, timestamps, multiprocess, max_usage, stream)
    if stream is not None:
        return None
    if retval and call is not None:
        return result, returned
    return result


def _native():
    from .native import native
    return native()


def _seconds(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise YepError(f"{name} must be a number of seconds, not {value!r}")
    value = float(value)
    if value != value:
        raise YepError(f"{name} must be a number of seconds, not nan")
    return value


def _metric(backend):
    try:
        name = _BACKENDS[backend]
    except (KeyError, TypeError):
        if backend == "tracemalloc":
            raise YepError("backend 'tracemalloc' is not available in yep.memory_usage, which samples memory "
                           "from a native thread: use 'psutil' (RSS), 'psutil_pss', 'psutil_uss' or 'heap'") from None
        raise YepError(f"unknown backend {backend!r}: use 'psutil' (RSS, the default), 'psutil_pss', "
                       f"'psutil_uss' or 'heap'") from None
    return getattr(_native().MemoryMetric, name)


def _as_call(proc):
    """(f, args, kwargs) when proc is a function to run, None when it names a process."""
    if callable(proc):
        return proc, (), {}
    if isinstance(proc, (list, tuple)):
        if not 1 <= len(proc) <= 3 or not callable(proc[0]):
            raise YepError("proc as a tuple must be (f,), (f, args) or (f, args, kwargs) with f callable; "
                           f"got {_short(proc)}")
        f, args, kwargs = (tuple(proc) + ((), {}))[:3]
        return f, tuple(args), dict(kwargs)
    return None


def _pid(proc):
    if isinstance(proc, _popen_class()):
        return proc.pid
    if isinstance(proc, str) and proc.strip().isdigit():
        proc = int(proc)
    if isinstance(proc, numbers.Integral) and not isinstance(proc, bool):
        if proc == -1:
            return os.getpid()
        if proc > 0:
            return int(proc)
        raise YepError(f"no process with pid {proc}: use -1 for this process")
    raise YepError("proc must be -1 (this process), a pid, a subprocess.Popen, a callable or "
                   f"(f, args, kwargs), not {_short(proc)}")


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _sample_call(call, options):
    f, args, kwargs = call
    sampler = _native().RssSampler(pid=os.getpid(), **options)
    sampler.start()  # the sample before the call
    try:
        returned = f(*args, **kwargs)
    except BaseException:
        sampler.stop(last_sample=False)
        raise
    sampler.stop(last_sample=True)  # the sample after it
    samples, children = sampler.take()
    return samples, children, returned


def _sample_process(proc, timeout, options, stream, multiprocess):
    pid = _pid(proc)
    popen = proc if isinstance(proc, _popen_class()) else None
    if popen is not None and popen.poll() is not None:
        return [], []  # already over (and maybe reaped: its pid may belong to someone else now)
    if timeout is not None:
        count = max(1, round(timeout / options["interval"]))  # memory_profiler's number of samples
    else:
        count = 0 if popen is not None else 1  # a Popen: until it exits; a pid: one sample
    sampler = _native().RssSampler(pid=pid, max_samples=count, **options)
    sampler.start()
    if sampler.samples_taken == 0 and popen is None:
        raise YepError(f"process {pid} has exited")
    try:
        while not sampler.wait(_WAIT_SLICE):
            if popen is not None and popen.poll() is not None:
                break
            if stream is not None and not options["max_only"]:
                _write(stream, *sampler.take(), multiprocess)
    finally:
        sampler.stop(last_sample=False)
    return sampler.take()  # what the stream has not had yet


def _result(samples, children, timestamps, multiprocess, max_usage, stream):
    if stream is not None:
        if max_usage and samples:
            best = max(range(len(samples)), key=lambda i: samples[i][1])
            samples = [samples[best]]
            children = [children[best]] if children else []
        _write(stream, samples, children, multiprocess)
        return None
    if max_usage:
        if not samples:
            return None
        unix_ns, size = max(samples, key=lambda s: s[1])  # the first of equal maxima
        return (size / _MIB, unix_ns / 1e9) if timestamps else size / _MIB
    out = []
    for i, (unix_ns, size) in enumerate(samples):
        value = (size / _MIB, unix_ns / 1e9) if timestamps else size / _MIB
        if multiprocess:
            value = [value] + [child / _MIB for _, child in children[i]]
        out.append(value)
    return out


def _write(stream, samples, children, multiprocess):
    """mprof's records: MEM <MiB> <time>, and CHLD <pid> <MiB> <time> per child."""
    lines = []
    for i, (unix_ns, size) in enumerate(samples):
        when = unix_ns / 1e9
        lines.append(f"MEM {size / _MIB:.6f} {when:.4f}\n")
        if multiprocess:
            lines.extend(f"CHLD {pid} {child / _MIB:.6f} {when:.4f}\n" for pid, child in children[i])
    if lines:
        stream.write("".join(lines))
        stream.flush()
