"""Several profiles of one kind read as one (`yep report a.prof b.prof`,
`yep-convert`, `yep.load(a, b)`): the runs of a job, the same program on
other hosts. A function is one function whatever address it was loaded at;
the figures are the sums of the inputs'."""
import pstats
import re
import subprocess
import sys
from pathlib import Path

import pytest

import yep
from conftest import parse_report, run_yep, write_script
from test_cpu_profile import WORKLOAD

BIN = Path(sys.executable).parent


def extension_start(profile, name):
    """Where the extension's first mapping starts in a profile's maps."""
    text = profile.read_bytes().decode("latin-1")
    return int(re.search(rf"^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \S+ +\S*{name}\S*\.so$", text, re.M).group(1), 16)


@pytest.fixture(scope="module")
def two_runs(hotcold, allocs, tmp_path_factory):
    # The second run loads another extension first: its hotcold lies
    # elsewhere, as on another host, even where randomization is off.
    tmp = tmp_path_factory.mktemp("merge")
    script = write_script(tmp, "work.py", "import os\nif os.environ['FIRST']:\n    import allocs\n" +
                          WORKLOAD.format(rounds=40))
    for name, first in (("a", ""), ("b", "1")):
        env = {"PYTHONPATH": f"{hotcold}:{allocs}", "FIRST": first}
        result = run_yep(["-f", "250", "-o", f"{name}.prof", str(script)], cwd=tmp, env=env)
        assert result.returncode == 0, result.stderr
    assert extension_start(tmp / "a.prof", "hotcold") != extension_start(tmp / "b.prof", "hotcold")
    return tmp / "a.prof", tmp / "b.prof"


def rows(*paths):
    result = run_yep(["report", "--nodecount", "0", *map(str, paths)], cwd=paths[0].parent)
    assert result.returncode == 0, result.stderr
    return parse_report(result.stdout)[0], result.stdout


def test_merged_report_is_the_sum_with_each_function_once(two_runs):
    a, b = two_runs
    (ra, _), (rb, _), (merged, text) = rows(a), rows(b), rows(a, b)
    for name in ("burn_hot", "burn_cold", "py_burn_hot"):
        assert len(re.findall(rf"\s{name}\s", text)) == 1, text
    assert set(merged) == set(ra) | set(rb), text
    for name, row in merged.items():
        flat = sum(r[name][0] for r in (ra, rb) if name in r)
        assert row[0] == pytest.approx(flat, abs=0.0011), (name, text)
    header = re.search(r"^Total: \S+ in (\d+) samples", text, re.M)
    totals = [int(re.search(r"^Total: \S+ in (\d+) samples", rows(p)[1], re.M).group(1)) for p in (a, b)]
    assert int(header.group(1)) == sum(totals)
    assert f"# {a}: CPU-time timer" in text and f"# {b}: CPU-time timer" in text

    convert = subprocess.run([str(BIN / "yep-convert"), "--nodecount", "0", str(a), str(b)], capture_output=True,
                             text=True)
    assert convert.returncode == 0 and convert.stdout == text, convert.stderr


def test_merged_pstats_and_api(two_runs, tmp_path):
    a, b = two_runs
    stats = {}
    for name, profile in (("a", yep.load(a)), ("b", yep.load(b)), ("ab", yep.load(a, b))):
        profile.save(tmp_path / f"{name}.pstats", "pstats")
        st = pstats.Stats(str(tmp_path / f"{name}.pstats"))
        stats[name] = {k[2]: v for k, v in st.stats.items()}
        assert len([k for k in st.stats if k[2] == "burn_hot"]) == 1
    for function in ("burn_hot", "burn_cold"):
        assert stats["ab"][function][2] == pytest.approx(stats["a"][function][2] + stats["b"][function][2])
    assert yep.load(a, b).samples == yep.load(a).samples + yep.load(b).samples


def test_profiles_of_different_kinds_are_refused(two_runs, allocs, tmp_path):
    a, b = two_runs
    script = write_script(tmp_path, "h.py", "import allocs\nallocs.alloc_big()\n")
    assert run_yep(["--heap", "-o", "h", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(allocs)}).returncode == 0
    heap = sorted(tmp_path.glob("h.*.heap"))[-1]
    for args, message in (([str(a), str(heap)], rf"^yep: error: {re.escape(str(heap))} \(.*\) cannot be merged with "
                           rf"{re.escape(str(a))} \(.*\): merge profiles of one kind$"),
                          (["--base", str(heap), str(a), str(b)], rf"^yep: error: {re.escape(str(heap))} \(.*\) cannot "
                           rf"be compared with {re.escape(str(a))} \+ {re.escape(str(b))} \(.*\): compare profiles "
                           r"of one kind$")):
        result = run_yep(["report", *args], cwd=tmp_path)
        assert result.returncode == 2 and re.fullmatch(message + "\n", result.stderr, re.M), result.stderr
        assert result.stdout == ""
