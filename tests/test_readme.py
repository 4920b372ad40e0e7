"""README.md's walk-through, run as written from scratch directories, its
outputs compared with the README's in shape.

Every fenced block of the README that shows commands is either run here (RUN)
or named in NOT_RUN with the reason; test_every_block_is_run_or_listed fails
on one that is neither. Blocks that show commands: `$ ` shell sessions, `>>> `
sessions, `In: ` IPython sessions, ```sh and ```python blocks. A block's id is
its section's anchor (as GitHub makes it from the heading), with -2, -3, ...
for the second and later such blocks of a section.

Each block runs in its own scratch directory (tmp_path) holding what its
commands need (a setup function: files of examples/, the demo's C extension
built as `make demo` builds it, a profile made by a run, a script the README
shows). A `$ command` runs through bash exactly as written, `python` meaning
this interpreter and `yep`, `yep-convert` the scripts beside it; a ```python
block runs as a script; a `>>>` session runs statement by statement.

What is compared (compare()), after normalize() has masked figures, absolute
paths and runs of spaces in both outputs:
- the exit status: 2 where the README's output is a `yep: error:` line,
  else 0;
- every line of the README's output that is not a row of figures (headers,
  titles, messages, the program's own output) is in the real output, in the
  README's order (stdout and stderr each keep their own order);
- a row (a line starting with two or more figures: the reports' tables) that
  names the example's own code (a function or class its files define) is in
  the real output as the README shows it, figures aside; any other row (the
  interpreter's, numpy's, BLAS's: which of them show, and in which order, is
  the sampling's) needs a real row with the same columns of figures.
A `...` line in the README's output stands for lines left out; any README
output may be an excerpt (real lines between its lines are allowed), so the
order is checked as a subsequence, and lines that repeat (go tool pprof's
traces) may match in another order.
"""
import doctest
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from conftest import FIXTURES, build_extension, needs, needs_program, require, run_yep, write_script, yep_environment
from test_cpu_profile import WORKLOAD

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = README.parent / "examples"
BIN = Path(sys.executable).parent  # python, yep and yep-convert of the interpreter under test


# ---- the README's blocks ------------------------------------------------------------------------------------

@dataclass
class Block:
    id: str       # "" for blocks that show no command (outputs, synopses, tables)
    line: int     # README.md line of the opening fence
    lines: list
    kind: str     # "shell", "repl", "ipython", "python", "sh", or ""


def kind_of(lang, lines):
    for kind, mark in (("shell", "$ "), ("repl", ">>> "), ("ipython", "In: ")):
        if any(line.startswith(mark) for line in lines):
            return kind
    return lang if lang in ("python", "sh") else ""


def anchor(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.lstrip("#").strip().lower()).replace(" ", "-")


def readme_blocks():
    lines = README.read_text().splitlines()
    blocks, section, per_section = [], "", Counter()
    i = 0
    while i < len(lines):
        fence = re.fullmatch(r"```(\w*)\s*", lines[i])
        if lines[i].startswith("#"):
            section = anchor(lines[i])
        elif fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            body = lines[i + 1:end]
            kind = kind_of(fence.group(1), body)
            block_id = ""
            if kind:
                per_section[section] += 1
                block_id = section if per_section[section] == 1 else f"{section}-{per_section[section]}"
            blocks.append(Block(block_id, i + 1, body, kind))
            i = end
        i += 1
    return blocks


BLOCKS = readme_blocks()


def block(block_id):
    return next(b for b in BLOCKS if b.id == block_id)


def block_after(block_id):
    """The block following one in the README (a program's output)."""
    return BLOCKS[BLOCKS.index(block(block_id)) + 1]


def shell_session(lines):
    """[(command, [its output lines])] of a `$ ` block."""
    session = []
    for line in lines:
        if line.startswith("$ "):
            session.append((line[2:], []))
        else:
            session[-1][1].append(line)
    return session


# ---- comparing outputs in shape -----------------------------------------------------------------------------

# An absolute path up to its last component (/work/main/examples/demo.py,
# .../numpy.libs/x.so): where it was is the machine's, its name is the example's.
DIRECTORIES = re.compile(r"(?<![^\s(\['\"=])(?:\.\.\.)?(?:/[^\s/:()\[\]'\",;]+)*/(?=[^\s/])")
FIGURE = re.compile(r"(?:(?<![\w)])[+-])?\d+(?:[.,]\d+)*")
TIME_UNIT = re.compile(r"#\s*(?:ns|us|µs|ms|s)\b")  # pprof's 1.55s or 1546.75ms, yep memory's 2.73 ms or 645.0 us
SIZE_UNIT = re.compile(r"#\s+(B|KiB|MiB|GiB)\b")
EMPTY_FIGURE = re.compile(r"(?<!\S)\.(?!\S)")  # a source listing's "." (no samples on that line)
COLUMN = re.compile(r"[(\[]?#(?:s|%|B|KiB|MiB|GiB)?[)\]]?[:,]?")


