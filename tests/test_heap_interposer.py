"""The heap profiler records through yep's malloc interposer, not by
replacing the program's allocator: memory a program maps itself (mmap) is
recorded beside malloc's, at the right functions, in the exact and the
sampled mode; every entry point of the malloc family is counted in
requested bytes; RSS drops when the program frees, as without yep; and a
program that runs under tcmalloc it preloaded itself still gets heap
profiles through gperftools' hooks. Fixture: tests/fixtures/mapped.c."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import yep.heap
from conftest import compiled_fixture, run_yep, write_script

MiB = 1 << 20

PROGRAM = """
import sys
import mapped
import yep

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

def hold():
    mapped.map_big()
    mapped.malloc_big()

before = rss()
hold()
held = rss()
if yep.heap_is_running():
    print("dump", yep.heap_dump("held"))
mapped.free_all()
print("rss", before, held, rss())
"""


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    return compiled_fixture(tmp_path_factory, "mapped")


def leaf_bytes(dump, cwd, index):
    """{leaf function: bytes} of a heap profile, from folded stacks."""
    result = run_yep(["report", str(dump), "--format", "folded", "--sample-index", index], cwd=cwd)
    assert result.returncode == 0, result.stderr
    out = {}
    for line in result.stdout.splitlines():
        stack, value = line.rsplit(" ", 1)
        leaf = stack.split(";")[-1]
        out[leaf] = out.get(leaf, 0) + int(value)
    return out


def run_program(tmp, mapped, *yep_args, env=None):
    """Runs PROGRAM (under `python -m yep YEP_ARGS` unless none):
    (RSS before, held, after freeing; the 'held' snapshot or None; the result)."""
    script = tmp / "prog.py"
    script.write_text(PROGRAM)
    full = {"PYTHONPATH": str(mapped), "YEP_HEAP_SEED": "7", **(env or {})}
    if yep_args:
        result = run_yep([*yep_args, str(script)], cwd=tmp, env=full)
    else:
        result = subprocess.run([sys.executable, str(script)], cwd=tmp, capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, **full))
    assert result.returncode == 0, result.stderr
    before, held, after = map(int, re.search(r"^rss (\d+) (\d+) (\d+)$", result.stdout, re.M).groups())
    dump = re.search(r"^dump (\S+)$", result.stdout, re.M)
    return (before, held, after), Path(dump.group(1)) if dump else None, result


@pytest.fixture(scope="module")
def runs(mapped, tmp_path_factory):
    """{mode: run_program's result} for an unprofiled run and both heap modes."""
    out = {}
    for mode, args in (("none", ()), ("exact", ("--heap", "-o", "exact")),
                       ("sampled", ("--heap-sample", "512K", "-o", "sampled"))):
        out[mode] = run_program(tmp_path_factory.mktemp(mode), mapped, *args)
    return out


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_mapped_and_malloced_memory_at_their_functions(runs, mode):
    _, dump, result = runs[mode]
    assert dump is not None, result.stdout
    inuse = leaf_bytes(dump, dump.parent, "inuse_space")
    # The mapping is one 96 MiB sample, whose weight is 1 even when sampled.
    assert inuse.get("map_big_impl", 0) == 96 * MiB, inuse
    if mode == "exact":
        assert inuse.get("malloc_big_impl", 0) == 50 * MiB, inuse
    else:  # 50 blocks of 1 MiB at a mean of 512 KiB (seed 7): an estimate
        assert inuse.get("malloc_big_impl", 0) == pytest.approx(50 * MiB, rel=0.15), inuse
    # After free_all: nothing of either in use in the last profile; allocated stays.
    last = sorted(dump.parent.glob(f"{mode}.*.heap"), key=lambda p: (len(p.name), p.name))[-1]
    assert last != dump
    inuse_last = leaf_bytes(last, dump.parent, "inuse_space")
    assert inuse_last.get("map_big_impl", 0) == 0 and inuse_last.get("malloc_big_impl", 0) == 0, inuse_last
    assert leaf_bytes(last, dump.parent, "alloc_space").get("map_big_impl", 0) == 96 * MiB


def test_mapped_memory_under_its_python_line_with_mixed_stacks(mapped, tmp_path):
    (before, held, after), dump, result = run_program(tmp_path, mapped, "--heap", "--mixed", "-o", "mixed")
    text = run_yep(["report", str(dump), "--nodecount", "0", "--sort", "cum"], cwd=tmp_path).stdout
    line = PROGRAM.splitlines().index("    mapped.map_big()")
    row = re.search(rf"^\s*[\d.]+MiB\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)MiB\s+[\d.]+%\s+hold\s+prog\.py:{line}$", text, re.M)
    assert row, text
    assert float(row.group(1)) == pytest.approx(146, abs=0.5), text  # 96 mapped + 50 malloc'ed


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_rss_drops_when_the_program_frees_as_without_yep(runs, mode):
    (before, held, after), _, _ = runs[mode]
    (_, plain_held, plain_after), _, _ = runs["none"]
    plain_drop = plain_held - plain_after
    drop = held - after
    print(f"{mode}: RSS drop when freeing {drop / MiB:.1f} MiB (without yep {plain_drop / MiB:.1f} MiB)")
    assert plain_drop >= 140 * MiB  # 96 MiB unmapped, 50 MiB of 1 MiB blocks given back by glibc
    assert drop >= plain_drop - 4 * MiB


def test_every_entry_point_of_the_malloc_family_in_requested_bytes(mapped, tmp_path):
    script = write_script(tmp_path, "family.py", """
        import mapped, yep
        mapped.family()
        print("dump", yep.heap_dump("kept"))
        mapped.family_free()
    """)
    result = run_yep(["--heap", "-o", "fam", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(mapped)})
    assert result.returncode == 0, result.stderr
    kept = Path(re.search(r"^dump (\S+)$", result.stdout, re.M).group(1))
    inuse = leaf_bytes(kept, tmp_path, "inuse_space")
    allocated = leaf_bytes(kept, tmp_path, "alloc_space")
    expected = {"calloc_impl": 3, "realloc_impl": 5, "posix_memalign_impl": 2, "aligned_alloc_impl": 1,
                "memalign_impl": 1, "mremap_impl": 8}
    assert {name: inuse.get(name, 0) / MiB for name in expected} == expected
    # realloc: 1 MiB then 5 MiB; mremap: 4 MiB then 8 MiB.
    assert allocated["realloc_impl"] == 6 * MiB and allocated["mremap_impl"] == 12 * MiB
    last = sorted(tmp_path.glob("fam.*.heap"), key=lambda p: (len(p.name), p.name))[-1]
    after = leaf_bytes(last, tmp_path, "inuse_space")
    assert all(after.get(name, 0) == 0 for name in expected), after


def system_tcmalloc():
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"):
        if os.path.exists(f"{folder}/libtcmalloc.so.4"):
            return f"{folder}/libtcmalloc.so.4"
    return None


@pytest.mark.skipif(system_tcmalloc() is None, reason="libtcmalloc.so.4 not installed (libgoogle-perftools4)")
def test_a_program_under_its_own_tcmalloc_is_profiled_through_gperftools_hooks(mapped, tmp_path):
    script = write_script(tmp_path, "tc.py", """
        import mapped, yep, yep._native as n
        print("hooks", n.malloc_hooks_available())
        with yep.heap_profile("tc") as h:
            mapped.malloc_big()
            mapped.map_big()
            print("dump", yep.heap_dump("held"))
            mapped.free_all()
    """)
    env = dict(os.environ, PYTHONPATH=str(mapped), LD_PRELOAD=system_tcmalloc())
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "hooks True" in result.stdout, result.stderr
    held = leaf_bytes(Path(re.search(r"^dump (\S+)$", result.stdout, re.M).group(1)), tmp_path, "inuse_space")
    assert held.get("malloc_big_impl", 0) == 50 * MiB, held
    # gperftools' hooks see malloc only: the program's own mapping is not recorded there.
    assert "map_big_impl" not in held
