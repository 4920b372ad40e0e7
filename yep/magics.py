"""IPython and Jupyter magics: ``%load_ext yep``.

    %memit [-r N] [-t S] [-i S] [-c] [-o] [-q] statement    peak memory of a statement
    %%memit [options] [setup]                                 ... of a cell (first line: setup)
    %mprun -f func [-f other] [-T FILE] [-r] [-c] statement   line-by-line memory of functions
    %yep [-o out.prof] [--format F] [report options] statement   CPU profile, Python and native
    %%yep [options]                                           ... of a cell

Options come first; the statement is the rest of the line, exactly as typed
(``--`` ends the options, for a statement that starts with ``-``). Statements
run in the notebook's namespace, so they see what the notebook defined and
imported. Mistakes come back as one line (IPython's UsageError); the
statement's own exceptions are shown as IPython shows any exception, with
yep's frames hidden.
"""
import argparse
import codeop
import functools
import html
import os
import re
import shlex
import tempfile

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from . import line_memory, memit as memit_measure
from ._errors import YepError
from .atomic_file import write_atomically
from .cli import FORMATS


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


class _Options:
    """An argparse parser for the options at the start of a magic's line.

    The statement after them is returned verbatim (a shell-like split would
    change the spaces inside its string literals)."""

    def __init__(self, prog, **groups):
        self.parser = _ArgumentParser(prog=prog, add_help=False, allow_abbrev=False)
        self.takes_value = {}
        self.dests = {}  # group name -> the dests of its options
        for name, group in groups.items():
            self.dests[name] = []
            for flags, kwargs in group:
                action = self.parser.add_argument(*flags, **kwargs)
                self.takes_value.update((flag, action.nargs != 0) for flag in action.option_strings)
                self.dests[name].append(action.dest)
        self.parser.add_argument("statement", nargs="?", help="the statement (the rest of the line)")

    def help(self):
        return self.parser.format_help()

    def parse(self, line):
        """(argparse namespace, statement)."""
        argv, rest = [], line.strip()
        while rest.startswith("-"):
            token, rest = _first_word(rest)
            if token == "--":
                break
            argv.append(token)
            if self._needs_value(token):
                if not rest:
                    raise UsageError(f"{self.parser.prog}: {token} needs a value")
                value, rest = _first_word(rest)
                argv.append(value)
        return self.parser.parse_args(argv), rest

    def _needs_value(self, token):
        """Whether the option's value is the next word (not in -r3, --sort=cum, -cr3)."""
        if "=" in token:
            return False
        if token in self.takes_value:
            return self.takes_value[token]
        if token.startswith("--"):
            return False  # unknown: argparse says so
        for i, letter in enumerate(token[1:], 1):  # -co: flags together; -r3, -cr3: a value attached
            if self.takes_value.get("-" + letter):
                return i == len(token) - 1
        return False


