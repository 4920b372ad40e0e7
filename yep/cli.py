"""The command line: ``yep ...`` and ``python -m yep ...`` are the same.

    python -m yep [options] [--] script.py [args]   profile a script (YEP)
    python -m yep [options] -m module [args]        profile a module
    yep run [options] script.py [args]              the same, spelled out
    yep report PROFILE [--format F] [-o FILE] ...   a profile in any output format
    yep memory script.py [args]                     line-by-line memory of @profile functions (children too)
    yep mprof run|plot|list|peak|rm|clean ...       memory over time (memory_profiler's mprof)
    yep serve [options] script.py [args]            run a script with the live view (census, RSS)

A first word that is one of yep's sub-commands dispatches to it; anything
else is a script to run.
"""
import os
import sys

from ._errors import UnsupportedInterpreter, YepError
from .usage import UsageError, decimal, did_you_mean, fail, whole_number

USAGE = """\
usage: python -m yep [-v] [-o OUTFILE] [-f HZ] [--wall] [--native] [--threads] [--interpreter]
                     [--subprocesses] [--processes] [-c] [-l] [--format F[,F...]]
                     [--sort flat|cum] [--nodecount N] [--] script.py [args ...]
       python -m yep --heap [-v] [-o PREFIX] [--native] [--pymalloc] [--subprocesses] [--heap-sample SIZE]
                     [--heap-interval SIZE] [--heap-inuse-interval SIZE] [--heap-time-interval S]
                     script.py [args ...]
       python -m yep [options] -m module [args ...]
       python -m yep report PROFILE [--format F] [-o FILE] [options]   (yep report -h)
       python -m yep memory [-o FILE] [--json FILE] [--precision N] [--no-subprocesses] script.py [args ...]
       python -m yep mprof run|plot|list|peak|rm|clean ...              (yep mprof -h)
       python -m yep serve [--port N] [--interval S] [--heap-sample SIZE [-o PREFIX]] script.py [args ...]
                                                                        (yep serve -h)

Profile a Python program and the native code under it. Each sample holds
the Python functions and lines of the sampled thread between the native
frames they call (the interpreter's own frames hidden from reports).

options:
  -h, --help            show this help and exit
  -V, --version         show yep's version and exit
  -o, --outfile FILE    profile file to write (default: <script basename>.prof,
                        e.g. script.py.prof, in the current directory)
  -v, --visualize       print the report (yep report) after the run
  -f, --frequency HZ    sampling rate in Hz (default 100; CPU-time sampling is
                        capped by the kernel tick, see README)
  --wall                sample wall-clock time instead of CPU time
  --native              native stacks only, sampled by gperftools' own profiler
                        (YEP 0.4's profiles; the interpreter's frames stand for
                        the Python code)
  --mixed               Python frames between the native ones: the default
                        (refused where this Python's frames cannot be read)
  --threads             reports: one root per thread (thread name and id)
  --subprocesses        also profile every Python process the program starts
                        (fork, multiprocessing, subprocess, exec): OUTFILE is
                        then a folder of one profile per process, which yep
                        report reads as one (with --heap too: PREFIX is then
                        the folder, default <script basename>.heap)
  --processes           reports: one root per process (command line and pid)
  --interpreter         reports: also show the interpreter's own native frames
                        (hidden by default)
  -c, --callgrind       write OUTFILE in callgrind format (as YEP did)
  -l, --lines           report functions at file:line instead of whole functions
  --format F[,F...]     after the run, also write the profile in these formats
                        next to OUTFILE (OUTFILE.pstats, .callgrind, .pb.gz,
                        .html, .folded, .txt, .dot, .svg): text, pstats,
                        source, callgrind, proto, folded, html, dot, svg
  --sort flat|cum       report order for -v (default flat)
  --nodecount N         rows in the -v report (default 30, 0 for all)
  -m module             run a library module as a script (like python -m)

heap profiling (the program restarts with yep's malloc interposer preloaded):
  --heap                profile the native heap: PREFIX.0001.heap, ... (default
                        PREFIX: the script's basename), one at exit; -v reports
                        the last one (in-use bytes)
  --pymalloc            keep Python's small-object allocator (default: it is
                        off, PYTHONMALLOC=malloc, so Python objects show too)
  --heap-sample SIZE    sampled: record one allocation per SIZE allocated on
                        average (e.g. 512K, the usual choice) instead of every
                        one, at a fraction of the cost; figures are estimates;
                        Python keeps pymalloc, whose objects are sampled too
                        (implies --heap)
  --heap-interval SIZE  also dump every SIZE allocated (e.g. 256M; gperftools'
                        default 1G; never by default with --heap-sample)
  --heap-inuse-interval SIZE   dump when in-use memory grows by SIZE (100M)
  --heap-time-interval S       dump every S seconds
"""


