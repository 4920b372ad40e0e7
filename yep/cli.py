"""The command line: ``yep ...`` and ``python -m yep ...`` are the same.

    python -m yep [options] [--] script.py [args]   profile a script (YEP)
    python -m yep [options] -m module [args]        profile a module
    yep run [options] script.py [args]              the same, spelled out
    yep report PROFILE [--format F] [-o FILE] ...   a profile in any output format

A first word that is one of yep's sub-commands dispatches to it; anything
else is a script to run.
"""
import argparse
import os
import sys

from ._errors import YepError

USAGE = """\
usage: python -m yep [-v] [-o OUTFILE] [-f HZ] [--wall] [-c] [-l] [--format F[,F...]]
                     [--sort flat|cum] [--nodecount N] [--] script.py [args ...]
       python -m yep [options] -m module [args ...]
       python -m yep report PROFILE [--format F] [-o FILE] [options]   (yep report -h)

Profile a Python program and the native code under it with gperftools.

options:
  -h, --help            show this help and exit
  -o, --outfile FILE    profile file to write (default: <script basename>.prof,
                        e.g. script.py.prof, in the current directory)
  -v, --visualize       print the report (yep report) after the run
  -f, --frequency HZ    sampling rate in Hz (default 100; CPU-time sampling is
                        capped by the kernel tick, see README)
  --wall                sample wall-clock time instead of CPU time
  -c, --callgrind       write OUTFILE in callgrind format (as YEP did)
  -l, --lines           report functions at file:line instead of whole functions
  --format F[,F...]     after the run, also write the profile in these formats
                        next to OUTFILE (OUTFILE.pstats, .callgrind, .pb.gz,
                        .html, .folded, .txt): text, pstats, source,
                        callgrind, proto, folded, html
  --sort flat|cum       report order for -v (default flat)
  --nodecount N         rows in the -v report (default 30, 0 for all)
  -m module             run a library module as a script (like python -m)
"""


# The output formats of libyepconv's report.cpp (format_names()).
FORMATS = ("text", "pstats", "source", "callgrind", "proto", "folded", "html")


def _fail(message):
    print(f"yep: error: {message}", file=sys.stderr)
    return 2


class _UsageError(Exception):
    pass


def _parse_run_args(argv):
    """Options stop at the script (or -m module): the rest is the program's."""
    opts = {"outfile": None, "visualize": False, "frequency": None, "wall": False, "callgrind": False,
            "lines": False, "formats": "", "sort": "flat", "nodecount": 30, "script": None, "module": None,
            "args": []}
    flags = {"-v": "visualize", "--visualize": "visualize", "--wall": "wall", "-c": "callgrind",
             "--callgrind": "callgrind", "-l": "lines", "--lines": "lines"}
    with_value = {"-o": "outfile", "--outfile": "outfile", "-f": "frequency", "--frequency": "frequency",
                  "--sort": "sort", "--nodecount": "nodecount", "--format": "formats", "-m": "module"}
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
        elif arg in flags:
            opts[flags[arg]] = True
        elif name in with_value:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise _UsageError(f"{arg} needs a value")
                value = argv[i]
            opts[with_value[name]] = value
            if name == "-m":
                i += 1
                opts["args"] = argv[i:]
                return opts
        else:
            raise _UsageError(f"unknown option {arg}")
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
        if opts["script"] is None and opts["module"] is None:
            raise _UsageError("no script or -m module to run")
        if opts["sort"] not in ("flat", "cum"):
            raise _UsageError(f"unknown sort {opts['sort']!r}: use flat or cum")
        try:
            nodecount = int(opts["nodecount"])
            frequency = None if opts["frequency"] is None else float(opts["frequency"])
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
        formats = [f for f in opts["formats"].split(",") if f]
        for fmt in formats:
            if fmt not in FORMATS:
                raise _UsageError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    except _UsageError as exc:
        sys.stderr.write(USAGE)
        return _fail(str(exc))

    from . import api, runner
    from .report import format_suffix, load

    try:
        target = runner.Target(script=opts["script"], module=opts["module"])
        outfile = opts["outfile"] or target.name + ".prof"
        # YEP's -c: OUTFILE is the callgrind file; the raw profile is temporary.
        profile_path = outfile + ".yep-raw" if opts["callgrind"] else outfile
        if opts["wall"]:
            os.environ["CPUPROFILE_REALTIME"] = "1"  # read by libprofiler when it loads
        api.start(profile_path, frequency)
    except YepError as exc:
        return _fail(str(exc))
    if opts["wall"]:
        del os.environ["CPUPROFILE_REALTIME"]  # not for the program's own children

    parent = os.getpid()

    def finish_profile(outcome):
        """Stops the profiler, shows the program's exception, then yep's
        line and the -v report. Returns 0, or 2 on a yep error."""
        try:
            summary = api.stop()
        except YepError as exc:
            runner.show_exception(outcome)
            return _fail(str(exc))
        runner.show_exception(outcome)
        measured = "wall" if summary["wall_clock"] else "cpu"
        written = [outfile]
        try:
            if opts["callgrind"] or formats or opts["visualize"]:
                profile = load(profile_path)
            if opts["callgrind"]:
                profile.save(outfile, "callgrind", lines=opts["lines"])
                os.unlink(profile_path)
            for fmt in formats:
                written.append(profile.save(outfile + format_suffix(fmt), fmt, lines=opts["lines"]))
        except YepError as exc:
            return _fail(str(exc))
        print(f"yep: wrote {', '.join(written)}: {summary['samples']} samples, "
              f"{summary[measured + '_seconds']:.2f} s {measured.replace('cpu', 'CPU')}", file=sys.stderr)
        if opts["visualize"]:
            sys.stdout.flush()
            try:
                sys.stdout.write(profile.text(opts["sort"], nodecount, lines=opts["lines"]))
            except YepError as exc:
                return _fail(str(exc))
        return 0

    # os._exit skips every clean-up: finish the profile first (in this
    # process only; forked children often leave through os._exit).
    real_exit = os._exit

    def exit_after_profile(status):
        if os.getpid() == parent and api.is_running():
            finish_profile(None)
            sys.stdout.flush()
            sys.stderr.flush()
        real_exit(status)

    os._exit = exit_after_profile
    outcome = None
    try:
        target.run(opts["args"])
    except BaseException as exc:  # the program's own: passed through below
        outcome = exc
    finally:
        os._exit = real_exit
    if os.getpid() != parent:  # a forked child ending: the profile is the parent's
        runner.show_exception(outcome)
        return runner.finish(outcome)
    status = finish_profile(outcome)
    return status if status else runner.finish(outcome)


