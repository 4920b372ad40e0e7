"""`yep mprof plot/peak/list/rm/clean`: the reading side of mprof .dat files,
checked on files memory_profiler's own `mprof run` wrote and on files written
through yep.mprof_file (which memory_profiler's `mprof plot` must read too).
Images are decoded and looked at pixel by pixel, not only for existing."""
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_program, write_script

matplotlib = pytest.importorskip("matplotlib")

from yep import mprof_cli, mprof_file, mprof_plot  # noqa: E402
from yep.mprof_file import FuncRecord, MprofData  # noqa: E402

BIN = Path(sys.executable).parent
T0 = 1_790_000_000.0  # Unix time of the first sample of the hand-written files


def clean_env(**extra):
    """No display: plots go to files, with the Agg backend."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    env.update(extra)
    return env


def yep_mprof(args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "yep", "mprof", *args], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def mprof_tool(args, cwd, timeout=120):
    """memory_profiler's own `mprof`."""
    require_program(BIN / "mprof", "memory_profiler")
    return subprocess.run([str(BIN / "mprof"), *args], cwd=cwd, env=clean_env(MPLBACKEND="Agg"),
                          capture_output=True, text=True, timeout=timeout)


def one_error_line(result):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("yep: error: "), result.stderr
    return lines[0]


def write_dat(path, cmdline="python3 demo.py", mem=None, funcs=(), children=None, heap=()):
    """A .dat through yep.mprof_file; times given relative to T0."""
    data = MprofData(cmdline=cmdline)
    data.mem = [(m, T0 + t) for m, t in (mem if mem is not None else [(10 + 2 * k * 0.1, k * 0.1)
                                                                       for k in range(51)])]
    data.funcs = [FuncRecord(name, m0, T0 + t0, m1, T0 + t1, level) for name, m0, t0, m1, t1, level in funcs]
    data.children = {pid: [(m, T0 + t) for m, t in series] for pid, series in (children or {}).items()}
    data.heap = [(m, T0 + t) for m, t in heap]
    mprof_file.write(path, data)
    return Path(path)


# A run with two @profile functions (one calling the other), a label inside
# one, and two child processes (one ends before the other starts... almost).
RICH_FUNCS = [
    ("__main__.outer", 12.0, 0.5, 19.0, 4.5, 0),
    ("__main__.inner", 14.0, 1.0, 18.0, 3.0, 1),
    (".load_data", 14.5, 1.2, 17.0, 2.0, 2),
    ("__main__.inner", 18.0, 3.5, 18.5, 4.0, 1),
]
RICH_CHILDREN = {
    4101: [(30.0, 0.0003 + k * 0.1) for k in range(0, 21)],     # 0 .. 2 s
    4102: [(5.0, 0.0005 + k * 0.1) for k in range(10, 31)],     # 1 .. 3 s
}


def rich_dat(path):
    return write_dat(path, cmdline="/usr/bin/python3 -u rich.py --size 3", funcs=RICH_FUNCS,
                     children=RICH_CHILDREN)


def decode(path):
    import matplotlib.image
    import numpy as np

    image = matplotlib.image.imread(str(path))
    rgb = (image[..., :3] * 255).round().astype(np.uint8)
    return rgb


def near(rgb, hex_color, tolerance=6):
    """How many pixels are within `tolerance` of a colour."""
    import numpy as np

    target = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb.astype(int) - target).max(axis=-1) <= tolerance).sum())


def blend(hex_color, alpha):
    """The colour a translucent fill takes over white."""
    rgb = [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(alpha * c + (1 - alpha) * 255):02x}" for c in rgb)


