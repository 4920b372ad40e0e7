"""The exact heap mode's stacks file: a session writes each stack once, in
PREFIX.stacks, and its dumps before the last refer to those stacks
("@ =<id>"), so a run's files grow with its distinct stacks, not with
stacks times dumps. yep report reads such a dump as it would the same dump
written complete; without its stacks file it says so in one line. The last
dump of a session is complete on its own (pprof reads it)."""
import os
import re
import shutil

import pytest

from conftest import definition_line, marked_line, run_yep, write_script

MiB = 1 << 20
DUMPS = 12

SCRIPT = f"""
import allocs, yep
allocs.alloc_big()                 # MARK: 64 MiB in 8 blocks, kept to the end
for i in range({DUMPS}):
    yep.heap_dump("step")
allocs.alloc_churn()               # MARK churn: 1 GiB in 4 KiB blocks, all freed
yep.heap_dump("after the churn")
"""

# "flat flat% sum% cum cum% name file:line" rows of the text report, in MiB.
ROW = re.compile(r"^\s*(-?[\d.]+)MiB\s+[\d.-]+%\s+[\d.-]+%\s+(-?[\d.]+)MiB\s+[\d.-]+%\s+(\S+)(?:\s+(\S+))?\s*$")


def rows(text):
    return {(m.group(3), m.group(4)): (float(m.group(1)), float(m.group(2)))
            for m in map(ROW.match, text.splitlines()) if m}


