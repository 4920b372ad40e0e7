"""Comparing two runs (`yep report NEW --base OLD`, yep-convert --base,
yep.load(new, base=old), Profile.compare, %yep --base: the last in
test_magics.py) on real profiles: a program run twice, the second time with
one function doing twice the work and unrelated imports loaded first (so
its Python frames come in another order: they are matched by function,
never by address or load order). The text diff's figures are checked against
each run's own report, the change against the truth, and --normalize against
the totals; a heap diff against a known extra allocation; one library's
function in two objects (numpy's and scipy's OpenBLAS) stays two functions.
The flame graph and call graph of a comparison: test_compare_graphs.py."""
import os
import pstats
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_yep, write_script

PROGRAM = """
import sys
import hotcold

MORE = len(sys.argv) > 1
if MORE:  # unrelated imports: the run loads other modules first
    import json, decimal, fractions, statistics, email.message, xml.dom.minidom


def steady():
    x = 0
    for i in range(10_000_000):
        x += i & 7
    return x


def changing(k):
    x = 0
    for i in range(k * 10_000_000):
        x += i & 7
    return x


def steady_native():
    hotcold.burn_cold(230_000_000)


steady()
steady_native()
changing(2 if MORE else 1)
"""

DIFF_HEADER = "      base        new     change  change%  name"
# base new change change%  name[  file:line] (the name and the file may hold single spaces)
DIFF_ROW = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)  (.+?)(?:  (.+))?$")


def seconds(text):
    return 0.0 if text == "0" else float(text.rstrip("s"))


def diff_rows(text):
    """{name file:line: (base, new, change, change%)} in seconds (change% in
    percent) and the header's (new total, base total, change)."""
    lines = text.splitlines()
    rows = {}
    for line in lines[lines.index(DIFF_HEADER) + 1:]:
        m = DIFF_ROW.match(line)
        assert m, f"not a row of the comparison: {line!r}"
        key = f"{m.group(5)} {m.group(6)}" if m.group(6) else m.group(5)
        assert key not in rows, f"{key} twice: its frames were not matched\n{text}"
        rows[key] = (seconds(m.group(1)), seconds(m.group(2)), seconds(m.group(3)), float(m.group(4).rstrip("%")))
    total = re.search(r"^Total: (\S+), base (\S+): (\S+) \((\S+)% of the base\)$", text, re.M)
    assert total, text
    return rows, tuple(seconds(total.group(i)) for i in (1, 2, 3))


# flat flat% sum% cum cum%  name[  file:line]
OWN_ROW = re.compile(r"^\s*([\d.]+)s\s+\S+%\s+\S+%\s+([\d.]+)s\s+\S+%  (.+?)(?:  (.+))?$")


def own_rows(text):
    """{name file:line: (flat, cum)} of a plain report."""
    rows = {}
    for m in filter(None, map(OWN_ROW.match, text.splitlines())):
        key = f"{m.group(3)} {m.group(4)}" if m.group(4) else m.group(3)
        assert key not in rows, f"{key} twice\n{text}"
        rows[key] = (float(m.group(1)), float(m.group(2)))
    return rows


