"""`yep mprof plot`: memory over time from mprof .dat files (yep's or
memory_profiler's), drawn with matplotlib.

The line plot shows each file's memory (MiB) against the seconds since its
first sample, several files overlaid; each call of a @profile function as a
bracket over the part of the curve it spans, labelled with its name and
duration; each label (`profile.timestamp` / `yep.label`) as a shaded span;
each child process as its own dashed line, with their sum. `flame=True`
draws the calls as a flame chart (bars stacked by call depth over time)
above a small memory strip instead.

Without a display the figure is written with the Agg backend to `output`
(png, svg or pdf by its suffix) or to the first file's name with .png.
"""
import importlib.util
import math
import os
import shlex
import sys
import time

from . import mprof_file
from ._errors import YepError

FIGSIZE = (12.5, 6.4)     # inches
DPI = 120                 # of written raster images: 1500 x 768 px
MAX_CALLS = 300           # brackets drawn at most (the longest calls)
MAX_LABELLED = 40         # brackets with their name written next to them
ALWAYS_LABELLED = 12      # up to this many calls (or label spans) are all named
MAX_LEGEND_FUNCS = 14

FILE_COLORS = ("#1f3b73", "#c0392b", "#27864a", "#7d3c98", "#b9770e", "#117a8b", "#6e2c00")
CHILD_COLORS = ("#17becf", "#bcbd22", "#f768a1", "#6baed6", "#8c6d31", "#9e9ac8", "#74c476")
FUNC_COLORS = ("#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#e6ab02", "#666666")
LABEL_COLORS = ("#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fa9fb5", "#fdd0a2", "#c7e9c0", "#d9d9d9")
TOTAL_COLOR = "#444444"
GRID_COLOR = "#dddddd"

RC = {
    "font.size": 10.5, "axes.titlesize": 10.5, "axes.labelsize": 11, "xtick.labelsize": 10,
    "ytick.labelsize": 10, "legend.fontsize": 9.5, "figure.titlesize": 14, "figure.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False, "axes.axisbelow": True,
    "svg.fonttype": "path", "pdf.fonttype": 42,
}


def parse_window(text):
    """'START,END' in seconds (either may be empty: open) -> (start, end)."""
    if isinstance(text, (tuple, list)):
        parts = list(text)
    else:
        parts = str(text).split(",")
    if len(parts) != 2:
        raise YepError(f"--window wants START,END in seconds (e.g. 0,20.5), not {text!r}")
    values = []
    for part in parts:
        if part is None or (isinstance(part, str) and not part.strip()):
            values.append(None)
            continue
        try:
            value = float(part)
        except (TypeError, ValueError):
            raise YepError(f"--window wants START,END in seconds (e.g. 0,20.5), not {text!r}") from None
        if not math.isfinite(value):
            raise YepError(f"--window {text!r}: START and END must be finite numbers of seconds")
        values.append(value)
    start, end = values
    if start is not None and end is not None and end <= start:
        raise YepError(f"--window {start:g},{end:g}: END must be after START")
    if start is None and end is None:
        return None
    return start, end


# ---------------------------------------------------------------- the data


class _Run:
    """One .dat file, with times in seconds from its first sample."""

    def __init__(self, data, index):
        self.data, self.index = data, index
        self.t0 = data.start
        # The curve is the MEM samples only (memory_profiler's plot also
        # threads the FUNC entry/exit readings into it: with MEM including
        # the children, those zigzag). They show as the brackets' ends.
        self.t = [t - self.t0 for _, t in data.mem]
        self.mem = [m for m, _ in data.mem]
        self.calls = [f for f in data.funcs if not f.is_label]
        self.labels = [f for f in data.funcs if f.is_label]
        self.children = {pid: ([t - self.t0 for _, t in s], [m for m, _ in s])
                         for pid, s in sorted(data.children.items())}
        self.total = _children_total(data.children, self.t0) if data.children else None
        self.heap = ([t - self.t0 for _, t in data.heap], [m for m, _ in data.heap]) if data.heap else None
        self.color = FILE_COLORS[index % len(FILE_COLORS)]
        ends = self.t + [t for ts, _ in self.children.values() for t in ts]
        ends += [f.end - self.t0 for f in data.funcs]
        self.duration = max(ends, default=0.0)

    def rel(self, t):
        return t - self.t0

    @property
    def name(self):
        return os.path.basename(self.data.path)

    def command(self):
        return _pretty_command(self.data.cmdline) if self.data.cmdline else self.name


