"""The live view (yep serve / yep.serve) of a real leaking program, driven by
Debian's headless Chromium and Firefox (tests/browsers.py): the page shows the
leaking type's count rising, a click lists its instances, Enter on an
instance lists its referrers; the server wants its token and listens on
loopback only. Against hostile clients (yep/live_server.py): 2,000 idle
connections cost no thread and keep no one out, a foreign Host header gets
403, every response says no-referrer; and a census slowed by the program's
own __sizeof__ holds up no request.

YEP_UPDATE_SCREENSHOT=1 also writes the page's screenshot to docs/live_view.png."""
import http.client
import json
import os
import queue
import re
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browsers import Browser
from conftest import wait_for, write_script

LEAK = """\
import time

class Leaky:
    def __init__(self, i):
        self.i = i

leaked = []
while True:  # one more Leaky every 20 ms, until the test ends the process
    leaked.append(Leaky(len(leaked) % 256))  # (small ints are shared: only Leaky grows)
    time.sleep(0.02)
"""


@pytest.fixture
def served(tmp_path):
    """A leaking script run under `python -m yep serve`; yields its URL and process."""
    script = write_script(tmp_path, "leak.py", LEAK)
    proc = subprocess.Popen([sys.executable, "-m", "yep", "serve", "--interval", "0.5", str(script)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        assert match, line + proc.stderr.read() if proc.poll() is not None else line
        yield match.group(0), proc
    finally:
        proc.kill()
        proc.wait()


def _get(url, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_token_is_required(served):
    url, _ = served
    base, token = url.split("/?token=")
    assert _get(url)[0] == 200
    assert _get(f"{base}/api/state?token={token}")[0] == 200
    for path in ("/", "/api/state", "/api/instances?kind=int", "/nothing"):
        status, body = _get(base + path)
        assert status == 403, path
        assert b"token" in body
    altered = token[:-1] + ("y" if token.endswith("x") else "x")
    assert _get(f"{base}/api/state?token={altered}")[0] == 403
    assert _get(f"{base}/api/mark?token=wrong", "POST")[0] == 403
    # With the token: nothing but the listed routes (no files, no code).
    assert _get(f"{base}/../../etc/passwd?token={token}")[0] == 404
    assert _get(f"{base}/live_view.py?token={token}")[0] == 404


def test_listens_on_loopback_only(served):
    url, proc = served
    port = int(re.search(r":(\d+)/", url).group(1))
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if int(port_hex, 16) == port and state == "0A":  # LISTEN
                listening.append(address)
    assert listening == ["0100007F"]  # 127.0.0.1, and no IPv6 or wildcard socket


BURN = """\
import sys
import hotcold, yep

def caller():
    hotcold.burn_hot(2_000_000)

yep.start("cpu.prof", mixed=sys.argv[1] == "mixed")
while True:  # until the test ends the process
    caller()
"""


@pytest.mark.parametrize("mode", ["plain", "mixed"])
def test_the_running_cpu_profile_is_shown(tmp_path, hotcold, mode):
    # The page's CPU panel asks /api/cpu every 10 s: the report of the profile
    # being written, which flushes it (a mixed profile is written whole).
    script = write_script(tmp_path, "burn.py", BURN)
    proc = subprocess.Popen([sys.executable, "-m", "yep", "serve", str(script), mode], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(hotcold)))
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", proc.stderr.readline()).group(0)
        base, token = url.split("/?token=")
        wait_for(lambda: json.loads(_get(f"{base}/api/state?token={token}")[1])["cpu_running"],
                  what="the profile to start")
        time.sleep(1.5)

        def report():
            status, body = _get(f"{base}/api/cpu?token={token}")
            assert status == 200, body
            text = json.loads(body)["text"]
            return "burn_hot" in text and text

        text = wait_for(report, what="burn_hot in the CPU report")
        flat = re.search(r"^\s*[\d.]+s\s+([\d.]+)%.*\sburn_hot\s", text, re.M)
        assert flat and float(flat.group(1)) > 50, text  # nearly all the time is in it
        if mode == "mixed":
            assert re.search(r"\bcaller\b", text), text  # the Python caller, by name
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("kind", ["chromium", "firefox"])
def test_a_browser_sees_the_leak(served, tmp_path, kind):
    url, _ = served
    browser = Browser(kind, tmp_path)
    try:
        page = browser.page
        page.navigate(url)
        row = 'tr[data-kind="__main__.Leaky"]'

        # The leaking type's sparkline rises: its first and last counts, as the
        # page labels them, go up, and so does its growth column.
        def rising():
            label = page.eval(f"(() => {{ const s = document.querySelector('{row} svg');"
                              f" return s && s.getAttribute('aria-label'); }})()")
            m = label and re.search(r"from ([\d,]+) to ([\d,]+)", label)
            return m and int(m.group(2).replace(",", "")) > int(m.group(1).replace(",", "")) + 20 and m

        wait_for(rising, what="the Leaky sparkline to rise")
        growth = page.eval(f"document.querySelector('{row} td:nth-child(3)').textContent")
        assert growth.startswith("+") and int(growth[1:].replace(",", "")) > 20

        # A click on the type lists its instances.
        page.click(f"{row} button")
        reprs = wait_for(lambda: page.eval("[...document.querySelectorAll('#instances td.repr')]"
                                            ".map(e => e.textContent)"), what="the instances")
        assert any(re.fullmatch(r"<__main__\.Leaky object at 0x[0-9a-f]+>", r) for r in reprs)
        assert "Instances of __main__.Leaky" in page.eval("document.getElementById('insttitle').textContent")
        assert "retain" in page.eval("document.getElementById('insthelp').textContent")

        # The keyboard: focus is on the first instance's "referrers" button; Enter
        # lists them (a click in Firefox, where automation cannot press a button
        # with Enter: see browsers.py).
        assert page.eval("document.activeElement.textContent") == "referrers"
        if kind == "chromium":
            page.press("Enter")
        else:
            page.click("#instances button")
        referrers = wait_for(lambda: page.eval("[...document.querySelectorAll('#referrers tbody tr')]"
                                                ".map(r => [...r.cells].map(c => c.textContent))"),
                              what="the referrers")
        assert any(cells[0] == "list" and re.fullmatch(r"\[\d+\]", cells[1]) for cells in referrers)

        # Growth since a marked moment: the leaking type on top.
        page.eval("document.activeElement.blur()")
        page.press("m")  # the page's key for "mark"
        wait_for(lambda: page.eval("document.getElementById('since').selectedOptions[0].textContent")
                  .startswith("mark"), what="the mark")
        time.sleep(1.5)
        page.click("#compare")
        top = wait_for(lambda: page.eval("(() => { const r = document.querySelector('#diff tbody tr');"
                                          " return r && [...r.cells].map(c => c.textContent); })()"),
                        what="the growth table")
        assert top[0] == "__main__.Leaky" and int(top[1].lstrip("+")) > 20

        page.eval("window.scrollTo(0, 0), document.querySelectorAll('.scroll').forEach(e => e.scrollTop = 0)")
        png = page.screenshot()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("YEP_UPDATE_SCREENSHOT") and kind == "chromium":
            (Path(__file__).parent.parent / "docs" / "live_view.png").write_bytes(png)
    finally:
        browser.close()


def test_the_live_views_work_stays_out_of_the_programs_cpu_profile(tmp_path):
    # Under yep serve, a program that profiles itself while mostly asleep
    # once found yep's census thread at the top of its profile. yep's own
    # threads (python/own_threads.h) are yep's work: counted for the period, never
    # recorded; the profile holds the main thread's CPU time.
    script = write_script(tmp_path, "served.py", """
        import time, yep
        keep = [{"k": i, "v": [i] * 5} for i in range(200_000)]   # a heap for the census to walk
        def others():  # the CPU time of the process's other threads: the census's, mostly
            return time.process_time() - time.thread_time()

        before = others()
        yep.start("served.prof", frequency=250)
        start = time.thread_time()
        deadline = time.monotonic() + 30
        while others() - before < 0.2 and time.monotonic() < deadline:  # until the census has run
            end = time.thread_time() + 0.02
            while time.thread_time() < end:
                pass
            time.sleep(0.1)
        print(f"main {time.thread_time() - start:.3f}")
        yep.stop()
    """)
    result = subprocess.run([sys.executable, "-m", "yep", "serve", "--interval", "0.05", str(script)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    main = float(re.search(r"main ([\d.]+)", result.stdout).group(1))
    import yep

    profile = yep.load(tmp_path / "served.prof")
    roots = {line.split(";")[0] for line in profile.folded(threads=True).splitlines()}
    assert all(root.startswith("thread MainThread") for root in roots), roots
    raw = (tmp_path / "served.prof").read_bytes()
    own = int(re.search(rb"own_samples=(\d+)", raw).group(1))
    assert own >= 20, raw[-300:]  # the census ran (0.2 s of CPU: some 50 samples), and was left out
    assert profile.total_seconds == pytest.approx(main, abs=0.06)



def test_the_servers_threads_stay_out_of_the_programs_cpu_profile(tmp_path):
    # The server's reader and handler threads are yep's own too: the test asks
    # for the page and the state all along (their JSON is CPU time in those
    # threads) while the program profiles itself.
    script = write_script(tmp_path, "asked.py", """
        import time, yep
        yep.start("asked.prof", frequency=250)
        end = time.thread_time() + 0.5
        while time.thread_time() < end:
            pass
        yep.stop()
    """)
    proc = subprocess.Popen([sys.executable, "-m", "yep", "serve", str(script)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", proc.stderr.readline()).group(0)
    base, token = url.split("/?token=")
    answered = []

    def ask():
        while proc.poll() is None:
            try:
                answered.append(_get(url)[0] == _get(f"{base}/api/state?token={token}")[0] == 200)
            except OSError:  # the program has ended
                return

    asking = threading.Thread(target=ask)
    asking.start()
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
        asking.join()
    assert proc.returncode == 0, stderr
    assert len(answered) >= 10 and all(answered[:-1]), answered
    import yep

    profile = yep.load(tmp_path / "asked.prof")
    roots = {line.split(";")[0] for line in profile.folded(threads=True).splitlines()}
    assert all(root.startswith("thread MainThread") for root in roots), roots

# ---- hostile clients and slow censuses (yep/live_server.py) --------------------------

def _port(url):
    return int(re.search(r":(\d+)/", url).group(1))


def _request(port, path, host=None, method="GET"):
    """(status, headers, body) of one request, with this Host header (None: http.client's own)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers={} if host is None else {"Host": host})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def _raw(port, data):
    """(status, {lowercased header: value}, body) of these bytes sent as they are."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _count(pid, what):
    return len(os.listdir(f"/proc/{pid}/{what}"))


IDLE = 2000


def test_idle_connections_hold_no_thread_and_keep_no_one_out(served):
    # With a thread per connection, 2,000 connections that never send their
    # request were 2,004 threads in the program, held forever, no token needed.
    from yep import live_server

    url, proc = served
    base, token = url.split("/?token=")
    port = _port(url)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE + 100:
        if hard != resource.RLIM_INFINITY and hard < IDLE + 100:
            pytest.skip(f"this test opens {IDLE} sockets; the hard limit on open files is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (IDLE + 100, hard))
    idle = []
    try:
        assert _get(f"{base}/api/state?token={token}")[0] == 200
        threads, fds = _count(proc.pid, "task"), _count(proc.pid, "fd")
        for i in range(IDLE):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            idle.append(s)
            if i % 2:  # half a request line, never finished
                try:
                    s.sendall(b"GET /api/state?tok")
                except OSError:  # already closed by the server, as the oldest connection
                    pass
        threads_now, fds_now = _count(proc.pid, "task"), _count(proc.pid, "fd")
        start = time.monotonic()
        status, body = _get(f"{base}/api/state?token={token}")  # its timeout: 10 s
        took = time.monotonic() - start
        print(f"\nwith {IDLE} idle connections open: {threads_now} threads in the program (before: {threads}), "
              f"{fds_now} open files (before: {fds}); the request with the token answered in {took:.3f} s")
        assert status == 200 and json.loads(body)["pid"] == proc.pid
        assert threads_now <= threads + 2
        bound = live_server.MAX_CONNECTIONS + live_server.MAX_QUEUED + live_server.WORKERS
        assert fds_now <= fds + bound

        # None is held forever: every one of them is closed by the server.
        selector = selectors.DefaultSelector()
        for s in idle:
            selector.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + live_server.REQUEST_SECONDS + 30
        open_ = len(idle)
        while open_ and time.monotonic() < deadline:
            for key, _ in selector.select(1):
                try:
                    assert key.fileobj.recv(4096) == b""  # no answer, just the end
                except ConnectionResetError:
                    pass
                selector.unregister(key.fileobj)
                open_ -= 1
        assert open_ == 0, f"{open_} of {IDLE} idle connections still open after {deadline - start:.0f} s"
        assert _get(f"{base}/api/state?token={token}")[0] == 200
    finally:
        for s in idle:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


NEAR_LIMIT = """\
import os, resource, sys, yep

print(yep.serve(), flush=True)
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
room = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + room, hard))
print("near the limit", flush=True)
sys.stdin.readline()  # until the test ends the process
"""


def test_a_program_at_its_open_files_limit_still_answers(tmp_path):
    # With 10 files left to the program (fewer than the server would hold),
    # 300 idle connections: accepting makes the server run out; it closes
    # its oldest connection to make room, so the request with the token,
    # sent last, still gets its answer.
    script = write_script(tmp_path, "near_limit.py", NEAR_LIMIT)
    proc = subprocess.Popen([sys.executable, str(script), "10"], cwd=tmp_path, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    idle = []
    try:
        url = proc.stdout.readline().strip()
        assert proc.stdout.readline() == "near the limit\n"
        base, token = url.split("/?token=")
        for _ in range(300):
            idle.append(socket.create_connection(("127.0.0.1", _port(url)), timeout=10))
        status, body = _get(f"{base}/api/state?token={token}")
        assert status == 200 and json.loads(body)["pid"] == proc.pid
    finally:
        for s in idle:
            s.close()
        proc.kill()
        proc.wait()


def test_the_host_header_must_name_loopback_and_this_port(served):
    # DNS rebinding: a page of evil.example whose name now resolves to
    # 127.0.0.1 sends Host: evil.example; it gets 403 even with the token
    # (which it could not know, but the check comes first).
    url, _ = served
    port = _port(url)
    path = "/api/state?" + url.split("?")[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}", f"[::1]:{port}"):
        assert _request(port, path, host)[0] == 200, host
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1 if port < 65535 else 1}",
                 f"localhost:{port - 1}", "localhost", "127.0.0.1", f"localhost.:{port}", f"127.0.0.2:{port}",
                 f"127.0.0.1:{port}@evil.example", ""):
        status, _, body = _request(port, path, host)
        assert status == 403 and b"Host" in body and b"token" not in body, (host, status, body)
        status, _, body = _request(port, "/api/state", host)  # nor the token's 403
        assert status == 403 and b"Host" in body, (host, status, body)
    token_path = path.encode()
    for head in (b"", b"Host: 127.0.0.1:%d\r\nHost: evil.example\r\n" % port):  # none, or two
        status, _, body = _raw(port, b"GET " + token_path + b" HTTP/1.0\r\n" + head + b"\r\n")
        assert status == 403 and b"Host" in body, head


def test_every_response_says_no_referrer(served):
    # The token is in the URL: no response may let it leave in a Referer.
    url, _ = served
    port = _port(url)
    query = url.split("?")[1]
    host = f"127.0.0.1:{port}".encode()
    answers = {}
    for name, path, method, host_header in (
            ("page", f"/?{query}", "GET", None), ("state", f"/api/state?{query}", "GET", None),
            ("mark", f"/api/mark?{query}", "POST", None), ("no token", "/api/state", "GET", None),
            ("not here", f"/nothing?{query}", "GET", None), ("malformed", f"/api/referrers?id=x&{query}", "GET", None),
            ("unknown type", f"/api/instances?kind=no.Such&{query}", "GET", None),
            ("foreign host", f"/?{query}", "GET", "evil.example"), ("PUT", f"/?{query}", "PUT", None)):
        status, headers, _ = _request(port, path, host_header, method)
        answers[name] = status, {k.lower(): v for k, v in headers.items()}
    for name, data in (
            ("garbage", b"NONSENSE\r\n\r\n"),
            ("huge head", b"GET / HTTP/1.0\r\nHost: " + host + b"\r\nX: " + b"a" * 20000 + b"\r\n\r\n"),
            ("huge body", b"POST /api/mark HTTP/1.0\r\nHost: " + host + b"\r\nContent-Length: 999999\r\n\r\n")):
        status, headers, _ = _raw(port, data)
        answers[name] = status, headers
    assert {name: status for name, (status, _) in answers.items()} == {
        "page": 200, "state": 200, "mark": 200, "no token": 403, "not here": 404, "malformed": 400,
        "unknown type": 404, "foreign host": 403, "PUT": 501, "garbage": 400, "huge head": 431, "huge body": 413}
    for name, (status, headers) in answers.items():
        assert headers.get("referrer-policy") == "no-referrer", name
        assert headers.get("x-content-type-options") == "nosniff", name
        assert headers.get("cache-control") == "no-store", name
        assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), name


SLOW = """\
import os, sys, time, yep

class Slow:
    def __sizeof__(self):  # the census calls it; it waits for the test (a minute at most)
        print(f"sizing {time.time()}", flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        return 64

print(yep.serve(interval=0.2), flush=True)
sys.stdin.readline()
slow = Slow()
sys.stdin.readline()  # until the test ends the process
"""


class _SlowProgram:
    """SLOW run in a subprocess: url, base, token, state(), slow_census() (makes
    the next census wait in __sizeof__ and returns the time it started
    waiting), release() (lets it end)."""

    def __init__(self, tmp_path):
        script = write_script(tmp_path, "slow.py", SLOW)
        self.release_file = tmp_path / "release"
        self.proc = subprocess.Popen([sys.executable, str(script), str(self.release_file)], cwd=tmp_path,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout], daemon=True).start()
        self.url = self.lines.get(timeout=30).strip()
        self.base, self.token = self.url.split("/?token=")

    def state(self):
        status, body = _get(f"{self.base}/api/state?token={self.token}")
        assert status == 200, body
        return json.loads(body)

    def slow_census(self):
        wait_for(lambda: len(self.state()["times"]) >= 3, what="three quick censuses")
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return float(self.lines.get(timeout=30).split()[1])  # a census is in Slow.__sizeof__ now

    def release(self):
        self.release_file.touch()

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def slow_program(tmp_path):
    program = _SlowProgram(tmp_path)
    try:
        yield program
    finally:
        program.close()


def test_a_slow_census_holds_up_no_request(slow_program):
    # One object whose __sizeof__ sleeps froze the page for as long as it
    # slept: every request waited for the census. Now a request gets the last
    # complete census, said stale, while the slow one goes on; it ends, in
    # the background, only when the test lets it, after the requests.
    base, token, state = slow_program.base, slow_program.token, slow_program.state
    sizing = slow_program.slow_census()
    start = time.monotonic()
    stale = state()
    took = time.monotonic() - start
    last = stale["times"][-1]
    assert stale["census_running"] is not None and last < sizing, stale
    status, body = _get(f"{base}/api/diff?since={stale['times'][0]}&token={token}")
    growth = json.loads(body)
    assert status == 200 and growth["stale"] and growth["taken_at"] == last, growth
    status, body = _get(f"{base}/api/mark?token={token}", "POST")
    mark = json.loads(body)
    assert status == 200 and mark["stale"] and mark["t"] == last, mark
    print(f"\nduring a census held up in __sizeof__: /api/state answered in {took:.3f} s, "
          f"with the census of {sizing - last:.2f} s before")
    assert not slow_program.release_file.exists()  # the census was still held up for all of them

    slow_program.release()
    after = wait_for(lambda: (s := state())["census_running"] is None and s["times"][-1] > last and s,
                      what="the slow census to end")
    assert any(last < t <= sizing for t in after["times"]), (last, sizing, after["times"])
    status, body = _get(f"{base}/api/diff?since={stale['times'][0]}&token={token}")
    assert status == 200 and not json.loads(body)["stale"]


@pytest.mark.parametrize("kind", ["chromium", "firefox"])
def test_a_browser_says_the_census_is_stale(slow_program, tmp_path, kind):
    browser = Browser(kind, tmp_path)
    try:
        page = browser.page
        page.navigate(slow_program.url)
        # (navigate may return before the page is parsed: no status element yet reads as "")
        status = "document.getElementById('status')?.textContent ?? ''"
        wait_for(lambda: page.eval(status).startswith("updated"), what="the page's first state")
        slow_program.slow_census()
        text = wait_for(lambda: (t := page.eval(status)).startswith("stale") and t, what="the page to say stale")
        assert re.search(r"showing the census of \d\d:\d\d:\d\d; the next one has been running for \d+ s", text)
        slow_program.release()
        wait_for(lambda: page.eval(status).startswith("updated"), what="the page to be up to date again")
    finally:
        browser.close()