def _first_word(text):
    parts = re.split(r"\s+", text, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


MEMIT_OPTIONS = [
    (("-r",), dict(dest="repeat", type=int, default=1, metavar="N", help="run the statement N times; the peak is "
                   "the highest of the N (memory_profiler: the best)")),
    (("-t",), dict(dest="timeout", type=float, default=None, metavar="S",
                   help="accepted for memory_profiler's sake; the statement always runs to its end")),
    (("-i",), dict(dest="interval", type=float, default=0.001, metavar="S",
                   help="seconds between RSS samples, when samples are needed: for child processes (-c), or "
                        "where the exact peak cannot be read (default 0.001)")),
    (("-c",), dict(dest="children", action="store_true", help="add the memory of child processes")),
    (("-o",), dict(dest="result", action="store_true", help="return the MemitResult (with the samples)")),
    (("-q",), dict(dest="quiet", action="store_true", help="print nothing")),
]

MPRUN_OPTIONS = [
    (("-f",), dict(dest="functions", action="append", default=[], metavar="FUNC",
                   help="a function or method to profile line by line (an expression); repeat for more")),
    (("-T",), dict(dest="textfile", metavar="FILE", help="also write the report to FILE")),
    (("-r",), dict(dest="result", action="store_true", help="return the figures (a list of dicts, one per function)")),
    (("-c",), dict(dest="children", action="store_true",
                   help="accepted for memory_profiler's sake: yep's line tracer measures this process only")),
]

# Passed to yep.start(path, **options) by their dest.
YEP_CAPTURE_OPTIONS = [
    (("-f", "--frequency"), dict(type=float, default=None, metavar="HZ", help="sampling rate (default 100 Hz)")),
    (("--native",), dict(dest="mixed", action="store_const", const=False, default=None,
                         help="native stacks only (gperftools' sampler); by default the notebook's Python "
                              "functions and lines stand between the native frames")),
    (("--mixed",), dict(dest="mixed", action="store_const", const=True, default=None,
                        help="Python frames between the native ones (the default)")),
]
# Passed to Profile.render(format, **options) by their dest: `yep report`'s options.
YEP_REPORT_OPTIONS = [
    (("--sort",), dict(choices=("flat", "cum"), default="flat", help="order rows by flat or cum")),
    (("--nodecount",), dict(type=int, default=None, metavar="N",
                            help="text: rows to show (default 30, 0 for all); source: functions (default all)")),
    (("--focus",), dict(metavar="REGEX", help="keep only samples through a matching function")),
    (("--ignore",), dict(metavar="REGEX", help="drop samples through a matching function")),
    (("-l", "--lines"), dict(action="store_true", help="entries are functions at file:line")),
    (("--list",), dict(metavar="REGEX", help="source: the functions to annotate")),
    (("--sample-index",), dict(default=None, metavar="N|NAME", help="which value to report")),
    (("--threads",), dict(action="store_true", help="one root per thread")),
    (("--interpreter",), dict(action="store_true", help="also show the interpreter's own frames")),
    (("--title",), dict(metavar="T", help="html: the page title")),
]
SHOWN_FORMATS = ("text", "source", "folded")  # printed; the others are written next to the profile
YEP_OUTPUT_OPTIONS = [
    (("-o", "--outfile"), dict(metavar="FILE", help="keep the profile in FILE (default: a temporary file)")),
    (("--format",), dict(choices=FORMATS, default="text",
                         help="text, source or folded: the report printed (default text); pstats, callgrind, "
                              "proto or html: also written to FILE.pstats, .callgrind, .pb.gz or .html (needs -o)")),
    (("--base",), dict(metavar="OLD", help="compare with this earlier profile: base, new and change of each "
                                           "function (the flame graph colours what grew red, what shrank blue)")),
    (("--normalize",), dict(action="store_true", help="with --base: scale the base to this profile's total")),
]

_memit_options = _Options("%memit", options=MEMIT_OPTIONS)
_mprun_options = _Options("%mprun", options=MPRUN_OPTIONS)
_yep_options = _Options("%yep", output=YEP_OUTPUT_OPTIONS, capture=YEP_CAPTURE_OPTIONS, report=YEP_REPORT_OPTIONS)


def _native():
    from .native import native

    try:
        return native()
    except YepError as exc:
        raise UsageError(str(exc)) from None


def hooks_environment():
    """The environment a kernel needs for %mprun: yep's malloc interposer
    preloaded and Python's objects allocated through malloc. (The program
    keeps glibc's malloc, so %memit's RSS reads as in any kernel.)"""
    from .preload import preload_environment

    return {**preload_environment({}, _native().malloc_hooks_library()), "PYTHONMALLOC": "malloc"}


class _FlameGraph:
    """yep's flame graph page, shown inline in an iframe of its own (its
    styles and script stay out of the notebook's page)."""

    def __init__(self, page, height=520):
        self.page, self.height = page, height

    def _repr_html_(self):
        return (f'<iframe srcdoc="{html.escape(self.page, quote=True)}" '
                f'style="width: 100%; height: {self.height}px; border: 0"></iframe>')

    def __repr__(self):
        return "<yep flame graph>"


@magics_class
class YepMagics(Magics):

    def _compile(self, source, label):
        """The code of a statement or cell, as IPython would run it
        (magics and ! inside a cell work), with its source kept for tracebacks."""
        shell = self.shell
        source = shell.transform_cell(source)
        name = shell.compile.cache(source, shell.execution_count)
        # The shell's flags carry its __future__ imports, and codeop's flags for
        # telling whether typed input is complete, which a whole statement does
        # not want: with them, 3.13+ raises _IncompleteInputError, and every
        # version says "incomplete input" where it could say what is unclosed
        # (codeop has no PyCF_ALLOW_INCOMPLETE_INPUT before 3.10).
        interactive = getattr(codeop, "PyCF_ALLOW_INCOMPLETE_INPUT", 0) | codeop.PyCF_DONT_IMPLY_DEDENT
        flags = shell.compile.flags & ~interactive
        try:
            return compile(source, name, "exec", flags, dont_inherit=True)
        except SyntaxError as exc:
            raise UsageError(f"{label}: {exc.__class__.__name__}: {exc.msg} (line {exc.lineno})") from None

    def _run(self, code):
        __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in tracebacks)
        exec(code, self.shell.user_ns)

    @line_cell_magic
    def memit(self, line="", cell=None):
        """Peak memory of a statement, and its increment over the memory before it (MiB).

        %memit [-r N] [-t S] [-i S] [-c] [-o] [-q] statement
        %%memit [options] [setup statement]
        cell body

        Prints `peak memory: X MiB, increment: Y MiB`, as memory_profiler's %memit
        does. The peak is the highest RSS the statement reached, temporaries it freed
        before it ended included: on Linux yep resets the kernel's high-water mark of
        the RSS before the statement and reads it after (exact, a few microseconds).
        Where that cannot be done it samples the RSS every -i seconds, and says so.
        In cell mode the first line is setup, run but not measured.
        """
        __tracebackhide__ = True  # noqa: F841
        args, stmt = _memit_options.parse(line)
        setup = None
        if cell is not None:
            setup, stmt = stmt, cell
        if not stmt.strip():
            raise UsageError("%memit needs a statement to measure, e.g. %memit np.ones((1000, 1000))")
        if args.repeat < 1 or args.interval <= 0:
            raise UsageError("%memit: -r must be 1 or more and -i more than 0 seconds")
        if setup and setup.strip():
            self._run(self._compile(setup, "%%memit setup"))
        code = self._compile(stmt, "%memit")
        result = memit_measure.measure(functools.partial(self._run, code), repeat=args.repeat, timeout=args.timeout,
                                       interval=args.interval, include_children=args.children)
        if not args.quiet:
            print(result)
            if result.method != memit_measure.EXACT:
                print(f"({result.method})")
        return result if args.result else None

    @line_cell_magic
    def mprun(self, line="", cell=None):
        """Line-by-line memory and time of the functions named with -f while a statement runs.

        %mprun -f func [-f other] [-T FILE] [-r] [-c] statement
        %%mprun -f func [options] [statement]
        more statements

        The report of `yep memory` (memory_profiler's columns, plus the bytes each
        line allocated minus freed, its peak and its time), for functions defined in
        the notebook or imported, without decorating them. Allocated and Peak count
        allocations through yep's malloc interposer: in a kernel not started with it they are left
        blank (and a note says how to start one).
        In cell mode the cell is appended to the statement on the first line.
        """
        __tracebackhide__ = True  # noqa: F841
        args, stmt = _mprun_options.parse(line)
        if cell is not None:
            stmt = stmt + "\n" + cell
        if not args.functions:
            raise UsageError("%mprun needs -f FUNCTION: the function(s) to profile line by line, "
                             "e.g. %mprun -f work work(10)")
        if not stmt.strip():
            raise UsageError("%mprun needs a statement to run, e.g. %mprun -f work work(10)")
        functions = [self._function(name) for name in args.functions]
        native = _native()
        counting = native.malloc_hooks_available()
        if args.children:
            print("(%mprun -c: yep's line tracer measures this process only; child processes are not included)")
        code = self._compile(stmt, "%mprun")
        if args.textfile:  # a report that could not be saved is found out before the statement runs
            directory = os.path.dirname(os.path.abspath(args.textfile))
            if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
                raise UsageError(f"%mprun -T: cannot write '{args.textfile}': the directory {directory} "
                                 f"{'is not writable' if os.path.isdir(directory) else 'does not exist'}")
        # The tracer's figures are per code object and accumulate for the life
        # of the process, so each run profiles fresh copies of the functions'
        # code, forgotten afterwards: a second %mprun of the same function
        # starts from zero.
        originals = [(function, function.__code__) for function in functions]
        copies = [original.replace() for _, original in originals]
        for (function, _), copy in zip(originals, copies):
            function.__code__ = native.line_tracer_add(copy)  # the copy, or one that reports its lines (3.11)
        outcome = None
        try:
            line_memory.enable(count_allocations=counting)
        except YepError as exc:  # the tracer cannot start (sys.monitoring's tool ids taken)
            for (function, original), copy in zip(originals, copies):
                function.__code__ = original
                native.line_tracer_forget(copy)
            raise UsageError(f"%mprun: {exc}") from None
        try:
            self._run(code)
        except BaseException as exc:  # the statement's own: raised again after the report
            outcome = exc
        finally:
            line_memory.finish()
            for function, original in originals:
                function.__code__ = original
        traced = [code for code, _ in native.line_tracer_results()]
        results = []
        for result, code in zip(line_memory.results(), traced):
            if any(code is copy for copy in copies):
                # line_memory makes paths absolute, which breaks IPython's <ipython-input-...> names.
                result["filename"] = code.co_filename
                results.append(result)
        del traced
        for copy in copies:
            native.line_tracer_forget(copy)
        report = "".join(line_memory.format_function(result, 3) for result in results).rstrip("\n")
        print(report)
        if not counting:
            env = hooks_environment()
            print("\n(Allocated and Peak count allocations through yep's malloc interposer, which this kernel was not started with; "
                  "for them, start IPython with " +
                  " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items()) +
                  ", or install a kernel that does: python -m ipykernel install --user --name yep "
                  "--display-name 'Python 3 (yep)' " +
                  " ".join(f"--env {name} {shlex.quote(value)}" for name, value in env.items()) + ")")
        if args.textfile:
            try:
                write_atomically(args.textfile, report + "\n")
            except YepError as exc:
                if outcome is None:
                    raise UsageError(f"%mprun -T: {exc}") from None
            else:
                print(f"\n*** Profile printout saved to text file {args.textfile}.")
        if outcome is not None:
            raise outcome
        return results if args.result else None

    def _function(self, expression):
        """The Python function an -f expression names (methods: their function)."""
        try:
            value = eval(expression, self.shell.user_ns)
        except Exception as exc:
            raise UsageError(f"%mprun -f {expression}: {exc.__class__.__name__}: {exc}") from None
        function = getattr(value, "__func__", value)  # bound methods, classmethods
        if not hasattr(function, "__code__"):
            raise UsageError(f"%mprun -f {expression}: not a Python function but {type(value).__name__}; "
                             f"name the Python function that calls it")
        return function

    @line_cell_magic
    def yep(self, line="", cell=None):
        """Native CPU profile of a statement or cell (gperftools), and its report.

        %yep [-o out.prof] [--format F] [-f HZ] [--base OLD [--normalize]] [report options] statement
        %%yep [options] [statement]
        more statements

        Prints the report (`yep report`'s text, or source or folded with --format)
        and, where the front end shows HTML, the flame graph inline. The profile is
        kept with -o (default: a temporary file); --format pstats, callgrind, proto
        or html also writes it in that format next to it. With --base OLD (an
        earlier profile, e.g. a %yep -o run before a change) the report is the
        comparison: base, new and change of each function. In cell mode the cell is
        appended to the statement on the first line.
        """
        __tracebackhide__ = True  # noqa: F841
        args, stmt = _yep_options.parse(line)
        if cell is not None:
            stmt = stmt + "\n" + cell
        if not stmt.strip():
            raise UsageError("%yep needs a statement to profile, e.g. %yep work(10)")
        if args.format not in SHOWN_FORMATS and not args.outfile:
            raise UsageError(f"%yep --format {args.format} writes a file next to the profile: give it with -o")
        if args.nodecount is not None and args.nodecount < 0:
            raise UsageError(f"%yep: --nodecount must be 0 or more, not {args.nodecount}")
        if args.normalize and not args.base:
            raise UsageError("%yep: --normalize scales the base profile: give one with --base OLD")
        code = self._compile(stmt, "%yep")
        from .api import start, stop

        if args.outfile:
            path = args.outfile
        else:
            handle, path = tempfile.mkstemp(prefix="yep-", suffix=".prof")
            os.close(handle)
        capture = {name: getattr(args, name) for name in _yep_options.dests["capture"]}
        report = {name: getattr(args, name) for name in _yep_options.dests["report"]}
        report["title"] = report["title"] or os.path.basename(args.outfile or "%yep")
        outcome = None
        try:
            try:
                # Mixed stacks start at the statement: IPython's frames are left out.
                start(path, _root_code=YepMagics._run.__code__, **capture)
            except YepError as exc:
                raise UsageError(f"%yep: {exc}") from None
            try:
                self._run(code)
            except BaseException as exc:  # the statement's own: raised again after the report
                outcome = exc
            finally:
                stop()
            self._show_profile(path, args, report)
        finally:
            if not args.outfile:
                os.unlink(path)
        if outcome is not None:
            raise outcome

    def _show_profile(self, path, args, report):
        from .profiles import format_suffix, load

        try:
            profile = load(path, base=args.base, normalize=args.normalize)
            nodecount = report.pop("nodecount")
            if args.format not in SHOWN_FORMATS:
                written = profile.save(path + format_suffix(args.format), args.format, nodecount=nodecount or 0,
                                       **report)
                print(f"yep: wrote {written}")
            shown = args.format if args.format in SHOWN_FORMATS else "text"
            if nodecount is None:
                nodecount = 30 if shown == "text" else 0
            print(profile.render(shown, nodecount=nodecount, **report), end="")
            if profile.samples and "text/html" in self.shell.display_formatter.active_types:
                from IPython.display import display

                display(_FlameGraph(profile.render("html", **report)))
        except YepError as exc:
            raise UsageError(f"%yep: {exc}") from None


for _magic, _options in ((YepMagics.memit, _memit_options), (YepMagics.mprun, _mprun_options),
                         (YepMagics.yep, _yep_options)):
    _magic.__doc__ += "\n" + re.sub(r"^usage: ", "Options: ", _options.help())


def load_ipython_extension(shell):
    shell.register_magics(YepMagics)


def unload_ipython_extension(shell):
    magics = shell.magics_manager.magics
    for kind in ("line", "cell"):
        for name in ("memit", "mprun", "yep"):
            magics[kind].pop(name, None)
