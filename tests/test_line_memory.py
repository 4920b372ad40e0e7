"""`yep memory`: line-by-line memory and time of @profile functions, run
through the real CLI on real programs, checked against the bytes the lines
are known to allocate."""
import json
import re
import subprocess
import sys

import pytest

from conftest import needs, run_yep, write_script

MiB = 1 << 20
HEADER = ("Line #    Mem usage    Increment  Occurrences     Allocated         Peak       Time   Line Contents")


def tables(output):
    """{function's first source line text: {line number: row dict}} from the report."""
    out = {}
    for block in output.split("Filename: ")[1:]:
        rows = {}
        for line in block.splitlines():
            m = re.match(r"^\s*(\d+)\s+([\d.]+) MiB\s+(-?[\d.]+) MiB\s+(\d+)\s+([+-][\d.]+) MiB\s+([\d.]+) MiB"
                         r"\s+([\d.]+ (?:s|ms|us))\s{3}(.*)$", line)
            if m:
                rows[int(m.group(1))] = {"rss": float(m.group(2)), "increment": float(m.group(3)),
                                         "hits": int(m.group(4)), "allocated": float(m.group(5)),
                                         "peak": float(m.group(6)), "source": m.group(8).strip()}
            elif re.match(r"^\s*\d+\s{20,}", line):
                number = int(line.split()[0])
                rows[number] = {"source": line[line.rfind("   ") + 3:].strip(), "hits": 0}
        name = next((r["source"] for r in rows.values() if r["source"].startswith(("def ", "async def "))), "?")
        out[name] = rows
    return out


def row(table, source):
    matches = [r for r in table.values() if r["source"] == source]
    assert len(matches) == 1, (source, table)
    return matches[0]


def memory(tmp_path, body, *args, env=None):
    script = write_script(tmp_path, "prog.py", body)
    return run_yep(["memory", *args, str(script)], cwd=tmp_path, env=env, timeout=300)


@needs("numpy")
def test_known_allocations_frees_and_peaks(tmp_path):
    result = memory(tmp_path, """
        import numpy as np

        @profile
        def f():
            a = [1] * 10**6
            b = [2] * (2 * 10**7)
            del b
            c = np.zeros((1000, 1000))
            d = np.ones((1000, 1000))
            t = len(bytearray(100 * 2**20))
            return a, c, d

        f()
    """)
    assert result.returncode == 0, result.stderr
    assert HEADER in result.stdout
    t = tables(result.stdout)["def f():"]
    expect = {"a = [1] * 10**6": 8_000_056 / MiB, "b = [2] * (2 * 10**7)": 160_000_056 / MiB,
              "del b": -160_000_056 / MiB, "c = np.zeros((1000, 1000))": 8_000_000 / MiB,
              "d = np.ones((1000, 1000))": 8_000_000 / MiB}
    for source, mib in expect.items():
        assert row(t, source)["allocated"] == pytest.approx(mib, rel=0.01), source
        assert row(t, source)["hits"] == 1
    # A temporary freed within its line still shows in the line's peak.
    temp = row(t, "t = len(bytearray(100 * 2**20))")
    assert temp["allocated"] == pytest.approx(0, abs=0.01) and temp["peak"] == pytest.approx(100, rel=0.01)
    # RSS columns are there and plausible: the 152 MiB list raised RSS by about its size.
    big = row(t, "b = [2] * (2 * 10**7)")
    assert big["increment"] == pytest.approx(152.6, rel=0.1)
    assert big["rss"] > row(t, "a = [1] * 10**6")["rss"] + 100
    assert row(t, "@profile")["hits"] == 0  # lines never run have blank figures


