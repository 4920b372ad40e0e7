"""yep's pprof protobuf output (converters/proto_writer) read by the real
client, `go tool pprof`: profile the hotcold extension, convert the .prof
with `yep report --format proto`, and check that pprof
finds burn_hot and burn_cold by name at 3:1, agrees with yep's own report on
the total seconds, lists burn_hot's source lines from hotcold.c, shows
inlined frames as inlined, keeps our symbols instead of re-symbolizing,
and shows native and Python functions in its web UI's source view and
-disasm with the time where the code spends it."""
import os
import re
import subprocess

import pytest

from conftest import definition_line, marked_line, needs_program, parse_report, run_yep, write_script
from pprof_web import PprofWeb
from proto_reader import fields, profile_messages
from test_cpu_profile import WORKLOAD

pytestmark = needs_program("go")

# Warnings pprof prints when it distrusts or cannot use a profile's symbols.
SYMBOLIZATION_TROUBLE = re.compile(
    r"symboliz|unknown|not available|binary|mismatch|failed|PPROF_BINARY_PATH|warning", re.I)

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "mins": 60.0, "hrs": 3600.0}


def seconds(text):
    """'1612ms' -> 1.612; '0' or '.' -> 0.0."""
    if text in ("0", "."):
        return 0.0
    m = re.fullmatch(r"([\d.]+)(ns|us|µs|ms|s|mins|hrs)", text)
    assert m, f"not a duration: {text!r}"
    return float(m.group(1)) * UNITS[m.group(2)]


def inlined_function_names(pb_gz):
    """Names of functions that some location shows inlined into another
    (every line of a multi-line location but its last, outermost one)."""
    strings, functions, locations = [], {}, []
    for number, _, value in profile_messages(pb_gz.read_bytes()):
        if number == 6:
            strings.append(value.decode())
        elif number == 5:
            f = {n: v for n, _, v in fields(value)}
            functions[f.get(1, 0)] = f.get(2, 0)
        elif number == 4:
            lines = [dict((n, v) for n, _, v in fields(line)).get(1, 0)
                     for n, _, line in fields(value) if n == 4]
            locations.append(lines)
    assert strings and strings[0] == ""
    return {strings[functions[fid]] for lines in locations for fid in lines[:-1]}


# --- fixtures ---------------------------------------------------------------