# The output formats of libyepconv's report.cpp (format_names()), and svg:
# Graphviz's drawing of dot (yep/graphviz.py).
FORMATS = ("text", "pstats", "source", "callgrind", "proto", "folded", "html", "dot", "svg")


_OTHER_OPTIONS = ("-h", "--help", "-V", "--version", "--mixed", "--native")


def _is_profile(path):
    """Whether a file is a profile (what yep report reads) rather than a
    script: a CPU profile's header, a heap profile's first line, gzip (a
    proto). Only a regular file is opened, and only its first bytes read."""
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return head[:8] == bytes(8) or head.startswith((b"\x1f\x8b", b"heap profile:", b"heap_v2/"))


def _parse_run_args(argv):
    """Options stop at the script (or -m module): the rest is the program's."""
    opts = {"outfile": None, "visualize": False, "frequency": None, "wall": False, "callgrind": False,
            "lines": False, "formats": "", "sort": "flat", "nodecount": 30, "script": None, "module": None,
            "args": [], "heap": False, "pymalloc": False, "heap_interval": None, "heap_inuse_interval": None,
            "heap_time_interval": None, "heap_sample": None, "mixed": None, "threads": False, "interpreter": False,
            "subprocesses": False, "processes": False}
    flags = {"-v": "visualize", "--visualize": "visualize", "--wall": "wall", "-c": "callgrind",
             "--callgrind": "callgrind", "-l": "lines", "--lines": "lines", "--heap": "heap",
             "--pymalloc": "pymalloc", "--threads": "threads", "--interpreter": "interpreter",
             "--subprocesses": "subprocesses", "--processes": "processes"}
    with_value = {"-o": "outfile", "--outfile": "outfile", "-f": "frequency", "--frequency": "frequency",
                  "--sort": "sort", "--nodecount": "nodecount", "--format": "formats", "-m": "module",
                  "--heap-interval": "heap_interval", "--heap-inuse-interval": "heap_inuse_interval",
                  "--heap-time-interval": "heap_time_interval", "--heap-sample": "heap_sample"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=")
        if name not in with_value and not eq and arg[:2] in with_value and len(arg) > 2:
            name, value, eq = arg[:2], arg[2:], "="  # -oFILE, -f250
        if arg in ("-h", "--help"):
            opts["help"] = True
        elif arg in ("-V", "--version"):
            opts["version"] = True
        elif arg in ("--mixed", "--native"):
            if opts["mixed"] is not None and opts["mixed"] != (arg == "--mixed"):
                raise UsageError("--mixed and --native contradict each other: give one")
            opts["mixed"] = arg == "--mixed"
        elif arg in flags:
            opts[flags[arg]] = True
        elif name in with_value:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"{arg} needs a value")
                value = argv[i]
            opts[with_value[name]] = value
            if name == "-m":
                i += 1
                opts["args"] = argv[i:]
                return opts
        else:
            raise UsageError(f"unknown option {arg}{did_you_mean(name, [*flags, *with_value, *_OTHER_OPTIONS])}")
        i += 1
    if i < len(argv):
        opts["script"], opts["args"] = argv[i], argv[i + 1:]
    return opts


