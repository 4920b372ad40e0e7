"""`yep mprof ...`: memory over time, in memory_profiler's mprof .dat files
(yep's and memory_profiler's files are interchangeable).

    yep mprof run [options] script.py [args]   sample memory into mprofile_<date>.dat
    yep mprof plot [FILE ...] [-o F] [--title T] [--flame] [--slope] [--window S,E]
    yep mprof peak [FILE ...]                  highest memory of each file
    yep mprof list                             the mprofile_*.dat files here, numbered
    yep mprof rm N|FILE ...                    remove profiles (by number or name)
    yep mprof clean                            remove every mprofile_*.dat here

A FILE may also be a number from `yep mprof list` (-1 is the newest);
without FILE, plot and peak use the newest mprofile_*.dat here.
"""
import os
import re
import sys
import time

from . import mprof_file
from ._errors import YepError
from .arg_parser import Parser
from .usage import UsageError, fail

USAGE = """\
usage: yep mprof run [options] script.py [args ...]    (yep mprof run -h)
       yep mprof plot [FILE ...] [-o FILE] [--title T] [--flame] [--slope] [--window START,END]
       yep mprof peak [FILE ...] [--func NAME]
       yep mprof list
       yep mprof rm [--dry-run] N|FILE ...
       yep mprof clean [--dry-run]

Memory over time, in memory_profiler's mprof .dat files. FILE may be a
number from `yep mprof list` (0 the oldest, -1 the newest); without FILE,
plot and peak use the newest mprofile_*.dat in the current directory.
"""


def main(argv):
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(USAGE)
        return 0 if argv else fail("yep mprof needs a command: run, plot, peak, list, rm or clean")
    command, rest = argv[0], argv[1:]

    # ---- `yep mprof run` lives in yep/mprof_run.py (run_main), written ----
    # ---- separately; `_child` is its internal helper (the program side). ----
    if command == "run":
        from .mprof_run import run_main

        return run_main(rest)
    if command == "_child":
        from .mprof_run import child_main

        return child_main(rest)
    # ---- end of `run` ----

    handler = COMMANDS.get(command)
    if handler is None:
        return fail(f"unknown yep mprof command {command!r}: use run, plot, peak, list, rm or clean")
    try:
        return handler(rest)
    except (UsageError, YepError) as exc:
        return fail(str(exc))


# ---------------------------------------------------------------- files


def _profiles():
    """The mprofile_*.dat files here, oldest first (names only)."""
    return [os.path.basename(p) for p in mprof_file.files_in(".")]


def _resolve(args):
    """File names and `yep mprof list` numbers -> existing paths, in order,
    each once."""
    profiles = None
    paths = []
    for arg in args:
        if os.path.isdir(arg):
            raise YepError(f"'{arg}' is a directory, not an mprof .dat file")
        if os.path.exists(arg):
            path = arg
        elif re.fullmatch(r"[+-]?\d+", arg):
            profiles = _profiles() if profiles is None else profiles
            try:
                path = profiles[int(arg)]
            except IndexError:
                raise YepError(f"no profile number {arg}: there {'is' if len(profiles) == 1 else 'are'} "
                               f"{len(profiles)} mprofile_*.dat file{'' if len(profiles) == 1 else 's'} here "
                               f"(yep mprof list)") from None
        else:
            raise YepError(f"cannot read '{arg}': no such file")
        if path not in paths:
            paths.append(path)
    return paths


def _newest():
    profiles = _profiles()
    if not profiles:
        raise YepError(f"no mprofile_*.dat file in {os.getcwd()}: give a .dat file, or record one with "
                       f"`yep mprof run script.py`")
    print(f"yep: using {profiles[-1]}, the newest profile here", file=sys.stderr)
    return [profiles[-1]]


def _files(args):
    return _resolve(args) if args else _newest()


# ---------------------------------------------------------------- commands


def plot_main(argv):
    parser = Parser(prog="yep mprof plot", description="Plot memory over time from mprof .dat files (yep's "
                     "or memory_profiler's), with @profile function brackets, labels and child processes.",
                     epilog="Without a display, or with -o, the plot is written to a file: -o's, or the first "
                     "file's name with .png.")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="profiles (or numbers from yep mprof list); default: the newest here")
    parser.add_argument("-o", "--output", help="write the plot here (.png, .svg or .pdf) instead of showing it")
    parser.add_argument("-t", "--title", help="the plot's title (default: the command line)")
    parser.add_argument("-f", "--flame", action="store_true",
                        help="draw the function calls as a flame chart (stack level over time)")
    parser.add_argument("-s", "--slope", action="store_true",
                        help="fit a line to memory against time and show its slope (MiB/s)")
    parser.add_argument("-w", "--window", metavar="START,END",
                        help="only this time range, in seconds from the first sample (e.g. 0,20.5)")
    args = parser.parse_args(argv)
    from . import mprof_plot

    window = mprof_plot.parse_window(args.window) if args.window is not None else None
    mprof_plot.plot(_files(args.files), output=args.output, title=args.title, flame=args.flame,
                    slope=args.slope, window=window)
    return 0