def test_loop_nested_calls_generators_and_methods(tmp_path):
    result = memory(tmp_path, """
        @profile
        def loop():
            kept = []
            for _ in range(5):
                temp = bytearray(16 * 10**6)
                kept.append(bytearray(8 * 10**6))
                del temp
            del kept

        @profile
        def callee():
            return bytearray(30 * 2**20)

        @profile
        def caller():
            x = bytearray(10 * 2**20)
            y = callee()
            return x, y

        @profile
        def gen(n):
            for i in range(n):
                yield bytearray(2**20)

        class Box:
            @profile
            def fill(self):
                self.data = bytearray(5 * 2**20)

        loop()
        kept = caller()
        items = list(gen(3))
        Box().fill()
    """)
    assert result.returncode == 0, result.stderr
    t = tables(result.stdout)
    loop = t["def loop():"]
    assert row(loop, "temp = bytearray(16 * 10**6)")["allocated"] == pytest.approx(80e6 / MiB, rel=0.01)
    assert row(loop, "temp = bytearray(16 * 10**6)")["peak"] == pytest.approx(16e6 / MiB, rel=0.01)
    assert row(loop, "kept.append(bytearray(8 * 10**6))")["allocated"] == pytest.approx(40e6 / MiB, rel=0.01)
    assert row(loop, "del temp")["allocated"] == pytest.approx(-80e6 / MiB, rel=0.01)
    assert row(loop, "temp = bytearray(16 * 10**6)")["hits"] == 5
    # The caller's line shows the callee's real allocation, not the process size.
    assert row(t["def caller():"], "y = callee()")["allocated"] == pytest.approx(30, rel=0.01)
    assert row(t["def caller():"], "x = bytearray(10 * 2**20)")["allocated"] == pytest.approx(10, rel=0.01)
    assert row(t["def callee():"], "return bytearray(30 * 2**20)")["allocated"] == pytest.approx(30, rel=0.01)
    # A generator: its lines between yields, every time it resumes.
    g = row(t["def gen(n):"], "yield bytearray(2**20)")
    assert g["hits"] == 3 and g["allocated"] == pytest.approx(3, rel=0.01)
    assert row(t["def fill(self):"], "self.data = bytearray(5 * 2**20)")["allocated"] == pytest.approx(5, rel=0.01)


def test_coroutines(tmp_path):
    result = memory(tmp_path, """
        import asyncio

        @profile
        async def fetch(n):
            await asyncio.sleep(0)
            data = bytearray(n * 2**20)
            await asyncio.sleep(0)
            return len(data)

        async def main():
            return await asyncio.gather(fetch(1), fetch(2))

        asyncio.run(main())
    """)
    assert result.returncode == 0, result.stderr
    t = tables(result.stdout)["async def fetch(n):"]
    line = row(t, "data = bytearray(n * 2**20)")
    assert line["hits"] == 2 and line["allocated"] == pytest.approx(3, rel=0.01)


def test_a_loop_on_one_line_counts_once_per_entry(tmp_path):
    """Occurrences are entries into the line from another line, whatever
    traces the function (on 3.11 the generator runs under the trace function,
    which also reports each jump back within the line)."""
    result = memory(tmp_path, """
        @profile
        def spin(limit):
            n = 0
            while n < limit: n += 1
            return n

        @profile
        def spin_gen(limit):
            n = 0
            while n < limit: n += 1
            yield n

        for _ in range(3):
            spin(1000)
            list(spin_gen(1000))
    """)
    assert result.returncode == 0, result.stderr
    t = tables(result.stdout)
    for name in ("def spin(limit):", "def spin_gen(limit):"):
        assert row(t[name], "while n < limit: n += 1")["hits"] == 3, t[name]
        assert row(t[name], "n = 0")["hits"] == 3


def test_threads_recursion_and_exceptions(tmp_path):
    result = memory(tmp_path, """
        import threading

        @profile
        def work(mib):
            block = bytearray(mib * 2**20)
            return len(block)

        @profile
        def rec(n):
            if n == 0:
                return bytearray(2**20)
            return rec(n - 1)

        @profile
        def fails():
            x = bytearray(3 * 2**20)
            raise ValueError("inside")

        threads = [threading.Thread(target=work, args=(4,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rec(5)
        try:
            fails()
        except ValueError:
            pass
    """)
    assert result.returncode == 0, result.stderr
    t = tables(result.stdout)
    block = row(t["def work(mib):"], "block = bytearray(mib * 2**20)")
    assert block["hits"] == 3 and block["allocated"] == pytest.approx(12, rel=0.01)  # each thread its own 4
    assert row(t["def rec(n):"], "return bytearray(2**20)")["hits"] == 1
    assert row(t["def rec(n):"], "if n == 0:")["hits"] == 6
    assert row(t["def fails():"], "x = bytearray(3 * 2**20)")["allocated"] == pytest.approx(3, rel=0.01)
    assert row(t["def fails():"], 'raise ValueError("inside")')["hits"] == 1