def run_main(argv):
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    try:
        opts = _parse_run_args(argv)
        if opts.get("help"):
            sys.stdout.write(USAGE)
            return 0
        if opts.get("version"):
            from . import __version__

            print(f"yep {__version__} (Python {sys.version.split()[0]})")
            return 0
        if opts["script"] is None and opts["module"] is None:
            raise UsageError("no script or -m module to run")
        if opts["sort"] not in ("flat", "cum"):
            raise UsageError(f"unknown sort {opts['sort']!r}: use flat or cum")
        nodecount = whole_number("--nodecount")(opts["nodecount"])
        frequency = None if opts["frequency"] is None else decimal("-f", 1, 4000)(opts["frequency"])
        if opts["heap_sample"] is not None:
            opts["heap"] = True
        if opts["heap_time_interval"] is not None:
            opts["heap_time_interval"] = whole_number("--heap-time-interval", 1, 86400)(opts["heap_time_interval"])
        if opts["heap"] and (opts["callgrind"] or opts["wall"] or frequency):
            raise UsageError("--heap profiles memory: -c, --wall and -f are for CPU profiles")
        if opts["subprocesses"] and opts["mixed"] is False and not opts["heap"]:
            # gperftools' profiler restarted in a forked child can deadlock
            # (a lock its signal handler held at the fork): a pool hung in CI.
            raise UsageError("--subprocesses follows processes with Python frames, not --native profiles")
        if opts["subprocesses"] and opts["callgrind"]:
            raise UsageError("--subprocesses writes a folder of profiles: for callgrind, use --format callgrind")
        formats = [f for f in opts["formats"].split(",") if f]
        for fmt in formats:
            if fmt not in FORMATS:
                raise UsageError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    except UsageError as exc:
        return fail(f"{exc} (see yep -h)")
    if opts["script"] is not None and _is_profile(opts["script"]):
        return fail(f"'{opts['script']}' is a profile, not a script: read it with yep report {opts['script']}")

    from . import heap_run, runner
    from .heap_session import HeapSession, check_prefix

    try:
        target = runner.Target(script=opts["script"], module=opts["module"])
        if opts["heap"]:
            for option in ("heap_interval", "heap_inuse_interval"):
                if opts[option] is not None:
                    opts[option] = heap_run.parse_size(opts[option], "--" + option.replace("_", "-"))
            if opts["heap_sample"] is not None:
                opts["heap_sample"] = heap_run.parse_sample(opts["heap_sample"])
            if os.environ.get(heap_run.SEED_VARIABLE):
                heap_run.parse_seed(os.environ[heap_run.SEED_VARIABLE], heap_run.SEED_VARIABLE)
            # --subprocesses: a folder of one heap profile per process
            prefix = opts["outfile"] or target.name + (".heap" if opts["subprocesses"] else "")
            if not heap_run.in_restarted_process():
                check_prefix(prefix, "the processes' heap profiles" if opts["subprocesses"] else "heap profiles")
                heap_run.restart_with_hooks(["run", *argv], opts)  # does not return
            session = HeapSession(prefix, opts["mixed"], opts["subprocesses"], opts["pymalloc"], opts["heap_sample"])
            session.start()  # reads gperftools' interval variables
            heap_run.restore_environment()
        else:
            session = _CpuSession(opts, target, frequency)
            session.start()
    except UnsupportedInterpreter as exc:  # the program runs on, unprofiled
        print(f"yep: {exc}", file=sys.stderr)
        if heap_run.in_restarted_process():
            heap_run.restore_environment()
        return _run_unprofiled(target, opts)
    except YepError as exc:
        return fail(str(exc))
    return _run_profiled(session, target, opts, nodecount, formats)


def _run_unprofiled(target, opts):
    from . import runner

    outcome = None
    try:
        target.run(opts["args"])
    except BaseException as exc:  # the program's own: passed through below
        outcome = exc
    runner.show_exception(outcome)
    return runner.finish(outcome)


