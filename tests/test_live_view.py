"""The live view (yep serve / yep.serve) of a real leaking program, driven by
Debian's headless Chromium and Firefox (tests/browsers.py): the page shows the
leaking type's count rising, a click lists its instances, Enter on an
instance lists its referrers; the server wants its token and listens on
loopback only.

YEP_UPDATE_SCREENSHOT=1 also writes the page's screenshot to docs/live_view.png."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browsers import Browser
from conftest import write_script

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


def _wait_for(predicate, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


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
        _wait_for(lambda: json.loads(_get(f"{base}/api/state?token={token}")[1])["cpu_running"],
                  what="the profile to start")
        time.sleep(1.5)

        def report():
            status, body = _get(f"{base}/api/cpu?token={token}")
            assert status == 200, body
            text = json.loads(body)["text"]
            return "burn_hot" in text and text

        text = _wait_for(report, what="burn_hot in the CPU report")
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

        _wait_for(rising, what="the Leaky sparkline to rise")
        growth = page.eval(f"document.querySelector('{row} td:nth-child(3)').textContent")
        assert growth.startswith("+") and int(growth[1:].replace(",", "")) > 20

        # A click on the type lists its instances.
        page.click(f"{row} button")
        reprs = _wait_for(lambda: page.eval("[...document.querySelectorAll('#instances td.repr')]"
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
        referrers = _wait_for(lambda: page.eval("[...document.querySelectorAll('#referrers tbody tr')]"
                                                ".map(r => [...r.cells].map(c => c.textContent))"),
                              what="the referrers")
        assert any(cells[0] == "list" and re.fullmatch(r"\[\d+\]", cells[1]) for cells in referrers)

        # Growth since a marked moment: the leaking type on top.
        page.eval("document.activeElement.blur()")
        page.press("m")  # the page's key for "mark"
        _wait_for(lambda: page.eval("document.getElementById('since').selectedOptions[0].textContent")
                  .startswith("mark"), what="the mark")
        time.sleep(1.5)
        page.click("#compare")
        top = _wait_for(lambda: page.eval("(() => { const r = document.querySelector('#diff tbody tr');"
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
