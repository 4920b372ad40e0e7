"""Every output format of one profile of the hotcold fixture, read by the
real clients (pstats, gprof2dot, snakeviz's own code, callgrind_annotate),
checked against known truths (3:1 split, callers, the hot loop line), and
the totals identical across formats."""
import os
import pstats
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import yep
from conftest import build_extension, definition_line, marked_line, needs, needs_program, parse_report, require, require_program, run_yep, write_script
from proto_reader import sample_totals
from test_cpu_profile import WORKLOAD

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def prof(hotcold, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outputs")
    script = write_script(tmp, "work.py", WORKLOAD.format(rounds=100))
    result = run_yep(["-f", "250", "-o", "work.prof", str(script)], cwd=tmp, env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    return tmp / "work.prof"


def report(prof, *args):
    result = run_yep(["report", str(prof), *args], cwd=prof.parent)
    assert result.returncode == 0, result.stderr
    return result


def stats_entry(stats, name):
    matches = [(k, v) for k, v in stats.stats.items() if k[2] == name]
    assert len(matches) == 1, [k for k in stats.stats if name in k[2]]
    return matches[0]


def test_pstats_loads_with_split_callers_and_definitions(prof, hotcold):
    out = prof.parent / "work.pstats"
    report(prof, "--format", "pstats", "-o", str(out))
    stats = pstats.Stats(str(out))
    (hot_file, hot_line, _), (cc, nc, hot_tt, hot_ct, hot_callers) = stats_entry(stats, "burn_hot")
    (_, cold_line, _), (_, _, cold_tt, _, cold_callers) = stats_entry(stats, "burn_cold")
    assert hot_tt / (hot_tt + cold_tt) == pytest.approx(0.75, abs=0.04)
    assert hot_ct == pytest.approx(hot_tt, rel=0.02)  # burn_hot calls nothing
    assert hot_file.endswith("hotcold.c")
    assert hot_line == definition_line(hotcold / "hotcold.c", "burn_hot")
    assert cold_line == definition_line(hotcold / "hotcold.c", "burn_cold")
    # The only caller of burn_hot is its Python wrapper, with all its time.
    assert [k[2] for k in hot_callers] == ["py_burn_hot"]
    assert list(hot_callers.values())[0][3] == pytest.approx(hot_ct)
    assert [k[2] for k in cold_callers] == ["py_burn_cold"]
    # ncalls = samples with the function on the stack; times agree with them.
    total = yep.load(prof)
    assert sum(v[2] for v in stats.stats.values()) == pytest.approx(total.total_seconds, rel=1e-9)
    assert stats.total_tt == pytest.approx(total.total_seconds, rel=1e-9)
    assert nc == cc and nc == pytest.approx(hot_ct / (total.total_seconds / total.samples), rel=0.01)
    # The real printing functions work on it.
    stats.sort_stats("tottime").print_stats(5)
    stats.print_callers("burn_hot")
    stats.print_callees("py_burn_hot")


def test_pstats_inclusive_time_is_not_inflated_by_recursion(tmp_path):
    script = write_script(tmp_path, "rec.py", """
        import sys
        sys.setrecursionlimit(10000)
        def down(n):
            if n == 0:
                return sum(i * i for i in range(20_000))
            return down(n - 1)
        for _ in range(60):
            down(200)
    """)
    assert run_yep(["-f", "250", "-o", "rec.prof", str(script)], cwd=tmp_path).returncode == 0
    stats = yep.load(tmp_path / "rec.prof").stats()
    total = sum(v[2] for v in stats.stats.values())
    for key, (cc, nc, tt, ct, callers) in stats.stats.items():
        assert ct <= total * (1 + 1e-9), key  # the eval loop recurses 200 deep
        for caller, (_, _, ctt, cct) in callers.items():
            assert cct <= ct * (1 + 1e-9)


def test_gprof2dot_and_snakeviz_read_the_pstats(prof, tmp_path):
    require_program(BIN / "gprof2dot", "gprof2dot")
    require("snakeviz")
    out = tmp_path / "w.pstats"
    yep.load(prof).save(out)
    dot = subprocess.run([str(BIN / "gprof2dot"), "-f", "pstats", str(out)], capture_output=True, text=True)
    assert dot.returncode == 0, dot.stderr
    assert dot.stdout.startswith("digraph") and "burn_hot" in dot.stdout and "py_burn_hot" in dot.stdout
    from snakeviz.stats import json_stats, table_rows

    stats = pstats.Stats(str(out))
    rows = table_rows(stats)
    assert any("burn_hot" in str(row) for row in rows)
    assert any(key.endswith("(burn_hot)") for key in json_stats(stats))


@needs_program("callgrind_annotate")
def test_callgrind_annotate_names_both_with_lines(prof, hotcold, tmp_path):
    out = tmp_path / "callgrind.out.work"
    report(prof, "--format", "callgrind", "-o", str(out))
    text = out.read_text()
    assert text.startswith("# callgrind format\n")
    ann = subprocess.run(["callgrind_annotate", "--inclusive=no", str(out)], capture_output=True, text=True)
    assert ann.returncode == 0, ann.stderr
    # "378 (75.30%) 1,509,732,000 (75.30%)  .../hotcold.c:burn_hot [.../hotcold...so]"
    rows = {m.group(3): int(m.group(1).replace(",", "")) for m in re.finditer(
        r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+[\d,]+\s+\(\s*[\d.]+%\)\s+(\S+?):(\S+)", ann.stdout, re.M)}
    assert rows["burn_hot"] / (rows["burn_hot"] + rows["burn_cold"]) == pytest.approx(0.75, abs=0.04), ann.stdout
    # Self cost sits on the hot loop lines of the source (positions: line).
    hot_loop = marked_line(hotcold / "hotcold.c", "SPIN(3 * n, x)")
    self_costs = callgrind_self_costs(text)["burn_hot"]
    assert max(self_costs, key=self_costs.get) == hot_loop
    # Inclusive view: the wrapper includes its callee through the call edge.
    inc = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(out)], capture_output=True, text=True)
    assert re.search(r"py_burn_hot", inc.stdout), inc.stdout


def callgrind_self_costs(text):
    """{function: {line: first event}} of self costs, resolving compressed
    names ("fn=(3) name" once, then "fn=(3)"; a name may first appear in a
    caller's "cfn=") and skipping the inclusive cost line after each calls=."""
    names, costs = {}, {}
    current, after_calls = None, False
    for line in text.splitlines():
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3)
            if m.group(1) == "fn":
                current = m.group(2)
            continue
        if line.startswith("calls="):
            after_calls = True
            continue
        cost = re.match(r"^(\d+) (\d+)", line)
        if cost and current is not None:
            if not after_calls:
                per_line = costs.setdefault(current, {})
                per_line[int(cost.group(1))] = per_line.get(int(cost.group(1)), 0) + int(cost.group(2))
            after_calls = False
    return {names[i]: c for i, c in costs.items()}


def test_source_listing_puts_the_time_on_the_hot_loop_line(prof, hotcold):
    out = report(prof, "--format", "source", "--list", "^burn_hot$").stdout
    hot_loop = marked_line(hotcold / "hotcold.c", "SPIN(3 * n, x)")
    assert "ROUTINE ======================== burn_hot in " in out
    assert out.count("ROUTINE") == 1
    rows = {int(m.group(3)): (m.group(1), m.group(2), m.group(4))
            for m in re.finditer(r"^\s*(\S+)\s+(\S+)\s+(\d+): (.*)$", out, re.M)}
    flat = {n: float(f[:-1]) for n, (f, _, _) in rows.items() if f != "."}
    assert max(flat, key=flat.get) == hot_loop
    assert flat[hot_loop] > 0.9 * sum(flat.values())
    assert "SPIN(3 * n, x)" in rows[hot_loop][2]
    # Default selection: the top functions by flat.
    top = report(prof, "--format", "source").stdout
    assert "ROUTINE ======================== burn_hot" in top and "burn_cold" in top


def test_source_of_a_missing_file_says_so(prof, hotcold, tmp_path):
    moved = tmp_path / "moved.c"
    shutil.move(hotcold / "hotcold.c", moved)
    try:
        out = report(prof, "--format", "source", "--list", "^burn_hot$").stdout
    finally:
        shutil.move(moved, hotcold / "hotcold.c")
    assert "source file not found" in out and "hotcold.c" in out


def test_text_options_focus_ignore_cum_lines(prof, hotcold):
    rows, total = parse_report(report(prof, "--nodecount", "0", "--focus", "burn_cold").stdout)
    assert "burn_cold" in rows and "burn_hot" not in rows
    rows, _ = parse_report(report(prof, "--nodecount", "0", "--ignore", "^burn_cold$").stdout)
    assert "burn_hot" in rows and "burn_cold" not in rows
    cum = report(prof, "--sort", "cum", "--nodecount", "5").stdout
    cums = [float(m.group(1)) for m in re.finditer(r"^\s*[\d.]+s\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)s", cum, re.M)]
    assert cums == sorted(cums, reverse=True) and len(cums) == 5
    # Cum times overlap, so the dropped line gives the largest dropped cum
    # (the 4th row of the full list under --nodecount 3), never a sum
    # beyond the total (it once said 42 s of a 3 s profile).
    all_cums = [float(m.group(1)) for m in re.finditer(r"^\s*[\d.]+s\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)s",
                                                       report(prof, "--sort", "cum", "--nodecount", "0").stdout, re.M)]
    top3_cum = report(prof, "--sort", "cum", "--nodecount", "3").stdout
    most = float(re.search(r"dropped \d+ \(each at most ([\d.]+)s cum\)", top3_cum).group(1))
    assert len(all_cums) > 4 and most == pytest.approx(all_cums[3], abs=0.0005) and most <= all_cums[2]
    # sum% runs over flat%, and the "dropped" line holds exactly the flat time not shown.
    full_rows, total = parse_report(report(prof, "--nodecount", "0").stdout)
    top3 = report(prof, "--nodecount", "3").stdout
    pcts = [(float(m.group(1)), float(m.group(2))) for m in
            re.finditer(r"^\s*[\d.]+s\s+([\d.]+)%\s+([\d.]+)%", top3, re.M)]
    running = 0.0
    for flat_pct, sum_pct in pcts:
        running += flat_pct
        assert sum_pct == pytest.approx(running, abs=0.02)
    shown = sum(flat for flat, _, _ in list(parse_report(top3)[0].values()))
    dropped = float(re.search(r"dropped \d+ \(([\d.]+)s flat\)", top3).group(1))
    assert shown + dropped == pytest.approx(total, abs=0.005)
    assert len(full_rows) > 3
    lines = report(prof, "--lines", "--nodecount", "0").stdout
    hot_loop = marked_line(hotcold / "hotcold.c", "SPIN(3 * n, x)")
    assert re.search(rf"burn_hot\s+hotcold\.c:{hot_loop}$", lines, re.M), lines
    bad = run_yep(["report", str(prof), "--focus", "("], cwd=prof.parent)
    assert bad.returncode == 2 and "bad --focus regular expression" in bad.stderr


def test_lines_in_pstats(prof, hotcold, tmp_path):
    hot_loop = marked_line(hotcold / "hotcold.c", "SPIN(3 * n, x)")
    stats = yep.load(prof).stats(lines=True)
    keys = [k for k in stats.stats if k[2] == "burn_hot"]
    assert (max(keys, key=lambda k: stats.stats[k][2]))[1] == hot_loop


def test_totals_are_identical_across_formats(prof, tmp_path):
    p = yep.load(prof)
    samples, seconds = p.samples, p.total_seconds
    nanos = p._native.total(1)
    _, text_total = parse_report(p.text())
    assert text_total == pytest.approx(seconds, abs=0.0005)
    assert sum(v[2] for v in p.stats().stats.values()) == pytest.approx(seconds, rel=1e-12)
    summary = re.search(r"^summary: (\d+) (\d+)$", p.render("callgrind"), re.M)
    assert (int(summary.group(1)), int(summary.group(2))) == (samples, nanos)
    assert sum(int(line.rsplit(" ", 1)[1]) for line in p.folded().splitlines()) == nanos
    assert sample_totals(p.render("proto")) == [samples, nanos]
    assert f"Total: {seconds:.3f}s" in p.source()
    html = p.render("html")
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")


def test_load_api_and_errors(prof, tmp_path):
    p = yep.load(prof)
    assert p.sample_types == [("samples", "count"), ("cpu", "nanoseconds")]
    assert p.samples > 0 and p.total_seconds > 0
    assert "CPU-time timer" in p.comments[0]
    p.save(tmp_path / "x.callgrind")
    p.save(tmp_path / "x.pb.gz")
    p.save(tmp_path / "x.html")
    assert (tmp_path / "x.callgrind").read_text().startswith("# callgrind format")
    assert (tmp_path / "x.pb.gz").read_bytes()[:2] == b"\x1f\x8b"
    with pytest.raises(yep.YepError, match="cannot tell the format"):
        p.save(tmp_path / "x.unknown")
    with pytest.raises(yep.YepError, match="unknown format 'bogus'"):
        p.render("bogus")
    with pytest.raises(yep.YepError, match=r"has sample types 0 to 1 \(samples, cpu\), not 7"):
        p.render("text", sample_index=7)
    with pytest.raises(yep.YepError, match="no such profile file"):
        yep.load(tmp_path / "missing.prof")


def test_report_cli_writes_binary_formats_to_files(prof):
    result = report(prof, "--format", "proto")
    assert result.stdout == "" and f"yep: wrote {prof}.pb.gz" in result.stderr
    assert Path(f"{prof}.pb.gz").read_bytes()[:2] == b"\x1f\x8b"
    folded = report(prof, "--format", "folded").stdout
    assert re.search(r"^\S.*;burn_hot \d+$", folded, re.M)


def test_yep_convert_offers_the_same_formats(prof, tmp_path):
    for fmt in ("text", "source", "folded", "callgrind"):
        ours = subprocess.run([str(BIN / "yep-convert"), "--format", fmt, str(prof)], capture_output=True)
        assert ours.returncode == 0, ours.stderr
        assert ours.stdout == yep.load(prof).render(fmt, nodecount=30 if fmt == "text" else 0).encode()


def test_run_flags_callgrind_lines_and_formats(hotcold, tmp_path):
    script = write_script(tmp_path, "w.py", WORKLOAD.format(rounds=20))
    env = {"PYTHONPATH": str(hotcold)}
    # YEP's -c: the output file is in callgrind format.
    result = run_yep(["-c", str(script)], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "w.py.prof").read_text().startswith("# callgrind format")
    assert not list(tmp_path.glob("*.yep-raw"))
    # -l with -v: entries are functions at file:line.
    hot_loop = marked_line(hotcold / "hotcold.c", "SPIN(3 * n, x)")
    result = run_yep(["-v", "-l", "-o", "l.prof", str(script)], cwd=tmp_path, env=env)
    assert re.search(rf"burn_hot\s+hotcold\.c:{hot_loop}$", result.stdout, re.M), result.stdout
    # --format: more outputs next to the profile.
    result = run_yep(["--format", "pstats,html,folded", "-o", "f.prof", str(script)], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    for suffix in (".pstats", ".html", ".folded"):
        assert (tmp_path / f"f.prof{suffix}").stat().st_size > 0
    assert pstats.Stats(str(tmp_path / "f.prof.pstats")).total_tt > 0


def test_an_empty_profile_says_why_and_opens_in_every_client(tmp_path):
    # At 1 Hz a run this short takes no sample. The text says what leaves a
    # profile empty, and every format still opens in its client: pstats
    # refuses an empty dict (TypeError), so the pstats file has one entry
    # that says "no samples", with zeros.
    script = write_script(tmp_path, "short.py", "x = sum(range(1000))\n")
    result = run_yep(["-f", "1", "-o", "short.prof", str(script)], cwd=tmp_path)
    assert result.returncode == 0 and ": 0 samples" in result.stderr, result.stderr
    text = report(tmp_path / "short.prof").stdout
    assert "Total: 0.000s in 0 samples" in text
    assert "No samples: the program ran less CPU (or wall) time than one sampling period (1.000s)" in text
    for fmt in ("pstats", "callgrind", "proto", "folded", "html", "source"):
        report(tmp_path / "short.prof", "--format", fmt, "-o", str(tmp_path / f"short.{fmt}"))
    stats = pstats.Stats(str(tmp_path / "short.pstats"))
    assert stats.total_tt == 0 and [k[2] for k in stats.stats] == ["<no samples>"]
    assert (tmp_path / "short.folded").read_text() == ""
    if shutil.which("callgrind_annotate"):
        ann = subprocess.run(["callgrind_annotate", str(tmp_path / "short.callgrind")], capture_output=True, text=True)
        assert ann.returncode == 0, ann.stderr
    if shutil.which("go"):
        top = subprocess.run(["go", "tool", "pprof", "-top", str(tmp_path / "short.proto")], capture_output=True,
                             text=True, env=dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "go")), timeout=120)
        assert top.returncode == 0 and "Total samples = 0" in top.stdout, top.stderr


