"""Line-by-line memory (and time) of @profile functions: `yep memory`.

Inside a `yep memory` run, `@profile` (a builtin there, or `from yep import
profile`) registers the function's code object with the C++ line tracer and
returns the function itself, unchanged: methods, generators, coroutines and
recursive functions need nothing special. At exit the report is printed.

Outside a `yep memory` run, `@profile` returns the function unchanged and
does nothing else: decorated code runs at full speed and unit tests that
import it keep working.

The processes a `yep memory` run starts (fork, multiprocessing, subprocess)
trace their own @profile functions (yep.subprocesses.memory); the report
shows this process's functions as before, then each child process that ran
one, under a header naming it (pid, who started it, command line).
"""
import json
import linecache
import os
import threading

MiB = 1 << 20

_active = False
_counting = True  # allocations counted (malloc hooks); else only RSS, time and hits
_functions = {}  # code object -> {"precision": int or None, "stream": file or None}
_at_first_profile = None  # called once, at this process's first @profile (yep.subprocesses.memory)


def _native():
    from .native import native

    return native()


def _code_of(func):
    func = getattr(func, "__func__", func)  # staticmethod, classmethod, bound method
    code = getattr(func, "__code__", None)
    if code is None:
        from ._errors import YepError

        raise YepError(f"@profile needs a Python function, not {type(func).__name__}")
    return code


def register(func, precision=None, stream=None):
    """Profile func line by line in a `yep memory` run; returns func itself
    (on 3.11 running a copy of its code that reports its lines)."""
    global _at_first_profile
    if _at_first_profile is not None:
        first, _at_first_profile = _at_first_profile, None
        first()
    if _active:
        native = _native()
        run = native.line_tracer_add(_code_of(func))
        function = getattr(func, "__func__", func)
        if function.__code__ is not run:
            function.__code__ = run
        _functions.setdefault(native.line_tracer_registered(run), {"precision": precision, "stream": stream})
    return func


def _trace_new_thread(frame, event, arg):
    _native().line_tracer_install_thread()
    return None


def enable(count_allocations=True):
    """Start tracing: every thread, those started from now on included.
    count_allocations needs yep's malloc interposer preloaded; without it the Allocated and Peak
    columns are left blank. The first start in a process measures the
    tracer's own cost per event (a few ms), which the line times leave out."""
    global _active, _counting
    native = _native()
    _counting = count_allocations
    native.line_tracer_start(count_allocations)
    if native.line_tracer_per_thread():  # the trace function (3.11): each new thread installs it
        threading.settrace(_trace_new_thread)
    _active = True


def finish():
    """Stop tracing; count the lines still running in this thread."""
    global _active
    native = _native()
    native.line_tracer_finish_thread()
    native.line_tracer_stop()
    if native.line_tracer_per_thread():
        threading.settrace(None)
    _active = False


def at_first_profile(callback):
    """Calls callback() at this process's first @profile, before it registers
    the function (a child of a `yep memory` run starts tracing only then);
    None cancels."""
    global _at_first_profile
    _at_first_profile = callback


def active():
    """Whether the tracer runs in this process."""
    return _active


def counting_allocations():
    return _counting


def decorated_any():
    """Whether any function was decorated with @profile in this run."""
    return bool(_functions)


def results():
    """One dict per profiled function, in registration order."""
    out = []
    for code, lines in _native().line_tracer_results():
        options = _functions.get(code, {})
        last = max((line for *_, line in code.co_lines() if line), default=code.co_firstlineno)
        out.append({
            "filename": os.path.abspath(code.co_filename),
            "function": code.co_qualname,
            "first_line": code.co_firstlineno,
            "last_line": max(last, max(lines, default=0)),
            "precision": options.get("precision"),
            "stream": options.get("stream"),
            "allocations_counted": _counting,
            "lines": {line: dict(zip(("hits", "time_ns", "allocated_bytes", "peak_bytes", "rss_bytes",
                                      "rss_increment_bytes"), figures)) for line, figures in lines.items()},
        })
    return out


def _duration(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.3f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.1f} us"


