"""Folded stacks and the HTML flame graph of a real profile of the hotcold
extension, written by `yep report --format folded|html`: the folded values add up to the text report's
total and keep the 3:1 split; the page renders in headless Chromium, from
file://, with burn_hot and burn_cold drawn as frames, a screenshot that is not
blank, and zoom, search and keyboard that work."""
import json
import re
import shutil
import struct
import subprocess
import zlib
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import parse_report, run_yep, write_script
from test_cpu_profile import WORKLOAD


@pytest.fixture(scope="module")
def profile(hotcold, tmp_path_factory):
    """A CPU profile of the hotcold workload at 250 Hz."""
    directory = tmp_path_factory.mktemp("flamegraph")
    script = write_script(directory, "work.py", WORKLOAD.format(rounds=100))
    result = run_yep(["-f", "250", "-o", "work.prof", str(script)], cwd=directory,
                     env={"PYTHONPATH": str(hotcold)})
    assert result.returncode == 0, result.stderr
    return directory / "work.prof"


def convert(kind, profile, out):
    """The real CLI: yep report PROFILE --format folded|html -o OUT."""
    result = run_yep(["report", str(profile), "--format", kind, "-o", str(out)], cwd=profile.parent)
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


def parse_folded(text):
    """[(frames root first, value)], checking every line's shape."""
    stacks = []
    for line in text.splitlines():
        m = re.fullmatch(r"(.+) (-?\d+)", line)
        assert m, f"not a folded line: {line!r}"
        stacks.append((m.group(1).split(";"), int(m.group(2))))
    return stacks