def test_exceptions_from_signal_handlers_leave_the_activations_right(tmp_path):
    """A signal handler raising every half millisecond inside a recursive
    profiled function (as Ctrl-C would), caught in the profiled function
    that called it: every activation the exceptions end is ended once, so
    the catching function goes on counting its lines. (The events cannot be
    interrupted themselves: on 3.11 the probes are operators, which do not
    check for pending signals as calls do.)"""
    result = memory(tmp_path, """
        import signal, time

        class Tick(Exception):
            pass

        def on_alarm(signum, frame):
            if frame is not None and frame.f_code.co_name == "rec":
                raise Tick

        @profile
        def rec(n):
            if n == 0:
                return 0
            return rec(n - 1) + 1

        @profile
        def runner(seconds):
            caught, deadline = 0, time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    rec(50)
                except Tick:
                    caught += 1
            return caught

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
        caught = runner(0.5)
        signal.setitimer(signal.ITIMER_REAL, 0)
        print("caught", caught)
    """)
    assert result.returncode == 0, result.stderr
    caught = int(re.search(r"caught (\d+)", result.stdout).group(1))
    assert caught > 0
    t = tables(result.stdout)["def runner(seconds):"]
    assert row(t, "caught += 1")["hits"] == caught and row(t, "return caught")["hits"] == 1, t


def test_program_that_exits_or_fails_still_gets_its_report(tmp_path):
    result = memory(tmp_path, """
        import sys

        @profile
        def never_returns():
            data = bytearray(6 * 2**20)
            sys.exit(4)

        never_returns()
    """)
    assert result.returncode == 4
    assert row(tables(result.stdout)["def never_returns():"], "data = bytearray(6 * 2**20)")["allocated"] == \
        pytest.approx(6, rel=0.01)
    failing = memory(tmp_path, """
        @profile
        def broken():
            x = bytearray(2**20)
            return 1 / 0

        broken()
    """)
    assert failing.returncode == 1
    assert "ZeroDivisionError" in failing.stderr and "Traceback" in failing.stderr
    assert "def broken():" in failing.stdout


def test_imported_decorator_options_output_files_and_json(tmp_path):
    stream_file = tmp_path / "own.txt"
    result = memory(tmp_path, f"""
        from yep import profile

        @profile(precision=1)
        def one():
            return bytearray(2**20)

        @profile(stream=open({str(stream_file)!r}, "w"))
        def two():
            return bytearray(2 * 2**20)

        one()
        two()
    """, "-o", "report.txt", "--json", "report.json")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "report.txt").read_text()
    assert re.search(r"^\s+\d+\s+[\d]+\.\d MiB\s+[\d.]+ MiB\s+1\s+\+1\.0 MiB", text, re.M), text  # precision=1
    assert "def two():" in stream_file.read_text() and "def two():" not in text
    data = json.loads((tmp_path / "report.json").read_text())
    lines = {l["source"].strip(): l for f in data for l in f["lines"]}
    assert lines["return bytearray(2 * 2**20)"]["allocated_bytes"] == pytest.approx(2 * MiB, rel=0.01)
    assert {f["function"] for f in data} == {"one", "two"}


def test_profile_outside_yep_memory_is_free_and_harmless(tmp_path):
    script = write_script(tmp_path, "plain.py", """
        import time
        from yep import profile

        def f(n):
            return sum(range(n))

        g = profile(f)
        assert g is f            # the very same function: no wrapper, no cost
        @profile(precision=4)
        def h():
            return 42
        assert h() == 42
        print("ok")
    """)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_errors(tmp_path):
    result = run_yep(["memory", "missing.py"], cwd=tmp_path)
    assert result.returncode == 2 and "cannot run 'missing.py'" in result.stderr
    script = write_script(tmp_path, "s.py", "print('ran')\n")
    result = run_yep(["memory", "-o", "/nonexistent-dir/r.txt", str(script)], cwd=tmp_path)
    assert result.returncode == 2 and "ran" not in result.stdout and "/nonexistent-dir" in result.stderr