def report(*args, cwd):
    result = run_yep(["report", *map(str, args)], cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def two_runs(hotcold, tmp_path_factory):
    """(before.prof, after.prof): PROGRAM at 250 Hz, then with changing() doing twice the work."""
    directory = tmp_path_factory.mktemp("compare")
    script = write_script(directory, "prog.py", PROGRAM)
    for name, extra in (("before.prof", []), ("after.prof", ["more"])):
        result = run_yep(["-f", "250", "-o", name, str(script), *extra], cwd=directory,
                         env={"PYTHONPATH": str(hotcold)})
        assert result.returncode == 0, result.stderr
    return directory / "before.prof", directory / "after.prof"


def noise(base):
    """What two runs of unchanged code may differ by at 250 Hz on a busy
    machine (CPU time per loop varies with what runs beside it): 20% and two
    samples."""
    return 0.2 * base + 0.008


def test_the_function_made_twice_as_slow_tops_the_text_diff(two_runs):
    before, after = two_runs
    text = report(after, "--base", before, "--nodecount", "0", cwd=after.parent)
    rows, (new_total, base_total, change) = diff_rows(text)
    # Base and new are each run's own figures, function by function.
    own_before, own_after = own_rows(report(before, "--nodecount", "0", cwd=after.parent)), own_rows(
        report(after, "--nodecount", "0", cwd=after.parent))
    for key, (base, new, delta, share) in rows.items():
        assert base == own_before.get(key, (0.0,))[0] and new == own_after.get(key, (0.0,))[0], (key, text)
        assert delta == pytest.approx(new - base, abs=0.0011)
        assert share == pytest.approx(100 * delta / base_total, abs=0.1)  # (of figures rounded to the ms)
    assert change == pytest.approx(new_total - base_total, abs=0.0011)
    # The function made to do twice the work is on top, and now takes twice
    # its base time (at the speed the steady loop shows this run had: a busy
    # machine runs a whole run slower).
    top = next(iter(rows))
    assert top == "changing prog.py:17", text
    base, new, delta, _ = rows[top]
    speed = rows["steady prog.py:10"][1] / rows["steady prog.py:10"][0]
    assert new == pytest.approx(2 * base * speed, rel=0.15), text
    # Nothing that ran the same in both shows a change above noise.
    for key in ("steady prog.py:10", "burn_cold"):
        name = next(k for k in rows if k == key or k.startswith(key + " "))
        base, new, delta, _ = rows[name]
        assert abs(delta) <= noise(base), (name, text)
    for name, (base, new, delta, _) in rows.items():
        if base and new and name != top:
            assert abs(delta) <= max(noise(base), 0.012), (name, text)
    assert "# base: " + str(before) + " subtracted" in text


def test_sort_cum_compares_cum_and_yep_convert_agrees(two_runs):
    before, after = two_runs
    text = report(after, "--base", before, "--nodecount", "0", "--sort", "cum", cwd=after.parent)
    rows, (new_total, base_total, _) = diff_rows(text)
    assert "Rows: cum of each function" in text
    # Each function's base and new are its cum in each run's own report.
    own_before, own_after = (own_rows(report(p, "--nodecount", "0", cwd=after.parent)) for p in (before, after))
    for key, (base, new, _, _) in rows.items():
        assert base == own_before.get(key, (0, 0))[1] and new == own_after.get(key, (0, 0))[1], (key, text)
    assert rows["<module> prog.py:1"][0] >= 0.95 * base_total
    assert rows["steady_native prog.py:24"][2] == pytest.approx(0, abs=noise(rows["steady_native prog.py:24"][0]))
    yep_convert = Path(sys.executable).parent / "yep-convert"
    mine = subprocess.run([str(yep_convert), "--base", str(before), "--nodecount", "0", "--sort", "cum", str(after)],
                          capture_output=True, text=True, timeout=120, cwd=after.parent)
    assert mine.returncode == 0 and mine.stdout == text, mine.stderr


def test_normalize_scales_the_base_to_the_new_total(two_runs):
    before, after = two_runs
    plain, _ = diff_rows(report(after, "--base", before, "--nodecount", "0", cwd=after.parent))
    text = report(after, "--base", before, "--normalize", "--nodecount", "0", cwd=after.parent)
    rows, (new_total, base_total, change) = diff_rows(text)
    _, (_, unscaled_total, _) = diff_rows(report(after, "--base", before, cwd=after.parent))
    scale = new_total / unscaled_total
    assert base_total == pytest.approx(new_total, abs=0.0011) and change == pytest.approx(0, abs=0.0011)
    assert re.search(rf"^# base: {re.escape(str(before))} subtracted \(scaled by ([\d.]+) to this profile's total\)$",
                     text, re.M)
    for name, (base, new, _, _) in rows.items():
        assert base == pytest.approx(plain[name][0] * scale, abs=0.0011 * scale + 0.0005), name
    # changing() took 1/3 of the base run and 1/2 of this one: its share grew; steady's shrank.
    assert rows["changing prog.py:17"][2] > 0 > rows["steady prog.py:10"][2]
    result = run_yep(["report", str(after), "--normalize"], cwd=after.parent)
    assert result.returncode == 2 and result.stderr == (
        "yep: error: --normalize scales the base profile: give one with --base OLD\n")


def test_native_only_profiles_compare_by_symbol(hotcold, tmp_path):
    """--native profiles (no Python frames): the C function given twice the work tops the diff."""
    script = write_script(tmp_path, "native.py", """
        import sys, hotcold
        if len(sys.argv) > 1:
            import json, decimal
        hotcold.burn_hot(100_000_000)
        hotcold.burn_cold(300_000_000 * (2 if len(sys.argv) > 1 else 1))
    """)
    for name, extra in (("before.prof", []), ("after.prof", ["more"])):
        result = run_yep(["--native", "-f", "250", "-o", name, str(script), *extra], cwd=tmp_path,
                         env={"PYTHONPATH": str(hotcold)})
        assert result.returncode == 0, result.stderr
    text = report("after.prof", "--base", "before.prof", "--nodecount", "0", cwd=tmp_path)
    rows, _ = diff_rows(text)
    top = next(iter(rows))
    assert top.startswith("burn_cold "), text
    hot = next(key for key in rows if key.startswith("burn_hot "))
    speed = rows[hot][1] / rows[hot][0]
    assert abs(rows[hot][2]) <= noise(rows[hot][0]), text
    assert rows[top][1] == pytest.approx(2 * rows[top][0] * speed, rel=0.15), text


def test_from_python_load_with_a_base_and_compare_are_the_report(two_runs):
    import yep

    before, after = two_runs
    os.chdir(after.parent)
    text = report(after.name, "--base", before.name, "--nodecount", "0", cwd=after.parent)
    assert yep.load(after.name, base=before.name).text(nodecount=0) == text
    compared = yep.load(after.name).compare(yep.load(before.name))
    assert compared.is_diff and not yep.load(after.name).is_diff
    assert compared.text(nodecount=0) == text
    assert yep.load(after.name).compare(yep.load(before.name), normalize=True).text(nodecount=0) == report(
        after.name, "--base", before.name, "--normalize", "--nodecount", "0", cwd=after.parent)
    with pytest.raises(yep.YepError, match="compare needs a yep.Profile"):
        yep.load(after.name).compare(before.name)
    with pytest.raises(yep.YepError, match="normalize scales a base profile"):
        yep.load(after.name, normalize=True)


def test_heap_diff_shows_the_extra_allocation_exactly(allocs, tmp_path):
    script = write_script(tmp_path, "keep.py", """
        import sys
        import allocs

        def kept():
            allocs.alloc_big()  # 64 MiB, in both runs

        def extra():
            allocs.leak(3)  # 3 MiB, the second run only

        kept()
        if len(sys.argv) > 1:
            import json, decimal
            extra()
    """)
    for prefix, extra in (("base", []), ("new", ["more"])):
        result = run_yep(["--heap", "-o", prefix, str(script), *extra], cwd=tmp_path, env={"PYTHONPATH": str(allocs)})
        assert result.returncode == 0, result.stderr
    base, new = (sorted(tmp_path.glob(f"{prefix}.*.heap"))[-1] for prefix in ("base", "new"))
    text = report(new, "--base", base, "--nodecount", "0", cwd=tmp_path)
    lines = text.splitlines()
    rows = {m.group(5): m.groups() for m in map(DIFF_ROW.match, lines[lines.index(DIFF_HEADER) + 1:])}
    assert next(iter(rows)) == "leak_impl", text
    assert rows["leak_impl"][:4] == ("0", "3.00MiB", "+3.00MiB", rows["leak_impl"][3]), text
    assert rows["alloc_big_impl"][:3] == ("64.00MiB", "64.00MiB", "0"), text
    # Small changes are printed in a unit that shows them, never as -0.00MiB.
    assert not re.search(r"[-+]?0\.00[MG]iB", text), text
    cum = report(new, "--base", base, "--nodecount", "0", "--sort", "cum", cwd=tmp_path).splitlines()
    extra_row = next(line for line in cum if " extra " in line).split()
    assert extra_row[:3] == ["0", "3.00MiB", "+3.00MiB"], cum


SHARED_LIBRARY = """
long spin(long n) {
    volatile long x = 0;
    for (long i = 0; i < n; ++i) x += i & 7;
    return x;
}
"""


@pytest.mark.parametrize("build", ["stripped", "debug"])
def test_one_function_in_two_copies_of_a_library_stays_two_functions(tmp_path, build):
    """numpy and scipy each bundle OpenBLAS (stripped, names with a hash): the
    same function in two objects is two rows, each filed under its own
    library, with its own samples. Built with debug information, both name
    one source file: pstats' entry adds the object to it."""
    source = tmp_path / "work.c"
    source.write_text(SHARED_LIBRARY)
    for name in ("libwork-a1b2.so", "libwork-c3d4.so"):
        subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-s" if build == "stripped" else "-g", "-o",
                        str(tmp_path / name), str(source)], check=True)
    script = write_script(tmp_path, "two.py", """
        import ctypes
        a = ctypes.CDLL("./libwork-a1b2.so")
        b = ctypes.CDLL("./libwork-c3d4.so")
        a.spin.argtypes = b.spin.argtypes = [ctypes.c_long]
        a.spin(3_000_000_000)
        b.spin(1_000_000_000)
    """)
    result = run_yep(["-f", "250", "-o", "two.prof", str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = run_yep(["report", "two.prof", "--format", "pstats", "-o", "two.pstats"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    stats = pstats.Stats(str(tmp_path / "two.pstats")).stats
    spins = {os.path.basename(file): entry[2] for (file, _, name), entry in stats.items() if name == "spin"}
    objects = {"libwork-a1b2.so", "libwork-c3d4.so"}
    assert set(spins) == (objects if build == "stripped" else {f"work.c ({o})" for o in objects}), stats.keys()
    spins = {key.removeprefix("work.c (").rstrip(")"): value for key, value in spins.items()}
    assert spins["libwork-a1b2.so"] / spins["libwork-c3d4.so"] == pytest.approx(3, rel=0.15), spins
    # The text report has a row for each, as the merged and compared reports do.
    text = report("two.prof", "--nodecount", "0", cwd=tmp_path)
    assert sum(1 for line in text.splitlines() if "spin" in line.split()[5:6]) == 2, text
