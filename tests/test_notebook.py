"""examples/magics.ipynb, executed by a real Jupyter kernel (nbclient), so
the example cannot rot: every magic runs and its figures are checked.

The kernel runs this Python (jupyter_client starts a "python" kernelspec
with sys.executable) with yep's malloc interposer preloaded, as the notebook says to, for %mprun.
"""
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")  # the kernel nbclient starts

NOTEBOOK = Path(__file__).parent.parent / "examples" / "magics.ipynb"
ARRAY_MIB = 8_000_000 / 2**20  # 7.63
LIST_MIB = 80_000_056 / 2**20  # 76.29


def text_of(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def cell_running(nb, source):
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source)]
    assert len(cells) == 1, source
    return cells[0]


def increment(cell):
    m = re.fullmatch(r"peak memory: [\d.]+ MiB, increment: (-?[\d.]+) MiB\n", text_of(cell))
    assert m, text_of(cell)
    return float(m.group(1))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    from yep.magics import hooks_environment

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook stripped"
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    client.execute(env=dict(os.environ, **hooks_environment()))
    return nb


def test_the_kernel_is_this_python(executed):
    assert text_of(executed.cells[-1]).strip() == sys.executable


def test_no_cell_failed(executed):
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.source


def one_array(mib):
    """An increment of one 1000x1000 float64 array. RSS is the whole kernel's:
    its other threads (ZeroMQ's I/O) may add a little while the statement
    runs (+1.7 MiB was seen once), never take away."""
    return ARRAY_MIB - 0.5 <= mib <= ARRAY_MIB + 3


def test_memit_figures(executed):
    assert one_array(increment(cell_running(executed, "%memit np.ones")))
    assert increment(cell_running(executed, "%memit X.T")) < 1.5  # a view: no copy (those threads aside)
    assert one_array(increment(cell_running(executed, "%memit np.asfortranarray")))
    assert increment(cell_running(executed, "%memit [0] * 10**7")) == pytest.approx(LIST_MIB, abs=3)
    # Z = np.asfortranarray(Y): one copy; Y, made in the setup line, is not counted.
    assert one_array(increment(cell_running(executed, "%%memit Y = ")))


def test_mprun_names_the_lines_of_the_notebooks_function(executed):
    report = text_of(cell_running(executed, "%mprun -f standardize"))
    rows = {}  # source line: (allocated, peak), in MiB
    for row in report.splitlines():
        m = re.match(r"^\s*\d+\s+[\d.]+ MiB\s+-?[\d.]+ MiB\s+1\s+([+-][\d.]+) MiB\s+([\d.]+) MiB\s+[\d.]+ \w+\s+(.*)$", row)
        if m:
            rows[m.group(3).strip()] = float(m.group(1)), float(m.group(2))
    assert rows.keys() == {"centered = a - a.mean(axis=0)", "scaled = centered / centered.std(axis=0)", "del centered",
                           "energy = (scaled ** 2).sum()", "return np.ascontiguousarray(scaled.T), energy"}, report
    assert rows["centered = a - a.mean(axis=0)"][0] == pytest.approx(ARRAY_MIB, abs=0.01)
    assert rows["del centered"][0] == pytest.approx(-ARRAY_MIB, abs=0.01)
    assert abs(rows["energy = (scaled ** 2).sum()"][0]) < 0.01  # nothing kept ...
    assert rows["energy = (scaled ** 2).sum()"][1] == pytest.approx(ARRAY_MIB, abs=0.1)  # ... but a temporary
    assert rows["return np.ascontiguousarray(scaled.T), energy"][0] == pytest.approx(ARRAY_MIB, abs=0.01)  # a copy


def test_yep_shows_the_report_and_the_flame_graph(executed):
    cell = cell_running(executed, "%%yep")
    report = text_of(cell)
    assert report.startswith("Type: cpu") and "Total:" in report, report
    assert "dgemm" in report, report  # X @ X: OpenBLAS's kernel, native code under numpy
    html = [o.data["text/html"] for o in cell.outputs if o.output_type == "display_data"]
    assert len(html) == 1 and html[0].startswith("<iframe srcdoc=") and "dgemm" in html[0]
