"""A server-like program under the sampled heap profiler for a minute
(python -m yep --heap-sample 512K, tests/fixtures/heap_server.py): four
threads serve requests that allocate and free blocks of varied sizes,
Python's and native ones, beside a cache that keeps 32 MiB in use. The
memory yep's own tables hold stays bounded (the series is printed: run with
-s or -rP to see it), and a snapshot taken while the program runs
(yep.heap_dump) says it is sampled and is read by yep report and by
go tool pprof, both finding the cache's 32 MiB where the program allocates it."""
import os
import re
import subprocess

import pytest

from conftest import FIXTURES, marked_line, needs_program, run_yep

# How long the server runs: the issue asks for a minute.
DURATION = 60
MiB = 1 << 20
# The cache the program keeps (heap_server.CACHE_ENTRIES x ENTRY_BYTES).
CACHE_MIB = 32
# Sampled at one allocation per 512 KiB on average, 32 blocks of 1 MiB: the
# estimate's standard deviation is about 7% of 32 MiB.
TOLERANCE = 0.25
# The memory yep's tables hold: all figures under CAP, and after the 15-s
# figure at most MARGIN more (new stacks as rare paths get sampled; a table
# that grows with the run's length or its allocation count would pass it).
CAP = 64 * MiB
MARGIN = 1 * MiB
SETTLED = 15

SERVER = FIXTURES / "heap_server.py"
STATS = re.compile(r"^stats elapsed=([\d.]+) memory_bytes=(\d+) stacks=(\d+) live_blocks=(\d+) inuse_bytes=(\d+) "
                   r"requests=(\d+)$", re.M)
# Rows of yep's text report in MiB: "flat flat% sum% cum cum%  name  file:line".
ROW = re.compile(r"^\s*(-?[\d.]+)MiB\s+(-?[\d.]+)%\s+(-?[\d.]+)%\s+(-?[\d.]+)MiB\s+(-?[\d.]+)%\s+(\S+)(?:\s+(\S+))?\s*$",
                 re.M)