class _CpuSession:
    """gperftools' CPU profiler, writing OUTFILE."""

    def __init__(self, opts, target, frequency):
        self.outfile = opts["outfile"] or target.name + ".prof"
        # YEP's -c: OUTFILE is the callgrind file; the raw profile is temporary.
        self.callgrind = opts["callgrind"]
        self.path = self.outfile + ".yep-raw" if self.callgrind else self.outfile
        self.wall, self.frequency, self.mixed = opts["wall"], frequency, opts["mixed"]
        self.view = _view(opts)
        # --subprocesses: OUTFILE is a folder, this process's profile one file in it
        self.folder = self.outfile if opts["subprocesses"] else None

    def start(self):
        from . import api

        if self.folder is not None:
            from . import subprocesses

            subprocesses.prepare_folder(self.folder)
            self.path = subprocesses.reserve_file(self.folder)
        if self.wall:
            os.environ["CPUPROFILE_REALTIME"] = "1"  # read by libprofiler when it loads (native profiles)
        try:
            # Python frames: below yep's runner (api.runner_root_code)
            self.begun = api._begin(self.path, self.frequency, self.mixed, wall=self.wall)
        finally:
            if self.wall:
                del os.environ["CPUPROFILE_REALTIME"]  # not for the program's own children
        if self.folder is None:
            from .subprocesses import unfollowed

            unfollowed.start_counting()
        else:
            from .subprocesses import cpu

            subprocesses.export(self.folder, "cpu", **cpu.settings(self.begun[0] == "mixed", self.frequency, self.wall))

    def running(self):
        from . import api

        return api.is_running()

    def so_far(self):
        from .native import native as _native

        kind, _ = self.begun
        samples = _native().mixed_samples() if kind == "mixed" else _native().cpu_samples()
        return f"{samples:,} samples so far"

    def stop(self):
        """Stops; returns (profile to report, files written, what was measured)."""
        from . import api
        from .profiles import load

        summary = api._end_after_the_programs(self.begun)
        written = [self.outfile]
        if self.folder is not None:
            from . import subprocesses

            subprocesses.append_record(self.path, forked=False)
            measured = "wall" if summary["wall_clock"] else "cpu"
            return self.folder, self.outfile, written, (
                f"one profile per process; this one {summary['samples']} samples, "
                f"{summary[measured + '_seconds']:.2f} s {measured.replace('cpu', 'CPU')}")
        if self.callgrind:
            load(self.path).save(self.outfile, "callgrind", **self.view)
            os.unlink(self.path)
        measured = "wall" if summary["wall_clock"] else "cpu"
        return self.path, self.outfile, written, (f"{summary['samples']} samples, "
                                                  f"{summary[measured + '_seconds']:.2f} s {measured.replace('cpu', 'CPU')}")


def _view(opts):
    """The report options of a run's -v and --format outputs."""
    return {"lines": opts["lines"], "threads": opts["threads"], "interpreter": opts["interpreter"],
            "processes": opts["processes"]}


def _run_profiled(session, target, opts, nodecount, formats):
    """Runs the program under a started session and ends as the program would."""
    from . import runner
    from .progress import RunProgress
    from .run_ends import RunEnds

    parent = os.getpid()
    progress = RunProgress(session.so_far)

    def finish_profile(outcome):
        """Stops the session, shows the program's exception, then yep's
        line and the -v report. Returns 0, or 2 on a yep error."""
        progress.stop()
        try:
            report_path, stem, written, measured = session.stop()
        except YepError as exc:
            runner.show_exception(outcome)
            return fail(str(exc))
        runner.show_exception(outcome)
        # (imported once the program has run: its process holds what it needs)
        from .profiles import format_suffix, load

        try:
            if formats or opts["visualize"]:
                profile = load(report_path)
            view = _view(opts)
            for fmt in formats:
                written.append(profile.save(stem + format_suffix(fmt), fmt, **view))
        except YepError as exc:
            return fail(str(exc))
        runner.say_written(written, measured)
        if not opts["subprocesses"] and isinstance(session, _CpuSession):
            from .subprocesses import unfollowed

            note = unfollowed.note()
            if note:
                print(note, file=sys.stderr)
        if opts["visualize"]:
            sys.stdout.flush()
            try:
                sys.stdout.write(profile.text(opts["sort"], nodecount, **view))
            except YepError as exc:
                return fail(str(exc))
        return 0

    ends = RunEnds(lambda: finish_profile(None), session.running)
    ends.install()
    outcome = None
    progress.start()
    try:
        target.run(opts["args"])
    except BaseException as exc:  # the program's own: passed through below
        outcome = exc
    finally:
        ends.uninstall()
    if os.getpid() != parent:  # a forked child ending: the profile is the parent's
        runner.show_exception(outcome)
        return runner.finish(outcome)
    status = finish_profile(outcome)
    return status if status else runner.finish(outcome)