def assert_drawn_png(path, min_colours=60):
    """A real picture: big enough, not blank, many colours."""
    import numpy as np

    path = Path(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10 * 1024
    rgb = decode(path)
    height, width, _ = rgb.shape
    assert width >= 1000 and height >= 500
    flat = rgb.reshape(-1, 3)
    assert len(np.unique(flat, axis=0)) >= min_colours
    ink = (flat < 235).any(axis=1).mean()
    assert 0.02 < ink < 0.9, ink
    return rgb


def legend_texts(fig):
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def all_texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.fixture(autouse=True)
def no_display(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------- memory_profiler's own files


@pytest.fixture(scope="module")
def mp_dat(tmp_path_factory):
    """A .dat written by memory_profiler's `mprof run --python`."""
    directory = tmp_path_factory.mktemp("mprof_mp")
    write_script(directory, "script.py", """
        import time

        @profile
        def build(n):
            data = [0] * n
            time.sleep(0.25)
            with profile.timestamp("make_lists"):
                more = [[i] * 8 for i in range(n // 8)]
                time.sleep(0.25)
            return len(data) + len(more)

        build(4_000_000)
        time.sleep(0.2)
    """)
    result = mprof_tool(["run", "--python", "-o", "mp.dat", "script.py"], cwd=directory)
    assert result.returncode == 0, result.stdout + result.stderr
    return directory / "mp.dat"


def test_reads_memory_profilers_file_and_draws_it(mp_dat, tmp_path):
    data = mprof_file.read(mp_dat)
    assert len(data.mem) >= 5 and data.cmdline.endswith("script.py")
    assert [f.name for f in data.funcs if not f.is_label] == ["__main__.build"]
    assert [f.name for f in data.funcs if f.is_label] == [".make_lists"]
    assert data.peak > data.mem[0][0] + 20  # the lists: tens of MiB

    out = tmp_path / "mp.png"
    result = yep_mprof(["plot", str(mp_dat), "-o", str(out)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"yep: wrote {out}"
    rgb = assert_drawn_png(out)
    assert near(rgb, mprof_plot.FILE_COLORS[0]) > 200                        # the memory line
    assert near(rgb, mprof_plot.FUNC_COLORS[0]) > 100                        # build()'s bracket
    assert near(rgb, blend(mprof_plot.LABEL_COLORS[0], 0.38), 4) > 5000      # the label's span

    fig = mprof_plot.figure([data])
    texts = all_texts(fig)
    assert any(t.startswith("build() ") for t in texts)
    assert "make_lists" in texts
    assert fig.get_suptitle() == "Memory usage: python script.py"
    assert any(t.startswith("python script.py\npeak ") for t in legend_texts(fig))


def test_peak_matches_memory_profilers(mp_dat, tmp_path):
    ours = yep_mprof(["peak", str(mp_dat)], cwd=tmp_path)
    theirs = mprof_tool(["peak", str(mp_dat)], cwd=tmp_path)
    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stdout == f"{mp_dat}\t{max(m for m, _ in mprof_file.read(mp_dat).mem):.3f} MiB\n"


# ---------------------------------------------------------------- yep's files, memory_profiler's plot


def test_memory_profilers_plot_reads_yeps_file(tmp_path):
    dat = rich_dat(tmp_path / "yep.dat")
    text = dat.read_text()
    assert "\n\n" not in text and text.startswith("CMDLINE ")  # mprof's reader stops at a blank line
    result = mprof_tool(["plot", "-o", "theirs.png", "yep.dat"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    import numpy as np

    rgb = decode(tmp_path / "theirs.png")
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 30
    assert near(rgb, "#0000ff", 40) > 50 and near(rgb, "#ff0000", 40) > 50  # its child lines
    flame = mprof_tool(["plot", "--flame", "-o", "theirs_flame.png", "yep.dat"], cwd=tmp_path)
    assert flame.returncode == 0, flame.stdout + flame.stderr
    # and both tools agree on the peaks, children included
    ours = yep_mprof(["peak", "yep.dat"], cwd=tmp_path)
    theirs = mprof_tool(["peak", "yep.dat"], cwd=tmp_path)
    assert ours.stdout == theirs.stdout
    assert ours.stdout == "yep.dat\t20.000 MiB\n  Child 4101\t\t\t30.000 MiB\n  Child 4102\t\t\t5.000 MiB\n"


def test_write_then_read_keeps_every_record(tmp_path):
    dat = rich_dat(tmp_path / "r.dat")
    data = mprof_file.read(dat)
    assert data.cmdline == "/usr/bin/python3 -u rich.py --size 3"
    assert len(data.mem) == 51 and data.mem[0] == (10.0, T0)
    assert [(f.name, f.level, round(f.start - T0, 4), round(f.end - T0, 4)) for f in data.funcs] == \
        [(n, lv, t0, t1) for n, _, t0, _, t1, lv in RICH_FUNCS]
    assert sorted(data.children) == [4101, 4102] and len(data.children[4102]) == 21


# ---------------------------------------------------------------- what the plot shows


def test_brackets_labels_children_and_total(tmp_path):
    data = mprof_file.read(rich_dat(tmp_path / "r.dat"))
    fig = mprof_plot.figure([data])
    texts = all_texts(fig)
    assert sorted(t for t in texts if t.startswith(("outer", "inner"))) == \
        ["inner() 2.00 s", "inner() 500 ms", "outer() 4.00 s"]
    assert "load_data" in texts
    legend = legend_texts(fig)
    assert "child 4101 (peak 30.0 MiB)" in legend and "child 4102 (peak 5.0 MiB)" in legend
    assert "children total (peak 35.0 MiB)" in legend
    assert "inner() 2 calls, 2.50 s" in legend and "outer() 4.00 s" in legend
    assert "label \u201cload_data\u201d" in legend
    assert legend[0] == "python3 -u rich.py --size 3\npeak 20.0 MiB at 5.00 s"
    ax = fig.axes[1]
    assert ax.get_xlabel() == "time since the first sample (s)" and ax.get_ylabel() == "memory used (MiB)"
    # a bracket sits above the curve where its call ran; outer above inner
    lines = {tuple(line.get_xdata()): line.get_ydata() for line in ax.get_lines() if len(line.get_xdata()) == 4}
    outer_y, inner_y = lines[(0.5, 0.5, 4.5, 4.5)][1], lines[(1.0, 1.0, 3.0, 3.0)][1]
    assert 16 < inner_y < outer_y and outer_y > 19  # curve: 10 + 2t MiB, 16 at 3 s, 19 at 4.5 s
    assert ax.get_ylim()[1] > outer_y

    ts, ms = mprof_plot._children_total(data.children, data.start)
    total = dict(zip((round(t, 1) for t in ts), ms))
    assert total[0.5] == 30 and total[1.5] == 35 and total[2.5] == 5  # 4101 until 2 s, 4102 from 1 s


def test_native_heap_line_beside_rss(tmp_path):
    """yep mprof run --heap's HEAP records: read back, drawn as their own line
    with their peak in the legend, and skipped by memory_profiler's plot."""
    heap = [(5 + (30 if 1.0 <= k * 0.1 < 3.0 else 0), k * 0.1 + 0.002) for k in range(50)]
    dat = write_dat(tmp_path / "h.dat", heap=heap)
    data = mprof_file.read(dat)
    assert data.heap == [(m, T0 + t) for m, t in heap]
    fig = mprof_plot.figure([data])
    assert "native heap in use (peak 35.0 MiB)" in legend_texts(fig)
    drawn = [line for ax in fig.axes for line in ax.get_lines() if list(line.get_ydata()) == [m for m, _ in heap]]
    assert len(drawn) == 1 and list(drawn[0].get_xdata()) == pytest.approx([t for _, t in heap], abs=1e-3)
    theirs = mprof_tool(["plot", "-o", "theirs.png", "h.dat"], cwd=tmp_path)
    assert theirs.returncode == 0 and "Traceback" not in theirs.stderr, theirs.stderr


def test_slope_is_the_fit_in_mib_per_second(tmp_path):
    dat = write_dat(tmp_path / "lin.dat", mem=[(50 + 3.5 * k * 0.2 + (0.4 if k % 2 else -0.4), k * 0.2)
                                              for k in range(40)])
    fig = mprof_plot.figure([mprof_file.read(dat)], slope=True)
    trend = [t for t in legend_texts(fig) if t.startswith("trend: ")]
    assert len(trend) == 1
    assert math.isclose(float(trend[0].split()[1]), 3.5, abs_tol=0.05) and trend[0].endswith(" MiB/s")
    flat = write_dat(tmp_path / "flat.dat", mem=[(20.0, k * 0.1) for k in range(10)])
    assert "trend: +0 MiB/s" in legend_texts(mprof_plot.figure([mprof_file.read(flat)], slope=True))
    # with a window, the fit is of what is shown
    bent = write_dat(tmp_path / "bent.dat", mem=[(10 + (k * 0.1 if k < 50 else 5 - 2 * (k - 50) * 0.1), k * 0.1)
                                                 for k in range(100)])
    fig = mprof_plot.figure([mprof_file.read(bent)], slope=True, window=(0, 4.9))
    assert "trend: +1.000 MiB/s" in legend_texts(fig)
    fig = mprof_plot.figure([mprof_file.read(bent)], slope=True, window=(5, 9.9))
    assert "trend: -2.000 MiB/s" in legend_texts(fig)


def test_window_limits_the_x_axis(tmp_path):
    data = mprof_file.read(rich_dat(tmp_path / "r.dat"))
    fig = mprof_plot.figure([data], window="1.5,3")
    assert fig.axes[1].get_xlim() == (1.5, 3.0)
    rising = mprof_file.read(write_dat(tmp_path / "up.dat", mem=[(10 + 10 * k * 0.1, k * 0.1) for k in range(101)]))
    assert mprof_plot.figure([rising]).axes[1].get_ylim()[1] > 110
    assert mprof_plot.figure([rising], window="0,2").axes[1].get_ylim()[1] < 40  # scaled to what is shown
    fig = mprof_plot.figure([data], window="2,")
    assert fig.axes[1].get_xlim()[0] == 2.0 and fig.axes[1].get_xlim()[1] > 5
    assert mprof_plot.figure([data]).axes[1].get_xlim()[0] == 0.0
    for bad in ("3,1", "1", "a,b", "1,2,3", "nan,2", "2,2"):
        with pytest.raises(mprof_file.YepError):
            mprof_plot.parse_window(bad)
    with pytest.raises(mprof_file.YepError, match="nothing recorded between"):
        mprof_plot.figure([data], window=(100, 200))
    with pytest.raises(mprof_file.YepError, match="nothing recorded after 100 s: the run lasted 5.00 s"):
        mprof_plot.figure([data], window="100,")


def test_flame_chart(tmp_path):
    import numpy as np

    data = mprof_file.read(rich_dat(tmp_path / "r.dat"))
    fig = mprof_plot.figure([data], flame=True)
    flame_ax, mem_ax = fig.axes[1], fig.axes[2]
    bars = sorted((round(p.vertices[:, 0].min(), 3), round(np.ptp(p.vertices[:, 0]), 3), round(p.vertices[:, 1].min()))
                  for collection in flame_ax.collections for p in collection.get_paths())
    assert bars == [(0.5, 4.0, 0), (1.0, 2.0, 1), (1.2, 0.8, 2), (3.5, 0.5, 1)]  # start, length, level
    assert flame_ax.get_ylabel() == "stack level" and mem_ax.get_ylabel() == "memory (MiB)"
    assert any(t.startswith("outer()  +7.0 MiB") for t in all_texts(fig))
    assert mem_ax.get_xlabel() == "time since the first sample (s)"

    out = tmp_path / "flame.png"
    result = yep_mprof(["plot", "--flame", "--slope", "--window", "0.2,4.8", "r.dat", "-o", str(out)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rgb = assert_drawn_png(out)
    assert near(rgb, blend(mprof_plot.FUNC_COLORS[0], 0.85), 4) > 5000  # outer's bar is big


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<svg"), (".pdf", b"%PDF-"), (".png", b"\x89PNG")])
def test_output_formats(tmp_path, suffix, magic, capsys):
    rich_dat(tmp_path / "r.dat")
    out = tmp_path / ("plot" + suffix)
    assert mprof_plot.plot([tmp_path / "r.dat"], output=str(out), slope=True) == str(out)
    assert capsys.readouterr().err == f"yep: wrote {out}\n"
    content = out.read_bytes()
    assert magic in content[:400] and len(content) > 10 * 1024
    if suffix == ".svg":
        import xml.etree.ElementTree as ET

        ET.fromstring(content)  # well formed
        assert content.count(b"<path") > 30
    assert not list(tmp_path.glob(".*yep-tmp"))


def test_several_files_overlaid(tmp_path):
    a = write_dat(tmp_path / "a.dat", cmdline="python3 a.py")
    b = write_dat(tmp_path / "b.dat", cmdline="python3 a.py", mem=[(30 - k * 0.1, k * 0.1) for k in range(30)])
    fig = mprof_plot.figure([mprof_file.read(a), mprof_file.read(b)])
    legend = legend_texts(fig)
    assert legend == ["python3 a.py\na.dat, peak 20.0 MiB at 5.00 s", "python3 a.py\nb.dat, peak 30.0 MiB at 0.00 s"]
    colours = {line.get_color() for line in fig.axes[1].get_lines() if len(line.get_xdata()) > 10}
    assert colours == {mprof_plot.FILE_COLORS[0], mprof_plot.FILE_COLORS[1]}
    out = tmp_path / "both.png"
    result = yep_mprof(["plot", "a.dat", "b.dat", "--title", "Two runs", "-o", str(out)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rgb = assert_drawn_png(out)
    assert near(rgb, mprof_plot.FILE_COLORS[1]) > 200


def test_default_output_and_newest_file(tmp_path):
    write_dat(tmp_path / "mprofile_20260101120000.dat")
    write_dat(tmp_path / "mprofile_20260102120000.dat", mem=[(99.0, 0.0), (98.0, 1.0)])
    result = yep_mprof(["plot"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "yep: wrote mprofile_20260102120000.png"
    assert_drawn_png(tmp_path / "mprofile_20260102120000.png", min_colours=30)
    assert not (tmp_path / "mprofile_20260101120000.png").exists()
    result = yep_mprof(["plot", "0"], cwd=tmp_path)  # a number from `yep mprof list`
    assert result.returncode == 0 and (tmp_path / "mprofile_20260101120000.png").exists()


def test_shows_a_window_with_a_display(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(mprof_plot, "_has_display", lambda: True)
    monkeypatch.setattr(plt, "get_backend", lambda: "TkAgg")
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.gcf()))
    dat = rich_dat(tmp_path / "r.dat")
    assert mprof_plot.plot([dat]) is None
    assert len(shown) == 1 and shown[0].get_suptitle().startswith("Memory usage: python3 -u rich.py")
    assert not (tmp_path / "r.png").exists()
    assert mprof_plot.plot([dat], output=str(tmp_path / "x.png")) == str(tmp_path / "x.png")  # -o: a file
    assert len(shown) == 1
    plt.close("all")


# ---------------------------------------------------------------- peak, list, rm, clean


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    """Three mprofile_*.dat files with known peaks, and bystanders."""
    monkeypatch.chdir(tmp_path)
    names = ["mprofile_20261121093000.dat", "mprofile_20261121101112.dat", "mprofile_20261122235959.dat"]
    for name, peak in zip(names, (12.5, 345.678, 7.0)):
        write_dat(tmp_path / name, mem=[(1.0, 0.0), (peak, 0.5), (2.0, 1.0)],
                  children={77: [(3.25, 0.2)]} if peak == 7.0 else None)
    (tmp_path / "other.dat").write_text("MEM 1.0 2.0\n")
    (tmp_path / "notes.txt").write_text("keep me\n")
    return names


def run_cli(argv, capsys):
    status = mprof_cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_peak(profiles, capsys):
    status, out, err = run_cli(["peak"], capsys)
    assert status == 0 and out == f"{profiles[2]}\t7.000 MiB\n  Child 77\t\t\t3.250 MiB\n"
    status, out, _ = run_cli(["peak", profiles[0], "1", "other.dat"], capsys)
    assert out == f"{profiles[0]}\t12.500 MiB\n{profiles[1]}\t345.678 MiB\nother.dat\t1.000 MiB\n"
    theirs = mprof_tool(["peak", profiles[0], "1", "other.dat"], cwd=os.getcwd())
    assert theirs.stdout == out


def test_peak_of_a_function(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rich_dat(tmp_path / "r.dat")
    assert run_cli(["peak", "--func", "inner", "r.dat"], capsys)[1] == "r.dat\t18.500 MiB\n"
    assert run_cli(["peak", "--func", "__main__.outer", "r.dat"], capsys)[1] == "r.dat\t19.000 MiB\n"
    assert run_cli(["peak", "--func", "nothere", "r.dat"], capsys)[1] == "r.dat\tNaN MiB\n"


def test_list_matches_memory_profilers(profiles, capsys):
    status, out, _ = run_cli(["list"], capsys)
    assert status == 0
    assert out.splitlines() == ["0 mprofile_20261121093000.dat 09:30:00 21/11/2026",
                                "1 mprofile_20261121101112.dat 10:11:12 21/11/2026",
                                "2 mprofile_20261122235959.dat 23:59:59 22/11/2026"]
    assert mprof_tool(["list"], cwd=os.getcwd()).stdout == out


def test_rm_by_number_and_name(profiles, capsys, tmp_path):
    status, out, err = run_cli(["rm", "-1", profiles[0]], capsys)
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [profiles[1], "notes.txt", "other.dat"]
    assert run_cli(["rm", "0"], capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "other.dat"]
    assert run_cli(["rm", "other.dat"], capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_rm_checks_everything_before_removing(profiles, capsys, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    for argv in (["rm", "0", "notes.txt"], ["rm", "0", "7"], ["rm", "1", "missing.dat"], ["rm"]):
        status, out, err = run_cli(argv, capsys)
        assert status == 2 and err.startswith("yep: error: ") and len(err.splitlines()) == 1, (argv, err)
        assert sorted(p.name for p in tmp_path.iterdir()) == before
    status, out, _ = run_cli(["rm", "--dry-run", "0", "2"], capsys)
    assert out == f"Files to be removed: \n{profiles[0]}\n{profiles[2]}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_clean_removes_only_mprofile_files(profiles, capsys, tmp_path):
    status, out, _ = run_cli(["clean", "--dry-run"], capsys)
    assert out.splitlines() == ["Files to be removed: ", *profiles]
    assert run_cli(["clean"], capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "other.dat"]
    status, out, err = run_cli(["clean"], capsys)  # nothing left: fine
    assert status == 0 and out == ""
    assert run_cli(["list"], capsys)[1] == ""


# ---------------------------------------------------------------- errors: one line, status 2


def test_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("not a profile\n")
    (tmp_path / "bad.dat").write_text("MEM twelve 1.0\n")
    (tmp_path / "binary.dat").write_bytes(bytes(range(256)) * 4)
    rich_dat(tmp_path / "r.dat")
    assert "no mprofile_*.dat file in" in one_error_line(yep_mprof(["plot"], cwd=tmp_path))
    assert "no mprofile_*.dat file in" in one_error_line(yep_mprof(["peak"], cwd=tmp_path))
    assert "cannot read 'missing.dat': no such file" in one_error_line(yep_mprof(["plot", "missing.dat"],
                                                                                cwd=tmp_path))
    assert "not an mprof .dat file" in one_error_line(yep_mprof(["plot", "notes.txt"], cwd=tmp_path))
    assert "bad.dat:1: not an mprof record" in one_error_line(yep_mprof(["peak", "bad.dat"], cwd=tmp_path))
    assert "not an mprof .dat file" in one_error_line(yep_mprof(["plot", "binary.dat"], cwd=tmp_path))
    assert "END must be after START" in one_error_line(yep_mprof(["plot", "r.dat", "--window", "4,1"],
                                                                 cwd=tmp_path))
    assert "--window wants START,END" in one_error_line(yep_mprof(["plot", "r.dat", "-w", "soon"], cwd=tmp_path))
    assert "use a .png, .svg or .pdf name" in one_error_line(yep_mprof(["plot", "r.dat", "-o", "r.bmpx"],
                                                                       cwd=tmp_path))
    assert "is a directory" in one_error_line(yep_mprof(["plot", "."], cwd=tmp_path))
    assert "unrecognized arguments" in one_error_line(yep_mprof(["plot", "--nope"], cwd=tmp_path))
    assert "unknown yep mprof command" in one_error_line(yep_mprof(["frobnicate"], cwd=tmp_path))
    assert "no profile number 3" in one_error_line(yep_mprof(["peak", "3"], cwd=tmp_path))
    assert "cannot write" in one_error_line(yep_mprof(["plot", "r.dat", "-o", "no/such/dir/x.png"],
                                                      cwd=tmp_path))
    assert not list(tmp_path.glob("*.png"))
    help_ = yep_mprof(["plot", "-h"], cwd=tmp_path)
    assert help_.returncode == 0 and "--window START,END" in help_.stdout
