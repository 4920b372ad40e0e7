"""``yep.census``: the live Python objects of this process, partitioned by type
(heapy's ``hpy().heap()``), and what grew since a baseline (heapy's
``setrelheap``).

    c0 = yep.census()              # a table: count, size, %, cumulative % per type
    ...
    print(yep.census(baseline=c0)) # only the types that grew since c0
    print(c1 - c0)                 # the same, between two censuses
    yep.census(by="module")        # per module of the type

Which objects are counted, how and at what cost is said in
python/census.h: every object reachable from the objects the garbage
collector tracks (so str, int, bytes, ... too), each once; not those only C
code holds; not the censuses themselves nor what only they hold (nor the
live view's history), so a census taken right after another shows no growth
of its own. Sizes are shallow, each exactly ``sys.getsizeof`` of the object:
a list's size does not include its items. ``c.retained(kind)`` is the
retained size of a type's instances: what would be freed with them. A census
holds the GIL while it runs (about 0.2 s per million objects).
"""
import threading
import time
import weakref

from ._errors import YepError

_BYS = ("type", "module")

# yep's own objects, which the census leaves out with all they alone hold.
_own = weakref.WeakSet()
_own_lock = threading.Lock()  # a WeakSet cannot be iterated while another thread adds

# One census at a time: a census running in another thread holds hundreds of
# temporary tuples, which this one would count as growth.
_one_at_a_time = threading.Lock()


def exclude_from_census(obj):
    """Leave obj, and what only it holds, out of every census (yep's own state)."""
    with _own_lock:
        _own.add(obj)


def _excluded():
    with _own_lock:
        return [_own, *_own]  # the WeakSet too: its weak references are yep's


def _native():
    from .native import native
    return native()


def type_name(t):
    """heapy's name for a type: 'str' for builtins, else 'module.QualName'."""
    module = _module_name(t)
    qualname = _QUALNAME(t)
    return qualname if module == "builtins" else f"{module}.{qualname}"


# type's own getters, which a metaclass cannot override.
_MODULE, _QUALNAME = type.__dict__["__module__"].__get__, type.__dict__["__qualname__"].__get__


def _module_name(t):
    module = _MODULE(t)
    return module if isinstance(module, str) else "builtins"


class CensusRow:
    """One kind of object (a type, or a module's types): how many, how many bytes."""

    __slots__ = ("kind", "count", "size")

    def __init__(self, kind, count, size):
        self.kind, self.count, self.size = kind, count, size

    def __repr__(self):
        return f"CensusRow({self.kind!r}, count={self.count}, size={self.size})"

    def __eq__(self, other):
        return isinstance(other, CensusRow) and (self.kind, self.count, self.size) == (
            other.kind, other.count, other.size)


