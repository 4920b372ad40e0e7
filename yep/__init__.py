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
import importlib

from ._errors import YepError

__version__ = "1.0.0.dev0"

# Everything else is imported on first use (PEP 562): `import yep` costs
# nothing more, so a profiled program's process holds only what its run
# needs (the objects of modules it never uses would slow its garbage
# collections), and `yep report` loads only what a report needs (the live
# view alone imports http.server). name -> the submodule that defines it;
# no submodule is named like a name of this table (importing it would
# rebind the name to the module).
_LAZY = {"start": "api", "stop": "api", "flush": "api", "is_running": "api", "profile": "api",
         "heap_start": "heap", "heap_dump": "heap", "heap_stop": "heap", "heap_is_running": "heap",
         "heap_profile": "heap", "heap_stats": "heap", "heap_profiler_stats": "heap", "serve": "live_view",
         "label": "timestamps", "load": "profiles", "Profile": "profiles", "report": "profiles",
         "census": "object_census", "Census": "object_census", "memory_usage": "memory_sampling"}
# Submodules that `import yep` used to import, so `yep.heap` works after `import yep`.
_LAZY_MODULES = {"api", "heap", "live_view", "live_server", "mixed", "timestamps", "atomic_file", "user_paths"}


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _LAZY_MODULES)


def load_ipython_extension(shell):
    """`%load_ext yep`: registers %memit, %%memit, %mprun, %%mprun, %yep and %%yep."""
    from .magics import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell):
    from .magics import unload_ipython_extension as unload

    unload(shell)


__all__ = ["YepError", "start", "stop", "flush", "is_running", "profile", "load", "Profile", "report",
           "label", "heap_start", "heap_dump", "heap_stop", "heap_is_running", "heap_profile", "heap_stats", "heap_profiler_stats", "memory_usage",
           "census", "Census", "serve",
           "__version__"]
