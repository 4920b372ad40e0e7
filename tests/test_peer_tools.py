"""yep's .prof files are real gperftools profiles: google-pprof (Perl, from
Debian's google-perftools) and go tool pprof (Debian's golang-go) read them,
agree with yep's own report on the top functions, and, because yep records
the achieved sampling period in the header, on the CPU seconds too."""
import os
import re
import subprocess
import sys

import pytest

from conftest import needs_program, parse_report, run_yep, write_script
from test_cpu_profile import WORKLOAD, script_cpu


@pytest.fixture(scope="module")
def profile(hotcold, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("peers")
    script = write_script(tmp, "work.py", WORKLOAD.format(rounds=100))
    result = run_yep(["-v", "-f", "250", "--nodecount", "0", "-o", "work.prof", str(script)], cwd=tmp,
                     env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    report = result.stdout[result.stdout.index("Type: cpu"):]
    return tmp / "work.prof", report, script_cpu(result.stdout)


def percent_rows(text, pattern):
    return {m.group("name"): float(m.group("pct")) for m in re.finditer(pattern, text, re.M)}


@needs_program("google-pprof")
def test_google_pprof_reads_it_and_agrees(profile):
    path, report, _ = profile
    binary = os.path.realpath(sys.executable)
    out = subprocess.run(["google-pprof", "--text", binary, str(path)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    theirs = percent_rows(out.stdout, r"^\s*\d+\s+(?P<pct>[\d.]+)%\s+[\d.]+%\s+\d+\s+[\d.]+%\s+(?P<name>\S+)")
    ours = percent_rows(report, r"^\s*[\d.]+s\s+(?P<pct>[\d.]+)%\s+[\d.]+%\s+[\d.]+s\s+[\d.]+%\s+(?P<name>\S+)")
    for name in ("burn_hot", "burn_cold"):
        assert theirs[name] == pytest.approx(ours[name], abs=0.5), out.stdout
    # Their top function is ours too.
    assert max(theirs, key=theirs.get) == max(ours, key=ours.get)


@needs_program("go")
def test_go_tool_pprof_reads_it_and_agrees_on_seconds(profile, tmp_path):
    path, report, cpu = profile
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"), GOFLAGS="-mod=mod")
    out = subprocess.run(["go", "tool", "pprof", "-top", "-nodecount=50", str(path)], capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    total = re.search(r"of ([\d.]+)(m?s) total", out.stdout)
    seconds = float(total.group(1)) / (1000 if total.group(2) == "ms" else 1)
    _, ours = parse_report(report)
    assert seconds == pytest.approx(ours, rel=0.02), out.stdout
    assert seconds == pytest.approx(cpu, rel=0.10)
    theirs = percent_rows(out.stdout, r"^\s*[\d.]+m?s\s+(?P<pct>[\d.]+)%\s+[\d.]+%\s+[\d.]+m?s\s+[\d.]+%\s+(?P<name>\S+)")
    ours_pct = percent_rows(report, r"^\s*[\d.]+s\s+(?P<pct>[\d.]+)%\s+[\d.]+%\s+[\d.]+s\s+[\d.]+%\s+(?P<name>\S+)")
    for name in ("burn_hot", "burn_cold"):
        assert theirs[name] == pytest.approx(ours_pct[name], abs=0.5), out.stdout