def _pretty_command(cmdline):
    """'/long/path/bin/python3 script.py' -> 'python3 script.py'."""
    cmdline = cmdline.strip()
    try:
        words = shlex.split(cmdline)
    except ValueError:
        return cmdline
    if words and "/" in words[0]:
        return " ".join([os.path.basename(words[0])] + [shlex.quote(w) for w in words[1:]])
    return cmdline


def _shorten(text, width):
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def _children_total(children, t0):
    """Sum of the children's memory over time. memory_profiler writes every
    child's reading right after each MEM sample, microseconds apart: readings
    that close together are one instant. A child counts from its first
    reading to its last."""
    events = sorted((t, pid, m) for pid, series in children.items() for m, t in series)
    if not events:
        return [], []
    times = sorted({t for t, _, _ in events})
    gaps = sorted(b - a for a, b in zip(times, times[1:]) if b - a > 0)
    eps = max(1e-3, 0.25 * gaps[len(gaps) * 3 // 4]) if gaps else 1e-3
    first = {pid: series[0][1] for pid, series in children.items() if series}
    last = {pid: series[-1][1] for pid, series in children.items() if series}
    out_t, out_m, current = [], [], {}
    i = 0
    while i < len(events):
        start = events[i][0]
        j = i
        while j < len(events) and events[j][0] - start <= eps:
            current[events[j][1]] = events[j][2]
            j += 1
        end = events[j - 1][0]
        for pid in list(current):
            if last[pid] < start - eps or first[pid] > end:
                del current[pid]
        out_t.append(start - t0)
        out_m.append(sum(current.values()))
        i = j
    return out_t, out_m


def _short_names(names):
    """Shortest dotted suffix of each name that is still unique:
    '__main__.build' -> 'build' unless another 'build' is around."""
    result = {}
    names = list(dict.fromkeys(names))
    for name in names:
        parts = name.split(".")
        for n in range(1, len(parts) + 1):
            short = ".".join(parts[-n:])
            if sum(1 for other in names if other == short or other.endswith("." + short)) <= 1:
                break
        result[name] = short
    return result


def _fmt_seconds(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} \u00b5s"
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms"
    if seconds < 100:
        return f"{seconds:.2f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _fmt_slope(slope):
    return f"{slope:+.3f} MiB/s" if abs(slope) >= 0.01 else f"{slope:+.3g} MiB/s"


def _fit(ts, ms):
    """Least-squares slope and intercept of memory against time."""
    n = len(ts)
    if n < 2:
        return None
    mt, mm = sum(ts) / n, sum(ms) / n
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return None
    slope = sum((t - mt) * (m - mm) for t, m in zip(ts, ms)) / var
    return slope, mm - slope * mt


def _in_window(ts, window):
    lo, hi = window
    return [i for i, t in enumerate(ts) if lo <= t <= hi]


def _visible(ts, ms, window):
    """The points inside the window, with one neighbour on each side (the
    segments entering and leaving it)."""
    if window is None:
        return list(ts), list(ms)
    idx = _in_window(ts, window)
    if not idx:
        below = [i for i, t in enumerate(ts) if t < window[0]]
        above = [i for i, t in enumerate(ts) if t > window[1]]
        if below and above:  # one segment crosses the whole window
            return [ts[below[-1]], ts[above[0]]], [ms[below[-1]], ms[above[0]]]
        return [], []
    lo, hi = max(idx[0] - 1, 0), min(idx[-1] + 1, len(ts) - 1)
    return list(ts[lo:hi + 1]), list(ms[lo:hi + 1])


# ---------------------------------------------------------------- drawing


def _colors_by_name(names, palette):
    return {name: palette[i % len(palette)] for i, name in enumerate(dict.fromkeys(names))}


def _legend_line(color, **kwargs):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, **kwargs)


def _char_width(ax_width_in, x_range, fontsize):
    """Width of one character of text, in data units of the x axis."""
    return x_range * (0.6 * fontsize / 72) / max(ax_width_in, 1e-6)


def _x_limits(runs, window):
    end = max((r.duration for r in runs), default=1.0) or 1.0
    lo, hi = 0.0, end * 1.02
    if window is not None:
        lo = window[0] if window[0] is not None else lo
        hi = window[1] if window[1] is not None else hi
    return lo, hi


def _series(run):
    """(times, MiB) of everything drawn as a line for one run."""
    out = []
    if run.t:
        out.append((run.t, run.mem))
    out += list(run.children.values())
    if run.total:
        out.append(run.total)
    if run.heap:
        out.append(run.heap)
    return out


def _y_limits(runs, window):
    values = []
    for run in runs:
        for ts, ms in _series(run):
            values += _visible(ts, ms, window)[1]
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    if lo >= 0 and lo <= 0.6 * hi:
        lo = 0.0
    else:
        lo -= 0.08 * max(hi - lo, 1e-3)
    if hi - lo < 1e-3:
        hi = lo + 1.0
    return lo, hi


def _draw_memory(ax, runs, window, slope, decorate, handles, ax_width_in):
    """Memory lines of every run (and children, trends); with `decorate`,
    function brackets and label spans too. Appends legend entries to handles."""
    xlo, xhi = window
    ylo, yhi = _y_limits(runs, window)
    single = len(runs) == 1
    for run in runs:
        visible_t = _in_window(run.t, window)
        dense = len(visible_t) > 150
        label = _shorten(run.command(), 48)
        where = "" if single else f"{_shorten(run.name, 34)}, "
        in_window = " in the window" if visible_t and len(visible_t) < len(run.t) else ""
        if run.t:
            peak_i = max(visible_t or range(len(run.t)), key=lambda i: run.mem[i])
            peak_m, peak_t = run.mem[peak_i], run.t[peak_i]
            ax.plot(run.t, run.mem, color=run.color, lw=1.8 if dense else 1.6, zorder=5,
                    marker=None if dense else "o", markersize=2.8)
            ax.axhline(peak_m, color=run.color, lw=0.8, ls=(0, (4, 4)), alpha=0.55, zorder=2)
            ax.plot([peak_t], [peak_m], marker="v", color=run.color, markersize=8, zorder=7,
                    markeredgecolor="white", markeredgewidth=0.8)
            handles.append((_legend_line(run.color, lw=1.8, marker="v", markersize=6),
                            f"{label}\n{where}peak {peak_m:.1f} MiB at {peak_t:.2f} s{in_window}"))
            if slope:
                ts = [run.t[i] for i in visible_t] or run.t
                ms = [run.mem[i] for i in visible_t] or run.mem
                fit = _fit(ts, ms)
                if fit:
                    a, b = fit
                    ax.plot([ts[0], ts[-1]], [a * ts[0] + b, a * ts[-1] + b], color=run.color, lw=1.2,
                            ls=(0, (6, 3)), alpha=0.9, zorder=6)
                    handles.append((_legend_line(run.color, lw=1.2, ls=(0, (6, 3))),
                                    f"trend: {_fmt_slope(a)}"))
        for k, (pid, (ts, ms)) in enumerate(run.children.items()):
            color = CHILD_COLORS[(k + 3 * run.index) % len(CHILD_COLORS)]
            ax.plot(ts, ms, color=color, lw=1.3, ls=(0, (5, 2)), zorder=4)
            text = f"child {pid} (peak {max(ms):.1f} MiB"
            if slope:
                idx = _in_window(ts, window)
                fit = _fit([ts[i] for i in idx], [ms[i] for i in idx])
                if fit:
                    text += f", {_fmt_slope(fit[0])}"
            handles.append((_legend_line(color, lw=1.3, ls=(0, (5, 2))), text + ")"))
        if run.total:
            ts, ms = run.total
            ax.plot(ts, ms, color=TOTAL_COLOR, lw=2.6, alpha=0.55, ls=(0, (1, 1.2)), zorder=3,
                    solid_capstyle="round")
            handles.append((_legend_line(TOTAL_COLOR, lw=2.6, alpha=0.55, ls=(0, (1, 1.2))),
                            f"children total (peak {max(ms):.1f} MiB)"))
        if run.heap:
            ts, ms = run.heap
            ax.plot(ts, ms, color=run.color, lw=1.4, alpha=0.8, ls=(0, (6, 1.5, 1.5, 1.5)), zorder=4)
            handles.append((_legend_line(run.color, lw=1.4, alpha=0.8, ls=(0, (6, 1.5, 1.5, 1.5))),
                            f"native heap in use (peak {max(ms):.1f} MiB)" if not run.data.heap_sample else
                            f"native heap in use, sampled every {mprof_file.sample_text(run.data.heap_sample)}: "
                            f"estimates (peak {max(ms):.1f} MiB)"))
    if not decorate:
        ax.set_ylim(ylo, yhi + 0.06 * (yhi - ylo))
        return

    notes = []
    top = _draw_brackets(ax, runs, (xlo, xhi), (ylo, yhi), handles, ax_width_in, notes)
    _draw_labels(ax, runs, (xlo, xhi), handles, ax_width_in)
    span = yhi - ylo
    ax.set_ylim(ylo, min(max(top, yhi + 0.06 * span), yhi + 1.2 * span))  # deep recursion: clipped
    return notes


def _draw_brackets(ax, runs, xlim, ylim, handles, ax_width_in, notes):
    """Each call as a bracket above the part of the curve it spans: a bar at
    the call's highest reading, ticks down at its entry and exit, its name and
    duration above. Nested and neighbouring brackets are lifted until they no
    longer collide. Returns the highest y used."""
    xlo, xhi = xlim
    ylo, yhi = ylim
    calls = [(run, f) for run in runs for f in run.calls
             if run.rel(f.end) >= xlo and run.rel(f.start) <= xhi]
    if not calls:
        return yhi
    # Colours and names from every call, so that they stay the same in any window.
    names = [f.name for _, f in sorted(((r, f) for r in runs for f in r.calls), key=lambda rf: rf[1].start)]
    colors = _colors_by_name(names, FUNC_COLORS)
    short = _short_names(names)
    if len(calls) > MAX_CALLS:
        notes.append(f"the {MAX_CALLS} longest of {len(calls)} calls shown")
        calls = sorted(calls, key=lambda rf: rf[1].start - rf[1].end)[:MAX_CALLS]
    longest = sorted(calls, key=lambda rf: rf[1].start - rf[1].end)[:MAX_LABELLED]

    span = yhi - ylo
    row = span * 0.075          # room for a bracket and its text
    tick = span * 0.022
    fontsize = 8.5
    char_w = _char_width(ax_width_in, xhi - xlo, fontsize)
    placed = []                 # (x0, x1, y)
    top = yhi
    # Deepest calls first: they sit lowest, their callers above them.
    for run, f in sorted(calls, key=lambda rf: (-rf[1].level, rf[1].start)):
        x0, x1 = run.rel(f.start), run.rel(f.end)
        inside = [m for t, m in zip(run.t, run.mem) if x0 <= t <= x1]
        peak = max([f.mem_start, f.mem_end] + inside)
        text = f"{short[f.name]}() {_fmt_seconds(f.end - f.start)}"
        mid = (max(x0, xlo) + min(x1, xhi)) / 2
        # Named when there are few calls, or when the name nearly fits over the
        # bracket; the others are known by their colour (legend).
        if not (len(calls) <= ALWAYS_LABELLED or
                ((run, f) in longest and len(text) * char_w <= 1.5 * (min(x1, xhi) - max(x0, xlo)))):
            text = ""
        half = len(text) * char_w / 2
        ex0, ex1 = min(x0, mid - half), max(x1, mid + half)
        y = peak + tick * 1.6
        while True:
            clash = [py for px0, px1, py in placed if px0 < ex1 and ex0 < px1 and abs(py - y) < row * 0.999]
            if not clash:
                break
            y = max(clash) + row
        placed.append((ex0, ex1, y))
        color = colors[f.name]
        ax.plot([x0, x0, x1, x1], [y - tick, y, y, y - tick], color=color, lw=2.0, zorder=8,
                solid_joinstyle="miter", solid_capstyle="butt")
        if text:
            ax.text(mid, y + tick * 0.35, text, ha="center", va="bottom", fontsize=fontsize, color=color,
                    zorder=9, clip_on=True,
                    bbox=dict(boxstyle="square,pad=0.08", facecolor="white", edgecolor="none", alpha=0.75))
        top = max(top, y + row * 0.9)

    totals = {}
    for run, f in calls:
        count, seconds = totals.get(f.name, (0, 0.0))
        totals[f.name] = (count + 1, seconds + f.end - f.start)
    order = sorted(totals, key=lambda n: -totals[n][1])
    for name in order[:MAX_LEGEND_FUNCS]:
        count, seconds = totals[name]
        calls_text = f"{count} calls, " if count > 1 else ""
        handles.append((_legend_line(colors[name], lw=2.0), f"{short[name]}() {calls_text}{_fmt_seconds(seconds)}"))
    if len(order) > MAX_LEGEND_FUNCS:
        handles.append((_legend_line("none"), f"\u2026 {len(order) - MAX_LEGEND_FUNCS} more functions"))
    return top


def _draw_labels(ax, runs, xlim, handles, ax_width_in):
    """Each label as a shaded span of the whole height, its name at the foot
    of the plot (stacked in rows when names would overlap)."""
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    xlo, xhi = xlim
    spans = [(run, f) for run in runs for f in run.labels
             if run.rel(f.end) >= xlo and run.rel(f.start) <= xhi]
    if not spans:
        return
    spans.sort(key=lambda rf: (rf[0].rel(rf[1].start), rf[1].level))
    colors = _colors_by_name([f.name for r in runs for f in sorted(r.labels, key=lambda f: f.start)], LABEL_COLORS)
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    fontsize = 9
    char_w = _char_width(ax_width_in, xhi - xlo, fontsize)
    rows = []                   # end of the last text in each row
    for run, f in spans[:MAX_CALLS]:
        x0, x1 = run.rel(f.start), run.rel(f.end)
        color = colors[f.name]
        ax.axvspan(x0, x1, color=color, alpha=0.38, lw=0, zorder=1)
        ax.axvline(x0, color=color, lw=0.9, alpha=0.9, zorder=1)
        name = f.name[1:] or "<block>"
        start = max(x0, xlo)
        end = start + (len(name) + 1) * char_w
        if len(spans) > ALWAYS_LABELLED and end - start > 1.2 * (min(x1, xhi) - start):
            continue  # many narrow spans: the legend names them
        for r, last in enumerate(rows):
            if last < start:
                rows[r] = end
                break
        else:
            r = len(rows)
            rows.append(end)
        if r >= 8:
            continue  # the legend names it
        ax.text(start + char_w * 0.4, 0.015 + r * 0.055, name, transform=transform, fontsize=fontsize,
                ha="left", va="bottom", color="#222222", zorder=9, clip_on=True, style="italic",
                bbox=dict(boxstyle="round,pad=0.2", facecolor=color, edgecolor="none", alpha=0.9))
    seen = []
    for _, f in spans:
        if f.name not in seen:
            seen.append(f.name)
    for name in seen[:MAX_LEGEND_FUNCS]:
        handles.append((Patch(facecolor=colors[name], alpha=0.6, edgecolor="none"),
                        f"label \u201c{name[1:]}\u201d"))


def _draw_flame(ax, run, xlim, colors, short, ax_width_in):
    """The FUNC records of one run as a flame chart: a bar per call or label
    at its stack level (outermost at the bottom) from entry to exit."""
    xlo, xhi = xlim
    records = [f for f in run.data.funcs if run.rel(f.end) >= xlo and run.rel(f.start) <= xhi]
    depth = max((f.level for f in run.data.funcs), default=0) + 1
    ax.set_ylim(-0.05, depth + 0.05)
    ax.set_yticks([k + 0.5 for k in range(depth)], [str(k) for k in range(depth)])
    ax.tick_params(axis="y", length=0)
    ax.set_ylabel("stack level")
    ax.grid(axis="x", color=GRID_COLOR, lw=0.8)
    ax.spines["left"].set_visible(False)
    if not records:
        ax.text(0.5, 0.5, f"no @profile calls or labels recorded in {run.name}" if not run.data.funcs
                else "no calls in this window", transform=ax.transAxes, ha="center", va="center",
                color="#666666")
        return
    fontsize = 8.5
    char_w = _char_width(ax_width_in, xhi - xlo, fontsize)
    px_per_second = ax_width_in * DPI / (xhi - xlo)
    groups = {}  # bars of one look drawn as one collection: thousands of calls stay fast
    for f in records:
        x0, x1 = run.rel(f.start), run.rel(f.end)
        thin = (x1 - x0) * px_per_second < 5  # an outline would hide it
        groups.setdefault((f.name, f.level, thin), []).append((x0, x1 - x0))
        if thin:
            continue
        name = "\u201c" + (f.name[1:] or "<block>") + "\u201d" if f.is_label else short[f.name] + "()"
        delta = f.mem_end - f.mem_start
        vx0, vx1 = max(x0, xlo), min(x1, xhi)
        for text in (f"{name}  {delta:+.1f} MiB, {_fmt_seconds(f.end - f.start)}", f"{name} {delta:+.1f} MiB",
                     name):
            if (len(text) + 1) * char_w < (vx1 - vx0):
                box = dict(boxstyle="square,pad=0.1", facecolor=colors[f.name], edgecolor="none") \
                    if f.is_label else None
                ax.text(vx0 + char_w * 0.5, f.level + 0.5, text, fontsize=fontsize, va="center", ha="left",
                        color="#111111" if f.is_label else "white", clip_on=True, bbox=box, zorder=4,
                        fontweight="normal" if f.is_label else "bold")
                break
    for (name, level, thin), xranges in groups.items():
        if name.startswith("."):
            style = dict(edgecolor="#555555", linewidth=0 if thin else 0.6, hatch=None if thin else "///",
                         alpha=0.75)
        else:
            style = dict(edgecolor="white", linewidth=0 if thin else 0.8, alpha=0.85)
        ax.broken_barh(xranges, (level + 0.04, 0.92), facecolors=colors[name], zorder=3, **style)


def _flame_legend(runs, colors, short):
    """Legend entries of the flame chart's functions and labels (narrow bars
    have no room for their names)."""
    from matplotlib.patches import Patch

    totals = {}
    for run in runs:
        for f in run.data.funcs:
            totals[f.name] = totals.get(f.name, 0.0) + f.end - f.start
    entries = []
    for name in sorted(totals, key=lambda n: -totals[n])[:MAX_LEGEND_FUNCS]:
        if name.startswith("."):
            entries.append((Patch(facecolor=colors[name], edgecolor="#555555", hatch="///", lw=0.6),
                            f"label \u201c{name[1:]}\u201d"))
        else:
            entries.append((Patch(facecolor=colors[name], edgecolor="none", alpha=0.85), f"{short[name]}()"))
    if len(totals) > MAX_LEGEND_FUNCS:
        entries.append((Patch(facecolor="none", edgecolor="none"), f"\u2026 {len(totals) - MAX_LEGEND_FUNCS} more"))
    return entries


def _new_figure(show, flame, runs):
    if flame:
        depths = [max((f.level for f in r.data.funcs), default=0) + 1 for r in runs]
        heights = [0.45 * d + 0.7 for d in depths] + [2.4]
        size = (FIGSIZE[0], min(max(sum(heights) + 1.3, 5.5), 16))
    else:
        heights, size = None, FIGSIZE
    if show:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=size, layout="constrained")
    else:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=size, layout="constrained")
        FigureCanvasAgg(fig)
    return fig, heights


