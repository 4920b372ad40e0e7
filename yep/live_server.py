"""The live view's HTTP server (yep/live_view.py): a loopback-only server that
a hostile local process or web page cannot use to exhaust the profiled
program's threads or file descriptors, nor reach by DNS rebinding.

What it promises:
 - It listens on 127.0.0.1 only. One thread (the reader) accepts
   connections and reads requests without blocking, for every connection at
   once; only a complete request (head, and body by its Content-Length) goes
   to one of WORKERS handler threads. So idle or half-sent connections cost
   a file descriptor each, never a thread: the process's thread count stays
   WORKERS + 1 whatever the clients do.
 - A request must arrive whole within REQUEST_SECONDS of its connection,
   its head within MAX_HEAD bytes, its body within MAX_BODY: else the
   connection is closed (with 431 / 413 for the too large). At most
   MAX_CONNECTIONS connections are being read at once; a new one beyond
   that closes the oldest (which has been sending the longest), so a flood
   of idle connections cannot keep out a real client, which sends its
   request as it connects (and is read as soon as it is accepted). At most MAX_QUEUED complete requests wait for a
   handler; beyond that, 503 at once. Responses are written with a timeout
   (WRITE_SECONDS). Nothing is queued forever and the file descriptors held
   are bounded (MAX_CONNECTIONS + MAX_QUEUED + WORKERS, and the listener).
 - The Host header must be 127.0.0.1, localhost or [::1] with the server's
   port (DNS rebinding: a page of evil.example resolved to 127.0.0.1 sends
   Host: evil.example), else 403 before the request is looked at further.
 - Every response carries Referrer-Policy: no-referrer (the view's URL holds
   its token), X-Content-Type-Options: nosniff, Cache-Control: no-store and
   a Content-Security-Policy that allows no outside resources nor framing.
 - Its threads are yep's own (yep.api.own_thread): CPU profiles leave them out.
"""
import collections
import errno
import io
import queue
import re
import selectors
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

from .api import own_thread

BACKLOG = 128
ACCEPT_BATCH = 16
MAX_CONNECTIONS = 64  # connections whose request is still being read
REQUEST_SECONDS = 5.0  # from connection to the request's last byte
MAX_HEAD = 16384
MAX_BODY = 65536
WORKERS = 4
MAX_QUEUED = 16
WRITE_SECONDS = 10.0
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

SECURITY_HEADERS = (
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
)

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*([0-9]+)[ \t]*\r?$", re.I | re.M)


def loopback_host(host, port):
    """Whether a Host header names this loopback server: 127.0.0.1, localhost
    or [::1] with its port (without one only on port 80, as browsers send it)."""
    if host is None:
        return False
    host = host.strip().lower()
    names = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:
        names.update(LOOPBACK_NAMES)
    return host in names


def _refusal(status, reason):
    """A whole response for a request refused before any handler saw it."""
    body = f"{status} {reason}\n".encode()
    head = [f"HTTP/1.0 {status} {reason}", "Content-Type: text/plain; charset=utf-8",
            f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in SECURITY_HEADERS]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_TOO_LARGE_HEAD = _refusal(431, "Request Header Fields Too Large")
_TOO_LARGE_BODY = _refusal(413, "Content Too Large")
_BUSY = _refusal(503, "Service Unavailable")


class RequestHandler(BaseHTTPRequestHandler):
    """A BaseHTTPRequestHandler for one complete request read by the server:
    checks Host, adds the safety headers to every response (errors too),
    writes nothing to the program's stderr. Subclasses define do_GET etc."""

    server_version = "yep-live-view"
    sys_version = ""
    default_request_version = "HTTP/1.0"  # HTTP/0.9 would answer without a status line or headers
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s: %(explain)s\n"

    def setup(self):
        self.connection, data = self.request
        self.rfile = io.BytesIO(data)
        self.wfile = io.BytesIO()  # sent whole by finish(), with the socket's timeout

    def finish(self):
        self.connection.sendall(self.wfile.getvalue())

    def log_message(self, format, *args):  # the program's stderr is its own
        pass

    def end_headers(self):
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    def parse_request(self):
        if not super().parse_request():
            return False
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not loopback_host(hosts[0], self.server.port):
            self.send_error(403, "Forbidden", "the Host header must be 127.0.0.1, localhost or [::1] with "
                            f"port {self.server.port}")
            return False
        return True


class _Reading:
    __slots__ = ("data", "deadline", "address", "need")

    def __init__(self, deadline, address):
        self.data, self.deadline, self.address, self.need = bytearray(), deadline, address, None


def _close(sock):
    try:
        sock.close()
    except OSError:
        pass


