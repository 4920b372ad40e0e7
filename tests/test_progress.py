"""On a terminal, a long profiled run says how far it got and a long
conversion shows a line rewritten in place, on stderr; never when stderr is
not a terminal (yep/progress.py, converters/progress.h). YEP_PROGRESS=S
brings the first line to S seconds, so that the tests need not run 10."""
import os
import pty
import re
import subprocess
import sys

import pytest

from conftest import SPIN_THREAD_TIME, run_yep, write_script


def on_a_terminal(args, cwd, env):
    """Runs `python -m yep ARGS` with stderr on a pseudo-terminal (stdout a
    pipe); returns (status, stdout, what the terminal got)."""
    leader, follower = pty.openpty()
    full_env = dict(os.environ, **env)
    full_env.pop("CPUPROFILE_FREQUENCY", None)
    process = subprocess.Popen([sys.executable, "-m", "yep", *args], cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                               stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every copy of the follower is closed
            break
        if not chunk:
            break
        terminal += chunk
    os.close(leader)
    stdout = process.stdout.read()
    return process.wait(timeout=60), stdout.decode(), terminal.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.parametrize("mode", [[], ["--native"]])
def test_a_long_run_says_how_far_it_got_on_a_terminal_only(tmp_path, mode):
    script = write_script(tmp_path, "long.py", SPIN_THREAD_TIME + "spin(2.6)\nprint('done')\n")
    args = [*mode, "-f", "100", "-o", "long.prof", str(script)]
    status, stdout, terminal = on_a_terminal(args, tmp_path, {"YEP_PROGRESS": "1"})
    assert status == 0 and stdout == "done\n", terminal
    lines = re.findall(r"^yep: (\d+) s into the run: ([\d,]+) samples so far$", terminal, re.M)
    # At 1 s, 2 s, 4 s... (doubling; the spin takes 2.6 s of CPU, so at
    # least two), before yep's last line; whole lines only.
    assert len(lines) >= 2 and [int(at) for at, _ in lines] == [2 ** i for i in range(len(lines))], terminal
    written = int(re.search(r"^yep: wrote long\.prof: (\d+) samples", terminal, re.M).group(1))
    counts = [int(n.replace(",", "")) for _, n in lines]
    assert 0 < counts[0] and counts == sorted(counts) and counts[-1] <= written, terminal
    assert terminal.index("into the run") < terminal.index("yep: wrote")

    piped = run_yep(args, cwd=tmp_path, env={"YEP_PROGRESS": "1"})
    assert piped.returncode == 0 and "into the run" not in piped.stderr, piped.stderr
    off_status, _, off = on_a_terminal(args, tmp_path, {"YEP_PROGRESS": "off"})
    assert off_status == 0 and "into the run" not in off, off


def test_a_long_heap_run_says_what_is_in_use(allocs, tmp_path):
    # alloc_big keeps 64 MiB in 8 blocks: the line in the wait after it
    # has them in use.
    script = write_script(tmp_path, "big.py", "import time, allocs\nallocs.alloc_big()\ntime.sleep(1.6)\n")
    status, _, terminal = on_a_terminal(["--heap", "-o", "big", str(script)], tmp_path,
                                        {"YEP_PROGRESS": "1", "PYTHONPATH": str(allocs)})
    assert status == 0, terminal
    line = re.search(r"^yep: 1 s into the run: ([\d.]+) MiB of native heap in use, peak ([\d.]+) MiB, "
                     r"([\d,.]+) MiB allocated so far$", terminal, re.M)
    assert line, terminal
    in_use, peak, allocated = float(line.group(1)), float(line.group(2)), float(line.group(3).replace(",", ""))
    assert 64 <= in_use <= peak <= allocated < 64 + 16, terminal


def test_a_conversion_shows_a_line_rewritten_in_place_then_erased(tmp_path):
    script = write_script(tmp_path, "work.py", SPIN_THREAD_TIME + "spin(0.3)\n")
    assert run_yep(["-f", "250", "-o", "work.prof", str(script)], cwd=tmp_path).returncode == 0
    args = ["report", "--nodecount", "3", "work.prof"]
    status, stdout, terminal = on_a_terminal(args, tmp_path, {"YEP_PROGRESS": "0.000001"})
    assert status == 0 and stdout.startswith("Type: cpu\n"), terminal
    # The report goes to stdout; the terminal got the line, redrawn with \r
    # and cleared with ESC[K, ending erased.
    drawn = re.findall(r"\ryep: symbolizing ([\d,]+) of ([\d,]+) addresses\x1b\[K", terminal)
    assert drawn, repr(terminal)
    assert terminal.endswith("\r\x1b[K"), repr(terminal)
    totals = {total for _, total in drawn}
    assert len(totals) == 1 and all(int(d.replace(",", "")) <= int(t.replace(",", "")) for d, t in drawn)

    piped = run_yep(args, cwd=tmp_path, env={"YEP_PROGRESS": "0.000001"})
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout == stdout.replace("\r\n", "\n")