def report_main(argv):
    from .arg_parser import Parser
    from .atomic_file import write_atomically, write_stdout
    from .profiles import format_suffix, is_binary_format, load

    parser = Parser(
        prog="yep report", description="Print or write a profile in one of yep's output formats.",
        epilog="text, source and folded go to stdout unless -o is given; the others go to "
               "PROFILE.pstats, .callgrind, .pb.gz, .html, .dot or .svg unless -o is given. dot is the call "
               "graph as Graphviz text (pprof's -dot), svg its drawing by Graphviz's dot.")
    parser.add_argument("profile", nargs="+", help="profile file (gperftools CPU or heap profile); several of one "
                        "kind are merged into one, and so are those of a folder (python -m yep --subprocesses)")
    parser.add_argument("--format", default="text", choices=FORMATS, help="output format (default text)")
    parser.add_argument("-o", "--output", help="file to write")
    parser.add_argument("--sort", choices=("flat", "cum"), default="flat", help="text: order rows by flat or cum")
    parser.add_argument("--nodecount", type=whole_number("--nodecount"), default=None,
                        help="text: rows to show (default 30, 0 for all); source: functions (default 5); "
                             "dot, svg: nodes (default 80, 0 for all)")
    parser.add_argument("--nodefraction", type=decimal("--nodefraction", 0, 1), default=0.005, metavar="F",
                        help="dot, svg: drop nodes whose cum is under this share of the total (default 0.005)")
    parser.add_argument("--edgefraction", type=decimal("--edgefraction", 0, 1), default=0.001, metavar="F",
                        help="dot, svg: drop edges under this share of the total (default 0.001)")
    parser.add_argument("--focus", metavar="REGEX", help="keep only samples through a matching function")
    parser.add_argument("--ignore", metavar="REGEX", help="drop samples through a matching function")
    parser.add_argument("-l", "--lines", action="store_true", help="entries are functions at file:line")
    parser.add_argument("--list", metavar="REGEX", help="source: the functions to annotate (default: top by flat)")
    parser.add_argument("--sample-index", default=None, metavar="N|NAME",
                        help="which value to report, by index or name: for heap profiles inuse_space (default), "
                             "inuse_objects, alloc_space, alloc_objects")
    parser.add_argument("--base", metavar="OLD",
                        help="compare with this earlier profile of the same kind: base, new and change of each "
                             "function, what changed most first (flame graph, dot and svg: the change in colour)")
    parser.add_argument("--normalize", action="store_true",
                        help="with --base: scale the base to this profile's total (runs of different lengths)")
    parser.add_argument("--title", help="html: the page title")
    parser.add_argument("--threads", action="store_true", help="one root per thread (thread name and id)")
    parser.add_argument("--processes", action="store_true",
                        help="profiles of a process tree (a --subprocesses folder): one root per process "
                             "(command line and pid)")
    parser.add_argument("--interpreter", action="store_true",
                        help="mixed profiles: also show the interpreter's own native frames (hidden by default)")
    parser.add_argument("--object-addresses", action="store_true",
                        help="proto: native addresses as in the object files (link-time), which go tool pprof's "
                             "source and disassembly views need; libraries may then share addresses there")
    parser.add_argument("--binary-path", metavar="DIR[:DIR...]",
                        help="where to find copies of object files missing here (a profile from another machine, "
                             "a rebuilt extension): DIR/<their path> or DIR/<their name>; also YEP_BINARY_PATH")
    args = parser.parse_args(argv)
    if args.binary_path:
        os.environ["YEP_BINARY_PATH"] = args.binary_path  # read by the symbolizer as it loads the profile
    nodecount = args.nodecount if args.nodecount is not None else (30 if args.format == "text" else None)
    if args.normalize and not args.base:
        return fail("--normalize scales the base profile: give one with --base OLD")
    try:
        profile = load(*args.profile, base=args.base, normalize=args.normalize)
        data = profile.render(args.format, sort=args.sort, nodecount=nodecount, focus=args.focus,
                                         ignore=args.ignore, lines=args.lines, sample_index=args.sample_index,
                                         list=args.list, title=args.title, threads=args.threads,
                                         interpreter=args.interpreter, processes=args.processes,
                                         object_addresses=args.object_addresses, nodefraction=args.nodefraction,
                                         edgefraction=args.edgefraction)
        output = args.output
        if output is None and (is_binary_format(args.format) or args.format in ("callgrind", "html", "dot", "svg")):
            output = args.profile[0] + format_suffix(args.format)
        if output is None or output == "-":
            write_stdout(data)
        else:
            write_atomically(output, data)
            print(f"yep: wrote {output}", file=sys.stderr)
    except YepError as exc:
        return fail(str(exc))
    return 0


