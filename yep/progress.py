"""Progress of a long profiled run, on a terminal.

A run that goes on says how far it got on stderr at 10 s, 20 s, 40 s, ...
(doubling: a few lines even for an hour), each a whole line, so the
program's own output is never overwritten. Never when stderr is not a
terminal. YEP_PROGRESS=off turns it off; YEP_PROGRESS=S puts the first line
at S seconds (and the C++ converter's progress, converters/progress.h, at S
seconds into a conversion instead of 1).
"""
import os
import time

FIRST_LINE = 10.0


def first_line_after(default):
    """Seconds before the first progress line, or None for none at all."""
    setting = os.environ.get("YEP_PROGRESS", "").strip().lower()
    if setting in ("off", "0", "no", "false"):
        return None
    try:
        after = float(setting) if setting else default
    except ValueError:
        after = default
    after = after if after > 0 else default
    return after if _terminal() else None


def _terminal():
    try:
        return os.isatty(2)
    except OSError:
        return False


class RunProgress:
    """Prints 'yep: N s into the run: <so_far()>' at the schedule above, from
    a thread of yep's own (its samples are not the program's)."""

    def __init__(self, so_far):
        self._so_far = so_far
        self._stop = None
        self._thread = None

    def start(self):
        after = first_line_after(FIRST_LINE)
        if after is None:
            return
        # (imported only here: a run without a terminal holds no threading)
        import threading

        from .api import own_thread

        self._stop = threading.Event()
        self._thread = threading.Thread(target=own_thread(lambda: self._run(after)), name="yep-progress", daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is not None and self._thread.is_alive():
            self._stop.set()
            self._thread.join()
        self._thread = None

    def _run(self, after):
        began, at = time.monotonic(), after
        while not self._stop.wait(max(0.0, began + at - time.monotonic())):
            try:
                os.write(2, f"yep: {at:g} s into the run: {self._so_far()}\n".encode(errors="replace"))
            except OSError:
                return  # stderr closed by the program: nothing more to say
            at *= 2