def figure(datas, title=None, flame=False, slope=False, window=None, show=False):
    """The matplotlib Figure for MprofData objects (not drawn on screen:
    with show=True it belongs to pyplot, for plt.show())."""
    import matplotlib

    window = parse_window(window) if window is not None and not isinstance(window, tuple) else window
    runs = [_Run(d, i) for i, d in enumerate(datas)]
    if not runs:
        raise YepError("no .dat file to plot")
    xlim = _x_limits(runs, window)
    if xlim[0] >= xlim[1]:
        raise YepError(f"nothing recorded after {xlim[0]:g} s: the run"
                       f"{'s last' if len(runs) > 1 else ' lasted'} {max(r.duration for r in runs):.2f} s")
    if window is not None:
        seen = any(_visible(ts, ms, xlim)[0] for run in runs for ts, ms in _series(run))
        if not seen:
            raise YepError(f"nothing recorded between {xlim[0]:g} s and {xlim[1]:g} s: the run"
                           f"{'s last' if len(runs) > 1 else ' lasted'} {max(r.duration for r in runs):.2f} s")
    with matplotlib.rc_context(RC):
        fig, heights = _new_figure(show, flame, runs)
        handles = []
        fig_width = fig.get_size_inches()[0]
        ax_width_in = fig_width - 3.6 - 1.0  # the legend takes the right, ~3.6 in
        # A column on the right for the legend, never over the data.
        grid = fig.add_gridspec(len(runs) + 1 if flame else 1, 2, height_ratios=heights, width_ratios=[3, 1])
        legend_ax = fig.add_subplot(grid[:, 1])
        legend_ax.axis("off")
        if flame:
            axes = [fig.add_subplot(grid[0, 0])]
            axes += [fig.add_subplot(grid[k, 0], sharex=axes[0]) for k in range(1, len(runs) + 1)]
            for ax in axes[:-1]:
                ax.tick_params(labelbottom=False)
            mem_ax = axes[-1]
            names = [f.name for r in runs for f in sorted(r.data.funcs, key=lambda f: f.start)]
            colors = _colors_by_name([n for n in names if not n.startswith(".")], FUNC_COLORS)
            colors.update(_colors_by_name([n for n in names if n.startswith(".")], LABEL_COLORS))
            short = _short_names([n for n in names if not n.startswith(".")])
            for ax, run in zip(axes, runs):
                _draw_flame(ax, run, xlim, colors, short, ax_width_in)
                if len(runs) > 1:
                    ax.set_title(_shorten(f"{run.name}: {run.command()}", 90), loc="left", fontsize=10)
            _draw_memory(mem_ax, runs, xlim, slope, False, handles, ax_width_in)
            mem_ax.set_ylabel("memory (MiB)")
            handles += _flame_legend(runs, colors, short)
            notes = []
        else:
            mem_ax = fig.add_subplot(grid[0, 0])
            mem_ax.set_ylabel("memory used (MiB)")
            notes = _draw_memory(mem_ax, runs, xlim, slope, True, handles, ax_width_in) or []
        mem_ax.set_xlim(*xlim)
        mem_ax.set_xlabel("time since the first sample (s)" if len(runs) == 1
                          else "time since each run's first sample (s)")
        mem_ax.grid(True, color=GRID_COLOR, lw=0.8)
        for ax in fig.axes:
            ax.tick_params(colors="#333333")
        plot_axes = axes if flame else [mem_ax]

        first = runs[0]
        if title is None:
            title = (("Memory and calls over time: " if flame else "Memory usage: ") + first.command()
                     if len(runs) == 1 else f"Memory usage of {len(runs)} runs")
        fig.suptitle(_shorten(title, 110))
        if len(runs) == 1:
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(first.t0))
            parts = [first.name, f"started {started}", f"{_fmt_seconds(first.duration)} long"]
            if first.data.mem:
                parts.append(f"peak {first.data.peak:.1f} MiB")
            if first.children:
                parts.append(f"{len(first.children)} child process{'es' if len(first.children) > 1 else ''}")
        else:
            parts = [", ".join(r.name for r in runs)]
        if len(runs) == 1 or not flame:  # (a flame chart per run has its own title)
            subtitle = _shorten("  \u00b7  ".join(parts + notes), 150)
            plot_axes[0].set_title(subtitle, fontsize=9.5, color="#555555", loc="left")
        longest = max((len(line) for _, t in handles for line in t.splitlines()), default=10)
        legend_in = min(max(0.65 + longest * 0.6 * RC["legend.fontsize"] / 72, 2.0), 5.0)
        grid.set_width_ratios([fig_width - legend_in - 0.9, legend_in])
        if handles:
            legend_ax.legend([h for h, _ in handles], [t for _, t in handles], loc="upper left",
                             frameon=False, handlelength=2.4, borderaxespad=0.0, labelspacing=0.7)
    return fig


