"""A profile inside a profile is a feature, never a failure: the decorator on
a recursive function, a script's own yep.start() under python -m yep, a
profiled function calling another. Each profile holds the samples of its
own window, checked against CPU time the script measures itself."""
import re
import subprocess
import sys

import pytest

import yep
from conftest import SPIN_THREAD_TIME, run_yep, write_script

SPIN = SPIN_THREAD_TIME + """
import yep

def a():
    spin(0.3)

def b():
    spin(0.2)
"""


def seconds_of(path, function=None):
    """A profile's total time, or the cum time of one function in it."""
    profile = yep.load(path)
    if function is None:
        return profile.total_seconds
    text = profile.render("text", nodecount=0)
    match = re.search(rf"^\s*[\d.]+s\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)s\s+[\d.]+%\s+{function}\s", text, re.M)
    return float(match.group(1)) if match else 0.0


def run(tmp_path, body, *yep_args):
    script = write_script(tmp_path, "nest.py", SPIN + body)
    if yep_args:
        result = run_yep([*yep_args, str(script)], cwd=tmp_path)
    else:
        result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                                timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_a_profile_started_inside_another_gets_its_own_window(tmp_path):
    run(tmp_path, """
yep.start("outer.prof", frequency=250)
a()
yep.start("inner.prof")
b()
assert yep.stop()["path"] == "inner.prof"
a()
assert yep.stop()["path"] == "outer.prof"
assert not yep.is_running()
""")
    assert seconds_of(tmp_path / "inner.prof") == pytest.approx(0.2, abs=0.04)
    assert seconds_of(tmp_path / "inner.prof", "a") == 0
    assert seconds_of(tmp_path / "outer.prof") == pytest.approx(0.8, abs=0.08)
    assert seconds_of(tmp_path / "outer.prof", "b") == pytest.approx(0.2, abs=0.04)


def test_a_scripts_own_profile_under_python_m_yep(tmp_path):
    # The README's API example run under the command line: it once crashed
    # with "already running". The script's profile holds b(); the command
    # line's, everything; a profile the script leaves running ends with it.
    result = run(tmp_path, """
a()
yep.start("mine.prof")
b()
yep.stop()
yep.start("left.prof")
a()
""", "-f", "250")
    assert "samples" in result.stderr
    assert seconds_of(tmp_path / "mine.prof") == pytest.approx(0.2, abs=0.04)
    assert seconds_of(tmp_path / "left.prof") == pytest.approx(0.3, abs=0.05)
    assert seconds_of(tmp_path / "nest.py.prof") == pytest.approx(0.8, abs=0.08)


def test_the_decorator_gathers_over_calls_and_recursion_is_the_outermost_call(tmp_path):
    # fib(8) has 34 leaves of 2 ms: 68 ms a call, three calls; the 0.2 s
    # between the calls is not the function's. Recursion once raised
    # "already running"; each call once overwrote the file.
    result = run(tmp_path, """
@yep.profile("fib.prof", frequency=250)
def fib(n):
    if n < 2:
        spin(0.002)
        return n
    return fib(n - 1) + fib(n - 2)

for _ in range(3):
    print(fib(8))
    spin(0.2)
print(yep.is_running())
""")
    assert result.stdout.split() == ["21", "21", "21", "False"]
    assert seconds_of(tmp_path / "fib.prof") == pytest.approx(3 * 34 * 0.002, abs=0.04)
    assert seconds_of(tmp_path / "fib.prof", "fib") == pytest.approx(3 * 34 * 0.002, abs=0.04)


def test_a_native_profile_runs_alone_and_a_second_one_says_it_records_nothing(tmp_path):
    result = run(tmp_path, """
yep.start("native.prof", mixed=False)
yep.start("inner.prof")
a()
print(yep.stop()["samples"], yep.stop()["path"])
""")
    assert result.stdout.split() == ["0", "native.prof"]
    assert result.stderr == ("yep: 'inner.prof' records nothing: a native profile ('native.prof') is running, "
                             "and gperftools' profiler runs one at a time\n")
    assert not (tmp_path / "inner.prof").exists()


def test_a_profile_inside_asking_for_another_rate_or_clock_is_told_it_shares_the_sampler(tmp_path):
    result = run(tmp_path, """
yep.start("outer.prof", frequency=250)
yep.start("inner.prof", frequency=100, wall=True)
b()
print(yep.stop()["requested_hz"])
yep.stop()
""")
    assert result.stdout.split() == ["250.0"]
    assert result.stderr == "yep: 'inner.prof' shares the running profile's sampler (outer.prof): 250 Hz, CPU time\n"
    assert seconds_of(tmp_path / "inner.prof") == pytest.approx(0.2, abs=0.04)
