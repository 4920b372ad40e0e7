"""yep: profile Python programs and the native code under them.

The YEP API, unchanged::

    import yep
    yep.start("out.prof")
    ...
    yep.stop()

plus ``yep.profile`` (context manager and decorator), ``yep.is_running``,
``yep.load`` (a profile file, convertible to every output format) and
``yep.report`` (its text report); and the native heap profiler
(``yep.heap_start`` / ``heap_dump`` / ``heap_stop``, ``yep.heap_profile``,
``yep.heap_stats``); the object census (``yep.census``) and the live view
(``yep.serve``); and, in IPython or Jupyter, ``%load_ext yep`` for the
magics %memit, %mprun and %yep (yep.magics).
"""
from ._errors import YepError
from .api import flush, is_running, profile, start, stop
from .heap import heap_dump, heap_is_running, heap_profile, heap_start, heap_stats, heap_stop
from .memory_usage import memory_usage
from .census import Census, census
from .live_view import serve
from .timestamps import label
from .report import Profile, load, report

__version__ = "1.0.0.dev0"


def load_ipython_extension(shell):
    """`%load_ext yep`: registers %memit, %%memit, %mprun, %%mprun, %yep and %%yep."""
    from .magics import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell):
    from .magics import unload_ipython_extension as unload

    unload(shell)


__all__ = ["YepError", "start", "stop", "flush", "is_running", "profile", "load", "Profile", "report",
           "label", "heap_start", "heap_dump", "heap_stop", "heap_is_running", "heap_profile", "heap_stats", "memory_usage",
           "census", "Census", "serve",
           "__version__"]
