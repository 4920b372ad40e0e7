"""The comparison's graphs on two real runs of one program: the diff flame
graph (`yep report NEW --base OLD --format html`) and the diff call graph
(`--format dot|svg`). The program's `changing()` does twice the work in the
new run (which also imports unrelated modules, so the load order differs);
a steady Python function and a steady C function (hotcold's burn_cold) do
the same work in both. Both graphs must show `changing` as the change, with
the text report's figures (`--sort cum`), the steady functions unchanged
within noise, and the right colours; the flame graph in headless Chromium
draws no frame wider than its chart or the window (a comparison's negative
values once made bars overflow)."""
import json
import re

import pytest

from conftest import needs_program, run_yep, write_script
from test_call_graph import parse_dot

RATE = 250  # Hz: one sample is 4 ms of CPU
SAMPLE = 1 / RATE

# Each part takes SECONDS of its thread's CPU (changing twice that in the new
# run); the loops are in the functions themselves, so each has flat time, and
# the clock is read between chunks of work, so time.thread_time is no large
# function of its own whose change is the sum of all the parts' noise.
PROGRAM = """
import sys
import time

if sys.argv[1] == "new":
    # Unrelated imports: the new run loads modules in another order.
    import json, decimal, fractions, statistics, email.message, xml.dom.minidom  # noqa: F401

import hotcold

SECONDS = 0.4


def changing(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        for _ in range(2000):
            pass


def steady(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        for _ in range(2000):
            pass


def native(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        hotcold.burn_cold(20000)


changing(SECONDS * (2 if sys.argv[1] == "new" else 1))
steady(SECONDS)
native(SECONDS)
"""

STEADY = ("steady", "native", "burn_cold")


@pytest.fixture(scope="module")
def runs(hotcold, tmp_path_factory):
    """(new profile, old profile) of PROGRAM at 250 Hz."""
    directory = tmp_path_factory.mktemp("compare_graphs")
    script = write_script(directory, "work.py", PROGRAM)
    for run in ("old", "new"):
        result = run_yep(["-f", str(RATE), "-o", f"{run}.prof", str(script), run], cwd=directory,
                         env={"PYTHONPATH": str(hotcold)})
        assert result.returncode == 0, result.stderr
    return directory / "new.prof", directory / "old.prof"


def report(runs, *args):
    new, old = runs
    result = run_yep(["report", str(new), "--base", str(old), *args], cwd=new.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout


def seconds(text):
    """A figure of the text diff or the graph: "0", "0.402s", "+0.402s", "-0.014s"."""
    return 0.0 if text == "0" else float(re.fullmatch(r"([+-]?[\d.]+)s", text).group(1))


# "      base        new     change  change%  name  file:line"
DIFF_ROW = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)  (.+)$")


@pytest.fixture(scope="module")
def text(runs):
    """The text diff by cum: {function name: (base, new, change) as printed} (a name's first row)."""
    rows = {}
    for line in report(runs, "--sort", "cum", "--nodecount", "0").splitlines():
        m = DIFF_ROW.match(line)
        if m and m.group(1) != "base" and not line.startswith("Total"):
            name = m.group(5).split("  ")[0]
            rows.setdefault(name, (m.group(1), m.group(2), m.group(3)))
    for name in ("changing", *STEADY):
        assert name in rows, (name, sorted(rows))
    return rows


def assert_steady(name, base, new):
    """No change above noise: under 15% of the base plus two samples' worth."""
    assert abs(new - base) < 0.15 * base + 2 * SAMPLE, (name, base, new)


def test_the_text_diff_sees_changing_double(text):
    base, new, change = (seconds(v) for v in text["changing"])
    assert base > 0.2 and new / base == pytest.approx(2, rel=0.15), text["changing"]
    assert change == pytest.approx(new - base, abs=0.0015)
    for name in STEADY:
        assert_steady(name, *(seconds(v) for v in text[name][:2]))


# ---- the diff flame graph ---------------------------------------------------------------------------------