def test_folded_adds_up_to_the_report_and_keeps_the_split(profile, tmp_path):
    stacks = parse_folded(convert("folded", profile, tmp_path / "work.folded"))
    assert len({tuple(frames) for frames, _ in stacks}) == len(stacks), "identical stacks are merged"
    report = run_yep(["report", "--nodecount", "0", str(profile)], cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    rows, total = parse_report(report.stdout)
    nanoseconds = sum(value for _, value in stacks)
    # The report prints seconds to the millisecond; the folded values are nanoseconds.
    assert abs(nanoseconds / 1e9 - total) <= 0.0005 + 1e-9, (nanoseconds, total)

    def leaf(name):
        return sum(value for frames, value in stacks if frames[-1] == name)

    hot, cold = leaf("burn_hot"), leaf("burn_cold")
    assert hot > 0 and cold > 0, stacks
    assert hot / (hot + cold) == pytest.approx(0.75, abs=0.04), (hot, cold)
    assert hot / 1e9 == pytest.approx(rows["burn_hot"][0], abs=0.0005 + 1e-9)
    assert cold / 1e9 == pytest.approx(rows["burn_cold"][0], abs=0.0005 + 1e-9)
    # Root first: the stacks run from the script's <module> (the default
    # profile has Python frames) down through the C wrapper to the burners.
    hot_stacks = [frames for frames, _ in stacks if frames[-1] == "burn_hot"]
    assert all(frames[0] == "<module>" and frames[-2:] == ["py_burn_hot", "burn_hot"] for frames in hot_stacks), \
        hot_stacks


class Frames(HTMLParser):
    """Collects the flame graph's frame elements: (label, aria-label, style)."""

    def __init__(self):
        super().__init__()
        self.frames, self._open, self.summary, self._in_summary = [], None, "", False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and "f" in (attrs.get("class") or "").split():
            self._open = [attrs.get("aria-label", ""), attrs.get("style", ""), ""]
        self._in_summary = attrs.get("id") == "summary"

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data
        if self._in_summary:
            self.summary += data

    def handle_endtag(self, tag):
        if tag == "div" and self._open is not None:
            label, style, text = self._open
            self.frames.append((text, label, style))
            self._open = None
        self._in_summary = False


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG, with only zlib."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    previous, rows = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = previous[i], previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, channels)])
        previous = line
    return width, height, rows


def chromium(*args, profile_dir):
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={profile_dir}", *args], capture_output=True, text=True, timeout=180)


def test_flame_graph_renders_in_chromium(profile, tmp_path):
    page = tmp_path / "work.html"
    html = convert("html", profile, page)
    data = re.search(r'<script type="application/json" id="yep-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in data and ">" not in data and "&" not in data
    assert html.count("</script>") == 2
    assert "http://" not in html and "https://" not in html, "the page loads nothing from the network"

    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed")
    dom = chromium("--window-size=1400,900", "--dump-dom", page.as_uri(), profile_dir=tmp_path / "chrome")
    assert dom.returncode == 0, dom.stderr
    parsed = Frames()
    parsed.feed(dom.stdout)
    labels = [text for text, _, _ in parsed.frames]
    assert "burn_hot" in labels and "burn_cold" in labels, labels
    assert re.fullmatch(r"\d+\.\d{3} s CPU, \d+ samples", parsed.summary), parsed.summary

    def width(name):
        return sum(float(re.search(r"width:\s*([\d.]+)px", style).group(1))
                   for text, label, style in parsed.frames if label.split(",")[0] == name)

    hot, cold = width("burn_hot"), width("burn_cold")
    assert hot / (hot + cold) == pytest.approx(0.75, abs=0.05), (hot, cold)

    shot = tmp_path / "work.png"
    result = chromium("--window-size=1400,900", f"--screenshot={shot}", page.as_uri(),
                      profile_dir=tmp_path / "chrome")
    assert result.returncode == 0 and shot.exists(), result.stderr
    width_px, height_px, rows = png_pixels(shot)
    assert (width_px, height_px) == (1400, 900)
    pixels = [pixel for row in rows[::3] for pixel in row[::3]]
    assert len(set(pixels)) > 50, "the screenshot is (nearly) blank"
    warm = sum(1 for r, g, b in pixels if r > 200 and r > g + 20 and g > b + 20)
    green = sum(1 for r, g, b in pixels if g > 140 and g > r + 20 and g > b)
    # The C wrappers and burners are drawn warm, the Python frames above them green.
    assert warm > 0.01 * len(pixels), "too few warm (native frame) pixels"
    assert green > 0.01 * len(pixels), "too few green (Python frame) pixels"


# Drives the page like a person with a keyboard, in the browser, and leaves
# what it saw as JSON in <pre id="result">.
INTERACTION = r"""
<script>
(function () {
  const seen = {};
  const frame = (name) => [...document.querySelectorAll(".f")]
    .find((e) => e.getAttribute("aria-label").startsWith(name + ","));
  const key = (el, k, extra) => el.dispatchEvent(new KeyboardEvent("keydown", Object.assign({key: k, bubbles: true}, extra)));
  const frames = () => document.querySelectorAll(".f").length;
  seen.before = frames();
  const hot = frame("burn_hot");
  hot.focus();
  seen.tooltip = document.getElementById("tooltip").hidden ? "" : document.getElementById("tooltip").textContent;
  seen.status = document.getElementById("status").textContent;
  key(hot, "Enter");
  seen.zoomed = frames();
  seen.focused = document.activeElement.getAttribute("aria-label");
  seen.cold_while_zoomed = frame("burn_cold") !== undefined;
  key(document.activeElement, "Escape");
  seen.reset = frames();
  key(document.body, "f", {ctrlKey: true});
  seen.search_focused = document.activeElement.id === "search";
  const search = document.getElementById("search");
  search.value = "burn_";
  search.dispatchEvent(new Event("input"));
  seen.match = document.getElementById("match").textContent;
  seen.highlighted = [...document.querySelectorAll(".f.m")].map((e) => e.textContent);
  document.getElementById("icicle").click();
  seen.icicle_root_top = frame("all").style.top;
  const pre = document.createElement("pre");
  pre.id = "result";
  pre.textContent = JSON.stringify(seen);
  document.body.appendChild(pre);
})();
</script>
"""


def test_flame_graph_zoom_search_and_keyboard_in_chromium(profile, tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed")
    html = convert("html", profile, tmp_path / "work.html")
    page = tmp_path / "driven.html"
    page.write_text(html.replace("</body>", INTERACTION + "</body>"), encoding="utf-8")
    dom = chromium("--window-size=1400,900", "--dump-dom", page.as_uri(), profile_dir=tmp_path / "chrome")
    assert dom.returncode == 0, dom.stderr
    found = re.search(r'<pre id="result">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stdout[-2000:]
    seen = json.loads(unescape(found.group(1)))
    # Focus shows the details: full name, file:line, seconds and percent.
    assert re.search(r"hotcold\.c:\d+", seen["tooltip"]) and re.search(r"\d+\.\d{3} s, \d+\.\d\d% of total",
                                                                      seen["tooltip"]), seen
    assert seen["status"].startswith("burn_hot") and "% of total" in seen["status"], seen
    # Enter zooms into burn_hot (its ancestors stay, burn_cold goes), Escape comes back.
    assert seen["zoomed"] < seen["before"] and not seen["cold_while_zoomed"], seen
    assert seen["focused"].startswith("burn_hot,"), seen
    assert seen["reset"] == seen["before"], seen
    # Ctrl-F goes to the search box; matches are highlighted and their share shown.
    assert seen["search_focused"], seen
    assert re.fullmatch(r"Matched \d+\.\d{3} s, \d+\.\d\d% of total, \d+ frames?", seen["match"]), seen
    assert "burn_hot" in seen["highlighted"] and "burn_cold" in seen["highlighted"], seen
    assert seen["icicle_root_top"] == "0px", seen