class LoopbackServer:
    """Serves handler (a RequestHandler subclass) on 127.0.0.1:port (0: a free
    one) once start() is called; ``port`` is the port bound. OSError if the
    port cannot be bound."""

    def __init__(self, port, handler, name="yep-live-view"):
        self.handler, self.name = handler, name
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(("127.0.0.1", port))
            self._listener.listen(BACKLOG)
            self._listener.setblocking(False)
        except OSError:
            self._listener.close()
            raise
        self.port = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._queue = queue.Queue(MAX_QUEUED)
        self._stopping = False
        self._reader = None

    def start(self):
        self._reader = threading.Thread(target=own_thread(self._read_loop), name=f"{self.name}-server", daemon=True)
        self._reader.start()
        for i in range(WORKERS):
            threading.Thread(target=own_thread(self._work), name=f"{self.name}-worker-{i}", daemon=True).start()

    def stop(self):
        """Stops accepting and reading; requests being handled finish on their own."""
        if self._stopping:
            return
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join()
        while True:  # the reader is gone: nothing adds to the queue now
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _close(item[0])
        for _ in range(WORKERS):
            self._queue.put(None)
        _close(self._wake_r)
        _close(self._wake_w)

    # ---- the reader thread
    def _read_loop(self):
        selector = selectors.DefaultSelector()
        reading = collections.OrderedDict()  # socket -> _Reading, oldest (and earliest deadline) first
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        accept_after = None  # out of file descriptors: the listener rests until then, so the loop does not spin
        try:
            while not self._stopping:
                now = time.monotonic()
                if accept_after is not None and now >= accept_after:
                    selector.register(self._listener, selectors.EVENT_READ)
                    accept_after = None
                timeout = None  # nothing to time out: asleep until a connection (or stop())
                if reading:
                    timeout = max(0.0, next(iter(reading.values())).deadline - now)
                if accept_after is not None:
                    timeout = min(timeout if timeout is not None else 1.0, accept_after - now)
                ready = selector.select(timeout)
                accept = False
                for key, _ in ready:  # the connections first: a request being sent goes before new ones
                    if key.fileobj is self._listener:
                        accept = True
                    elif key.fileobj is self._wake_r:
                        pass
                    else:
                        self._receive(key.fileobj, reading, selector)
                if accept and not self._accept(reading, selector):
                    selector.unregister(self._listener)
                    accept_after = time.monotonic() + 0.1
                now = time.monotonic()
                while reading:
                    sock, state = next(iter(reading.items()))
                    if state.deadline > now:
                        break
                    self._drop(sock, reading, selector)
        finally:
            for sock in list(reading):
                self._drop(sock, reading, selector)
            selector.close()
            _close(self._listener)

    def _accept(self, reading, selector):
        """Accepts what is waiting (at most ACCEPT_BATCH at a time, then the
        connections get their turn); False when out of file descriptors."""
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return True
            except ConnectionAbortedError:  # reset before it was accepted
                continue
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    return True
                if not reading:  # the program holds them all: the listener rests a moment
                    return False
                self._drop(next(iter(reading)), reading, selector)  # the oldest connection makes room
                continue
            sock.setblocking(False)
            if len(reading) >= MAX_CONNECTIONS:
                self._drop(next(iter(reading)), reading, selector)
            reading[sock] = _Reading(time.monotonic() + REQUEST_SECONDS, address)
            selector.register(sock, selectors.EVENT_READ)
            # A real client's request is usually there already (sent as it
            # connected, while the connection waited in the backlog): read now,
            # before a flood of newer connections can push this one out.
            self._receive(sock, reading, selector)
        return True

    def _drop(self, sock, reading, selector, answer=None):
        del reading[sock]
        selector.unregister(sock)
        if answer is not None:
            try:
                sock.send(answer)  # small enough for an empty send buffer; else it is not sent
            except OSError:
                pass
        _close(sock)

    def _receive(self, sock, reading, selector):
        state = reading[sock]
        try:
            chunk = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            return self._drop(sock, reading, selector)
        state.data += chunk
        if state.need is None:
            end = _HEAD_END.search(state.data)
            if end is None or end.end() > MAX_HEAD:
                if end is not None or len(state.data) > MAX_HEAD:
                    self._drop(sock, reading, selector, _TOO_LARGE_HEAD)
                return
            head = bytes(state.data[:end.end()])
            length = _CONTENT_LENGTH.search(head)
            length = int(length.group(1)) if length else 0
            if length > MAX_BODY:
                return self._drop(sock, reading, selector, _TOO_LARGE_BODY)
            state.need = end.end() + length
        if len(state.data) < state.need:
            return
        del reading[sock]
        selector.unregister(sock)
        try:
            self._queue.put_nowait((sock, bytes(state.data[:state.need]), state.address))
        except queue.Full:
            try:
                sock.send(_BUSY)
            except OSError:
                pass
            _close(sock)

    # ---- the handler threads
    def _work(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            sock, data, address = item
            try:
                sock.setblocking(True)
                sock.settimeout(WRITE_SECONDS)
                self.handler((sock, data), address, self)
                sock.shutdown(socket.SHUT_WR)
            except Exception:  # a client gone or too slow to read: its connection ends, nothing else
                pass
            finally:
                _close(sock)
