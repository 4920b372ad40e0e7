"""Starting a program with yep's malloc interposer preloaded (--heap, yep memory,
mprof run --heap, %mprun's kernel).

The interposer must see the first malloc on, so yep never links it: the
program restarts with it in LD_PRELOAD (yep._native.malloc_hooks_library() says
which copy: the installed package's own first). The dynamic loader splits
LD_PRELOAD at spaces and colons, so a library whose path has either (a
virtual environment in "My Projects") is preloaded by its file name, with
its folder first in LD_LIBRARY_PATH, where the loader looks for such names.
"""
import os

from ._errors import YepError


def preload_environment(env, library):
    """The variables to set in `env` (a mapping, not changed) so that a new
    process loads `library` first: LD_PRELOAD, and LD_LIBRARY_PATH if needed."""
    previous = env.get("LD_PRELOAD")
    if not any(c in library for c in " \t\n:"):
        return {"LD_PRELOAD": library + (" " + previous if previous else "")}
    folder, name = os.path.split(library)
    if ":" in folder or ";" in folder or any(c in name for c in " \t\n:"):
        raise YepError(f"cannot preload yep's malloc interposer from '{library}': the dynamic loader cannot take a ':' in its "
                       f"folder's name; install yep where the path has none")
    paths = env.get("LD_LIBRARY_PATH")
    return {"LD_PRELOAD": name + (" " + previous if previous else ""),
            "LD_LIBRARY_PATH": folder + (":" + paths if paths else "")}