def test_line_times_leave_out_the_tracers_own_cost(tmp_path):
    """Times against known truths: a line that sleeps 0.2 s reads 0.2 s, and
    so does the line that calls it; a line that does nothing, run 100,000
    times, reads near zero: under the tracer's own cost per event (measured
    at start-up), which is the least it would read without the correction.
    The smallest of eight copies run 50 ms apart, so that a stretch of time
    when the machine was busy elsewhere (which slows the tracer's events
    past what the start-up measured) cannot decide; the upper bounds of the
    sleeps are generous."""
    copies = 8
    empties = "".join(f"""
        @profile
        def empty{i}(n):
            for _ in range(n):
                x = 1
        """ for i in range(copies))
    result = memory(tmp_path, """
        import time
        import yep._native

        @profile
        def sleeper():
            time.sleep(0.2)

        @profile
        def caller():
            sleeper()
            return 1
        """ + empties + f"""
        caller()
        for i in range({copies}):
            globals()[f"empty{{i}}"](100_000)
            time.sleep(0.05)
        print(f"event cost: {{yep._native.line_tracer_event_cost()}} ns")
    """, "--json", "times.json")
    assert result.returncode == 0, result.stderr
    cost = float(re.search(r"event cost: ([\d.e+-]+) ns", result.stdout).group(1))
    assert 0 < cost < 5000, cost  # measured, and plausible
    data = {f["function"]: {l["source"].strip(): l for l in f["lines"]}
            for f in json.loads((tmp_path / "times.json").read_text())}
    sleep = data["sleeper"]["time.sleep(0.2)"]["time_seconds"]
    assert 0.199 <= sleep < 1.2, sleep
    call = data["caller"]["sleeper()"]["time_seconds"]
    assert 0.199 <= call < 1.2, call
    per_hit = []
    for i in range(copies):
        line = data[f"empty{i}"]["x = 1"]
        assert line["occurrences"] == 100_000
        per_hit.append(line["time_seconds"] / line["occurrences"] * 1e9)
    assert 0 <= min(per_hit) < cost, (per_hit, cost)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the line tracer uses sys.monitoring from 3.12 on")
def test_every_monitoring_tool_id_taken_is_one_line(tmp_path):
    """Another tool holding sys.monitoring's ids 2, 3 and 4 (here from
    sitecustomize, before yep starts): one line naming them, exit 2, the
    program not run."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nfor i in (2, 3, 4):\n    sys.monitoring.use_tool_id(i, f'tool{i}')\n")
    script = write_script(tmp_path, "s.py", "print('ran')\n")
    result = run_yep(["memory", str(script)], cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert result.returncode == 2 and "ran" not in result.stdout, result
    assert result.stderr.strip().splitlines() == [
        "yep: error: the line tracer needs a sys.monitoring tool id, and 2, 3 and 4 are taken (2 by 'tool2', "
        "3 by 'tool3', 4 by 'tool4'): stop the other tools (debugger, coverage, profiler) first"], result.stderr


LIBRARY_WORKLOAD = """
import argparse, ast, calendar, configparser, difflib, fnmatch, fractions, html, html.parser, inspect, ipaddress
import json, pprint, re, shlex, statistics, string, textwrap, tokenize, traceback, types, urllib.parse, io
import email, email.policy, email.feedparser, email.message, email._header_value_parser

try:
    profile
except NameError:
    def profile(f):
        return f

MODULES = [argparse, ast, calendar, configparser, difflib, fnmatch, fractions, html, html.parser, inspect,
           ipaddress, json.encoder, json.decoder, pprint, re._parser, re._compiler, shlex, statistics, string,
           textwrap, tokenize, traceback, urllib.parse, email.feedparser, email.message, email._header_value_parser]
count = 0
for mod in MODULES:
    for value in list(vars(mod).values()):
        owners = [value] if isinstance(value, types.FunctionType) else (
            list(vars(value).values()) if isinstance(value, type) else [])
        for f in owners:
            f = getattr(f, "__func__", f)
            if isinstance(f, types.FunctionType) and f.__module__ == mod.__name__:
                profile(f)
                count += 1
print("profiled", count > 1000)

re.purge()
for p in [r"(\\d+)-(\\w+)", r"(?P<year>\\d{4})-(?P<m>\\d\\d)", r"a|b|c+?", r"(?i)hello\\s+world", r"[^a-z]{2,5}$",
          r"(?:x(y)z)*", r"\\bfoo\\b(?=bar)", r"(a)(?(1)b|c)"]:
    c = re.compile(p)
    print(p, c.groups, c.groupindex, [m.group(0) for m in c.finditer("2024-05 HELLO  world foo xyzxyz ab ac 12-ab")])