def flame_data(runs, tmp_path):
    """The page and its embedded data."""
    page = tmp_path / "diff.html"
    report(runs, "--format", "html", "-o", str(page))
    html = page.read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="yep-data">(.*?)</script>', html, re.S).group(1))
    return page, data


def tree(data):
    """[(depth, name, new, base, parent index)] from the nodes, depth first."""
    nodes, path = [], []
    for depth, frame, new, base in data["nodes"]:
        del path[depth:]
        nodes.append((depth, data["frames"][frame]["name"], new, base, path[-1] if path else -1))
        path.append(len(nodes) - 1)
    return nodes


def function_figures(nodes, name):
    """(base, new) in seconds of a function: its frames not under another of its frames (cum)."""
    def under_itself(i):
        parent = nodes[i][4]
        while parent >= 0:
            if nodes[parent][1] == name:
                return True
            parent = nodes[parent][4]
        return False

    frames = [n for i, n in enumerate(nodes) if n[1] == name and not under_itself(i)]
    assert frames, name
    return sum(n[3] for n in frames) / 1e9, sum(n[2] for n in frames) / 1e9


def test_diff_flame_graph_shows_changing_as_the_change(runs, text, tmp_path):
    _, data = flame_data(runs, tmp_path)
    assert data["diff"] is True
    nodes = tree(data)
    assert all(new >= 0 and base >= 0 for _, _, new, base, _ in nodes), "no negative width or base"
    # The most changed frame, below the root and <module> (which hold every change): changing's
    # callees changed less, as its own loop doubled too.
    frames = [n for n in nodes if n[1] not in ("all", "<module>")]
    most = max(frames, key=lambda n: abs(n[2] - n[3]))
    assert most[1] == "changing", most
    # The root holds both totals; changing's figures are the text report's (it prints milliseconds).
    for name in ("changing", *STEADY):
        base, new = function_figures(nodes, name)
        want_base, want_new, want_change = (seconds(v) for v in text[name])
        assert base == pytest.approx(want_base, abs=0.0005 + 1e-9), name
        assert new == pytest.approx(want_new, abs=0.0005 + 1e-9), name
        assert new - base == pytest.approx(want_change, abs=0.001 + 1e-9), name
        if name != "changing":
            assert_steady(name, base, new)


def test_diff_flame_graph_in_chromium_fits_the_window_and_colours_the_change(runs, tmp_path):
    from browsers import Browser

    page_path, _ = flame_data(runs, tmp_path)
    browser = Browser("chromium", tmp_path)
    try:
        page = browser.page
        page.navigate(page_path.as_uri())
        seen = None
        for _ in range(100):
            seen = page.eval("""(() => {
              const frames = [...document.querySelectorAll('.f')];
              if (!frames.length) return null;
              const chart = document.getElementById('chart').getBoundingClientRect();
              const box = (e) => e.getBoundingClientRect();
              const named = (name) => frames.filter((e) => e.getAttribute('aria-label').startsWith(name + ','));
              return {
                count: frames.length,
                chart: [chart.left, chart.right], viewport: window.innerWidth,
                boxes: frames.map((e) => [e.getAttribute('aria-label'), box(e).left, box(e).right]),
                colours: Object.fromEntries(['changing', 'steady', 'native', 'burn_cold'].map(
                  (n) => [n, named(n).map((e) => getComputedStyle(e).backgroundColor)])),
                summary: document.getElementById('summary').textContent,
                legend: document.getElementById('legend').textContent,
              };
            })()""")
            if seen:
                break
    finally:
        browser.close()
    assert seen and seen["count"] > 5, seen
    left, right = seen["chart"]
    for label, x0, x1 in seen["boxes"]:
        assert x0 >= left - 0.5 and x1 <= right + 0.5, (label, x0, x1, seen["chart"])
        assert x1 <= seen["viewport"], (label, x1, seen["viewport"])
    assert re.match(r"Comparison with a base .*\d+\.\d{3} s CPU now, base \d+\.\d{3} s, change \+\d+\.\d{3} s",
                    seen["summary"]), seen["summary"]
    assert "Red grows, blue shrinks" in seen["summary"]
    assert "grew" in seen["legend"] and "shrank" in seen["legend"]

    def rgb(css):
        return [int(v) for v in re.findall(r"\d+", css)[:3]]

    r, g, b = rgb(seen["colours"]["changing"][0])
    assert r > g + 40 and r > b + 40, seen["colours"]["changing"]  # red: it grew
    for name in STEADY:  # grey-ish: near no change
        for colour in seen["colours"][name]:
            r, g, b = rgb(colour)
            assert max(r, g, b) - min(r, g, b) < 45, (name, colour)


