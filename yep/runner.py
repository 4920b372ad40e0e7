"""Runs a script or module as __main__ the way the interpreter would, and
hands its outcome back so yep can finish the profile first.

The program's own behaviour passes through: sys.argv, sys.path[0],
__name__ == "__main__", its exit status, its exceptions (traceback printed
without yep's frames, exit status 1) and Ctrl-C (exit by SIGINT, as Python
itself does).
"""
import importlib.util
import io
import os
import runpy
import signal
import sys
import types
import zipimport

from ._errors import YepError


class Target:
    """A script path or a module name, checked before anything runs."""

    def __init__(self, script=None, module=None):
        self.script, self.module = script, module
        if script is not None and not os.path.exists(script):
            raise YepError(f"cannot run '{script}': no such file")
        # Read before any profile starts (as `python script.py` reads it
        # first); its compiling is the program's time.
        self.source = _source_of(os.path.abspath(script)) if script is not None else None
        if module is not None:
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError) as exc:
                raise YepError(f"cannot run module '{module}': {exc}") from None
            if spec is None:
                raise YepError(f"cannot run module '{module}': no module of that name")

    @property
    def name(self):
        """What the default profile file is named after (YEP: script.py.prof)."""
        return os.path.basename(self.script) if self.script else self.module

    def run(self, args):
        """Run as __main__ with argv [target, *args]; exceptions propagate."""
        try:
            if self.script is not None:
                sys.argv[:] = [self.script, *args]
                # As `python script.py` (3.9+): __file__ and the code's file
                # name are absolute, so profiles find the source from anywhere.
                path = os.path.abspath(self.script)
                sys.path[0] = os.path.dirname(path)
                if self.source is None:  # a folder, a zip or compiled code
                    runpy.run_path(path, run_name="__main__")
                    return
                # What runpy.run_path does with a source file, without the
                # modules it imports for the other cases (pkgutil, typing,
                # re: thousands of objects in the program's garbage
                # collections). Here, not in a function: profiles start
                # below this frame (api.runner_root_code).
                code = compile(self.source, path, "exec", dont_inherit=True)
                main = types.ModuleType("__main__")
                main.__dict__.update(__file__=path, __cached__=None, __loader__=None, __package__=None,
                                     __spec__=None)
                saved, sys.modules["__main__"] = sys.modules["__main__"], main
                try:
                    exec(code, main.__dict__)
                finally:
                    sys.modules["__main__"] = saved
            else:
                sys.argv[:] = [self.module, *args]
                sys.path[0] = os.getcwd()
                runpy.run_module(self.module, run_name="__main__", alter_sys=True)
        finally:
            _reopen_closed_stdio()

    def outcome_of_run(self, args):
        """Runs as run() does; returns the program's own exception (SystemExit,
        KeyboardInterrupt and errors alike), or None, for show_exception and
        finish to pass through once yep has finished its work."""
        try:
            self.run(args)
        except BaseException as exc:  # the program's own
            return exc
        return None


def _source_of(path):
    """The bytes of a Python source file, or None for what runpy must run:
    a folder or zip with __main__.py, compiled code (any name), or a file
    it cannot read."""
    if not os.path.isfile(path):
        return None
    try:
        zipimport.zipimporter(path)
        return None
    except zipimport.ZipImportError:
        pass
    try:
        with io.open_code(path) as f:
            source = f.read()
    except OSError:  # unreadable: runpy says so when the program runs, as before
        return None
    return None if source[:4] == importlib.util.MAGIC_NUMBER else source


def _reopen_closed_stdio():
    """A program may close sys.stdout or sys.stderr (json.tool closes its
    output file, which is stdout); their descriptors stay open, and yep's
    report, messages and the program's traceback still go there."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is None or stream.closed:
            try:
                setattr(sys, name, open(fd, "w", closefd=False, errors="backslashreplace"))
            except OSError:
                pass  # the descriptor itself is closed: nothing to write to


def _program_traceback(tb):
    """Drops the leading frames that belong to yep and runpy."""
    while tb is not None:
        name = tb.tb_frame.f_globals.get("__name__", "")
        if name == "runpy" or name == "yep" or name.startswith("yep."):
            tb = tb.tb_next
        else:
            break
    return tb


def _exit_status(code):
    """The status the interpreter gives SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    return 1


def show_exception(exc):
    """Prints the program's exception as the interpreter would have."""
    if isinstance(exc, SystemExit):
        if not (exc.code is None or isinstance(exc.code, int)):
            print(exc.code, file=sys.stderr)  # sys.exit("message")
        return
    if exc is None or isinstance(exc, KeyboardInterrupt):
        return
    tb = _program_traceback(exc.__traceback__)
    sys.excepthook(type(exc), exc.with_traceback(tb), tb)


def finish(exc):
    """Ends the process the way the program would have ended on its own."""
    sys.stdout.flush()
    sys.stderr.flush()
    if exc is None:
        return 0
    if isinstance(exc, SystemExit):
        return _exit_status(exc.code)
    if isinstance(exc, KeyboardInterrupt):
        tb = _program_traceback(exc.__traceback__)
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        sys.stderr.flush()
        # Python exits "killed by SIGINT" on an unhandled Ctrl-C; so do we.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        return 130
    return 1


def say_written(written, measured):
    """yep's closing line on stderr: the files written (the first and the
    last two of many) and what they hold."""
    shown = written if len(written) <= 3 else [written[0], "...", *written[-2:]]
    print(f"yep: wrote {', '.join(shown)}: {measured}", file=sys.stderr)