def report_main(argv):
    from .report import format_suffix, is_binary_format, load, write_atomically

    parser = argparse.ArgumentParser(
        prog="yep report", description="Print or write a profile in one of yep's output formats.",
        epilog="text, source and folded go to stdout unless -o is given; the others go to "
               "PROFILE.pstats, .callgrind, .pb.gz or .html unless -o is given.")
    parser.add_argument("profile", help="profile file (gperftools CPU profile)")
    parser.add_argument("--format", default="text", choices=FORMATS, help="output format (default text)")
    parser.add_argument("-o", "--output", help="file to write")
    parser.add_argument("--sort", choices=("flat", "cum"), default="flat", help="text: order rows by flat or cum")
    parser.add_argument("--nodecount", type=int, default=None,
                        help="text: rows to show (default 30, 0 for all); source: functions (default 5)")
    parser.add_argument("--focus", metavar="REGEX", help="keep only samples through a matching function")
    parser.add_argument("--ignore", metavar="REGEX", help="drop samples through a matching function")
    parser.add_argument("-l", "--lines", action="store_true", help="entries are functions at file:line")
    parser.add_argument("--list", metavar="REGEX", help="source: the functions to annotate (default: top by flat)")
    parser.add_argument("--sample-index", type=int, default=-1, help="which value to report (default: the profile's)")
    parser.add_argument("--title", help="html: the page title")
    args = parser.parse_args(argv)
    nodecount = args.nodecount if args.nodecount is not None else (30 if args.format == "text" else 0)
    if nodecount < 0:
        return _fail(f"--nodecount must be >= 0, not {nodecount}")
    try:
        data = load(args.profile).render(args.format, sort=args.sort, nodecount=nodecount, focus=args.focus,
                                         ignore=args.ignore, lines=args.lines, sample_index=args.sample_index,
                                         list=args.list, title=args.title)
        output = args.output
        if output is None and (is_binary_format(args.format) or args.format in ("callgrind", "html")):
            output = args.profile + format_suffix(args.format)
        if output is None or output == "-":
            if isinstance(data, bytes):
                sys.stdout.buffer.write(data)
            else:
                sys.stdout.write(data)
        else:
            write_atomically(output, data)
            print(f"yep: wrote {output}", file=sys.stderr)
    except YepError as exc:
        return _fail(str(exc))
    return 0


SUBCOMMANDS = {"run": run_main, "report": report_main}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    return run_main(argv)
