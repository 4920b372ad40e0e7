"""A profiled program that forks, execs or is terminated keeps its
behaviour (exit status, output, signal) and leaves a complete profile, in
every mode (yep/run_ends.py; the capture's fork handlers). Each run has a
timeout: a hang fails the test instead of the suite."""
import re
import signal

import pytest

from conftest import run_yep, write_script

MODES = {"mixed": [], "native": ["--native"], "wall": ["--wall"], "heap": ["--heap"]}

WORK = """
def work():
    t = 0
    for i in range(3_000_000):
        t += i
    return t
"""

PROGRAMS = {
    # The child allocates 200 MiB before exiting 3: past the heap profile's
    # in-use interval (a dump the child once waited for forever).
    "fork": (WORK + """
import os, sys
work()
pid = os.fork()
if pid == 0:
    blocks = [bytearray(1 << 20) for _ in range(200)]
    sys.exit(3)
_, status = os.waitpid(pid, 0)
print("child exited", os.waitstatus_to_exitcode(status), flush=True)
work()
""", 0, "child exited 3\n"),
    # The new program runs on (it once died of the armed timer at its
    # first tick, and the profile was empty).
    "execv": (WORK + """
import os, sys
work()
print("before exec", flush=True)
os.execv(sys.executable, [sys.executable, "-c",
         "t = 0\\nfor i in range(4_000_000): t += i\\nprint('exec done'); raise SystemExit(5)"])
""", 5, "before exec\nexec done\n"),
    "sigterm": (WORK + """
import os, signal
work()
print("terminating", flush=True)
os.kill(os.getpid(), signal.SIGTERM)
print("not reached")
""", -signal.SIGTERM, "terminating\n"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("program", PROGRAMS)
def test_fork_exec_and_sigterm_keep_the_programs_behaviour_and_a_complete_profile(tmp_path, mode, program):
    body, status, stdout = PROGRAMS[program]
    script = write_script(tmp_path, f"{program}.py", body)
    result = run_yep([*MODES[mode], "-o", "out", str(script)], cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (status, stdout), result.stderr
    written = re.findall(r"^yep: wrote (\S+?)(?:,|:)", result.stderr, re.M)
    assert len(written) == 1, result.stderr  # the parent's profile, once
    profile = tmp_path / written[0]
    read = run_yep(["report", "--nodecount", "0", str(profile)], cwd=tmp_path)
    assert read.returncode == 0 and read.stderr == "", read.stderr
    if mode != "heap":
        samples = int(re.search(r"^Total: \S+ in (\d+) samples", read.stdout, re.M).group(1))
        assert samples > 0 and (mode == "native" or "work" in read.stdout), read.stdout


@pytest.mark.parametrize("mode", [*MODES, "heap-sample"])
def test_exit_from_c_keeps_the_exit_status_and_writes_the_profile(tmp_path, mode):
    # exit() from C code (a library's fatal error, Fortran's STOP) runs no
    # Python clean-up: yep's C atexit handler finishes the profile. Before,
    # the capture's threads aborted the program at exit (status 134) and no
    # profile was written.
    script = write_script(tmp_path, "c_exit.py", WORK + """
import ctypes
work()
print("leaving", flush=True)
ctypes.CDLL(None).exit(3)
""")
    args = MODES.get(mode, ["--heap", "--heap-sample", "512K"])
    result = run_yep([*args, "-o", "out", str(script)], cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (3, "leaving\n"), result.stderr
    assert "terminate called" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    written = re.findall(r"^yep: wrote (\S+?)(?:,|:)", result.stderr, re.M)
    assert len(written) == 1, result.stderr
    read = run_yep(["report", "--nodecount", "0", str(tmp_path / written[0])], cwd=tmp_path)
    assert read.returncode == 0 and read.stderr == "", read.stderr
    if not mode.startswith("heap"):
        samples = int(re.search(r"^Total: \S+ in (\d+) samples", read.stdout, re.M).group(1))
        assert samples > 0 and (mode == "native" or "work" in read.stdout), read.stdout


def test_a_program_with_its_own_sigterm_handler_keeps_it(tmp_path):
    script = write_script(tmp_path, "own.py", """
        import os, signal
        signal.signal(signal.SIGTERM, lambda *_: print("handled", flush=True))
        os.kill(os.getpid(), signal.SIGTERM)
        print("went on")
    """)
    result = run_yep(["-o", "own.prof", str(script)], cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (0, "handled\nwent on\n"), result.stderr


def test_a_forked_child_dies_of_sigterm_at_once(tmp_path):
    # The child is stuck in C (a blocking read): Python's handler would wait
    # for it to return; the default action does not.
    script = write_script(tmp_path, "stuck.py", """
        import os, signal, time
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.read(r, 1)
            os._exit(0)
        time.sleep(0.2)
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
    """)
    result = run_yep(["-o", "stuck.prof", str(script)], cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"child {-signal.SIGTERM}\n"), result.stderr
