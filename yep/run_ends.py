"""The ways a profiled run can end besides returning or raising, each of
which finishes the profile first, in the profiled process only (a forked
child's profile is its parent's):

- os._exit, which skips every clean-up (forked children often leave that way);
- os.execv / os.execve, and through them every os.exec* (os.py calls these
  two): the new program would otherwise inherit the armed profiling timer
  and die of SIGPROF (SIGALRM for --wall) at its first tick, leaving an
  empty profile;
- exit() from C code (a library's fatal error, Fortran's STOP, ctypes),
  which runs no Python clean-up: yep._native calls finish_now from a C
  atexit handler (python/c_exit_hook.h);
- SIGTERM, when the program has no handler of its own: the profile is
  written, then the signal ends the process as it would have (same status);
  one that comes while the profile is being written (at exit) waits for it.
  yep._native relays SIGTERM to Python's handler until it has run (see
  _relay). SIGTERM is held blocked across the program's forks: one sent to a child
  as it is born (a pool's terminate() right after it replaced a worker)
  would otherwise be caught by the handler's C part and then dropped when
  the child's Python resets its signal state, and the pool would wait
  for that child forever; blocked, it waits in the kernel until the child
  is ready for it.

An exec from C code (not through os) is not seen: its new program still
inherits the timer.
"""
import os
import signal
import sys


def _relay(name, *args):
    """yep._native's NAME(*ARGS), if yep._native loads: the C exit hook,
    and the SIGTERM relay (python/sigterm_relay.h), without which a
    SIGTERM that comes just before a blocking call waits for the handler
    with the call, forever (a pool's worker blocked on its queue's lock as
    the pool terminates it, and the pool waiting for that worker)."""
    try:
        from .native import native as _native

        getattr(_native(), name)(*args)
    except Exception:  # noqa: BLE001 - none: SIGTERM handled as Python handles it, exit() from C writes nothing
        pass


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
        _relay("c_exit_hook_set", self.finish_now)
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
                _relay("sigterm_relay_install")
                os.register_at_fork(before=self._hold_sigterm, after_in_parent=self._release_sigterm,
                                    after_in_child=self._child_default)
        except ValueError:  # not the main thread: no handler, as before
            pass

    def uninstall(self):
        _relay("c_exit_hook_set", None)
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
        _relay("sigterm_relay_handled")
        if self._finishing and os.getpid() == self._parent:
            # (a worker leaving at its own exit as its pool terminates it)
            self._pending = signum
            return
        self._finish_here()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    _held = False  # SIGTERM blocked by _hold_sigterm for a fork (see the module's docstring)

    def _hold_sigterm(self):
        self._held = False
        if self._saved and signal.getsignal(signal.SIGTERM) == self._terminated:
            before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            self._held = signal.SIGTERM not in before  # (not one the program blocked itself)

    def _release_sigterm(self):
        if self._held:
            self._held = False
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def _child_default(self):
        # A forked child dies of SIGTERM at once, as without yep (a pool's
        # worker stuck in C code would otherwise wait for Python's handler),
        # unless a profile of its own took SIGTERM already (yep.subprocesses).
        if self._saved and signal.getsignal(signal.SIGTERM) == self._terminated:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self._release_sigterm()