@pytest.fixture(scope="module")
def run(allocs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stacks")
    script = write_script(tmp, "mem.py", SCRIPT)
    result = run_yep(["--heap", "--heap-interval", "1P", "--heap-inuse-interval", "1P", str(script)], cwd=tmp,
                     env={"PYTHONPATH": str(allocs)})
    assert result.returncode == 0, result.stderr
    dumps = sorted(tmp.glob("mem.py.*.heap"))
    return tmp, script, result, dumps


def bucket_lines(path):
    with open(path) as f:
        text = f.read()
    return text, [line for line in text.split("\nMAPPED_LIBRARIES:")[0].splitlines()[1:] if not line.startswith("#")]


def test_each_stack_is_written_once_and_the_dumps_refer_to_it(run):
    tmp, _, result, dumps = run
    assert [d.name for d in dumps] == [f"mem.py.{n:04d}.heap" for n in range(1, DUMPS + 3)]
    assert re.search(r"^yep: wrote .*: 14 heap profiles, the earlier ones' stacks in mem\.py\.stacks, peak ",
                     result.stderr, re.M), result.stderr
    stacks = (tmp / "mem.py.stacks").read_text()
    assert stacks.startswith("yep heap stacks 1\n")
    ids = [int(line.split(" @", 1)[0]) for line in stacks.splitlines()[1:] if not line.startswith("#")]
    assert len(ids) == len(set(ids)), "a stack was written twice"
    referred = set()
    _, complete = bucket_lines(dumps[-1])
    per_complete_stack = sum(map(len, complete)) / len(complete)
    for dump in dumps[:-1]:
        text, buckets = bucket_lines(dump)
        assert text.splitlines()[1] == "# yep-stacks:\tmem.py.stacks"
        assert buckets and all(re.fullmatch(r"\s*-?\d+:\s+-?\d+ \[\s*\d+:\s+\d+\] @ =\d+", b) for b in buckets), buckets[:3]
        referred |= {int(b.rsplit("=", 1)[1]) for b in buckets}
        # No stacks in it: a few dozen bytes per stack, where the complete
        # dump writes its frames (about 15 bytes each: 170 bytes a stack for
        # Debian's stripped python3.14, where the native walk stops sooner).
        # Per stack: both files end with the same list of mapped libraries,
        # a good part of a file when the program's start left few stacks.
        assert sum(map(len, buckets)) / len(buckets) * 2 < per_complete_stack, (dump, dumps[-1])
    assert referred <= set(ids)
    # The last dump is complete: addresses, no reference.
    text, buckets = bucket_lines(dumps[-1])
    assert "# yep-stacks:" not in text
    assert buckets and all(re.fullmatch(r"\s*-?\d+:\s+-?\d+ \[\s*\d+:\s+\d+\] @( 0x[0-9a-f]+)+", b) for b in buckets), \
        [b for b in buckets if " @ 0x" not in b][:3]


def test_a_dump_that_refers_reads_as_the_complete_one(run, allocs):
    tmp, script, _, dumps = run
    big = ("alloc_big_impl", f"allocs.c:{definition_line(allocs / 'allocs.c', 'alloc_big_impl')}")
    churn = ("alloc_churn_impl", f"allocs.c:{definition_line(allocs / 'allocs.c', 'alloc_churn_impl')}")
    line = ("<module>", f"mem.py:{marked_line(script, 'MARK:')}")
    churn_line = ("<module>", f"mem.py:{marked_line(script, 'MARK churn')}")
    # Before the churn (a dump that refers), after it (one that refers), at
    # stop (complete): the same 64 MiB on alloc_big_impl and on the Python
    # line that called it; 1 GiB allocated on the churn from the second on.
    def report(dump, kind):  # functions, and lines (--lines)
        found = {}
        for by in ([], ["--lines"]):
            out = run_yep(["report", dump.name, "--sample-index", kind, "--nodecount", "0", *by], cwd=tmp)
            assert out.returncode == 0, out.stderr
            found.update(rows(out.stdout))
        return found

    for dump in (dumps[DUMPS - 1], dumps[DUMPS], dumps[-1]):
        inuse, alloc = report(dump, "inuse_space"), report(dump, "alloc_space")
        assert inuse[big][0] == pytest.approx(64, abs=0.01), inuse
        assert inuse[line][1] == pytest.approx(64, abs=0.05)
        churned = alloc.get(churn, (0, 0))[0]
        assert churned == (0 if dump == dumps[DUMPS - 1] else pytest.approx(1024, abs=0.5)), dump
        if dump != dumps[DUMPS - 1]:
            assert alloc[churn_line][1] == pytest.approx(1024, abs=0.5)
            assert inuse.get(churn, (0, 0))[0] < 0.01


def test_base_between_two_dumps_that_refer(run):
    tmp, _, _, dumps = run
    out = run_yep(["report", dumps[DUMPS].name, "--base", dumps[DUMPS - 1].name, "--sample-index", "alloc_space",
                   "--nodecount", "3"], cwd=tmp)
    assert out.returncode == 0, out.stderr
    row = next((l for l in out.stdout.splitlines() if "alloc_churn_impl" in l), "")
    assert re.search(r"^\s*0\s+1\.00GiB\s+\+1\.00GiB\s", row), out.stdout


def test_without_its_stacks_file_a_dump_says_what_to_do(run, tmp_path):
    tmp, _, _, dumps = run
    shutil.copy(dumps[0], tmp_path / dumps[0].name)
    out = run_yep(["report", dumps[0].name, "-o", "report.txt"], cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [dumps[0].name], "something was half-written"
    assert len(out.stderr.strip().splitlines()) == 1 and "mem.py.stacks" in out.stderr and "Traceback" not in out.stderr
    # A planted link in its place is not followed.
    os.symlink(tmp / "mem.py.stacks", tmp_path / "mem.py.stacks")
    out = run_yep(["report", dumps[0].name], cwd=tmp_path)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_a_new_session_removes_the_last_ones_stacks(allocs, tmp_path):
    script = write_script(tmp_path, "again.py", "import yep\nif __import__('sys').argv[1:]: yep.heap_dump('x')\n")
    assert run_yep(["--heap", str(script), "dump"], cwd=tmp_path).returncode == 0
    assert (tmp_path / "again.py.stacks").exists()
    assert run_yep(["--heap", str(script)], cwd=tmp_path).returncode == 0
    assert not (tmp_path / "again.py.stacks").exists()
    assert [p.name for p in tmp_path.glob("again.py.*.heap")] == ["again.py.0001.heap"]