a = "one\\ntwo\\nthree\\nfour\\nfive\\n".splitlines(True)
b = "one\\n2\\nthree\\nfour\\nsix\\nseven\\n".splitlines(True)
print("".join(difflib.unified_diff(a, b, "a", "b")))
print(round(difflib.SequenceMatcher(None, "abcdefgh", "abxdefgz").ratio(), 4))
print(difflib.get_close_matches("appel", ["ape", "apple", "peach", "puppy"]))
print(textwrap.fill("The quick brown fox jumps over the lazy dog " * 5, width=30))
print(textwrap.shorten("Hello there, this is a long sentence", width=20), textwrap.dedent("   a\\n   b"))
xs = [fractions.Fraction(i, i + 1) for i in range(1, 30)]
print(statistics.mean(xs), statistics.median(xs), statistics.mode([1, 2, 2, 3]), round(statistics.stdev(range(20)), 6))
print(json.dumps({"b": [1, 2, {"c": None}], "a": "x\\u00e9", "d": 1.5}, indent=2, sort_keys=True))
try:
    json.loads("[1, 2,")
except json.JSONDecodeError as e:
    print("json error", e.msg, e.pos)
parser = argparse.ArgumentParser(prog="demo", description="A demo.")
parser.add_argument("--count", type=int, default=3)
parser.add_argument("names", nargs="*")
print(parser.parse_args(["--count", "5", "x", "y"]))
print(parser.format_help())
try:
    parser.parse_args(["--count", "notanint"])
except SystemExit as e:
    print("argparse exit", e.code)
print(pprint.pformat({"k%d" % i: list(range(i)) for i in range(8)}, width=40))
net = ipaddress.ip_network("10.0.0.0/22")
print(list(net.subnets(new_prefix=24)), ipaddress.ip_address("::ffff:1.2.3.4").ipv4_mapped)
try:
    ipaddress.ip_address("999.1.1.1")
except ValueError as e:
    print("ip error", e)
cp = configparser.ConfigParser()
cp.read_string("[s]\\na = 1\\nb = ${a}x\\n[t]\\nc: hello\\n")
print(cp.sections(), cp["s"]["a"], cp.getint("s", "a"), dict(cp["t"]))
print(shlex.split("a 'b c' \\"d e\\" f\\\\ g"), shlex.join(["a b", "c"]))
print(string.Template("$who likes ${what}").substitute(who="tim", what="kung pao"), string.capwords("hello  world"))
src = "def f(x, *, y=2):\\n    return [i**2 for i in range(x) if i % y]\\nclass C(B, metaclass=M):\\n    z: int = 3\\n"
tree = ast.parse(src)
print(ast.unparse(tree))
print(ast.dump(ast.parse("a + b * c"), indent=1))
print([t.string for t in tokenize.generate_tokens(io.StringIO(src).readline)][:20])
print(inspect.signature(textwrap.fill), inspect.getfullargspec(difflib.unified_diff).args)
print(calendar.TextCalendar().formatmonth(2024, 2))
print(fnmatch.translate("*.py[co]"), fnmatch.filter(["a.py", "b.pyc", "c.txt"], "*.py*"))
print(urllib.parse.urlparse("http://u:p@host:80/a/b;p?q=1&r=2#frag"), urllib.parse.urlencode({"a": "1 2", "b": "é"}))
print(urllib.parse.quote("a b/c?d"), urllib.parse.parse_qs("a=1&a=2&b=3"), urllib.parse.urljoin("http://x/a/b", "../c"))
class P(html.parser.HTMLParser):
    def handle_starttag(self, tag, attrs):
        print("start", tag, attrs)
P().feed("<html><body class='x'><p id=1>Hi &amp; bye</p><br/></body></html>")
print(html.escape("<a href='x'>&</a>"), html.unescape("&lt;&#65;&eacute;&gt;"))
msg = email.message_from_string("From: a@b.c\\nTo: d@e.f\\nSubject: =?utf-8?q?h=C3=A9llo?=\\n\\nbody line\\n",
                                policy=email.policy.default)
print(msg["subject"], msg["to"].addresses, msg.get_content().strip())
try:
    @profile
    def boom():
        return 1 / 0
    boom()
except ZeroDivisionError:
    print("".join(traceback.format_exc().splitlines(True)[-2:]).strip())
