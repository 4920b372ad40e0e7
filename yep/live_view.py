"""``yep.serve()``: dowser's live view, served by the profiled process itself.

    url = yep.serve()      # starts a background thread; returns http://127.0.0.1:PORT/?token=...

The page (yep/live_view.html, one file, no outside resources) shows RSS, the
native heap (when yep's malloc interposer is preloaded) and the Python objects over
time, a sparkline of the count of each type, the instances of a type and
their referrers, what grew since a chosen moment, and the top of the CPU
profile when one is running.

The native heap: while the heap profiler records (yep serve --heap-sample,
yep.heap_start), its own figure of the bytes in use, an estimate when it is
sampled (the page says so, and the mean); it adds no malloc hooks. Else,
where yep's malloc interposer is preloaded, malloc hooks' count
(yep.heap_stats, which installs them on first use). While the profiler
records, the page can also write a heap profile now (yep.heap_dump).

How it behaves in the profiled program:
 - It listens on 127.0.0.1 only, on a free port; every request must name
   the loopback host and port in its Host header and carry the random token
   of the URL (else 403). It serves the page and JSON about objects; it never
   runs code sent to it or reads files other than the page, /proc/self and
   the running CPU profile. Connections, threads, timeouts and the safety
   headers are yep/live_server.py's: idle or hostile clients cost no thread.
 - A sampler thread takes a census (yep.census) every ``interval`` seconds,
   or less often when a census is slow: it waits at least 20 times as long as
   the last census took, so it holds the GIL at most about 5% of the time.
   RSS is read by yep's native RSS sampler (no GIL); each moment keeps the
   highest RSS since the one before. Only that thread takes censuses; a
   request that wants one now (growth, mark) asks it and waits at most
   CENSUS_WAIT seconds, and no request waits longer than that for a census
   to end: past it, it gets the last complete census, marked stale with its
   time, while the slow one (a __sizeof__ of the program's that sleeps)
   finishes in the background.
 - The history keeps at most 240 moments; when full, every other one is
   dropped, so it always spans the whole run. Its moments are arrays of
   numbers (a few objects each), so the view barely shows in its own census.
 - Reprs: only for builtin types whose repr runs no user code (str, bytes,
   numbers, containers of those, ...), cut to 120 characters; any other
   object shows as <module.Type object at 0x...>: user __repr__ is never
   called, as it could hang or have side effects.
 - Listed instances (at most 50) and referrers (at most 50) are held by the
   view until the next listing, so their ids can be followed.
"""
import array
import atexit
import gc
import hmac
import json
import os
import secrets
import struct
import sys
import tempfile
import threading
import time
import types
import urllib.parse

from . import mixed
from ._errors import YepError
from .api import own_thread
from .object_census import Census, CensusRow, _excluded, census, exclude_from_census, type_name
from .live_server import LoopbackServer, RequestHandler

MAX_MOMENTS = 240
MAX_LISTED = 50
SHOWN_TYPES = 30  # types sent to the page: the most numerous and the fastest growing
REPR_LIMIT = 120
GIL_SHARE = 20  # the sampler waits at least GIL_SHARE x the last census's time
CENSUS_WAIT = 2.0  # the longest a request waits for a census (see the module's docstring)

_view = None
_view_lock = threading.Lock()


