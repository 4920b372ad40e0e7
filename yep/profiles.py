"""Reading profiles: yep.load(path) and the conversions to every format,
all done by yep's own C++ converter (libyepconv) in process."""
import os

from ._errors import YepError
from .atomic_file import write_atomically

SORTS = ("flat", "cum")
DEFAULT_NODECOUNT = 30
GRAPH_NODECOUNT = 80  # dot and svg, as pprof's
GRAPH_FORMATS = ("dot", "svg")  # svg: Graphviz's drawing of the dot text (yep/graphviz.py)


MAX_NODECOUNT = 2**31 - 1  # the C++ side's int; 0 means all

def _native():
    from .native import native

    return native()


def formats():
    """The output formats: text, pstats, source, callgrind, proto, folded, html, dot, svg."""
    return list(_native().format_names()) + ["svg"]


def format_suffix(fmt):
    """The usual file suffix of a format: '.pstats', '.callgrind', '.pb.gz', ..."""
    return _native().format_suffix(fmt)


def is_binary_format(fmt):
    return _native().is_binary_format(fmt)


def load(path, *more, base=None, normalize=False):
    """Read and symbolize a profile file (CPU or heap); returns a Profile.

    Several paths of one kind (`load("a.prof", "b.prof")`: the processes
    of a run, the runs of a job, other hosts) are read as one profile: a
    function is one function whatever address it was loaded at, and each
    sample carries a "profile" label naming its file.
    With `base` (an earlier profile of the same kind), the result compares
    them (as Profile.compare does); normalize scales the base to the
    profile's total.
    Raises YepError for a missing, truncated or corrupt file.
    """
    from .user_paths import user_path

    paths = [user_path(p) for p in (path, *more)]
    base = "" if base is None else user_path(base, "base profile path")
    if any(os.path.isdir(p) for p in paths):
        paths = [q for p in paths for q in (_process_profiles(p) if os.path.isdir(p) else [p])]
    if normalize and not base:
        raise YepError("normalize scales a base profile: give one with base=")
    name = paths[0] if len(paths) == 1 else " + ".join(paths)
    return Profile(_native().load(paths, base, bool(normalize)), name + (f" vs {base}" if base else ""))


def _process_profiles(folder):
    """The profiles of a process tree's folder (python -m yep --subprocesses)."""
    from .subprocesses import profile_files

    complete, unfinished = profile_files(folder)
    if unfinished:
        import sys

        print(f"yep: {folder}: left out {len(unfinished)} profile{'s' if len(unfinished) > 1 else ''} not finished "
              f"(processes still running, or killed): {', '.join(os.path.basename(p) for p in unfinished)}",
              file=sys.stderr)
    if not complete:
        raise YepError(f"{folder}: holds no finished profile")
    return complete


