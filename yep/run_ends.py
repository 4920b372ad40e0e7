"""The ways a profiled run can end besides returning or raising, each of
which finishes the profile first, in the profiled process only (a forked
child's profile is its parent's):

- os._exit, which skips every clean-up (forked children often leave that way);
- os.execv / os.execve, and through them every os.exec* (os.py calls these
  two): the new program would otherwise inherit the armed profiling timer
  and die of SIGPROF (SIGALRM for --wall) at its first tick, leaving an
  empty profile;
- SIGTERM, when the program has no handler of its own: the profile is
  written, then the signal ends the process as it would have (same status);
  one that comes while the profile is being written (at exit) waits for it.

An exec from C code (not through os) is not seen: its new program still
inherits the timer.
"""
import os
import signal
import sys


class RunEnds:
    """Installed around the program's run; finish() is called at most once,
    before the process leaves by one of the ways above."""

    def __init__(self, finish, running):
        self._finish, self._running = finish, running
        self._parent = os.getpid()
        self._saved = {}
        self._finishing = False
        self._pending = None  # a signal that came while finishing: delivered after

    def finish_now(self):
        """Finishes here and now (at exit), guarded as the other ways are."""
        self._finish_here()

    def _finish_here(self):
        if os.getpid() == self._parent and self._running() and not self._finishing:
            self._finishing = True
            try:
                self._finish()
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (AttributeError, OSError, ValueError):  # closed by the program (a resource tracker)
                        pass
            finally:
                self._finishing = False
            if self._pending is not None:  # SIGTERM while writing: it ends the process now
                signum, self._pending = self._pending, None
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

    def install(self):
        for name in ("_exit", "execv", "execve"):
            real = getattr(os, name)
            self._saved[name] = real
            setattr(os, name, self._wrap(real))
        try:
            current = signal.getsignal(signal.SIGTERM)
            # (a forked child's copy of its profiled parent's handler stands for the default)
            if current == signal.SIG_DFL or isinstance(getattr(current, "__self__", None), RunEnds):
                signal.signal(signal.SIGTERM, self._terminated)
                self._saved["SIGTERM"] = signal.SIG_DFL
                os.register_at_fork(after_in_child=self._child_default)
        except ValueError:  # not the main thread: no handler, as before
            pass

    def uninstall(self):
        for name, real in self._saved.items():
            if name == "SIGTERM":
                if signal.getsignal(signal.SIGTERM) == self._terminated:
                    signal.signal(signal.SIGTERM, real)
            else:
                setattr(os, name, real)
        self._saved.clear()

    def _wrap(self, real):
        def finish_first(*args, **kwargs):
            self._finish_here()
            return real(*args, **kwargs)

        finish_first.__wrapped__ = real
        return finish_first

    def _terminated(self, signum, frame):
        if self._finishing and os.getpid() == self._parent:
            # (a worker leaving at its own exit as its pool terminates it)
            self._pending = signum
            return
        self._finish_here()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def _child_default(self):
        # A forked child dies of SIGTERM at once, as without yep (a pool's
        # worker stuck in C code would otherwise wait for Python's handler).
        if self._saved and signal.getsignal(signal.SIGTERM) == self._terminated:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
