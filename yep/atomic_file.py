"""Writing output files whole or not at all: everything yep writes goes to a
temporary file beside the target and is renamed over it once complete, so a
failure never leaves a half-written file passed off as a result."""
import contextlib
import os

from ._errors import YepError


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write; renames it to `path` on success.
    An OSError becomes one YepError line naming `path`."""
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.yep-tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise YepError(f"cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def write_atomically(path, data):
    """Writes str or bytes to `path` whole or not at all."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