class Profile:
    """A loaded profile. Every conversion takes the same options:

    sort ('flat' or 'cum') and nodecount (text rows; source: functions; dot
    and svg: nodes, default 80, 0 for all), nodefraction and edgefraction
    (dot and svg: drop nodes, edges under that share of the total; defaults
    0.005 and 0.001, as pprof's),
    focus / ignore (regexes: keep samples through a matching function, drop
    those through one), lines (each entry is a function at file:line),
    sample_index (which value, for profiles with several), list (source:
    regex of the functions to annotate), title (html); for mixed Python +
    native profiles (the default), interpreter (show the interpreter's own
    native frames, hidden by default) and threads (one root per thread);
    processes: one root per process (profiles of a process tree);
    object_addresses (proto): addresses in the object files' own, for go tool
    pprof's source and disassembly views of native code.
    """

    def __init__(self, native, path):
        self._native = native
        self.path = path

    @property
    def sample_types(self):
        """[(type, unit), ...], e.g. [('samples', 'count'), ('cpu', 'nanoseconds')]."""
        return list(self._native.sample_types)

    @property
    def comments(self):
        return list(self._native.comments)

    @property
    def samples(self):
        """Number of samples (the 'samples/count' value)."""
        return self._native.total(0)

    @property
    def total_seconds(self):
        """Total time in seconds of a CPU or wall-clock profile."""
        index = self._native.default_sample_index
        if self.sample_types[index][1] != "nanoseconds":
            raise YepError(f"{self.path}: not a time profile ({self.sample_types[index][0]})")
        return self._native.total(index) / 1e9

    def sample_index(self, which):
        """The index of a sample type given by index or name ('inuse_space');
        None or -1: the profile's default."""
        if which is None or which == -1:
            return -1
        names = [t for t, _ in self.sample_types]
        if isinstance(which, str) and not (which.isascii() and which.isdigit()):
            if which not in names:
                raise YepError(f"{self.path} has no sample type {which!r}: it has {', '.join(names)}")
            return names.index(which)
        if isinstance(which, bool) or not isinstance(which, (int, str)) or not 0 <= int(which) < len(names):
            raise YepError(f"{self.path} has sample types 0 to {len(names) - 1} ({', '.join(names)}), not {which!r}")
        return int(which)

    def render(self, fmt="text", sort="flat", nodecount=None, focus=None, ignore=None, lines=False,
               sample_index=-1, list=None, title=None, interpreter=False, threads=False, processes=False,
               object_addresses=False, nodefraction=0.005, edgefraction=0.001):
        """The profile in format `fmt`: str for text formats, bytes for pstats and proto.

        sample_index picks the value by index or name (e.g. 'alloc_space');
        nodecount None: the format's default (80 nodes for dot and svg, else all).
        """
        sample_index = self.sample_index(sample_index)
        if nodecount is None:
            nodecount = GRAPH_NODECOUNT if fmt in GRAPH_FORMATS else 0
        for name, share in (("nodefraction", nodefraction), ("edgefraction", edgefraction)):
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
                raise YepError(f"{name} must be a share of the total from 0 to 1, not {share!r}")
        if sort not in SORTS:
            raise YepError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        if not isinstance(nodecount, int) or isinstance(nodecount, bool) or not 0 <= nodecount <= MAX_NODECOUNT:
            raise YepError(f"nodecount must be a whole number from 0 to {MAX_NODECOUNT}, not {nodecount!r}")
        data = self._native.render("dot" if fmt == "svg" else fmt, sort, nodecount, sample_index, focus or "",
                                   ignore or "", bool(lines),
                                   list or "", title or os.path.basename(self.path), bool(interpreter), bool(threads),
                                   bool(processes), bool(object_addresses), float(nodefraction),
                                   float(edgefraction))
        if fmt == "svg":
            from .graphviz import dot_to_svg

            return dot_to_svg(data.decode("utf-8", "replace"))
        return data if is_binary_format(fmt) else data.decode("utf-8", "replace")

    @property
    def is_diff(self):
        """Whether this is a comparison with a base (load(..., base=...), compare)."""
        return self._native.is_diff

    def compare(self, base, normalize=False):
        """This profile compared with `base`, an earlier Profile of the same
        kind: a Profile whose values are the change (every format shows it:
        text has base, new and change columns; flame graphs and call graphs
        colour what grew red and what shrank blue or green). Functions are
        matched by name, file and object file, never by address. normalize:
        scale the base to this profile's total first."""
        if not isinstance(base, Profile):
            raise YepError(f"compare needs a yep.Profile (from yep.load) as the base, not {type(base).__name__}")
        if self.is_diff or base.is_diff:
            raise YepError("compare needs two profiles, not a comparison already made")
        return Profile(_native().diff(self._native, base._native, self.path, base.path, bool(normalize)),
                       f"{self.path} vs {base.path}")

    def save(self, path, fmt=None, **options):
        """Write the profile in `fmt` (default: from the suffix of `path`)."""
        fmt = fmt or _format_from_suffix(path)
        write_atomically(os.fspath(path), self.render(fmt, **options))
        return path

    def text(self, sort="flat", nodecount=DEFAULT_NODECOUNT, **options):
        """pprof --text style report, in seconds."""
        return self.render("text", sort=sort, nodecount=nodecount, **options)

    def source(self, list=None, **options):
        """Source annotated line by line (pprof --list)."""
        return self.render("source", list=list, **options)

    def folded(self, **options):
        """Collapsed stacks, one 'root;...;leaf value' line per stack."""
        return self.render("folded", **options)

    def stats(self, **options):
        """A pstats.Stats of the profile (print_stats, print_callers, ...)."""
        import pstats
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "profile.pstats")
            self.save(path, "pstats", **options)
            return pstats.Stats(path)

    def __repr__(self):
        return f"<yep.Profile {self.path!r}: {self.sample_types}>"


def _format_from_suffix(path):
    name = os.fspath(path)
    for fmt in formats():
        if name.endswith(format_suffix(fmt)) and fmt not in ("text", "source"):
            return fmt
    if name.endswith(".txt"):
        return "text"
    raise YepError(f"cannot tell the format from the name '{name}': say which (one of {', '.join(formats())})")


def report(path, sort="flat", nodecount=DEFAULT_NODECOUNT, **options):
    """The text report of a profile file (YEP's `pprof --text`, done by yep)."""
    return load(path).text(sort=sort, nodecount=nodecount, **options)