def _func_peak(data, name):
    """Highest reading while a function (full or dotted-suffix name) ran, or None."""
    records = [f for f in data.funcs if f.name == name] or \
        [f for f in data.funcs if f.name.endswith("." + name.lstrip("."))]
    if not records:
        return None
    values = [m for m, t in data.mem if any(f.start <= t <= f.end for f in records)]
    values += [m for f in records for m in (f.mem_start, f.mem_end)]
    return max(values)


def peak_main(argv):
    parser = Parser(prog="yep mprof peak", description="Print the highest memory of each profile (MiB), "
                     "and of each child process.")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="profiles (or numbers from yep mprof list); default: the newest here")
    parser.add_argument("--func", metavar="NAME", help="the peak while this @profile function ran")
    args = parser.parse_args(argv)
    paths = _files(args.files)
    datas = [mprof_file.read(p) for p in paths]  # all readable before printing any
    for path, data in zip(paths, datas):
        peak = _func_peak(data, args.func) if args.func else (data.peak if data.mem else None)
        print(f"{path}\t{'NaN' if peak is None else format(peak, '.3f')} MiB")
        if args.func:
            continue
        for pid, series in sorted(data.children.items()):
            print(f"  Child {pid}\t\t\t{max(m for m, _ in series):.3f} MiB")
    return 0


def _date(name):
    """'HH:MM:SS DD/MM/YYYY' from the name (mprofile_YYYYmmddHHMMSS.dat), as
    memory_profiler's list shows it; else from the file's modification time."""
    m = re.fullmatch(r"mprofile_(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)\.dat", name)
    if m:
        y, mo, d, h, mi, s = m.groups()
        return f"{h}:{mi}:{s} {d}/{mo}/{y}"
    try:
        return time.strftime("%H:%M:%S %d/%m/%Y", time.localtime(os.path.getmtime(name)))
    except OSError:
        return "?"


def list_main(argv):
    parser = Parser(prog="yep mprof list", description="List the mprofile_*.dat files here, oldest first, "
                     "with the numbers other commands accept.")
    parser.parse_args(argv)
    profiles = _profiles()
    if not profiles:
        print(f"yep: no mprofile_*.dat files in {os.getcwd()}", file=sys.stderr)
    for index, name in enumerate(profiles):
        print(f"{index} {name} {_date(name)}")
    return 0


def _remove(paths, dry_run):
    if dry_run:
        print("Files to be removed: ")
        for path in paths:
            print(path)
        return 0
    removed = []
    for path in paths:
        try:
            os.remove(path)
        except OSError as exc:
            if removed:
                print(f"yep: removed {', '.join(removed)}", file=sys.stderr)
            return fail(f"cannot remove '{path}': {exc.strerror}")
        removed.append(path)
    if removed:
        shown = removed if len(removed) <= 4 else [*removed[:3], f"... ({len(removed)} files)"]
        print(f"yep: removed {', '.join(shown)}", file=sys.stderr)
    return 0


def rm_main(argv):
    parser = Parser(prog="yep mprof rm", description="Remove profiles, by number (from yep mprof list) or name.")
    parser.add_argument("--dry-run", action="store_true", help="only print what would be removed")
    parser.add_argument("profiles", nargs="+", metavar="N|FILE")
    args = parser.parse_args(argv)
    paths = _resolve(args.profiles)  # every argument checked before anything is removed
    for path in paths:
        if not path.endswith(".dat"):
            raise YepError(f"'{path}' is not a .dat file: yep mprof rm removes only mprof profiles")
    return _remove(paths, args.dry_run)


def clean_main(argv):
    parser = Parser(prog="yep mprof clean", description="Remove every mprofile_*.dat file here.")
    parser.add_argument("--dry-run", action="store_true", help="only print what would be removed")
    args = parser.parse_args(argv)
    profiles = _profiles()
    if not profiles:
        print(f"yep: no mprofile_*.dat files in {os.getcwd()}", file=sys.stderr)
        return 0
    return _remove(profiles, args.dry_run)


COMMANDS = {"plot": plot_main, "peak": peak_main, "list": list_main, "rm": rm_main, "clean": clean_main}