# ---- the diff call graph ----------------------------------------------------------------------------------

def dot_figures(node):
    """(base cum, new cum, cum change) from a comparison's node label: "F (x%)", ["of C (y%)"], "cum B → N"."""
    lines = node["lines"][1:]  # after the name: file:line (when known), the figures
    before_after = re.fullmatch(r"cum (\S+) \u2192 (\S+)", lines[-1])
    assert before_after, lines
    changes = " ".join(line for line in lines[:-1] if re.match(r"[+-]?\d|of ", line))
    cum = re.search(r"of (\S+) \(", changes) or re.match(r"(\S+)", changes)
    return before_after.group(1), before_after.group(2), cum.group(1)


def rgb_hex(colour):
    return [int(colour[k:k + 2], 16) for k in (1, 3, 5)]


def test_diff_call_graph_shows_changing_in_red_and_steady_in_grey(runs, text):
    nodes, edges, legend = parse_dot(report(runs, "--format", "dot", "-o", "-", "--nodecount", "0",
                                            "--nodefraction", "0", "--edgefraction", "0"))
    assert any(line.startswith("Comparison: new ") for line in legend), legend
    # The figures are the text report's, as it prints them.
    for name in ("changing", *STEADY):
        assert name in nodes, (name, sorted(nodes))
        assert dot_figures(nodes[name]) == text[name], (name, nodes[name]["lines"])
    # The largest |cum change| below <module> is changing's.
    changes = {name: abs(seconds(dot_figures(n)[2])) for name, n in nodes.items() if not name.startswith("<module>")}
    assert max(changes, key=changes.get) == "changing", changes
    r, g, b = rgb_hex(nodes["changing"]["color"])
    assert r > g + 60 and r > b + 60, nodes["changing"]["color"]
    edge = [attrs for (caller, callee), attrs in edges.items() if callee == "changing"]
    assert edge and seconds(edge[0]["label"].strip()) > 0, edge
    r, g, b = rgb_hex(edge[0]["color"])
    assert r > g + 60 and r > b + 60, edge[0]["color"]
    for name in STEADY:
        assert_steady(name, *(seconds(v) for v in dot_figures(nodes[name])[:2]))
        r, g, b = rgb_hex(nodes[name]["color"])
        assert max(r, g, b) - min(r, g, b) < 30, (name, nodes[name]["color"])


def test_diff_call_graph_prunes_by_the_change(runs):
    """By default (nodes under 0.5% of the base's total dropped) the steady functions, whose change is
    noise, may go; changing stays, and the legend says what was dropped by |change|."""
    nodes, _, legend = parse_dot(report(runs, "--format", "dot", "-o", "-", "--nodefraction", "0.05"))
    assert "changing" in nodes
    assert "steady" not in nodes and "burn_cold" not in nodes, sorted(nodes)
    assert any(re.fullmatch(r"Dropped \d+ nodes \(cum \|change\| <= \d+\.\d{3}s\)", line) for line in legend), legend


@needs_program("dot")
def test_diff_call_graph_svg(runs, tmp_path):
    svg_path = tmp_path / "diff.svg"
    report(runs, "--format", "svg", "-o", str(svg_path))
    svg = svg_path.read_text(encoding="utf-8")
    nodes, _, _ = parse_dot(report(runs, "--format", "dot", "-o", "-"))
    assert "<svg" in svg and ">changing</text>" in svg
    assert f'stroke="{nodes["changing"]["color"]}"' in svg