@pytest.fixture(scope="module")
def converted(hotcold, tmp_path_factory):
    """(out.pb.gz, yep's text report of the same .prof, the hotcold dir)."""
    tmp = tmp_path_factory.mktemp("proto")
    script = write_script(tmp, "work.py", WORKLOAD.format(rounds=100))
    result = run_yep(["-f", "250", "-o", "work.prof", str(script)], cwd=tmp, env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    dump = run_yep(["report", "work.prof", "--format", "proto", "-o", "out.pb.gz"], cwd=tmp)
    assert dump.returncode == 0, dump.stderr
    report = run_yep(["report", "--nodecount", "0", "work.prof"], cwd=tmp)
    assert report.returncode == 0, report.stderr
    return tmp / "out.pb.gz", report.stdout, hotcold


@pytest.fixture(scope="module")
def go_env(tmp_path_factory):
    """The environment go tool pprof runs in: a private HOME and GOCACHE."""
    home = tmp_path_factory.mktemp("gohome")
    env = dict(os.environ, HOME=str(home), GOCACHE=str(home / "gocache"))
    env.pop("PPROF_BINARY_PATH", None)
    return env


@pytest.fixture(scope="module")
def pprof(go_env):
    """Runs `go tool pprof ARGS PROFILE`."""

    def run(*args):
        out = subprocess.run(["go", "tool", "pprof", *map(str, args)], capture_output=True, text=True,
                             timeout=300, env=go_env)
        assert out.returncode == 0, out.stderr
        assert not SYMBOLIZATION_TROUBLE.search(out.stderr), out.stderr
        return out.stdout

    return run


# --- tests ------------------------------------------------------------------

def count(text):
    """A sample count as pprof prints it: '361'; '0' or '.' -> 0."""
    return 0 if text in ("0", ".") else int(text)


def top_rows(text, value=seconds):
    """{name: (flat, cum)} from `go tool pprof -top`, in seconds (or, with
    value=count, in samples for -sample_index=samples)."""
    rows = {}
    for m in re.finditer(r"^\s*(\S+)\s+[\d.]+%\s+[\d.]+%\s+(\S+)\s+[\d.]+%\s+(.+?)\s*$", text, re.M):
        rows[m.group(3)] = (value(m.group(1)), value(m.group(2)))
    return rows


def test_top_names_hot_and_cold_at_3_to_1_and_agrees_on_total(converted, pprof):
    path, report, _ = converted
    out = pprof("-top", "-nodecount=1000", path)
    assert re.search(r"^Type: cpu$", out, re.M), out  # our default_sample_type
    rows = top_rows(out)
    assert "burn_hot" in rows and "burn_cold" in rows, out
    hot, cold = rows["burn_hot"][0], rows["burn_cold"][0]
    assert 0.71 <= hot / (hot + cold) <= 0.79, out
    # Every frame has a name: nothing pprof had to label by address or object.
    assert not [name for name in rows if name.startswith("<unknown>") or re.fullmatch(r"\[.*\]", name)], out

    total = re.search(r"of (\S+) total", out)
    assert total, out
    _, ours = parse_report(report)
    assert ours and ours > 0, report
    assert seconds(total.group(1)) == pytest.approx(ours, rel=0.005), (out, report)


def test_list_shows_burn_hot_source_with_time_on_the_loop(converted, pprof):
    path, _, hotcold = converted
    out = pprof("-list", "^burn_hot$", path)
    source = hotcold / "hotcold.c"
    assert f"ROUTINE ======================== burn_hot in {source}" in out, out
    lines = {}
    for m in re.finditer(r"^\s*(\S+)\s+(\S+)\s+(\d+):(.*)$", out, re.M):
        lines[int(m.group(3))] = (seconds(m.group(1)), m.group(4))
    text = source.read_text().splitlines()
    # The listed lines are hotcold.c's own.
    for number, (_, code) in lines.items():
        assert code.rstrip() == text[number - 1].rstrip(), (number, out)
    definition = definition_line(source, "burn_hot")
    loop = next(i for i, line in enumerate(text, 1) if i > definition and "SPIN(3 * n, x)" in line)
    assert definition in lines, out
    assert loop in lines, out
    # The loop (the SPIN macro) is where burn_hot spends its time.
    routine_flat = sum(flat for flat, _ in lines.values())
    assert lines[loop][0] > 0, out
    assert lines[loop][0] >= 0.9 * routine_flat, out


def test_inlined_frames_are_shown_inlined(converted, pprof):
    # With the interpreter's own frames shown: they carry inlined frames
    # wherever the interpreter has DWARF (pyenv's builds).
    path = converted[0].with_name("interpreter.pb.gz")
    dump = run_yep(["report", "work.prof", "--format", "proto", "--interpreter", "-o", path.name], cwd=path.parent)
    assert dump.returncode == 0, dump.stderr
    inlined = inlined_function_names(path)
    traces = pprof("-traces", path)
    assert "burn_hot" in traces and "burn_cold" in traces, traces
    # Frames are printed "%10s   %s%s": value (first frame only), name, " (inline)".
    shown = {line[13:-len(" (inline)")] for line in traces.splitlines() if line.endswith(" (inline)")}
    if not inlined:
        assert not shown, traces
        pytest.skip("no inlined frames in this profile (no DWARF for the interpreter?)")
    # pprof marks exactly the frames our locations carry as inlined.
    assert shown == inlined, (sorted(shown), sorted(inlined))
    # And -raw shows such a location with its several lines.
    raw = pprof("-raw", path)
    assert re.search(r"^\s+\d+: 0x[0-9a-f]+ M=\d+ \S+ .*\n {10,}\S+ ", raw, re.M), raw


def test_pprof_trusts_our_symbols(converted, pprof):
    path, _, _ = converted
    raw = pprof("-raw", path)
    mappings = raw[raw.index("Mappings"):]
    # (The extension's code mapping: its other mappings hold no locations.)
    ext = re.findall(r"^\d+: \S+ \S*hotcold\S*\.so\b.*$", mappings, re.M)
    assert ext, mappings
    assert any("[FN][FL][LN][IN]" in line for line in ext), mappings
    # pprof re-symbolizes mappings without has_functions etc. silently when
    # it finds the binaries (as here), with its own addr2line, and loses the
    # inlined frames. With the flags set, what it shows must be exactly what
    # it shows when told not to symbolize at all.
    assert pprof("-traces", path) == pprof("-symbolize=none", "-traces", path)


# --- the web UI's source view and -disasm -----------------------------------
# In samples (-sample_index=samples, si=samples): pprof prints counts
# exactly, durations to 3 digits.

# burn_hot (native, a loop on one line: SPIN) and spin (pure Python, a loop
# on two lines), about the same time each.
WEB_WORKLOAD = """
import hotcold

def spin(n):  # pure Python
    total = 0
    for i in range(n):
        total += i * i  # spin-line
    return total

for r in range(20):
    hotcold.burn_hot(3_000_000 + (r * 7919) % 200_000)
    spin(1_000_000)
"""


@pytest.fixture(scope="module")
def web(hotcold, go_env, tmp_path_factory):
    """`go tool pprof -http` serving yep's proto of WEB_WORKLOAD's profile:
    (the server, the proto, the script)."""
    tmp = tmp_path_factory.mktemp("web")
    script = write_script(tmp, "work.py", WEB_WORKLOAD)
    result = run_yep(["-f", "250", "-o", "work.prof", str(script)], cwd=tmp, env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    dump = run_yep(["report", "work.prof", "--format", "proto", "--object-addresses", "-o", "out.pb.gz"], cwd=tmp)
    assert dump.returncode == 0, dump.stderr
    server = PprofWeb(tmp / "out.pb.gz", go_env)
    try:
        yield server, tmp / "out.pb.gz", script
    finally:
        server.close()


def top_samples(pprof, path):
    return top_rows(pprof("-top", "-nodecount=1000", "-sample_index=samples", path), value=count)


def shown(server, function, source):
    """{line: (flat, cum)} and (flat, cum) of `function` in the source view,
    in samples, checking that it is shown from `source` and that every line
    shown is source's own."""
    view = server.source(f"^{function}$", "&si=samples")
    assert not SYMBOLIZATION_TROUBLE.search(server.log()), server.log()
    files = [file for name, file in view if name == function]
    assert files == [str(source)], (function, list(view))
    entry = view[function, str(source)]
    text = source.read_text().splitlines()
    lines = {}
    for number, (flat, cum, code) in entry["lines"].items():
        assert code.rstrip() == text[number - 1].rstrip(), (number, code)
        lines[number] = (count(flat), count(cum))
    total = tuple(sum(count(t[i]) for t in entry["totals"]) for i in (0, 1))
    assert sum(f for f, _ in lines.values()) == total[0], entry
    return lines, total


def test_web_source_view_shows_a_native_function_with_its_time_on_its_loop(web, hotcold, pprof):
    server, path, _ = web
    source = hotcold / "hotcold.c"
    lines, total = shown(server, "burn_hot", source)
    # All of burn_hot's samples, as -top counts them: none fewer, and none
    # of another object's at the same address.
    top = top_samples(pprof, path)["burn_hot"]
    assert total == top and top[0] > 0, (lines, top)
    # On the loop (the SPIN macro's line), the known hot spot.
    definition = definition_line(source, "burn_hot")
    loop = next(i for i, line in enumerate(source.read_text().splitlines(), 1)
                if i > definition and "SPIN(3 * n, x)" in line)
    assert definition in lines, lines
    assert lines[loop][0] >= 0.9 * total[0], lines


def test_web_source_view_shows_a_python_function_with_its_time_on_its_loop(web, pprof):
    server, path, script = web
    lines, total = shown(server, "spin", script)
    top = top_samples(pprof, path)["spin"]
    assert total == top and top[1] > 0, (lines, top)
    # The loop's two lines (its for, its body) hold spin's time.
    body = marked_line(script, "# spin-line")
    assert lines[body - 1][1] > 0 and lines[body][1] > 0, lines
    assert lines[body - 1][1] + lines[body][1] >= 0.85 * total[1], lines


def test_disasm_shows_burn_hot_s_instructions_with_all_its_time(converted, pprof):
    # In the object file's own addresses, as go tool pprof 1.19 needs
    # (without --object-addresses it finds no instruction; sid's newer Go
    # finds them either way).
    path = converted[0].with_name("object.pb.gz")
    dump = run_yep(["report", "work.prof", "--format", "proto", "--object-addresses", "-o", path.name], cwd=path.parent)
    assert dump.returncode == 0, dump.stderr
    # (Unanchored: -disasm matches the regexp against "ADDRESS NAME FILE:LINE".)
    out = pprof("-disasm", "burn_hot", "-sample_index=samples", path)
    routine = re.search(r"^ROUTINE =+ burn_hot\n\s*(\S+)\s+(\S+) \(flat, cum\).*?\n(.*?)(?=^ROUTINE|\Z)",
                        out, re.M | re.S)
    assert routine, out
    flat = count(routine.group(1))
    instructions = re.findall(r"^\s*(\S+)\s+(\S+)\s+[0-9a-f]+: ", routine.group(3), re.M)
    assert instructions, out
    assert sum(count(f) for f, _ in instructions) == flat, out
    top = top_samples(pprof, path)["burn_hot"]
    assert flat == top[0] and flat > 0, (out, top)