def normalize(line):
    """A line with its figures as #, hexadecimal addresses included (units
    kept, time units as s), directories of absolute paths as …/, and runs of
    spaces as one."""
    line = DIRECTORIES.sub("…/", line)
    line = re.sub(r"0x[0-9a-fA-F]+", "#", line)
    line = FIGURE.sub("#", line)
    line = TIME_UNIT.sub("#s", line)
    line = SIZE_UNIT.sub(r"#\1", line)
    line = EMPTY_FIGURE.sub("#s", line)
    line = " ".join(line.split())
    return re.sub(r"([(\[]) ", r"\1", line)  # callgrind_annotate's "( 8.64%)"


def as_row(normalized):
    """(its columns of figures, the rest) for a row of a table (two or more
    figures first), else None."""
    words = normalized.split(" ")
    n = 0
    while n < len(words) and COLUMN.fullmatch(words[n]):
        n += 1
    return (tuple(words[:n]), " ".join(words[n:])) if n >= 2 else None


def own_names(directory):
    """Functions and classes the example's own files define (Python def and
    class, C function definitions): what the example's rows are named after."""
    names = set()
    for path in directory.rglob("*.py"):
        names |= set(re.findall(r"^\s*(?:async\s+)?(?:def|class)\s+(?!__)(\w+)", path.read_text(), re.M))
    for path in directory.rglob("*.c"):
        for line in path.read_text().splitlines():  # a definition starts at the line's start: type name(
            if re.match(r"[A-Za-z_]", line) and "(" in line and "=" not in line.split("(")[0]:
                names.update([n for n in re.findall(r"(\w+)\(", line) if n != "__attribute__"][:1])
    return names


def names_own_code(text, own):
    return any(re.search(rf"\b{re.escape(name)}\b", text) for name in own)


def compare(expected, stdout, stderr, own):
    """What differs in shape between the README's output lines and a real
    output (its stdout and stderr): [] when they agree."""
    streams = [[normalize(line) for line in text.splitlines()] for text in (stdout, stderr)]
    everything = set(streams[0] + streams[1])
    real_columns = {row[0] for row in map(as_row, everything) if row}
    cursors = [0, 0]
    problems = []
    for line in expected:
        shape = normalize(line)
        if not shape or shape == "...":
            continue
        row = as_row(shape)
        if row is None:
            at = next(((k, s.index(shape, cursors[k])) for k, s in enumerate(streams) if shape in s[cursors[k]:]),
                      None)
            if at:
                cursors[at[0]] = at[1] + 1
            else:
                where = "out of the README's order" if shape in everything else "missing"
                problems.append(f"{where}: {line.strip()!r} (as {shape!r})")
        elif names_own_code(row[1], own):
            if shape not in everything:
                problems.append(f"the example's own row is missing: {line.strip()!r} (as {shape!r})")
        elif row[0] not in real_columns:
            problems.append(f"no row has these columns: {line.strip()!r} (columns {' '.join(row[0])!r})")
    return problems


def expected_status(output):
    return 2 if any(line.startswith("yep: error:") for line in output) else 0


def check(what, expected, result, own):
    """The problems of one command's run against the README's output, with the run's output to read them by."""
    problems = compare(expected, result.stdout, result.stderr, own)
    if result.returncode != expected_status(expected):
        problems.insert(0, f"exit status {result.returncode}, the README's is {expected_status(expected)}")
    if not problems:
        return []
    return [f"{what}:", *(f"    {p}" for p in problems),
            "  its stdout:", *(f"    | {line}" for line in result.stdout.splitlines()),
            "  its stderr:", *(f"    | {line}" for line in result.stderr.splitlines())]


# ---- running blocks -----------------------------------------------------------------------------------------

