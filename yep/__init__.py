"""yep: profile Python programs and the native code under them.

The YEP API, unchanged::

    import yep
    yep.start("out.prof")
    ...
    yep.stop()

plus ``yep.profile`` (context manager and decorator), ``yep.is_running`` and
``yep.report`` (the text report of a profile file).
"""
from ._errors import YepError
from .api import flush, is_running, profile, start, stop
from .report import report

__version__ = "1.0.0.dev0"
__all__ = ["YepError", "start", "stop", "flush", "is_running", "profile", "report", "__version__"]
