"""The compiled module (yep/_native: python/ and converters/ built as one
extension), loaded on first use: loading libprofiler arms its timer, which
a plain `import yep` should not do."""
import os

from ._errors import YepError

_fork_hook_registered = False


def native():
    try:
        from . import _native as native
    except ImportError as exc:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        raise YepError(f"yep's native module is missing ({exc}); is Python importing yep from its source "
                       f"tree in {here}? Run from another directory, after `make install`") from None
    global _fork_hook_registered
    if not _fork_hook_registered:
        # A forked child must not write into its parent's profile.
        os.register_at_fork(after_in_child=native.cpu_release_after_fork)
        _fork_hook_registered = True
    return native