class Census:
    """A census (or, with ``baseline``, the growth since one): ``rows`` (CensusRow,
    largest first; for a growth, most new objects first), ``count`` and ``size``
    (all objects; for a growth, the net change of all objects), ``by``
    ("type" or "module"), ``taken_at`` (Unix time), ``seconds`` (time the
    census took). ``c[kind]`` is the row of a kind (KeyError if absent),
    ``c.text(limit)`` the table, ``c1 - c0`` the growth from c0 to c1."""

    def __init__(self, rows, count, size, by, taken_at, seconds, baseline=None, types=None):
        self.rows, self.count, self.size, self.by = rows, count, size, by
        self.taken_at, self.seconds, self.baseline = taken_at, seconds, baseline
        self._types = types or {}
        self._index = {row.kind: row for row in rows}
        exclude_from_census(self)

    def __getitem__(self, kind):
        return self._index[kind]

    def __contains__(self, kind):
        return kind in self._index

    def get(self, kind, default=None):
        return self._index.get(kind, default)

    def type_of(self, kind):
        """The type a kind names in a census by type, if it is still alive (else None)."""
        ref = self._types.get(kind)
        return ref() if ref is not None else None

    def retained(self, kind):
        """(objects, bytes) that would be freed if every instance of the type
        ``kind`` were: the instances and what only they hold (shallow sizes
        added up; references from C count as from elsewhere). YepError if no
        such type is alive."""
        t = self.type_of(kind)
        if t is None:
            raise YepError(f"no live type named {kind!r} in this census (by type)")
        native = _native()
        return native.census_retained(native.census_objects(t, 0, _excluded()))

    def diff(self, baseline):
        """What grew since ``baseline``: the kinds whose count or size went up,
        with the increase, most new objects first."""
        if not isinstance(baseline, Census) or baseline.baseline is not None:
            raise YepError(f"baseline must be a census from yep.census(), not {type(baseline).__name__}")
        if baseline.by != self.by or self.baseline is not None:
            raise YepError(f"cannot compare a census by {baseline.by} with one by {self.by}")
        grown = []
        for row in self.rows:
            before = baseline.get(row.kind, CensusRow(row.kind, 0, 0))
            count, size = row.count - before.count, row.size - before.size
            if count > 0 or size > 0:
                grown.append(CensusRow(row.kind, count, size))
        grown.sort(key=lambda r: (-r.count, -r.size, r.kind))
        return Census(grown, self.count - baseline.count, self.size - baseline.size, self.by, self.taken_at,
                      self.seconds, baseline=baseline, types=self._types)

    __sub__ = diff

    def text(self, limit=20):
        """The table, heapy-style: index, count, %, size, %, cumulative size, %, kind.
        ``limit``: rows to show (None: all)."""
        shown = self.rows if limit is None else self.rows[:limit]
        if self.baseline is None:
            head = (f"Census of {self.count} objects, {self.size} bytes ({self.size / 2**20:.1f} MiB); "
                    f"shallow sizes (sys.getsizeof of each object), by {self.by}; "
                    f"taken in {self.seconds:.3f} s")
            total_count, total_size = self.count, self.size
        else:
            total_count = sum(r.count for r in self.rows if r.count > 0)
            total_size = sum(r.size for r in self.rows if r.size > 0)
            head = (f"Growth over {self.taken_at - self.baseline.taken_at:.1f} s: {len(self.rows)} "
                    f"{'kinds' if self.by == 'module' else 'types'} grew, by {total_count} objects and "
                    f"{total_size} bytes (net change of all objects: {self.count:+d}, {self.size:+d} bytes); "
                    f"shallow sizes (sys.getsizeof), by {self.by}; % of the growth")
        lines = [head, f" Index     Count   %        Size   %  Cumulative   %  {self.by.capitalize()}"]
        cumulative = 0
        for i, row in enumerate(shown):
            cumulative += row.size
            lines.append(f"{i:6d} {row.count:9d} {_pct(row.count, total_count):3d} {row.size:11d} "
                         f"{_pct(row.size, total_size):3d} {cumulative:11d} {_pct(cumulative, total_size):3d}  "
                         f"{row.kind}")
        if len(shown) < len(self.rows):
            lines.append(f"<{len(self.rows) - len(shown)} more rows: .text(limit=None) shows all>")
        return "\n".join(lines) + "\n"

    def __str__(self):
        return self.text()

    __repr__ = __str__

    def to_dict(self):
        return {"by": self.by, "count": self.count, "size": self.size, "taken_at": self.taken_at,
                "seconds": self.seconds, "since": None if self.baseline is None else self.baseline.taken_at,
                "rows": [{"kind": r.kind, "count": r.count, "size": r.size} for r in self.rows]}


def _pct(part, whole):
    return int(round(100 * part / whole)) if whole > 0 else 0


def census(baseline=None, by="type"):
    """Count every live Python object by type (``by="module"``: by the module
    that defines its type) with its shallow size in bytes (``sys.getsizeof``).

    With ``baseline`` (an earlier census), returns only what grew since then
    (heapy's setrelheap). Print the result for the table. Raises YepError for
    an unknown ``by`` or a baseline that is not a census.
    """
    if by not in _BYS:
        raise YepError(f"by must be one of {', '.join(_BYS)}, not {by!r}")
    if baseline is not None and not isinstance(baseline, Census):
        raise YepError(f"baseline must be a census from yep.census(), not {type(baseline).__name__}")
    if baseline is not None and baseline.by != by:
        by = baseline.by
    with _one_at_a_time:  # and nothing of this census left in a frame when the next one starts
        return _take(by) if baseline is None else _take(by).diff(baseline)


def _take(by):
    native = _native()
    taken_at = time.time()
    start = time.perf_counter()
    raw, count, size = native.census(_excluded())
    seconds = time.perf_counter() - start
    kinds, types = {}, {}
    for t, n, s in raw:
        kind = type_name(t) if by == "type" else _module_name(t)
        if by == "type":
            types[kind] = weakref.ref(t)
        old = kinds.get(kind)
        kinds[kind] = (n, s) if old is None else (old[0] + n, old[1] + s)
    del raw
    rows = sorted((CensusRow(k, n, s) for k, (n, s) in kinds.items()), key=lambda r: (-r.size, -r.count, r.kind))
    return Census(rows, count, size, by, taken_at, seconds, types=types)
