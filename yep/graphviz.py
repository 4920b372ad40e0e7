"""Graphviz's dot, run on yep's call graph (--format dot) to draw it as SVG
(--format svg): the one program yep runs for a report. No shell, bounded in
time; a missing dot is a user's one-line error, not a traceback."""
import shutil
import subprocess

from ._errors import YepError

TIMEOUT_S = 120
MISSING = ("--format svg needs Graphviz's dot (apt-get install graphviz); --format dot writes the graph's text")


def dot_to_svg(dot_text, timeout=TIMEOUT_S):
    """The SVG drawing (str) of a graph in dot text, by `dot -Tsvg` on PATH."""
    exe = shutil.which("dot")
    if exe is None:
        raise YepError(MISSING)
    try:
        done = subprocess.run([exe, "-Tsvg"], input=dot_text.encode("utf-8"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise YepError(f"Graphviz's dot ({exe}) took over {timeout}s to draw the graph: "
                       f"show fewer nodes (--nodecount)") from None
    except OSError as exc:
        raise YepError(f"cannot run Graphviz's dot ({exe}): {exc.strerror}") from None
    if done.returncode != 0 or not done.stdout:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise YepError(f"Graphviz's dot ({exe}) could not draw the graph (status {done.returncode}"
                       f"{': ' + reason[0] if reason else ''})")
    return done.stdout.decode("utf-8", "replace")