def memory_main(argv):
    """yep memory: line-by-line memory and time of @profile functions, in
    this process and, unless --no-subprocesses, in every Python process the
    program starts (yep.subprocesses.memory says why by default)."""
    from .arg_parser import Parser

    parser = Parser(
        prog="yep memory", description="Run a script with @profile available and print, for each line of "
        "the profiled functions, memory (RSS, and the bytes it allocated minus freed, and its peak) and time; "
        "functions that run in child processes (multiprocessing, concurrent.futures, subprocess, os.fork) "
        "are reported too, each process under its own header.")
    parser.add_argument("-o", "--output", help="write the report to this file (memory_profiler's -T)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--precision", type=whole_number("--precision", 0, 12), default=3,
                        help="decimals of MiB figures (default 3)")
    parser.add_argument("--subprocesses", dest="subprocesses", action="store_true", default=True,
                        help="also report @profile functions run by the Python processes the program starts "
                        "(the default)")
    parser.add_argument("--no-subprocesses", dest="subprocesses", action="store_false",
                        help="only this process's functions (children run untouched)")
    parser.add_program_arguments()
    args = parser.parse_program_args(argv)
    from . import heap_run, line_memory, runner
    from .heap_session import check_prefix

    folder = None
    try:
        target = runner.Target(script=args.script, module=args.module)
        for path in (args.output, args.json):
            if path:
                check_prefix(path, "the report")
        if not heap_run.in_restarted_process():
            heap_run.restart_with_hooks(["memory", *argv], {})  # does not return
        heap_run.restore_environment()
        import builtins

        from .api import profile

        builtins.profile = profile
        line_memory.enable()
        if args.subprocesses:
            from .subprocesses import memory

            folder = memory.follow(count_allocations=True)
    except YepError as exc:
        return fail(str(exc))
    parent = os.getpid()

    def report(outcome):
        """Stops tracing, shows the program's exception, then the report
        (this process's functions, then its children's). Returns 0, or 2."""
        line_memory.finish()
        runner.show_exception(outcome)
        children, note = [], None
        if folder is not None:
            try:
                children, note = memory.collect(folder)
            except (OSError, ValueError, YepError) as exc:
                print(f"yep memory: cannot read the child processes' reports: {exc}", file=sys.stderr)
        if not line_memory.decorated_any() and not children and not note:
            print("yep: no function was decorated with @profile, so there is nothing to report: put @profile "
                  "(a builtin under yep memory) above the functions to measure line by line", file=sys.stderr)
        try:
            if args.output:
                from .atomic_file import atomic_path

                with atomic_path(args.output) as tmp, open(tmp, "w") as out:
                    line_memory.write_report(out, args.precision, children)
            else:
                sys.stdout.flush()
                line_memory.write_report(sys.stdout, args.precision, children)
            if args.json:
                from .subprocesses import command_line

                this = {"pid": parent, "parent_pid": os.getppid(), "started": "main", "command": command_line(),
                        "allocations_counted": True}
                line_memory.write_json(args.json, this, children)
        except (OSError, YepError) as exc:
            return fail(f"cannot write the report: {exc}")
        if note:
            print(note, file=sys.stderr)
        return 0

    from .run_ends import RunEnds

    # os._exit, exec and SIGTERM report first too (and remove the children's folder).
    ends = RunEnds(lambda: report(None), line_memory.active)
    ends.install()
    try:
        outcome = target.outcome_of_run(args.args)
    finally:
        ends.uninstall()
    if os.getpid() != parent:  # a forked child leaving through here: its lines are in its parent's report
        runner.show_exception(outcome)
        return runner.finish(outcome)
    status = report(outcome)
    return status if status else runner.finish(outcome)


def mprof_main(argv):
    from . import mprof_cli  # imported here: a report needs none of it

    return mprof_cli.main(argv)


def serve_main(argv):
    from . import serve_cli

    return serve_cli.main(argv)


SUBCOMMANDS = {"run": run_main, "report": report_main, "memory": memory_main, "mprof": mprof_main,
               "serve": serve_main}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not (argv and argv[0] in SUBCOMMANDS):
        return run_main(argv)
    try:
        return SUBCOMMANDS[argv[0]](argv[1:])
    except UsageError as exc:  # a sub-command's own argument parser
        return fail(str(exc))
