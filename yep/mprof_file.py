"""memory_profiler's mprof `.dat` format, read and written, so files move
both ways between yep and memory_profiler.

One record a line, memory in MiB (2^20 bytes), times in Unix seconds:

    CMDLINE <command line>
    MEM <MiB> <time>
    FUNC <module.function> <MiB at start> <start> <MiB at end> <end> <stack level>
    CHLD <child pid> <MiB> <time>
    HEAP <MiB> <time>

HEAP records are yep's (`yep mprof run --heap`): the program's native heap
in use, beside its RSS. memory_profiler's reader skips them. With
`--heap-sample`, a `HEAPSAMPLED <mean bytes>` record says the HEAP figures
are the sampled heap profiler's estimates at that mean.

A `profile.timestamp("name")` / `yep.label("name")` block is a FUNC record
named `.name`. Records are not in time order (FUNC records come at the end).
"""
import glob
import os
import time
from dataclasses import dataclass, field

from ._errors import YepError


@dataclass
class FuncRecord:
    name: str
    mem_start: float
    start: float
    mem_end: float
    end: float
    level: int

    @property
    def is_label(self):
        return self.name.startswith(".")


@dataclass
class MprofData:
    path: str = ""
    cmdline: str = ""
    mem: list = field(default_factory=list)        # [(MiB, time)], time order
    funcs: list = field(default_factory=list)      # [FuncRecord]
    children: dict = field(default_factory=dict)   # pid -> [(MiB, time)]
    heap: list = field(default_factory=list)       # [(MiB, time)], time order
    heap_sample: int = 0                           # HEAP figures sampled at this mean (bytes); 0: exact

    @property
    def start(self):
        times = [t for _, t in self.mem + self.heap] + [t for series in self.children.values() for _, t in series]
        return min(times) if times else 0.0

    @property
    def peak(self):
        """Highest MEM reading, in MiB (what `mprof peak` prints)."""
        return max((m for m, _ in self.mem), default=0.0)


def default_name(now=None):
    """mprofile_<YYYYmmddHHMMSS>.dat, as memory_profiler names them."""
    return time.strftime("mprofile_%Y%m%d%H%M%S.dat", time.localtime(now))


def format_func(r):
    return (f"FUNC {r.name} {r.mem_start:.4f} {r.start:.4f} {r.mem_end:.4f} {r.end:.4f} {r.level}\n")


def format_cmdline(cmdline):
    return f"CMDLINE {cmdline}\n"


def format_mem(mib, t):
    """A MEM record, with memory_profiler's precision."""
    return f"MEM {mib:.6f} {t:.4f}\n"


def format_child(pid, mib, t):
    return f"CHLD {pid} {mib:.6f} {t:.4f}\n"


def format_heap(mib, t):
    return f"HEAP {mib:.6f} {t:.4f}\n"


def format_heap_sampled(mean):
    return f"HEAPSAMPLED {int(mean)}\n"


def sample_text(mean):
    """'512 KiB' for 524288: the mean of a sampled HEAP line, as reports say it."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if mean >= 1 << shift and mean % (1 << shift) == 0:
            return f"{mean >> shift} {unit}"
    return f"{mean} bytes"


def write(path, data):
    """Writes an MprofData as a .dat file memory_profiler's mprof reads too
    (no blank lines: its reader stops at one). Returns the path."""
    lines = [format_cmdline(data.cmdline)] if data.cmdline else []
    if data.heap_sample:
        lines.append(format_heap_sampled(data.heap_sample))
    lines += [format_mem(m, t) for m, t in data.mem]
    for pid, series in data.children.items():
        lines += [format_child(pid, m, t) for m, t in series]
    lines += [format_func(r) for r in data.funcs]
    lines += [format_heap(m, t) for m, t in data.heap]
    from .atomic_file import write_atomically

    write_atomically(path, "".join(lines))
    return path


def read(path):
    """Parses a .dat file written by yep or memory_profiler."""
    data = MprofData(path=os.fspath(path))
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise YepError(f"cannot read '{path}': {exc.strerror}") from None
    except UnicodeDecodeError:
        raise YepError(f"{path}: a binary file, not an mprof .dat file") from None
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        kind = fields[0]
        try:
            if kind == "CMDLINE":
                data.cmdline = line[len("CMDLINE "):]
            elif kind == "MEM":
                data.mem.append((float(fields[1]), float(fields[2])))
            elif kind == "FUNC":
                data.funcs.append(FuncRecord(fields[1], float(fields[2]), float(fields[3]), float(fields[4]),
                                             float(fields[5]), int(fields[6]) if len(fields) > 6 else 0))
            elif kind == "CHLD":
                data.children.setdefault(int(fields[1]), []).append((float(fields[2]), float(fields[3])))
            elif kind == "HEAP":
                data.heap.append((float(fields[1]), float(fields[2])))
            elif kind == "HEAPSAMPLED":
                data.heap_sample = int(fields[1])
                if data.heap_sample <= 0:
                    raise ValueError
            # other records (from newer versions) are skipped
        except (IndexError, ValueError):
            raise YepError(f"{path}:{number}: not an mprof record: {line[:80]!r}") from None
    if not data.mem and not data.children:
        raise YepError(f"{path}: no MEM records: not an mprof .dat file, or the run recorded nothing")
    data.mem.sort(key=lambda r: r[1])
    data.heap.sort(key=lambda r: r[1])
    for series in data.children.values():
        series.sort(key=lambda r: r[1])
    return data


def files_in(directory="."):
    """The mprofile_*.dat files of a directory, oldest first (mprof list)."""
    return sorted(glob.glob(os.path.join(directory, "mprofile_*.dat")))
