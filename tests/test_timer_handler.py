"""A program that installs its own SIGPROF handler while yep samples ends
the sampling there. yep says so, naming the handler (a Python function by
its file and line, a C one by its symbol and object file), in one line at
stop and in the report's header; the profile keeps the asked period, so
its total is the CPU time before the handler changed (what the program
measures itself), not the whole run's stretched over the samples; and the
program keeps its handler (yep neither restores its own over it nor feeds
it yep's ticks)."""
import re
import subprocess
import sys

import pytest

from conftest import compiled_fixture, parse_report, run_yep, write_script, yep_environment

SPIN = """
import signal, sys, time

def spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

def before():
    spin(0.6)

def after():
    spin(0.6)
"""

PYTHON_HANDLER = SPIN + """
ticks = []

def on_prof(signum, frame):
    ticks.append(signum)

before()
print(f"BEFORE {time.process_time():.4f}")
signal.signal(signal.SIGPROF, on_prof)
after()
print(f"TICKS {len(ticks)}")
"""

C_HANDLER = SPIN + """
import own_timer

before()
print(f"BEFORE {time.process_time():.4f}")
own_timer.install()
after()
print(f"TICKS {own_timer.ticks()}")
"""


@pytest.fixture(scope="module")
def own_timer(tmp_path_factory):
    return compiled_fixture(tmp_path_factory, "own_timer")


def check_run(result, pattern, mode):
    assert result.returncode == 0, result.stderr
    warning = re.search(r"^yep: the program replaced yep's SIGPROF handler with (.*): sampling stopped there, "
                        r"so the profile holds ([\d.]+) s of the ([\d.]+) s CPU the run used$", result.stderr, re.M)
    assert warning, result.stderr
    assert re.fullmatch(pattern, warning.group(1)), warning.group(1)
    assert "kernel's timer tick" not in result.stderr  # the rate is not blamed on the tick
    # The process's CPU when the handler changed, as the program read it
    # (its start, before yep's, included: a bound from above).
    before = float(re.search(r"BEFORE (\S+)", result.stdout).group(1))
    rows, total = parse_report(result.stdout)
    assert 0.6 * 0.85 <= total <= before + 0.05, (total, before, result.stdout)
    assert float(warning.group(2)) == pytest.approx(total, abs=0.011)
    if not mode:  # Python functions: all of it under before()
        assert rows["before"][1] == pytest.approx(total, rel=0.1), result.stdout
        assert "after" not in rows, result.stdout
    # The report's header says it too.
    assert "# the program replaced yep's SIGPROF handler with " in result.stdout, result.stdout
    return int(re.search(r"TICKS (\d+)", result.stdout).group(1))


@pytest.mark.parametrize("mode", [[], ["--native"]], ids=["mixed", "native"])
def test_a_python_sigprof_handler_is_named_and_the_profile_stops_there(tmp_path, mode):
    script = write_script(tmp_path, "own.py", PYTHON_HANDLER)
    result = run_yep([*mode, "-v", "--nodecount", "0", str(script)], cwd=tmp_path, timeout=60)
    ticks = check_run(result, r"on_prof \(.*own\.py:\d+\), through signal\.signal", mode)
    line = next(n for n, text in enumerate(PYTHON_HANDLER.splitlines(), 1) if text.startswith("def on_prof"))
    assert f"own.py:{line})" in result.stderr, result.stderr
    if not mode:  # yep's own timer stops within a drain pass (20 ms): a tick or two at most
        assert ticks <= 3, ticks


@pytest.mark.parametrize("mode", [[], ["--native"]], ids=["mixed", "native"])
def test_a_c_sigprof_handler_is_named_by_symbol_and_object(tmp_path, own_timer, mode):
    script = write_script(tmp_path, "own_c.py", C_HANDLER)
    result = run_yep([*mode, "-v", "--nodecount", "0", str(script)], cwd=tmp_path, timeout=60,
                     env={"PYTHONPATH": str(own_timer)})
    ticks = check_run(result, r"own_timer_tick in .*/own_timer\..*so", mode)
    if not mode:
        assert ticks <= 3, ticks


def test_yep_stop_leaves_the_programs_handler_installed(tmp_path):
    script = write_script(tmp_path, "keep.py", SPIN + """
        import yep

        def on_prof(signum, frame):
            pass

        yep.start("keep.prof")
        before()
        signal.signal(signal.SIGPROF, on_prof)
        summary = yep.stop()
        print("KEPT", signal.getsignal(signal.SIGPROF) is on_prof, summary["timer_handler_replaced_by"])
    """.replace("\n        ", "\n"))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=yep_environment(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "KEPT True Python's signal module" in result.stdout, result.stdout
    assert "replaced yep's SIGPROF handler with on_prof" in result.stderr, result.stderr


def test_the_note_never_blocks_on_a_fifo_output(tmp_path):
    # The report's note is appended to a regular profile only: a FIFO whose
    # reader took the profile and left must not hold the run (it would wait
    # for a new reader forever).
    import os
    import threading

    script = write_script(tmp_path, "own.py", PYTHON_HANDLER)
    fifo = tmp_path / "out.prof"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    result = run_yep(["-o", str(fifo), str(script)], cwd=tmp_path, timeout=60)
    reader.join(30)
    assert result.returncode == 0, result.stderr
    assert "replaced yep's SIGPROF handler with on_prof" in result.stderr
    assert got and got[0][:8] == bytes(8)