def environment(extra=None):
    """The commands' environment: this interpreter's scripts first on PATH,
    no display (a plot is written to a file, as in CI)."""
    env = yep_environment({"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(extra or {})})
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    return env


def run_shell(command, scratch, env):
    return subprocess.run(command, shell=True, executable="/bin/bash", cwd=scratch, env=env, capture_output=True,
                          text=True, timeout=300)


def run_python(source, scratch, env):
    script = scratch / "example.py"
    script.write_text(source)
    return subprocess.run([sys.executable, script.name], cwd=scratch, env=env, capture_output=True, text=True,
                          timeout=300)


SEPARATOR = "--- the next statement ---"
# Runs each statement of a >>> session as the interactive interpreter does
# (an expression's value is printed), a separator before each.
REPL = f"""
import sys
namespace = {{"__name__": "__main__"}}
for source in sys.argv[1:]:
    print({SEPARATOR!r}, flush=True)
    exec(compile(source, "<README>", "single"), namespace)
    sys.stdout.flush()
"""


def run_repl(lines, scratch, env):
    """[(source, README's output lines, its real output)] of a >>> session,
    and the run (its exit status and stderr)."""
    examples = doctest.DocTestParser().get_examples("\n".join(lines) + "\n")
    result = subprocess.run([sys.executable, "-c", REPL, *(e.source for e in examples)], cwd=scratch, env=env,
                            capture_output=True, text=True, timeout=300)
    outputs = result.stdout.split(SEPARATOR + "\n")[1:]
    outputs += [""] * (len(examples) - len(outputs))  # the statements after one that failed
    # An output line's "   # ..." after two spaces is the README's comment on it.
    return [(e.source, [re.sub(r"\s{2,}#.*$", "", w) for w in e.want.splitlines()], out)
            for e, out in zip(examples, outputs)], result


# ---- what each block needs in its scratch directory ---------------------------------------------------------

def copy_examples(*names, into="."):
    def setup(scratch, request):
        (scratch / into).mkdir(exist_ok=True)
        for name in names:
            shutil.copy(EXAMPLES / name, scratch / into / name)
    return setup


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A copy of the repository's examples/ after `make demo`: the demo's C
    extension built in build/examples as the Makefile builds it (-O2 -g), and
    the run make demo makes there (`python -m yep -v ../../examples/demo.py`,
    the extension importable), which leaves build/examples/demo.py.prof."""
    require("numpy")
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(EXAMPLES, root / "examples")
    build = root / "build" / "examples"
    build.mkdir(parents=True)
    build_extension(root / "examples" / "demo_kernels.c", build, opt="-O2")
    result = run_yep(["-v", "../../examples/demo.py"], cwd=build, env={"PYTHONPATH": "."})
    assert result.returncode == 0, result.stderr
    return root, result


def after_make_demo(*, profile_also_as=None):
    """The repository's examples/, and build/examples as `make demo` leaves
    it: the demo's extension and its profile demo.py.prof."""
    def setup(scratch, request):
        root, _ = request.getfixturevalue("demo")
        shutil.copytree(root / "examples", scratch / "examples")
        shutil.copytree(root / "build", scratch / "build")
        if profile_also_as:
            shutil.copy(scratch / "build" / "examples" / "demo.py.prof",
                        scratch / "build" / "examples" / profile_also_as)
    return setup


def mistakes(scratch, request):
    """script.py, its profile script.py.prof, and truncated.prof: a profile cut inside its records."""
    write_script(scratch, "script.py", 'print("hello")\n')
    assert run_yep(["script.py"], cwd=scratch).returncode == 0
    (scratch / "truncated.prof").write_bytes((scratch / "script.py.prof").read_bytes()[:48])


def hotcold_profile(scratch, *args):
    """work.py (burn_hot does 3x burn_cold's work, in the test fixture
    extension hotcold, built in ext/) run under `python -m yep ARGS`."""
    (scratch / "ext").mkdir()
    shutil.copy(FIXTURES / "hotcold.c", scratch / "ext" / "hotcold.c")
    so = build_extension(scratch / "ext" / "hotcold.c", scratch / "ext")
    write_script(scratch, "work.py", WORKLOAD.format(rounds=20))
    result = run_yep([*args, "work.py"], cwd=scratch, env={"PYTHONPATH": str(scratch / "ext")})
    assert result.returncode == 0, result.stderr
    return so


def hotcold_run(scratch, request):
    """work.py.prof: work.py's profile."""
    hotcold_profile(scratch)


def extension_moved_away(scratch, request):
    """work.py.prof (250 Hz), then its extension moved from ext/ to copies/."""
    so = hotcold_profile(scratch, "-f", "250")
    (scratch / "copies").mkdir()
    shutil.move(so, scratch / "copies" / so.name)


def hotcold_proto(scratch, request):
    """work.pb.gz, the proto of work.py's profile. go keeps its own cache, as
    for anyone who runs it (a Go that builds pprof on first use, as sid's,
    does it once, not in every run of this test)."""
    hotcold_profile(scratch)
    assert run_yep(["report", "work.py.prof", "--format", "proto", "-o", "work.pb.gz"], cwd=scratch).returncode == 0


def ex_py(scratch, request):
    """ex.py: the program the README shows just before."""
    (scratch / "ex.py").write_text("\n".join(block("line-by-line-memory-yep-memory").lines) + "\n")


def interposer_preloaded(scratch, request):
    """yep's malloc interposer preloaded, as the README says (LD_PRELOAD= what yep.heap.malloc_hooks_library() gives)."""
    library = subprocess.run([sys.executable, "-c", "import yep.heap; print(yep.heap.malloc_hooks_library())"], cwd=scratch,
                             capture_output=True, text=True, check=True).stdout.strip()
    return {"LD_PRELOAD": library}


# ---- the catalogue: every block that shows commands -------------------------------------------------------

@dataclass
class Run:
    starts: str                     # the block's first line starts with this
    setup: Callable = None          # setup(scratch, request): its files; may return environment variables
    needs: tuple = ()               # peer packages its programs import
    programs: tuple = ()            # programs it runs
    cwd: str = "."                  # where its commands run, in the scratch directory
    output_follows: bool = False    # a python block: the next block is its output
    before: tuple = None            # (version, why): the block's output holds on CPythons before it only
    marks: list = field(init=False)

    def __post_init__(self):
        self.marks = ([needs(*self.needs)] if self.needs else []) + (
            [needs_program(*self.programs)] if self.programs else []) + (
            [pytest.mark.skipif(sys.version_info >= self.before[0], reason=self.before[1])] if self.before else [])


RUN = {
    "install-2": Run("$ python -m yep -v --nodecount 10 first.py", copy_examples("first.py"), ("numpy",)),
    "command-line": Run("$ python -m yep --vizualize script.py", mistakes),
    "process-trees---subprocesses": Run("$ python -m yep pool.py", copy_examples("pool.py", into="examples"),
                                        cwd="examples"),
    "process-trees---subprocesses-2": Run("$ python -m yep --subprocesses -v --nodecount 8 pool.py",
                                          copy_examples("pool.py", into="examples"), cwd="examples"),
    "process-trees---subprocesses-3": Run(
        "$ python -m yep --heap --subprocesses pool.py", copy_examples("pool.py", into="examples"), cwd="examples",
        before=((3, 14), "pool.py's tasks allocate their ints through malloc before 3.14 only: 3.14 keeps freed "
                         "ints on a free list, so its workers' heap rows are not the README's (the README says so)")),
    "from-python": Run("import yep"),
    "from-python-2": Run("import numpy as np", needs=("numpy",), output_follows=True),
    "output-formats": Run("$ yep report --nodecount 2 work.py.prof", extension_moved_away),
    "output-formats-2": Run("import yep", after_make_demo(profile_also_as="out.prof"), ("numpy",),
                            cwd="build/examples"),
    "output-formats-3": Run("$ yep report demo.py.prof --format source", after_make_demo(), ("numpy",),
                            cwd="build/examples"),
    "output-formats-4": Run("$ yep report demo.py.prof --format pstats", after_make_demo(), ("numpy",),
                            cwd="build/examples"),
    "output-formats-5": Run("$ yep report demo.py.prof --format callgrind", after_make_demo(), ("numpy",),
                            ("callgrind_annotate",), cwd="build/examples"),
    "output-formats-6": Run("$ go tool pprof -top work.pb.gz", hotcold_proto, programs=("go",)),
    "the-call-graph": Run("$ yep report --format dot work.py.prof", hotcold_run, programs=("dot",)),
    "comparing-two-runs---base": Run("$ python -m yep -f 250 -o before.prof compare.py", copy_examples("compare.py")),
    "heap-profiling": Run("$ python -m yep --heap -v --nodecount 10 first.py", copy_examples("first.py"),
                          ("numpy",)),
    "heap-profiling-2": Run("import yep", interposer_preloaded),
    "sampled-heap-profiles---heap-sample": Run("$ python -m yep --heap-sample 512K first.py",
                                               copy_examples("first.py"), ("numpy",)),
    "line-by-line-memory-yep-memory-2": Run("$ yep memory ex.py", ex_py, ("numpy",)),
    "child-processes": Run("$ yep memory pool_memory.py", copy_examples("pool_memory.py", into="examples"),
                           cwd="examples"),
    "memory-over-time-from-python-yepmemory_usage": Run(">>> import time, yep"),
    "memory-over-time-yep-mprof": Run("$ yep mprof run --heap --interval 0.01 examples/julia_mprof.py",
                                      copy_examples("julia_mprof.py", into="examples"), ("matplotlib",)),
    "census-and-live-view": Run("import yep", output_follows=True),
}

NOT_RUN = {
    "install": ("pip install dist/", "installs a wheel built by make wheel: make test builds the cp311 and cp314 "
                "wheels and tests/wheel/ installs and uses each in a clean Debian chroot"),
    "quick-start": ("make demo", "make demo installs Debian packages and the venv; make test is what runs this "
                    "suite. The report make demo prints is checked by test_make_demo_prints_the_quick_starts_report"),
    "reading-profiles-with-other-tools": ("google-pprof --text", "shows no output; tests/test_peer_tools.py runs "
                                          "google-pprof and go tool pprof on yep's profiles and checks their figures"),
    "line-by-line-memory-yep-memory": ("import numpy as np", "not a program by itself (@profile is a builtin of "
                                       "yep memory): ex.py, run by the next block, line-by-line-memory-yep-memory-2"),
    "notebooks-memit-mprun-yep": ("In: X = np.random", "IPython sessions: examples/magics.ipynb runs these magics "
                                  "in a Jupyter kernel (tests/test_notebook.py), tests/test_magics.py checks each"),
    "notebooks-memit-mprun-yep-2": ("In: def standardize(a):", "an IPython session, as above"),
    "notebooks-memit-mprun-yep-3": ("In: %mprun -f work work()", "an IPython session, as above"),
    "notebooks-memit-mprun-yep-4": ("python -m ipykernel install --user", "installs a Jupyter kernel into the "
                                    "user's home; tests/test_notebook.py starts its kernel with the same three "
                                    "variables (yep.magics.hooks_environment)"),
    "notebooks-memit-mprun-yep-5": ("In: %yep --nodecount 8", "an IPython session, as above"),
    "the-live-view": ("$ python -m yep serve leaky_server.py", "a server that runs until stopped, at a random port "
                      "and token; tests/test_live_view.py serves a leaking program and drives browsers against it"),
}


def test_every_block_is_run_or_listed():
    shown = {b.id: b for b in BLOCKS if b.kind}
    both = sorted(set(RUN) & set(NOT_RUN))
    unlisted = sorted(set(shown) - set(RUN) - set(NOT_RUN))
    gone = sorted((set(RUN) | set(NOT_RUN)) - set(shown))
    assert not both, f"both run and in NOT_RUN: {both}"
    assert not unlisted, f"README blocks neither run nor in NOT_RUN: {unlisted}"
    assert not gone, f"RUN and NOT_RUN name blocks the README no longer has: {gone}"
    for block_id, b in shown.items():
        starts = RUN[block_id].starts if block_id in RUN else NOT_RUN[block_id][0]
        assert b.lines[0].startswith(starts), (f"README.md line {b.line}: block {block_id} starts with "
                                               f"{b.lines[0]!r}, the catalogue expects {starts!r}")


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id, marks=RUN[b.id].marks) for b in BLOCKS if b.id in RUN])
def test_readme_block(block, tmp_path, request):
    entry = RUN[block.id]
    extra = entry.setup(tmp_path, request) if entry.setup else None
    own = own_names(tmp_path)
    env = environment(extra)
    cwd = tmp_path / entry.cwd
    report = []
    where = f"README.md line {block.line} ({block.id})"
    if block.kind == "shell":
        for command, output in shell_session(block.lines):
            report += check(f"{where}, `$ {command}`", output, run_shell(command, cwd, env), own)
    elif block.kind == "repl":
        examples, result = run_repl(block.lines, cwd, env)
        if result.returncode != 0:
            report += [f"{where}: exit status {result.returncode}", result.stderr]
        for source, want, out in examples:
            problems = compare(want, out, "", own)
            if problems:
                report += [f"{where}, >>> {source.splitlines()[0]}:", *problems, "  its output:", out]
    else:
        output = block_after(block.id).lines if entry.output_follows else []
        result = run_python("\n".join(block.lines) + "\n", cwd, env)
        report += check(f"{where}, run as a script", output, result, own)
    assert not report, "\n".join(report)


def test_make_demo_prints_the_quick_starts_report(demo):
    # The Quick start's report is what `make demo` prints: python -m yep -v
    # on examples/demo.py, beside its extension.
    root, result = demo
    shown = block_after("quick-start")
    assert not shown.kind, f"README.md line {shown.line}: the block after make demo is not its output"
    report = check("make demo", shown.lines, result, own_names(root / "examples"))
    assert not report, "\n".join(report)