TEMPLATE = "{0:>6} {1:>12} {2:>12}  {3:>10} {4:>13} {5:>12} {6:>10}   {7:<}"


def format_function(f, precision):
    """memory_profiler's table, with Allocated, Peak and Time added before
    Line Contents. Memory in MiB (2^20 bytes)."""
    p = f["precision"] if f["precision"] is not None else precision
    rows = [f"Filename: {f['filename']}", "",
            TEMPLATE.format("Line #", "Mem usage", "Increment", "Occurrences", "Allocated", "Peak", "Time",
                            "Line Contents")]
    rows.append("=" * len(rows[-1]))
    for number in range(f["first_line"], f["last_line"] + 1):
        source = linecache.getline(f["filename"], number).rstrip("\n")
        r = f["lines"].get(number)
        if r is None:
            rows.append(TEMPLATE.format(number, "", "", "", "", "", "", source))
            continue
        counted = f.get("allocations_counted", True)
        rows.append(TEMPLATE.format(
            number, f"{r['rss_bytes'] / MiB:.{p}f} MiB", f"{r['rss_increment_bytes'] / MiB:.{p}f} MiB", r["hits"],
            f"{r['allocated_bytes'] / MiB:+.{p}f} MiB" if counted else "",
            f"{r['peak_bytes'] / MiB:.{p}f} MiB" if counted else "",
            _duration(r["time_ns"]), source))
    return "\n".join(rows) + "\n\n"


def process_tables():
    """This process's functions that ran at least one line, JSON-ready (a
    child's part of its parent's report, see yep.subprocesses.memory)."""
    out = []
    for f in results():
        if any(r["hits"] for r in f["lines"].values()):
            f = dict(f, stream=None, lines={str(n): r for n, r in f["lines"].items()})
            out.append(f)
    return out


def _tables_of(process):
    """A child's functions as results() gives them (line numbers as ints)."""
    return [dict(f, lines={int(n): r for n, r in f["lines"].items()}) for f in process["functions"]]


def process_header(process):
    """The line above a child process's tables."""
    how = "forked from" if process["started"] == "fork" else "started by"
    line = f"Process {process['pid']} ({how} {process['parent_pid']}): {process['command']}"
    if not process["allocations_counted"]:
        line += "\n(allocations not counted in this process: yep's malloc interposer could not be preloaded)"
    return line + "\n\n"


def write_report(stream, precision=3, children=()):
    """Prints every function's table, each to its own stream= if it had one,
    then those of each child process (yep.subprocesses.memory.collect),
    under its header."""
    for f in results():
        (f["stream"] or stream).write(format_function(f, precision))
    for process in children:
        stream.write(process_header(process))
        for f in _tables_of(process):
            stream.write(format_function(f, precision))
    stream.flush()


def write_json(path, this_process=None, children=()):
    """The same figures for tools: a list of functions with their lines;
    with child processes, each function also names its process ("process":
    pid, parent_pid, started: main, fork or run, command)."""
    data = []
    for f in results():
        data.append(_json_function(f, this_process))
    for process in children:
        about = {k: process[k] for k in ("pid", "parent_pid", "started", "command", "allocations_counted")}
        for f in _tables_of(process):
            data.append(_json_function(f, about))
    from .atomic_file import write_atomically

    write_atomically(path, json.dumps(data, indent=1))


def _json_function(f, process):
    lines = []
    for number in range(f["first_line"], f["last_line"] + 1):
        r = f["lines"].get(number)
        entry = {"line": number, "source": linecache.getline(f["filename"], number).rstrip("\n")}
        if r:
            entry.update({"occurrences": r["hits"], "time_seconds": r["time_ns"] / 1e9,
                          "allocated_bytes": r["allocated_bytes"], "peak_bytes": r["peak_bytes"],
                          "rss_bytes": r["rss_bytes"], "rss_increment_bytes": r["rss_increment_bytes"]})
        lines.append(entry)
    entry = {"filename": f["filename"], "function": f["function"], "first_line": f["first_line"],
             "lines": lines}
    if process is not None:
        entry["process"] = process
    return entry