def default_output(path):
    """mprofile_X.dat -> mprofile_X.png, next to it."""
    root, ext = os.path.splitext(os.fspath(path))
    return (root if ext == ".dat" else os.fspath(path)) + ".png"


def _has_display():
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _output_format(output):
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = os.path.splitext(output)[1].lstrip(".").lower()
    supported = FigureCanvasBase.get_supported_filetypes()
    if suffix not in supported:
        raise YepError(f"cannot tell what to write to '{output}' from its name: use a .png, .svg or .pdf name")
    return suffix


def save(fig, output):
    from .atomic_file import atomic_path

    with atomic_path(output) as tmp:
        fig.savefig(tmp, format=_output_format(output), dpi=DPI, facecolor="white")
    return output


def plot(files, output=None, title=None, flame=False, slope=False, window=None):
    """Plots .dat files. Writes `output` (or, without a display, the first
    file's name with .png) and says so on stderr; with a display and no
    output, shows the figure. Returns the file written, or None."""
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    files = list(files)
    if not files:
        raise YepError("no .dat file to plot")
    window = parse_window(window) if window is not None else None
    if importlib.util.find_spec("matplotlib") is None:
        raise YepError("yep mprof plot needs matplotlib: pip install matplotlib")
    if output is not None:
        _output_format(output)  # a bad name fails before any work
    datas = [mprof_file.read(f) for f in files]
    show = output is None and _has_display()
    if show:
        import matplotlib.pyplot as plt

        backend = plt.get_backend().lower()
        if backend in ("agg", "pdf", "ps", "svg", "pgf", "cairo", "template"):
            show = False  # a display but no GUI toolkit: write the file instead
    fig = figure(datas, title=title, flame=flame, slope=slope, window=window, show=show)
    if show:
        plt.show()
        return None
    output = output or default_output(files[0])
    save(fig, output)
    print(f"yep: wrote {output}", file=sys.stderr)
    return output