# Rows of go tool pprof -top: "flat flat% sum% cum cum% name", sizes in B, kB, MB, GB (powers of 1024).
GO_ROW = re.compile(r"^\s*([\d.]+)(B|kB|MB|GB)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+(?:B|kB|MB|GB)\s+[\d.]+%\s+(\S+)", re.M)
UNITS = {"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def report(path, cwd, *args):
    """yep report's rows: [(name, 'file:line' or None, flat MiB, cum MiB)] and its text."""
    result = run_yep(["report", str(path), "--nodecount", "0", *args], cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [(m[6], m[7], float(m[1]), float(m[4])) for m in ROW.finditer(result.stdout)], result.stdout


@pytest.fixture(scope="module")
def server(allocs, tmp_path_factory):
    """One run of the server: (folder, CompletedProcess, [(elapsed, memory_bytes, stacks, live_blocks,
    inuse_bytes, requests)], snapshot path)."""
    tmp = tmp_path_factory.mktemp("server")
    result = run_yep(["--heap-sample", "512K", "-o", "server", "--", str(SERVER), str(DURATION)], cwd=tmp,
                     env={"PYTHONPATH": str(allocs)}, timeout=DURATION + 300)
    series = [(float(m[1]), *map(int, m.groups()[1:])) for m in STATS.finditer(result.stdout)]
    snapshot = re.search(r"^snapshot (\S+)$", result.stdout, re.M)
    dumps = len(list(tmp.glob("server.*.heap")))
    print(f"\nyep --heap-sample 512K, {DURATION} s server, memory held by yep's tables (heap_profiler_stats):")
    for elapsed, memory, stacks, live, inuse, requests in series:
        print(f"  {elapsed:5.1f} s  memory_bytes {memory:>10,} ({memory / MiB:6.2f} MiB)  stacks {stacks:5}  "
              f"live_blocks {live:6}  in use {inuse / MiB:6.2f} MiB  requests {requests:,}")
    print(f"  {dumps} heap profiles written; stderr's last line: {result.stderr.strip().splitlines()[-1:]}")
    return tmp, result, series, snapshot and snapshot[1]


def test_the_server_runs_a_minute_and_yeps_memory_stays_bounded(server):
    _, result, series, _ = server
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    assert re.search(r"^done requests=[1-9]\d*$", result.stdout, re.M), result.stdout[-2000:]
    assert "one allocation per 512 KiB on average" in result.stderr, result.stderr[-2000:]
    # One line every 5 s, the requests going on between them.
    assert len(series) == DURATION // 5, result.stdout
    requests = [s[5] for s in series]
    assert all(a < b for a, b in zip(requests, requests[1:])), series
    memory = [s[1] for s in series]
    assert all(0 < m <= CAP for m in memory), series
    settled = next(m for elapsed, m, *_ in series if elapsed >= SETTLED)
    assert max(m for elapsed, m, *_ in series if elapsed >= SETTLED) <= settled + MARGIN, series
    # The sampled blocks yep keeps track of stay near the cache's (32 of 1
    # MiB, nearly all sampled), not a count that follows the requests.
    assert all(s[3] < 1000 for s in series), series


def test_the_mid_run_snapshot_is_sampled_and_yep_report_finds_the_cache(server):
    tmp, result, _, snapshot = server
    assert snapshot, result.stdout
    assert os.path.basename(snapshot).startswith("server.") and snapshot.endswith(".heap"), snapshot
    lines = open(snapshot).read().splitlines()
    assert lines[0].startswith("heap profile:") and lines[1].startswith("# yep-sampled: 524288 "), lines[:2]
    rows, text = report(snapshot, tmp)
    assert "# sampled: one allocation per 512 KiB on average" in text, text
    # The cache's 32 MiB, the largest in use, on the function that allocates it.
    name, at, flat_mib, _ = max(rows, key=lambda r: r[2])
    assert (name, at) == ("cache_entry", f"heap_server.py:{marked_line(SERVER, 'def cache_entry(')}"), text
    assert flat_mib == pytest.approx(CACHE_MIB, rel=TOLERANCE), text
    # By line: the line of cache_entry that allocates it.
    by_line, text = report(snapshot, tmp, "--lines")
    line = marked_line(SERVER, "the cache's memory")
    at_line = [(at, flat) for name, at, flat, _ in by_line if name == "cache_entry"]
    assert at_line == [(f"heap_server.py:{line}", flat_mib)], text
    # The native churn the threads ran before the snapshot: recorded on its
    # function, allocated, none of it still in use.
    allocated, text = report(snapshot, tmp, "--sample-index", "alloc_space")
    assert any(name == "alloc_churn_impl" and flat >= 1024 * 0.9 for name, _, flat, _ in allocated), text
    assert all(flat == 0 for name, _, flat, _ in rows if name == "alloc_churn_impl"), rows


@needs_program("go")
def test_go_pprof_reads_the_mid_run_snapshot(server, tmp_path):
    tmp, result, _, snapshot = server
    assert snapshot, result.stdout
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"))
    go = subprocess.run(["go", "tool", "pprof", "-top", snapshot], capture_output=True, text=True, timeout=300, env=env)
    assert go.returncode == 0, go.stderr
    go_rows = [(m[3], float(m[1]) * UNITS[m[2]] / MiB) for m in GO_ROW.finditer(go.stdout)]
    assert go_rows, go.stdout
    # go tool pprof sees the native frames only: its top function is the
    # interpreter's function under cache_entry's line (bytes_repeat for
    # `bytes * n`), yep report --interpreter's top too, with the same bytes.
    ours, text = report(snapshot, tmp, "--interpreter")
    name, _, flat_mib, _ = max(ours, key=lambda r: r[2])
    print(f"\ngo tool pprof -top: {go_rows[0][0]} {go_rows[0][1]:.2f} MiB; yep report --interpreter: {name} "
          f"{flat_mib:.2f} MiB")
    if not go_rows[0][0].startswith("["):
        assert go_rows[0][0] == name and go_rows[0][1] == pytest.approx(flat_mib, abs=0.01), (go.stdout, text)
    else:
        # go cannot name the interpreter's frames (a stripped binary, Debian's
        # python3.14: go reads the binary's own symbol table, not a separate
        # debug file) and puts all of them in one row, "[python3.14]": there
        # only the totals can be compared.
        go_total = re.search(r"^Showing nodes accounting for ([\d.]+)(\w+), [\d.]+% of [\d.]+\w+ total$", go.stdout,
                             re.M)
        yep_total = re.search(r"^Total: ([\d.]+)MiB$", text, re.M)
        assert go_total and yep_total, (go.stdout, text)
        assert float(go_total[1]) * UNITS[go_total[2]] / MiB == pytest.approx(float(yep_total[1]), abs=0.01), (
            go.stdout, text)
    assert flat_mib == pytest.approx(CACHE_MIB, rel=TOLERANCE), text
