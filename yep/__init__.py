"""yep: profile Python programs and the native code under them.

The YEP API, unchanged::

    import yep
    yep.start("out.prof")
    ...
    yep.stop()

plus ``yep.profile`` (context manager and decorator), ``yep.is_running``,
``yep.load`` (a profile file, convertible to every output format) and
``yep.report`` (its text report).
"""
from ._errors import YepError
from .api import flush, is_running, profile, start, stop
from .report import Profile, load, report

__version__ = "1.0.0.dev0"
__all__ = ["YepError", "start", "stop", "flush", "is_running", "profile", "load", "Profile", "report",
           "__version__"]
