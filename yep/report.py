"""Reports built by yep's own C++ converter (libyepconv)."""
import os

from ._errors import YepError

SORTS = ("flat", "cum")
DEFAULT_NODECOUNT = 30


def report(path, sort="flat", nodecount=DEFAULT_NODECOUNT):
    """Return the text report (pprof --text columns, seconds) of a profile.

    ``nodecount`` limits the rows (0: all). Raises YepError for a missing,
    truncated or corrupt profile.
    """
    from .api import _native

    if sort not in SORTS:
        raise YepError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    if not isinstance(nodecount, int) or nodecount < 0:
        raise YepError(f"nodecount must be an integer >= 0, not {nodecount!r}")
    return _native().report_text(os.fspath(path), sort, nodecount)