def serve(port=0, interval=1.0):
    """Start the live view in a background thread and return its URL.

    ``port``: 0 picks a free one. ``interval``: seconds between censuses (at
    least; see yep/live_view.py). A second call returns the URL of the
    running view. Raises YepError if the port cannot be bound.
    """
    global _view
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
        raise YepError(f"interval must be a number of seconds more than 0, not {interval!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise YepError(f"port must be a whole number from 0 to 65535, not {port!r}")
    with _view_lock:
        if _view is None:
            view = LiveView(interval)
            view.start(port)
            _view = view
            atexit.register(view.stop)
        return _view.url


def stop():
    """Stop the live view, if one runs."""
    global _view
    with _view_lock:
        if _view is not None:
            _view.stop()
            _view = None


def _native():
    from .native import native
    return native()


# ---- reprs that run no user code -------------------------------------------------

_SCALARS = (int, float, complex, bool, type(None), type(Ellipsis), range)


def safe_repr(obj, limit=REPR_LIMIT):
    """A short repr that runs no user code (see the module's docstring)."""
    text = _repr(obj, 2)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _default_repr(obj):
    return f"<{type_name(type(obj))} object at {id(obj):#x}>"


def _repr(obj, depth):
    t = type(obj)
    if t in (str, bytes, bytearray):
        text = repr(obj[:REPR_LIMIT])
        return text if len(obj) <= REPR_LIMIT else f"{text}... ({len(obj)} long)"
    if t is int and obj.bit_length() > 256:
        return f"<int of {obj.bit_length()} bits>"
    if t in _SCALARS:
        return repr(obj)
    if t in (list, tuple, set, frozenset, dict):
        if depth == 0 or not obj:
            return f"<{t.__name__} of {len(obj)}>" if obj else repr(t())
        items = list(obj.items())[:4] if t is dict else list(obj)[:4]
        if t is dict:
            parts = [f"{_repr(k, depth - 1)}: {_repr(v, depth - 1)}" for k, v in items]
        else:
            parts = [_repr(x, depth - 1) for x in items]
        if len(obj) > len(items):
            parts.append(f"... {len(obj)} items")
        open_, close = {list: "[]", tuple: "()", set: "{}", frozenset: "{}", dict: "{}"}[t]
        return f"{'frozenset(' if t is frozenset else ''}{open_}{', '.join(parts)}{close}{')' if t is frozenset else ''}"
    if isinstance(obj, type):
        return f"<class '{type_name(obj)}'>"
    if t in (types.FunctionType, types.BuiltinFunctionType, types.MethodType):
        return f"<{t.__name__} {getattr(obj, '__qualname__', '?')}>"
    if t is types.ModuleType:
        return f"<module {obj.__dict__.get('__name__', '?')!r}>"
    if t is types.CodeType:
        return f"<code {obj.co_qualname} {obj.co_filename}:{obj.co_firstlineno}>"
    return _default_repr(obj)


def _describe(obj):
    return {"id": id(obj), "type": type_name(type(obj)), "size": _native().census_sizeof(obj), "repr": safe_repr(obj)}


# ---- the view ----------------------------------------------------------------------


class _Moment:
    """One census, as arrays indexed by the view's kind numbers."""

    __slots__ = ("t", "count", "size", "rss", "heap", "heap_sample", "counts", "sizes", "label")

    def __init__(self, t, count, size, rss, heap, counts, sizes, label=None, heap_sample=None):
        self.t, self.count, self.size, self.rss, self.heap = t, count, size, rss, heap
        # heap_sample: the heap profiler's mean when heap is its figure (0:
        # every allocation recorded; more: an estimate); None: malloc hooks'.
        self.heap_sample = heap_sample
        self.counts, self.sizes, self.label = counts, sizes, label


class LiveView:
    def __init__(self, interval):
        self.interval = float(interval)
        self.token = secrets.token_urlsafe(24)
        self.started = time.time()
        self.kinds = {}  # type name -> its index in the moments' arrays
        self.names = []
        self.moments = []
        self.marks = []  # moments chosen by the person, kept whatever the history drops
        self.types = {}  # type name -> weakref to the type, from the last census
        self.listed = {}  # id -> object, of the instances and referrers shown last
        self.census_seconds = 0.0
        self.census_started = None  # time.time() when the census running now began
        self.censuses_begun = self.censuses_done = 0
        self.lock = threading.Lock()
        self.census_done = threading.Condition(self.lock)
        # One request or moment at a time: the census in one would count the
        # others' temporaries (a state's lists of counts, a listing's reprs).
        # A request waits for it CENSUS_WAIT seconds at most, then goes on.
        self.busy = threading.RLock()
        self.census_wanted = threading.Event()
        self.stopping = threading.Event()
        self.server = self.sampler = self.rss = None
        self.url = None
        exclude_from_census(self)

    # ---- life cycle
    def start(self, port):
        native = _native()
        self.rss = native.RssSampler(0, 0.25)
        self.rss.start()
        self.heap_hooks = native.malloc_hooks_available()
        try:
            self.server = LoopbackServer(port, _handler(self))
        except OSError as exc:
            self.rss.stop(False)
            raise YepError(f"cannot serve the live view on 127.0.0.1 port {port}: {exc.strerror or exc}") from None
        self.url = f"http://127.0.0.1:{self.server.port}/?token={self.token}"
        self.take_moment()
        self.server.start()
        self.sampler = threading.Thread(target=own_thread(self._sample), name="yep-live-view-sampler", daemon=True)
        self.sampler.start()

    def stop(self):
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.census_wanted.set()
        self.server.stop()
        if self.sampler is not threading.current_thread():
            self.sampler.join()
        self.rss.stop(False)
        self.listed.clear()

    def _sample(self):
        while True:
            # Woken early by a request that wants a census now (fresh_moment).
            self.census_wanted.wait(max(self.interval, GIL_SHARE * self.census_seconds))
            self.census_wanted.clear()
            if self.stopping.is_set():
                return
            try:
                with self.busy:
                    self.take_moment()
            except Exception:  # an interpreter shutting down; the view just stops sampling
                return

    # ---- moments
    def take_moment(self):
        with self.lock:
            self.censuses_begun += 1
            number = self.censuses_begun
            self.census_started = time.time()
        try:
            c = census()
        finally:
            with self.lock:
                self.census_started = None
        with self.lock:
            self.census_seconds = c.seconds
            self.types = c._types
            counts, sizes = self._arrays(c)
            samples, _ = self.rss.take()
            rss = max((b for _, b in samples), default=self.moments[-1].rss if self.moments else 0)
            heap, heap_sample = self._heap()
            moment = _Moment(c.taken_at, c.count, c.size, rss, heap, counts, sizes, heap_sample=heap_sample)
            self.moments.append(moment)
            if len(self.moments) > MAX_MOMENTS:
                self.moments = self.moments[:1] + self.moments[2::2]
            self.censuses_done = number
            self.census_done.notify_all()
        return moment

    def _heap(self):
        """(bytes, sample): the native heap in use and how it was counted
        (see _Moment): the heap profiler's figure while it records, for it
        costs nothing more; else malloc hooks' (sample None), where yep's
        interposer is preloaded; else (None, None)."""
        if not self.heap_hooks:
            return None, None
        native = _native()
        recorder = dict(native.heap_recorder_stats())
        if recorder["recording"]:
            return recorder["inuse_bytes"], recorder["sample"]
        return native.heap_stats(False)["live_bytes"], None

    def fresh_moment(self, wait=CENSUS_WAIT):
        """(moment, stale): a census begun after this call, taken by the
        sampler, if it ends within ``wait`` seconds; else the last complete
        one, with stale True."""
        deadline = time.monotonic() + wait
        with self.lock:
            wanted = self.censuses_begun + 1
        self.census_wanted.set()
        with self.census_done:
            while self.censuses_done < wanted:
                left = deadline - time.monotonic()
                if left <= 0 or self.stopping.is_set():
                    return self.moments[-1], True
                self.census_done.wait(left)
            return self.moments[-1], False

    def _arrays(self, c):
        for row in c.rows:
            if row.kind not in self.kinds:
                self.kinds[row.kind] = len(self.names)
                self.names.append(row.kind)
        counts, sizes = array.array("q", bytes(8 * len(self.names))), array.array("q", bytes(8 * len(self.names)))
        for row in c.rows:
            i = self.kinds[row.kind]
            counts[i], sizes[i] = row.count, row.size
        return counts, sizes

    def _as_census(self, moment):
        rows = [CensusRow(name, moment.counts[i], moment.sizes[i])
                for i, name in enumerate(self.names[:len(moment.counts)]) if moment.counts[i]]
        return Census(rows, moment.count, moment.size, "type", moment.t, 0.0)

    def moment_at(self, t):
        """The latest moment taken at or before t (the first one if none)."""
        with self.lock:
            candidates = sorted(self.moments + self.marks, key=lambda m: m.t)
        best = candidates[0]
        for m in candidates:
            if m.t <= t + 1e-6:
                best = m
        return best

    # ---- what the page asks for
    def state(self):
        with self.lock:
            moments = list(self.moments)
            names = list(self.names)
            marks = [{"t": m.t, "label": m.label} for m in self.marks]
        first, last = moments[0], moments[-1]

        def value(m, arr, i):
            return arr[i] if i < len(arr) else 0

        shown = [i for i in range(len(names)) if value(last, last.counts, i) or value(first, first.counts, i)]
        by_count = sorted(shown, key=lambda i: -last.counts[i])[:SHOWN_TYPES]
        by_growth = sorted(shown, key=lambda i: -(value(last, last.counts, i) - value(first, first.counts, i)))
        chosen = list(dict.fromkeys(by_growth[:SHOWN_TYPES // 2] + by_count))[:SHOWN_TYPES]
        rows = []
        for i in chosen:
            rows.append({"kind": names[i], "count": value(last, last.counts, i), "size": value(last, last.sizes, i),
                         "growth": value(last, last.counts, i) - value(first, first.counts, i),
                         "counts": [value(m, m.counts, i) for m in moments]})
        rows.sort(key=lambda r: (-r["growth"], -r["count"]))
        running_since = self.census_started
        now = time.time()
        return {"pid": os.getpid(), "argv": sys.argv, "started": self.started, "now": now,
                "interval": max(self.interval, GIL_SHARE * self.census_seconds),
                "census_seconds": self.census_seconds,
                # a census running for longer than a request waits: the moments end with the last complete one
                "census_running": None if running_since is None else max(0.0, now - running_since),
                "times": [m.t for m in moments], "objects": [m.count for m in moments],
                "bytes": [m.size for m in moments], "rss": [m.rss for m in moments],
                "heap": [m.heap for m in moments] if self.heap_hooks else None,
                # how the last moment's heap was counted: the heap profiler's mean
                # (an estimate when more than 0), or None for malloc hooks' count
                "heap_sample": last.heap_sample,
                "heap_recording": self.heap_hooks and bool(_native().heap_running()),
                "types": rows, "types_total": len(shown), "marks": marks,
                "cpu_running": bool(_native().cpu_profile_path()) or mixed.running()}

    def instances(self, kind, limit=MAX_LISTED):
        ref = self.types.get(kind)
        t = ref() if ref is not None else None
        if t is None:
            raise LookupError(f"no live type named {kind!r} in the last census")
        native = _native()
        everyone = native.census_objects(t, 0, _excluded())
        retained = native.census_retained(everyone)
        found, total = everyone[:limit], len(everyone)
        del everyone
        self.listed = {id(o): o for o in found}
        return {"kind": kind, "total": total, "retained_objects": retained[0],
                "retained_bytes": retained[1], "instances": [_describe(o) for o in found]}

    def referrers(self, oid):
        obj = self.listed.get(oid)
        if obj is None:
            raise LookupError(f"object {oid} is not among those listed last; list its type again")
        found = []
        own = self.listed
        for r in gc.get_referrers(obj):
            if r is own or (isinstance(r, types.FrameType) and r.f_code.co_filename == __file__):
                continue
            entry = _describe(r)
            entry["via"] = _via(r, obj)
            found.append((entry, r))
            if len(found) >= MAX_LISTED:
                break
        self.listed = {oid: obj, **{id(r): r for _, r in found}}
        return {"of": _describe(obj), "referrers": [e for e, _ in found]}

    def diff(self, since):
        base = self._as_census(self.moment_at(since))
        moment, stale = self.fresh_moment()
        return dict(self._as_census(moment).diff(base).to_dict(), since=base.taken_at, stale=stale)

    def mark(self):
        m, stale = self.fresh_moment()
        label = time.strftime("%H:%M:%S", time.localtime(m.t))
        with self.lock:
            self.marks.append(_Moment(m.t, m.count, m.size, m.rss, m.heap, m.counts, m.sizes, label, m.heap_sample))
            del self.marks[:-20]
        return {"t": m.t, "label": label, "stale": stale}

    def heap_snapshot(self):
        """Writes a heap profile now (yep.heap_dump) and returns its path."""
        from . import heap

        if not (self.heap_hooks and heap.heap_is_running()):
            raise LookupError("no heap profile is being recorded: run the program with yep serve --heap-sample "
                              "SIZE, or start one with yep.heap_start")
        return {"path": os.path.abspath(heap.heap_dump("live view"))}

    def cpu_top(self, nodecount=20):
        """The running CPU profile's report so far, or None."""
        from .profiles import load

        if mixed.running():  # a flush writes a complete mixed profile
            mixed.flush()
            return load(mixed.path()).text(nodecount=nodecount)
        native = _native()
        path = native.cpu_profile_path()
        if not path:
            return None
        native.cpu_flush()
        with open(path, "rb") as f:
            data = f.read()
        # A profile being written has no trailer yet: the end-of-data record
        # (0, 1, 0 in pointer-sized words) and the process's maps.
        word = "Q" if struct.calcsize("P") == 8 else "I"
        with open("/proc/self/maps", "rb") as f:
            maps = f.read()
        with tempfile.NamedTemporaryFile(suffix=".prof") as tmp:
            tmp.write(data + struct.pack("3" + word, 0, 1, 0) + maps)
            tmp.flush()
            return load(tmp.name).text(nodecount=nodecount)


def _via(referrer, obj):
    """How a builtin container refers to obj: the dict key or the index."""
    t = type(referrer)
    if t is dict:
        keys = [k for k, v in referrer.items() if v is obj][:3]
        return ", ".join(f"[{safe_repr(k, 40)}]" for k in keys) or "key"
    if t in (list, tuple):
        return ", ".join(f"[{i}]" for i, v in enumerate(referrer) if v is obj)
    return ""


def _page():
    with open(os.path.join(os.path.dirname(__file__), "live_view.html"), "rb") as f:
        return f.read()


def _handler(view):
    page = _page()
    token = view.token.encode()

    class Handler(RequestHandler):
        def _send(self, status, body, content_type="application/json"):
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorized(self, query):
            given = query.get("token", [""])[0].encode()
            return hmac.compare_digest(given, token)

        def _handle(self, method):
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if not self._authorized(query):
                return self._send(403, {"error": "forbidden: this URL needs the token yep.serve() printed"})
            # The routes that want a census now ask the sampler for one (fresh_moment) and hold no lock.
            routes = {("GET", "/"): (lambda: (page, "text/html; charset=utf-8"), False),
                      ("GET", "/api/state"): (view.state, True),
                      ("GET", "/api/instances"): (lambda: view.instances(query["kind"][0]), True),
                      ("GET", "/api/referrers"): (lambda: view.referrers(int(query["id"][0])), True),
                      ("GET", "/api/diff"): (lambda: view.diff(float(query["since"][0])), False),
                      ("GET", "/api/cpu"): (lambda: {"text": view.cpu_top()}, True),
                      ("POST", "/api/mark"): (view.mark, False),
                      ("POST", "/api/heap_snapshot"): (view.heap_snapshot, False)}
            route, needs_quiet = routes.get((method, url.path), (None, False))
            if route is None:
                return self._send(404, {"error": f"no {method} {url.path} here"})
            # What the route makes is bytes before the next census, unless a
            # census has been running for longer than a request waits.
            quiet = needs_quiet and view.busy.acquire(timeout=CENSUS_WAIT)
            try:
                result = route()
                if not isinstance(result, tuple):
                    result = (json.dumps(result).encode(),)
            except (KeyError, ValueError, IndexError):
                return self._send(400, {"error": "missing or malformed parameter"})
            except LookupError as exc:
                return self._send(404, {"error": str(exc)})
            except Exception as exc:  # reported to the page, never to the program's stderr
                return self._send(500, {"error": f"{type(exc).__name__}: {exc}"})
            finally:
                if quiet:
                    view.busy.release()
            return self._send(200, *result)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

    return Handler
