"""End to end: profile the hotcold extension through the real CLI and API
and check the report against known truths (the 3:1 split, the definition
lines, the CPU time from getrusage)."""
import re
import subprocess
import sys

import pytest

from conftest import definition_line, parse_report, run_yep, write_script

# Runs burn_hot and burn_cold alternately, so both see the same conditions,
# and prints the CPU seconds the work took (getrusage), the truth to check.
WORKLOAD = """
import resource, sys
import hotcold

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

start = cpu()
for r in range({rounds}):
    n = 3_000_000 + (r * 7919) % 200_000  # rounds of varying length: no phase lock with the timer
    hotcold.burn_hot(n)
    hotcold.burn_cold(n)
print(f"CPU {{cpu() - start:.4f}}")
"""


def check_split(report_text, hotcold, cpu_seconds, tolerance=0.10):
    rows, total = parse_report(report_text)
    assert "burn_hot" in rows and "burn_cold" in rows, report_text
    hot, cold = rows["burn_hot"][0], rows["burn_cold"][0]
    share = hot / (hot + cold)
    assert share == pytest.approx(0.75, abs=0.04), report_text
    source = hotcold / "hotcold.c"
    assert rows["burn_hot"][2] == f"hotcold.c:{definition_line(source, 'burn_hot')}", report_text
    assert rows["burn_cold"][2] == f"hotcold.c:{definition_line(source, 'burn_cold')}", report_text
    # The profile covers at least the measured work, and not much more.
    assert total == pytest.approx(cpu_seconds, rel=tolerance), report_text


def script_cpu(stdout):
    return float(re.search(r"^CPU ([\d.]+)$", stdout, re.M).group(1))


def test_cli_finds_hot_and_cold_with_lines_and_true_seconds(hotcold, tmp_path):
    script = write_script(tmp_path, "work.py", WORKLOAD.format(rounds=100))
    result = run_yep(["-v", "-f", "250", "--nodecount", "0", str(script)], cwd=tmp_path,
                     env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "work.py.prof").exists()  # YEP's default name
    assert "PROFILE:" not in result.stderr  # gperftools' own chatter is not the program's
    report_start = result.stdout.index("Type: cpu")
    check_split(result.stdout[report_start:], hotcold, script_cpu(result.stdout))
    # yep's own summary line: the samples in the file and the measured CPU seconds.
    line = re.search(r"^yep: wrote work\.py\.prof: (\d+) samples, ([\d.]+) s CPU$", result.stderr, re.M)
    assert line, result.stderr
    import yep

    assert int(line.group(1)) == yep.load(tmp_path / "work.py.prof").samples
    assert float(line.group(2)) == pytest.approx(script_cpu(result.stdout), rel=0.10)
    # The same file through `yep report` and the yep-convert binary.
    again = run_yep(["report", "--nodecount", "0", "work.py.prof"], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout == result.stdout[report_start:]
    convert = subprocess.run(["yep-convert", "--nodecount", "0", "work.py.prof"], cwd=tmp_path,
                             capture_output=True, text=True, env={"PATH": str(__import__("pathlib").Path(sys.executable).parent)})
    assert convert.returncode == 0, convert.stderr
    assert convert.stdout == again.stdout


def test_api_start_stop_in_process(hotcold, tmp_path):
    script = write_script(tmp_path, "api.py", """
        import pathlib, resource, sys
        import hotcold, yep

        def cpu():
            r = resource.getrusage(resource.RUSAGE_SELF)
            return r.ru_utime + r.ru_stime

        assert not yep.is_running()
        start = cpu()
        yep.start(pathlib.Path("api.prof"), frequency=250)   # os.PathLike accepted
        assert yep.is_running()
        for _ in range(100):
            hotcold.burn_hot(3_000_000)
            hotcold.burn_cold(3_000_000)
        summary = yep.stop()
        print(f"CPU {cpu() - start:.4f}")
        assert not yep.is_running()
        assert summary["samples"] > 0 and summary["path"] == "api.prof"
        sys.stdout.write(yep.report("api.prof", nodecount=0))
    """)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(hotcold)}, timeout=120)
    assert result.returncode == 0, result.stderr
    check_split(result.stdout[result.stdout.index("Type: cpu"):], hotcold, script_cpu(result.stdout))


def test_context_manager_and_decorator(hotcold, tmp_path):
    script = write_script(tmp_path, "ctx.py", """
        import hotcold, yep

        with yep.profile("block.prof") as p:
            hotcold.burn_hot(30_000_000)
        assert p.summary["samples"] > 0

        @yep.profile("func.prof")
        def work(n):
            hotcold.burn_cold(n)
            return n

        assert work(30_000_000) == 30_000_000   # the return value passes through
        assert work.__name__ == "work"
        assert not yep.is_running()
        for name in ("block.prof", "func.prof"):
            print(name, yep.report(name).split("\\n")[-2])
    """)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(hotcold)}, timeout=120)
    assert result.returncode == 0, result.stderr
    rows, _ = parse_report(run_yep(["report", "block.prof"], cwd=tmp_path).stdout)
    assert "burn_hot" in rows and "burn_cold" not in rows
    rows, _ = parse_report(run_yep(["report", "func.prof"], cwd=tmp_path).stdout)
    assert "burn_cold" in rows and "burn_hot" not in rows


def test_threads_started_by_the_script_are_sampled(hotcold, tmp_path):
    script = write_script(tmp_path, "threads.py", """
        import threading, hotcold
        t = threading.Thread(target=lambda: [hotcold.burn_hot(2_000_000) for _ in range(40)], name="worker")
        t.start(); t.join()
    """)
    result = run_yep(["-v", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    rows, total = parse_report(result.stdout)
    assert rows["burn_hot"][0] > 0.5 * total, result.stdout


def test_frequency_is_applied_and_the_achieved_rate_recorded(hotcold, tmp_path):
    script = write_script(tmp_path, "freq.py", WORKLOAD.format(rounds=80))
    result = run_yep(["-f", "50", "-v", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    achieved = float(re.search(r"timer: asked 50 Hz, got ([\d.]+) Hz", result.stdout).group(1))
    assert achieved == pytest.approx(50, rel=0.15), result.stdout
    _, total = parse_report(result.stdout)
    assert total == pytest.approx(script_cpu(result.stdout), rel=0.10)


def test_rate_above_the_kernel_tick_warns_and_times_stay_right(hotcold, tmp_path):
    script = write_script(tmp_path, "fast.py", WORKLOAD.format(rounds=60))
    result = run_yep(["-f", "1000", "-v", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    achieved = float(re.search(r"timer: asked 1000 Hz, got ([\d.]+) Hz", result.stdout).group(1))
    if achieved < 750:  # capped by the kernel tick (CONFIG_HZ=250 here)
        assert re.search(r"^yep: asked for 1000 Hz but got \d+ Hz", result.stderr, re.M), result.stderr
    _, total = parse_report(result.stdout)
    assert total == pytest.approx(script_cpu(result.stdout), rel=0.10)


def test_wall_clock_mode_counts_sleeping_time(tmp_path):
    script = write_script(tmp_path, "sleepy.py", """
        import time
        t0 = time.monotonic()
        time.sleep(2.0)
        print(f"WALL {time.monotonic() - t0:.4f}")
    """)
    result = run_yep(["--wall", "-v", str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Type: wall" in result.stdout and "wall-clock timer" in result.stdout
    _, total = parse_report(result.stdout)
    wall = float(re.search(r"^WALL ([\d.]+)$", result.stdout, re.M).group(1))
    assert total == pytest.approx(wall, rel=0.10)
