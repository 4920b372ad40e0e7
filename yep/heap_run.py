"""`python -m yep --heap`: run a program under gperftools' heap profiler.

yep's malloc interposer (libyepmalloc.so: it records and forwards every
malloc to the program's own allocator) must see the first malloc on, so
yep restarts itself (os.execve, same pid, same stdin/stdout/stderr) with it
in LD_PRELOAD, and by default PYTHONMALLOC=malloc so that Python's small
objects go through malloc and show up too. In the restarted process the
environment is put back as the program would have seen it, the profiler
starts, the program runs, and a last profile is dumped at exit. With
--subprocesses, every new Python below the program restarts itself so too
(yep.subprocesses.heap), with its own marker variable.
"""
import os
import sys

from ._errors import YepError

CHILD = "YEP_HEAP_CHILD"  # set in the restarted process: the saved environment


def restart_with_hooks(argv, opts):
    """Replaces this process with `python -m yep ARGV` with the interposer
    (ARGV starts with the sub-command: run, memory)."""
    env = hooks_environment(opts)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "yep", *argv], env)


def hooks_environment(opts, library=None, marker=CHILD):
    """This process's environment with the interposer preloaded (and, unless
    opts["pymalloc"] or the sampled mode, opts["heap_sample"] or
    opts["sample"], PYTHONMALLOC=malloc: the sampled mode samples pymalloc's
    objects through Python's allocator hooks), saving what the program should
    see in the variable `marker` for restore_environment. `library`: the
    interposer to preload (default: yep's, which imports yep._native)."""
    from .preload import preload_environment

    if library is None:
        from .native import native as _native

        library = _native().malloc_hooks_library()
    if "/" in library and not os.path.exists(library):
        raise YepError(f"yep's malloc interposer is missing ({library}): reinstall yep")
    saved = {name: os.environ.get(name) for name in
             ("LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONMALLOC", "HEAP_PROFILE_ALLOCATION_INTERVAL",
              "HEAP_PROFILE_INUSE_INTERVAL", "HEAP_PROFILE_TIME_INTERVAL")}
    env = dict(os.environ)
    env.update(preload_environment(os.environ, library))
    if not (opts.get("pymalloc") or opts.get("heap_sample") or opts.get("sample")):
        env["PYTHONMALLOC"] = "malloc"
    # The heap profiler reads its dump intervals (gperftools' variables) when it starts.
    for option, name in (("heap_interval", "HEAP_PROFILE_ALLOCATION_INTERVAL"),
                         ("heap_inuse_interval", "HEAP_PROFILE_INUSE_INTERVAL"),
                         ("heap_time_interval", "HEAP_PROFILE_TIME_INTERVAL")):
        if opts.get(option) is not None:
            env[name] = str(opts[option])
    # NAME=hex of its bytes, or NAME alone when unset, comma-separated (no
    # json: the restarted process should import nothing it does not need)
    env[marker] = ",".join(name if value is None else f"{name}={os.fsencode(value).hex()}"
                           for name, value in saved.items())
    return env


def in_restarted_process():
    return CHILD in os.environ


def restore_environment(marker=CHILD):
    """Gives the program the environment it was started with."""
    for entry in os.environ.pop(marker).split(","):
        name, is_set, value = entry.partition("=")
        if is_set:
            os.environ[name] = os.fsdecode(bytes.fromhex(value))
        else:
            os.environ.pop(name, None)


# A dump interval below this writes a dump every few allocations: --heap-interval 1
# once wrote 6,030 files (1.6 GB) in 10 s.
MIN_DUMP_INTERVAL = 1 << 20
MAX_DUMP_INTERVAL = 1 << 50


# The sampled mode (--heap-sample): one allocation recorded per this many
# bytes on average by default (tcmalloc's and Go's default too), and the
# bounds of the mean: a byte records nearly everything, a GiB almost nothing.
DEFAULT_SAMPLE = 512 << 10
MIN_SAMPLE = 1
MAX_SAMPLE = 1 << 30
SEED_VARIABLE = "YEP_HEAP_SEED"  # a whole number: reproducible samples (tests)


def parse_sample(value, option="--heap-sample"):
    """The sampled mode's mean in bytes: a size ('512K', '1M', 65536), from
    1 byte to 1 GiB; True: the default, 512 KiB; None, False or 0: not
    sampled (returns 0)."""
    if value is None or value is False or (type(value) is int and value == 0):
        return 0
    if value is True:
        return DEFAULT_SAMPLE
    if not isinstance(value, (int, str)):
        raise YepError(f"{option} needs a size like 512K or 1M, not {value!r}")
    return parse_size(value, option, MIN_SAMPLE, MAX_SAMPLE, "from 1 byte to 1G", "512K or 1M")


def parse_seed(value, origin):
    """A seed for the sampled mode: a whole number from 0 to 2**63 - 1."""
    try:
        seed = int(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    except ValueError:
        seed = None
    if seed is None or not 0 <= seed < (1 << 63):
        raise YepError(f"{origin} must be a whole number from 0 to 2**63 - 1, not {value!r}")
    return seed


def parse_size(text, option, minimum=MIN_DUMP_INTERVAL, maximum=MAX_DUMP_INTERVAL, bounds="from 1M to 1P",
               example="64M or 1G"):
    """'64M', '1G', '1048576' -> bytes, within [minimum, maximum] (by
    default from 1 MiB to 1 PiB: the dump intervals)."""
    from .usage import is_decimal

    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
    given = str(text)
    text = given.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "")
    whole, _, fraction = number.partition(".")
    if not (is_decimal(number) and len(whole) <= 16 and len(fraction) <= 9):
        raise YepError(f"{option} needs a size like {example}, not {given!r}")
    value = int(float(number) * units[unit])
    if not minimum <= value <= maximum:
        raise YepError(f"{option} takes a size {bounds}, not {given!r}")
    return value
