"""yep serve --heap-sample SIZE: the live view of a program run under the
sampled heap profiler (restarted with yep's malloc interposer, as `python -m
yep --heap-sample` runs it). The view's native heap series is the profiler's
estimate, said to be one (and at which mean); a snapshot can be written from
the view; the run's heap profiles are written when it ends (here by
SIGTERM, as a server ends) and stderr says which. Checked on the allocs
fixture, which keeps 64 MiB in 8 blocks of 8 MiB: at a mean of 512 KiB each
block is sampled with weight 1, so the estimate of them is exact."""
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import run_yep, wait_for, write_script, yep_environment

MIB = 2 ** 20

HOLDS_64_MIB = """\
import time
import allocs

allocs.alloc_big()          # 64 MiB in 8 blocks, kept
open("ready", "w").close()
while True:                 # a server: until SIGTERM
    time.sleep(0.05)
"""

# Rows of the text report in MiB: "flat flat% sum% cum cum%  name  file:line".
ROW = re.compile(r"^\s*(-?[\d.]+)MiB\s+(-?[\d.]+)%\s+(-?[\d.]+)%\s+(-?[\d.]+)MiB\s+(-?[\d.]+)%\s+(\S+)(?:\s+(\S+))?\s*$")


def _request(url, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _api(url, path, method="GET"):
    """The view's JSON at `path`, with the token of `url`."""
    base, _, query = url.partition("/?")
    status, body = _request(f"{base}{path}?{query}", method)
    return status, json.loads(body)


@pytest.fixture
def served_heap(allocs, tmp_path):
    """The 64 MiB holder under `yep serve --heap-sample 512K -o held`: yields
    (URL, process, folder) once the 64 MiB are allocated."""
    script = write_script(tmp_path, "hold.py", HOLDS_64_MIB)
    proc = subprocess.Popen([sys.executable, "-m", "yep", "serve", "--heap-sample", "512K", "--interval", "0.1",
                             "-o", "held", str(script)], cwd=tmp_path, env=yep_environment({"PYTHONPATH": str(allocs)}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        assert match, line + proc.stderr.read() if proc.poll() is not None else line
        wait_for(lambda: (tmp_path / "ready").exists() or proc.poll() is not None, what="the 64 MiB")
        assert proc.poll() is None, proc.stderr.read()
        yield match.group(0), proc, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()
        proc.stdout.close()


def test_the_view_plots_the_sampled_estimate_and_the_run_writes_its_profiles(served_heap):
    url, proc, tmp = served_heap

    def held():
        status, state = _api(url, "/api/state")
        assert status == 200, state
        return state if state["heap"] and state["heap"][-1] >= 64 * MIB else None

    state = wait_for(held, what="the view's heap series to show the 64 MiB")
    # The profiler's own figure, said to be a sampled estimate and at which mean.
    assert state["heap_sample"] == 512 * 1024 and state["heap_recording"] is True, state
    assert len(state["heap"]) == len(state["times"]) == len(state["rss"])
    # The profiler starts before the program: the view's first moment has
    # next to nothing; now the 8 blocks (exact at weight 1) and a few
    # sampled allocations of Python's (0.5 MiB or more each when sampled).
    assert state["heap"][0] < 8 * MIB, state["heap"]
    assert 64 * MIB <= state["heap"][-1] <= 64 * MIB + 12 * MIB, state["heap"]
    # The page labels the series from heap_sample.
    status, page = _request(url)
    assert status == 200 and b"sampled estimate" in page and b"/api/heap_snapshot" in page

    # A snapshot from the view: the token is needed, then a profile is written now.
    base, _, _ = url.partition("/?")
    status, _ = _request(f"{base}/api/heap_snapshot?token=wrong", "POST")
    assert status == 403
    assert not list(tmp.glob("held.*.heap"))
    status, snapshot = _api(url, "/api/heap_snapshot", "POST")
    assert status == 200, snapshot
    assert Path(snapshot["path"]).resolve() == (tmp / "held.0001.heap").resolve(), snapshot
    assert (tmp / "held.0001.heap").read_text().splitlines()[1].startswith("# yep-sampled: 524288 ")

    # SIGTERM, as a server is ended: the last profile is written, the
    # process dies of the signal as it would have without yep.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    stderr = proc.stderr.read()
    assert re.search(r"^yep: wrote held\.0001\.heap, held\.0002\.heap: 2 heap profiles \(sampled: one allocation "
                     r"per 512 KiB on average\), peak about [\d.]+ MiB of native heap in use \(requested bytes\)$",
                     stderr, re.M), stderr
    last = tmp / "held.0002.heap"
    assert last.exists()
    report = run_yep(["report", str(last), "--nodecount", "0"], cwd=tmp)
    assert report.returncode == 0, report.stderr
    assert "# sampled: one allocation per 512 KiB on average was recorded; figures are estimates" in report.stdout
    rows = {m.group(6): float(m.group(1)) for m in map(ROW.match, report.stdout.splitlines()) if m}
    assert rows.get("alloc_big_impl") == 64.0, report.stdout


def test_without_the_heap_profiler_the_series_is_malloc_hooks_and_no_snapshot(tmp_path):
    # Under yep's interposer but with no profiler recording, the series is
    # heap_stats' (hooks): not labelled sampled; a snapshot is refused.
    script = write_script(tmp_path, "idle.py", """\
        import time
        import yep

        print(yep.serve(interval=0.1), flush=True)
        time.sleep(60)
    """)
    from yep.heap import malloc_hooks_library

    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                            env=yep_environment({"LD_PRELOAD": malloc_hooks_library()}))
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        status, state = _api(url, "/api/state")
        assert status == 200 and state["heap"] and state["heap_sample"] is None, state
        assert state["heap_recording"] is False
        status, refused = _api(url, "/api/heap_snapshot", "POST")
        assert status == 404 and "yep serve --heap-sample" in refused["error"], refused
        assert not list(tmp_path.glob("*.heap"))
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


@pytest.mark.parametrize("args, message", [
    (["--heap-sample", "abc"], "--heap-sample needs a size like 512K or 1M, not 'abc'"),
    (["--heap-sample", "0"], "--heap-sample takes a size from 1 byte to 1G, not '0'"),
    (["--heap-sample", "4G"], "--heap-sample takes a size from 1 byte to 1G, not '4G'"),
    (["-o", "x"], "-o names the heap profiles of --heap-sample"),
    (["--heap-sample", "512K", "-o", "missing/x"], "cannot write heap profiles to 'missing/x'"),
])
def test_a_bad_heap_option_is_one_line(tmp_path, args, message):
    script = write_script(tmp_path, "ok.py", "open('ran', 'w').close()\n")
    result = run_yep(["serve", *args, str(script)], cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("yep: error: ") and message in result.stderr, result.stderr
    assert not (tmp_path / "ran").exists() and not list(tmp_path.glob("**/*.heap"))


@pytest.mark.parametrize("kind", ["chromium", "firefox"])
def test_a_browser_sees_the_sampled_heap_and_writes_a_snapshot(served_heap, kind):
    from browsers import Browser

    url, _, tmp = served_heap
    browser = Browser(kind, tmp)
    try:
        page = browser.page
        page.navigate(url)
        legend = wait_for(lambda: page.eval("[...document.querySelectorAll('#legend > span')]"
                                             ".map(e => e.textContent)"), what="the legend")
        heap = [entry for entry in legend if entry.startswith("native heap")]
        assert len(heap) == 1, legend
        m = re.fullmatch(r"native heap \(sampled estimate, one allocation per 512 KiB on average\): ([\d.]+) MiB",
                         heap[0])
        assert m and 64 <= float(m.group(1)) <= 76, heap
        # The snapshot button shows while the profiler records; a click writes a profile now.
        assert page.eval("document.getElementById('heapsnapshot').offsetParent !== null")
        page.click("#heapsnapshot")
        said = wait_for(lambda: (lambda t: t.startswith("wrote") and t)(
            page.eval("document.getElementById('heapsnapshotted').textContent")), what="the snapshot")
        assert "held.0001.heap" in said and (tmp / "held.0001.heap").exists(), said
    finally:
        browser.close()
