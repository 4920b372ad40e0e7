"""Writing output files whole or not at all, safely in shared folders: every
Python writer goes through the capture's own output file
(converters/output_file.h): a temporary beside the target, made with O_EXCL
under an unpredictable name, renamed over it once complete; a special file
(/dev/null, a terminal, a FIFO with a reader) written directly, never
replaced; a link another user planted in a sticky folder refused. A
failure never leaves a half-written file passed off as a result."""
import contextlib

from ._errors import YepError
from .user_paths import user_path


@contextlib.contextmanager
def atomic_path(path):
    """Yields a path to write (the temporary, or the special file through
    this process's descriptor); the file takes `path`'s place on success.
    An OSError becomes one YepError line naming `path`."""
    from .native import native as _native

    path = user_path(path, "output path")
    out = _native().OutputFile(path)
    try:
        yield out.temporary or f"/proc/self/fd/{out.fd}"
        out.commit()
    except OSError as exc:
        raise YepError(f"cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        out.abandon()


def write_atomically(path, data):
    """Writes str or bytes to `path` whole or not at all."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def create_empty(path):
    """Makes `path` an empty file of this process's, as atomic_path makes
    any output (no planted link followed; a device left as it is), for a
    writer that must write it as it goes (yep mprof run's .dat, which the
    profiled program appends to too); the caller then opens `path`."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb"):
            pass


def write_stdout(data):
    """A report to standard output; a failed write (a full disk) is one
    YepError line, not a traceback. A reader that stopped reading (`| head`)
    ends the report quietly."""
    import os
    import sys

    try:
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        sys.stdout.flush()
    except OSError as exc:
        # What the buffer still holds goes nowhere at exit, instead of
        # failing again there ("Exception ignored ... flushing sys.stdout").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if not isinstance(exc, BrokenPipeError):
            raise YepError(f"cannot write the report to standard output: {exc.strerror or exc}") from None