print("done")
"""


def test_profiling_a_thousand_library_functions_changes_nothing(tmp_path):
    """Every Python function of 26 standard library modules (regular
    expression parser and compiler, argparse, ast, difflib, email, json,
    tokenize, ...) under @profile, exercised with their error paths and a
    traceback: the program prints exactly what it prints unprofiled (on 3.11
    the functions run copies of their code with line probes in them)."""
    script = write_script(tmp_path, "library.py", LIBRARY_WORKLOAD)
    plain = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0 and plain.stdout.startswith("profiled True\n") and "done" in plain.stdout, plain
    profiled = run_yep(["memory", "-o", "report.txt", str(script)], cwd=tmp_path, timeout=300)
    assert profiled.returncode == 0, profiled.stderr
    assert profiled.stdout == plain.stdout and profiled.stderr == plain.stderr
    report = (tmp_path / "report.txt").read_text()
    assert report.count("Filename: ") > 1000
    assert len(re.findall(r"MiB\s+\d+\s+[+-][\d.]+ MiB", report)) > 2000  # lines that ran have figures


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="line probes in the bytecode are 3.11's hook")
def test_line_probes_leave_the_code_as_it_was(tmp_path):
    """3.11: each plain function of 25 standard library modules, rewritten
    with line probes, is its original plus the probes: the same
    instructions with the same arguments, positions and jump targets, the
    same exception handlers, plus a handler for the rest of the body that
    ends the activation and re-raises. Generators and coroutines are left
    alone (they are traced by the trace function)."""
    script = write_script(tmp_path, "check.py", '''
        import bisect, dis, importlib, types
        import yep._native as native

        def kept(code):
            """Instructions without EXTENDED_ARG and probes; the skip jumps over probes dropped."""
            ins = [x for x in dis.get_instructions(code) if x.opname != "EXTENDED_ARG"]
            out, i = [], 0
            while i < len(ins):
                if ins[i].opname == "LOAD_CONST" and type(ins[i].argval).__name__ == "line_probe":
                    assert [x.opname for x in ins[i:i + 4]] == ["LOAD_CONST", "LOAD_CONST", "BINARY_OP", "POP_TOP"]
                    assert ins[i + 2].argrepr == "@" and isinstance(ins[i + 1].argval, int)
                    i += 4
                    continue
                out.append(ins[i])
                i += 1
            return [x for k, x in enumerate(out) if not (
                x.opname == "JUMP_FORWARD" and k + 1 < len(out) and x.offset + 2 < x.argval <= out[k + 1].offset)]

        def canonical(code, instrs):
            offsets = [x.offset for x in instrs]
            at = lambda offset: bisect.bisect_left(offsets, offset)
            body = [(x.opname, at(x.argval) if x.opcode in dis.hasjrel else repr(x.argval)[:60], x.positions)
                    for x in instrs]
            table = []
            for e in dis._parse_exception_table(code):
                entry = (at(e.start), at(e.end), at(e.target), e.depth, e.lasti)
                if table and table[-1][1] == entry[0] and table[-1][2:] == entry[2:]:
                    table[-1] = (table[-1][0], entry[1]) + entry[2:]
                else:
                    table.append(entry)
            return body, table

        modules = "argparse ast calendar configparser csv dataclasses difflib email.feedparser email.message " \\
                  "email._header_value_parser enum fractions inspect ipaddress json.decoder pprint re._parser " \\
                  "re._compiler shlex statistics string textwrap tokenize traceback urllib.parse".split()
        probed = left = 0
        for name in modules:
            module = importlib.import_module(name)
            for value in list(vars(module).values()):
                owners = [value] if isinstance(value, types.FunctionType) else (
                    list(vars(value).values()) if isinstance(value, type) else [])
                for f in owners:
                    f = getattr(f, "__func__", f)
                    if not isinstance(f, types.FunctionType) or f.__module__ != name:
                        continue
                    code = f.__code__
                    copy = native.line_tracer_add(code)
                    if copy is code:
                        assert code.co_flags & (0x20 | 0x80 | 0x100 | 0x200), f"{name}.{f.__qualname__} refused"
                        left += 1
                        continue
                    probed += 1
                    rest = kept(copy)
                    stub = rest.pop()
                    assert stub.opname == "RERAISE" and stub.arg == 0, f.__qualname__
                    body, table = canonical(code, kept(code))
                    new_body, new_table = canonical(copy, rest)
                    assert new_body == body, f.__qualname__
                    # the added handler covers what no handler did, from after the enter probe on
                    assert [e for e in new_table if e[2] < len(rest)] == table, f.__qualname__
                    assert {l for *_, l in code.co_lines()} - {None} == {l for *_, l in copy.co_lines()} - {None}
                    native.line_tracer_forget(code)
        print("probed", probed, "left", left)
    ''')
    result = subprocess.run([sys.executable, "-P", str(script)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    probed, left = map(int, re.search(r"probed (\d+) left (\d+)", result.stdout).groups())
    assert probed > 1000 and left > 5, result.stdout
