"""Stress: the mixed sampler at the highest rate the machine allows (the
kernel tick caps CPU-time sampling: -f 4000 gives about 250 Hz here) for a
minute, while threads start and end, generators suspend, exceptions unwind,
recursion goes 5,000 frames deep, modules are imported and fresh code is
exec'd (code objects that die right after they ran). The program must end
normally, and every Python frame of every sample must be a real function at
a real line of its file: a torn or stale read would show as a frame that
is not.

YEP_STRESS_SECONDS sets the length (default 60)."""
import linecache
import os
import re
import subprocess
import sys

import pytest

from conftest import run_yep, write_script
from proto_reader import stacks

SECONDS = float(os.environ.get("YEP_STRESS_SECONDS", "60"))

STRESS = """
import importlib, os, sys, threading, time
import hotcold

sys.setrecursionlimit(20000)
here = os.path.dirname(os.path.abspath(__file__))
modules = os.path.join(here, "mods")
os.makedirs(modules, exist_ok=True)
sys.path.insert(0, modules)

def recurse(depth):
    if depth == 0:
        return sum(i * i for i in range(20000))
    return recurse(depth - 1) + 1

def numbers(n):
    for i in range(n):
        yield i * 2

def pipeline(n):
    return sum(x for x in numbers(n) if x % 3)

class Boom(Exception):
    pass

def thrower(depth):
    if depth == 0:
        raise Boom(depth)
    return thrower(depth - 1)

def catcher():
    caught = 0
    for _ in range(200):
        try:
            thrower(20)
        except Boom:
            caught += 1
    return caught

def worker(k):
    pipeline(20000)
    catcher()
    recurse(300 + k)
    hotcold.burn_hot(20000)

def importer(round_number):
    name = f"mod_{{round_number}}"
    with open(os.path.join(modules, name + ".py"), "w") as f:
        f.write("def f(n):\\n    return sum(range(n))\\n\\nTOTAL = f(300000)\\n")
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    del sys.modules[name]
    code = compile(f"def g{{round_number}}(n):\\n    return [i for i in range(n)]\\n\\nx = g{{round_number}}(50000)\\n",
                   "<string>", "exec")
    exec(code, {{}})
    return module.TOTAL

deadline = time.monotonic() + {seconds}
rounds = 0
while time.monotonic() < deadline:
    threads = [threading.Thread(target=worker, args=(k,), name=f"w{{rounds}}-{{k}}") for k in range(4)]
    for t in threads:
        t.start()
    recurse(5000)
    gen = numbers(10 ** 9)
    for _ in range(1000):
        next(gen)
    catcher()
    importer(rounds)
    for t in threads:
        t.join()
    rounds += 1
print(f"done {{rounds}} rounds")
"""


def test_a_minute_of_threads_generators_exceptions_recursion_and_imports(hotcold, tmp_path):
    script = write_script(tmp_path, "stress.py", STRESS.format(seconds=SECONDS))
    result = run_yep(["--mixed", "-f", "4000", "--format", "proto", str(script)], cwd=tmp_path,
                     env={"PYTHONPATH": str(hotcold)}, timeout=SECONDS + 240)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^done \d+ rounds$", result.stdout, re.M), result.stdout
    raw = (tmp_path / "stress.py.prof").read_bytes()
    record = re.search(rb"# yep: .* samples=(\d+) .*mixed=1 dropped=(\d+)", raw)
    assert record and int(record.group(2)) == 0, record  # no sample lost
    samples = stacks((tmp_path / "stress.py.prof.pb.gz").read_bytes())
    assert sum(values[0] for _, values in samples) == int(record.group(1))
    python_frames = 0
    deepest = 0
    for frames, _ in samples:
        run = longest = 0
        for name, filename, start, line in frames:
            if not (filename.endswith(".py") or filename.startswith("<")):
                continue  # a native frame
            python_frames += 1
            assert line >= start >= 1 or (name == "<module>" and line >= 1), (name, filename, start, line)
            if filename.endswith(".py"):
                text = linecache.getline(filename, line)
                assert text, (name, filename, line)  # a real line of the file
                # The definition, after its decorators (co_firstlineno is the first decorator's line).
                definition = "".join(linecache.getline(filename, start + k) for k in range(6))
                short = name.rsplit(".", 1)[-1]
                assert name == "<module>" or short in definition or short.startswith("<"), (name, filename, start)
            run = run + 1 if name == "recurse" else 0
            longest = max(longest, run)
        deepest = max(deepest, longest)
    assert python_frames > 1000
    assert deepest >= 200, deepest  # deep recursion is seen (stacks are cut at 254 frames)
    names = {frame[0] for frames, _ in samples for frame in frames}
    for expected in ("worker", "pipeline", "numbers", "thrower", "recurse", "importer", "burn_hot"):
        assert expected in names, expected