def test_yep_convert_takes_every_option_yep_report_takes(prof, tmp_path):
    # The README says the two share their options: each of yep report's long
    # options (read from its -h) is yep-convert's too, with the same output.
    help_text = run_yep(["report", "-h"], cwd=tmp_path).stdout
    # The options themselves: where a line of the list starts, not in prose.
    report_options = set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]+)", help_text, re.M)) - {"--help"}
    assert {"--format", "--binary-path", "--processes", "--object-addresses"} <= report_options, help_text
    convert_usage = subprocess.run([str(BIN / "yep-convert"), "-h"], capture_output=True, text=True).stdout
    assert report_options <= set(re.findall(r"(--[a-z][a-z-]+)", convert_usage)), report_options
    script = write_script(tmp_path, "alloc.py", "import numpy as np\nkeep = [np.ones(1 << 18) for _ in range(4)]\n")
    assert run_yep(["--heap", "-o", "mem", str(script)], cwd=tmp_path).returncode == 0
    heap = sorted(tmp_path.glob("mem.*.heap"))[-1]
    for profile, options in [(prof, ["--threads"]), (prof, ["--interpreter", "--nodecount", "0"]),
                             (prof, ["--sort", "cum", "--lines", "--nodecount", "4"]), (prof, ["--focus", "burn"]),
                             (prof, ["--format", "folded", "--threads"]), (heap, ["--sample-index", "alloc_space"]),
                             (heap, ["--sample-index", "2"])]:
        ours = run_yep(["report", str(profile), *options], cwd=tmp_path)
        convert = subprocess.run([str(BIN / "yep-convert"), *options, str(profile)], capture_output=True, text=True)
        assert ours.returncode == 0 and convert.returncode == 0, (options, ours.stderr, convert.stderr)
        assert convert.stdout == ours.stdout, options
    bad = subprocess.run([str(BIN / "yep-convert"), "--sample-index", "nope", str(heap)], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "has no sample type 'nope'" in bad.stderr


@needs_program("callgrind_annotate")
@pytest.mark.parametrize("mode", [[], ["--native"]])
def test_callgrind_inclusive_costs_of_recursion_stay_within_the_total(tmp_path, mode):
    # rec() recurses through a C function (sorted's key), so with native
    # stacks the eval loop recurses too. A client's inclusive cost is self
    # plus calls: each sample must count once per function, never once per
    # level (rec once read 600%).
    script = write_script(tmp_path, "rec.py", """
        def rec(n):
            if n == 0:
                return sum(i * i for i in range(100_000))
            return sorted([n], key=lambda x: rec(n - 1))[0]

        for _ in range(40):
            rec(6)
    """)
    result = run_yep([*mode, "-f", "250", "-o", "rec.prof", str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report(tmp_path / "rec.prof", "--format", "callgrind", "-o", str(tmp_path / "rec.callgrind"))
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(tmp_path / "rec.callgrind")],
                         capture_output=True, text=True)
    assert ann.returncode == 0, ann.stderr
    shares = {m.group(2): float(m.group(1)) for m in re.finditer(
        r"^\s*[\d,]+\s+\(\s*([\d.]+)%\)\s+[\d,]+\s+\(\s*[\d.]+%\)\s+\S+?:(\S+)", ann.stdout, re.M)}
    assert shares and max(shares.values()) <= 100.0, ann.stdout
    top = "rec" if not mode else "_PyEval_EvalFrameDefault"
    assert shares[top] >= 90.0, ann.stdout


def test_object_files_missing_here_are_named_and_found_with_binary_path(hotcold, tmp_path):
    # A profile read where its extension is gone (another machine, a clean
    # build): the report names the file and how much goes through it, and
    # --binary-path (or YEP_BINARY_PATH) finds a copy, by its path under the
    # directory or by its name.
    ext = tmp_path / "ext"
    ext.mkdir()
    so = next(hotcold.glob("hotcold*.so"))
    shutil.copy(so, ext / so.name)
    script = write_script(tmp_path, "work.py", WORKLOAD.format(rounds=60))
    result = run_yep(["-f", "250", "-o", "work.prof", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(ext)})
    assert result.returncode == 0, result.stderr
    full, _ = parse_report(report(tmp_path / "work.prof", "--nodecount", "0").stdout)
    elsewhere = tmp_path / "copies"
    elsewhere.mkdir()
    shutil.move(ext / so.name, elsewhere / so.name)

    text = report(tmp_path / "work.prof", "--nodecount", "0").stdout
    note = re.search(rf"^Not found here: {re.escape(str(ext / so.name))} \(([\d.]+)% of the profile goes through it; "
                     r"its functions are named by address\): point yep at a copy with --binary-path DIR or "
                     r"YEP_BINARY_PATH=DIR$", text, re.M)
    assert "burn_hot" not in text and f"{so.name}+0x" in text
    # The truth: the share of samples whose stack holds one of the
    # extension's functions, once the copy is found.
    os.environ["YEP_BINARY_PATH"] = str(elsewhere)
    try:
        folded = [line.rsplit(" ", 1) for line in yep.load(tmp_path / "work.prof").folded().splitlines()]
    finally:
        del os.environ["YEP_BINARY_PATH"]
    through = sum(int(v) for stack, v in folded if re.search(r"(^|;)(py_)?burn_(hot|cold)(;|$)", stack))
    assert note and float(note.group(1)) == pytest.approx(100 * through / sum(int(v) for _, v in folded),
                                                           abs=0.006), text

    tree = tmp_path / "tree"  # a copy of the other machine's tree: DIR/<the file's path>
    (tree / str(ext).lstrip("/")).mkdir(parents=True)
    shutil.copy(elsewhere / so.name, tree / str(ext).lstrip("/") / so.name)
    for args, env in ((["--binary-path", str(elsewhere)], {}), ([], {"YEP_BINARY_PATH": str(elsewhere)}),
                      (["--binary-path", f"/nonexistent:{tree}"], {})):
        found = run_yep(["report", "--nodecount", "0", *args, str(tmp_path / "work.prof")], cwd=tmp_path, env=env)
        assert found.returncode == 0 and "Not found here" not in found.stdout, found.stdout
        assert parse_report(found.stdout)[0]["burn_hot"] == full["burn_hot"]
        convert = subprocess.run([str(BIN / "yep-convert"), "--nodecount", "0", *args, str(tmp_path / "work.prof")],
                                 capture_output=True, text=True, env=dict(os.environ, **env))
        assert convert.stdout == found.stdout


def build_id(path):
    note = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True, check=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", note).group(1)


@pytest.mark.parametrize("mode", [[], ["--native"], ["--heap"]])
def test_an_object_rebuilt_since_the_run_is_named_not_misread(hotcold, allocs, tmp_path, mode):
    # The run's copy of an extension is rebuilt in place with other code
    # before the report (a rebuilt wheel, a `make` in between): every capture
    # records build ids, so the report tells the new file from the run's,
    # names its functions by address rather than by the new file's symbols,
    # and --binary-path finds the run's copy by its build id.
    fixture, name = (allocs, "allocs") if mode == ["--heap"] else (hotcold, "hotcold")
    ext = tmp_path / "ext"
    ext.mkdir()
    source = ext / f"{name}.c"
    shutil.copy(fixture / f"{name}.c", source)
    so = build_extension(source, ext)
    run_id = build_id(so)
    body = ("import allocs\nallocs.alloc_big()\nallocs.alloc_churn()\n" if name == "allocs"
            else WORKLOAD.format(rounds=60))
    script = write_script(tmp_path, "work.py", body)
    rate = [] if mode == ["--heap"] else ["-f", "250"]
    result = run_yep([*mode, *rate, "-o", "work.prof", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(ext)})
    assert result.returncode == 0, result.stderr
    # The heap profile's last dump (its .stacks file beside it is not a profile).
    profile = sorted(tmp_path.glob("work.prof*.heap"))[-1] if mode == ["--heap"] else tmp_path / "work.prof"
    assert re.search(rf"^# yep-build-id:\t[0-9a-f]+\t{run_id}$", profile.read_text(errors="replace"), re.M)
    full, _ = parse_report(report(profile, "--nodecount", "0").stdout)

    kept = tmp_path / "run-copy"
    kept.mkdir()
    shutil.copy(so, kept / so.name)
    # Other code first in the file: the run's addresses fall elsewhere now.
    source.write_text("__attribute__((used)) double padding(double x) {\n" +
                      "".join(f"    x = x * 1.0001 + {i};\n" for i in range(2000)) + "    return x;\n}\n" +
                      source.read_text())
    build_extension(source, ext)
    assert build_id(so) != run_id

    text = report(profile, "--nodecount", "0").stdout
    note = re.search(rf"^Changed here since the run: {re.escape(str(so))} \(another build than the profile's, by "
                     r"build id; ([\d.]+)% of the profile goes through it; its functions are named by address\): "
                     r"point yep at the run's copy with --binary-path DIR or YEP_BINARY_PATH=DIR$", text, re.M)
    # The truth: the share of the value whose stacks hold one of the
    # extension's own functions, read with the run's copy.
    defined = set(re.findall(r"^[A-Za-z][\w \*]*?\b(\w+)\(", (fixture / f"{name}.c").read_text(), re.M))
    os.environ["YEP_BINARY_PATH"] = str(kept)
    try:
        folded = [line.rsplit(" ", 1) for line in yep.load(profile).folded().splitlines()]
    finally:
        del os.environ["YEP_BINARY_PATH"]
    through = sum(int(v) for stack, v in folded if defined & set(stack.split(";")))
    assert note and float(note.group(1)) == pytest.approx(100 * through / sum(int(v) for _, v in folded),
                                                           abs=0.006), text
    assert "padding" not in text and f"{so.name}+0x" in text, text
    found = report(profile, "--nodecount", "0", "--binary-path", str(kept)).stdout
    assert "Changed here" not in found and "padding" not in found, found
    assert parse_report(found)[0] == full


@needs("Cython")
def test_cython_functions_read_as_python_names_them(tmp_path):
    # Cython's C functions carry module, class and function mangled into the
    # symbol (__pyx_f_5cyfix_6Burner_spin); reports show cyfix.Burner.spin,
    # and the proto keeps the C symbol as the function's system name.
    import gzip

    from conftest import build_extension

    (tmp_path / "cyfix.pyx").write_text(
        "cdef class Burner:\n"
        "    cdef double spin(self, long n):\n"
        "        cdef double x = 0\n"
        "        cdef long i\n"
        "        for i in range(n):\n"
        "            x += i * 0.5 + x * 1e-9\n"
        "        return x\n\n"
        "    def run(self, long n):\n"
        "        return self.spin(n)\n\n"
        "def burn(long n):\n"
        "    return Burner().run(n)\n")
    subprocess.run([sys.executable, "-m", "cython", "-3", str(tmp_path / "cyfix.pyx"), "-o", str(tmp_path / "cyfix.c")],
                   check=True, capture_output=True)
    build_extension(tmp_path / "cyfix.c", tmp_path)
    script = write_script(tmp_path, "work.py", "import cyfix\nfor _ in range(20):\n    cyfix.burn(20_000_000)\n")
    result = run_yep(["-f", "250", "-o", "cy.prof", "--format", "proto", str(script)], cwd=tmp_path,
                     env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    rows, total = parse_report(report(tmp_path / "cy.prof", "--nodecount", "0").stdout)
    assert rows["cyfix.Burner.spin"][0] > 0.8 * total, rows
    assert rows["cyfix.Burner.run"][1] >= rows["cyfix.Burner.spin"][1] and "cyfix.burn" in rows, rows
    assert not [name for name in rows if name.startswith("__pyx_")], rows
    assert b"__pyx_f_5cyfix_6Burner_spin" in gzip.decompress((tmp_path / "cy.prof.pb.gz").read_bytes())
