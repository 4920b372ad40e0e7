"""The heap profile reader (converters/heap_profile_reader.h) on a real dump
of `python -m yep --heap`: the dump rewritten as a stack reference dump (its
stacks in a stacks file shared by a session's dumps, as yep's exact mode
writes every dump but the last) reports the same as the dump itself; and a
big dump is read as a stream, in memory that follows its distinct stacks,
not its size."""
import subprocess
import sys

import pytest

from conftest import run_yep, write_script, yep_environment

SCRIPT = """
import json

def nested(depth):
    if depth == 0:
        return [bytearray(4096) for _ in range(50)]
    return nested(depth - 1)

def text():
    return [json.dumps({"k": list(range(i % 50))}) for i in range(2000)]

kept = nested(8), text(), sorted(str(i) for i in range(5000))
"""

ANNOTATIONS = ("# yep-stack:\t", "# yep-python:\t", "# yep-function:\t", "# yep-thread:\t")


@pytest.fixture(scope="module")
def heap_dump(tmp_path_factory):
    where = tmp_path_factory.mktemp("heap_reader")
    script = write_script(where, "mem.py", SCRIPT)
    result = run_yep(["--heap", str(script)], cwd=where, env={"LD_PRELOAD": "", "PYTHONMALLOC": ""}, timeout=120)
    assert result.returncode == 0, result.stderr
    dumps = sorted(where.glob("mem.py.*.heap"))
    assert dumps, result.stderr
    text = dumps[-1].read_text()
    assert "\n# yep-stack:\t" in text and "\n# yep-python:\t" in text
    return text


def to_reference(text, stacks_name):
    """The dump as a reference dump and its stacks file, with the session's
    own ids and Python keys, another dump's stacks and an append in progress."""
    header, rest = text.split("\n", 1)
    buckets, after = rest.split("\nMAPPED_LIBRARIES:\n", 1)
    lines = buckets.split("\n")
    comments = [line for line in lines if line.startswith("#")]
    bucket_lines = [line for line in lines if line.strip() and not line.startswith("#")]
    ids = [1000 + 7 * k for k in range(len(bucket_lines))]
    dump = [header, "# yep-stacks:\t" + stacks_name] + comments
    stacks = ["yep heap stacks 1", "5 @ 0x0000000000001234", "# yep-python:\t1\t1\t1\t/elsewhere.py\tother",
              "# yep-stack:\t5\t-\t0:1\t"]
    for k, line in enumerate(bucket_lines):
        counts, addresses = line.split("@", 1)
        dump.append(f"{counts}@ ={ids[k]}")
        stacks.append(f"{ids[k]} @{addresses}")
    kept = []
    for line in after.split("\n"):
        if not line.startswith(ANNOTATIONS):
            kept.append(line)
            continue
        fields = line.split("\t")
        if fields[0] == "# yep-stack:":
            fields[1] = str(ids[int(fields[1])])
            fields[3] = ",".join(f"{pos}:{int(key, 16) + 0x100:x}"
                                 for pos, key in (item.split(":") for item in fields[3].split(",") if item))
        elif fields[0] == "# yep-python:":
            fields[1] = f"{int(fields[1], 16) + 0x100:x}"
        stacks.append("\t".join(fields))
    return ("\n".join(dump) + "\n\nMAPPED_LIBRARIES:\n" + "\n".join(kept),
            "\n".join(stacks) + "\n7 @ 0x00000000000012")


def report(path, cwd, *args):
    result = run_yep(["report", *args, str(path)], cwd=cwd, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_reference_dump_reports_as_the_dump_written_whole(heap_dump, tmp_path):
    (tmp_path / "whole").mkdir()
    (tmp_path / "whole" / "run.0001.heap").write_text(heap_dump)
    dump, stacks = to_reference(heap_dump, "run.stacks")
    (tmp_path / "run.0001.heap").write_text(dump)
    (tmp_path / "run.stacks").write_text(stacks)
    for args in (["--format", "folded"], ["--format", "folded", "--interpreter"], ["--format", "text"]):
        assert report("run.0001.heap", tmp_path, *args) == report("whole/run.0001.heap", tmp_path, *args), args
    assert "nested" in report("run.0001.heap", tmp_path, "--format", "folded")
    # Without its stacks file: one line that says what to copy.
    (tmp_path / "run.stacks").unlink()
    result = run_yep(["report", "run.0001.heap"], cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "its stacks are in run.stacks, not found in the same folder: copy run.stacks" in result.stderr


def peak_rss_reading(path):
    """The peak resident memory (KiB) of a fresh process that loads `path`."""
    code = ("import resource, sys, yep\n"
            "yep.load(sys.argv[1])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    result = subprocess.run([sys.executable, "-P", "-c", code, str(path)], cwd=path.parent, env=yep_environment(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_a_big_dump_is_read_in_memory_that_follows_its_stacks(heap_dump, tmp_path):
    # The dump's buckets repeated to over 150 MB (the copies, without
    # yep-stack lines, are native stacks already seen): the same model.
    header, rest = heap_dump.split("\n", 1)
    buckets, after = rest.split("\nMAPPED_LIBRARIES:\n", 1)
    buckets = buckets.rstrip("\n") + "\n"
    copies = (150 << 20) // len(buckets) + 1
    small, big = tmp_path / "small.heap", tmp_path / "big.heap"
    small.write_text(heap_dump)
    with open(big, "w") as f:
        f.write(header + "\n")
        for _ in range(copies):
            f.write(buckets)
        f.write("\nMAPPED_LIBRARIES:\n" + after)
    size = big.stat().st_size
    assert size > 150 << 20
    growth = (peak_rss_reading(big) - peak_rss_reading(small)) * 1024
    print(f"reading a {size}-byte dump took {growth} bytes more than its one copy")
    assert growth < size / 4, f"reading a {size}-byte dump took {growth} bytes more than its one copy"
