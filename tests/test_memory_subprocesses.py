"""`yep memory` follows the processes its program starts (yep.subprocesses.memory):
@profile functions run in pool workers (fork, spawn, forkserver), in
`subprocess` and `os.fork` children, are reported under a header naming
their process, with the bytes their lines are known to allocate; the
program's output and exit status pass through. Real programs through the
real CLI, each with a timeout so that a hang fails."""
import json
import re
import signal

import pytest

from conftest import run_yep, write_script
from test_line_memory import row, tables

MiB = 1 << 20
HEADER = re.compile(r"^Process (\d+) \((forked from|started by) (\d+)\): (.*)$", re.M)


def memory(tmp_path, body, *args):
    script = write_script(tmp_path, "prog.py", body)
    return run_yep(["memory", *args, str(script)], cwd=tmp_path, timeout=240)


def processes(output):
    """[(header: (pid, how, parent pid, command) or None for the program's
    own process, its tables as test_line_memory.tables gives them)]."""
    parts = HEADER.split(output)
    out = [(None, tables(parts[0]))]
    for i in range(1, len(parts), 5):
        pid, how, parent, command, text = parts[i:i + 5]
        out.append(((int(pid), how, int(parent), command), tables(text)))
    return out


def pid_of_run(stderr):
    return int(re.search(r"^yep-test: program pid (\d+)$", stderr, re.M).group(1))


TASKS = """
    @profile
    def work(i):
        kept = bytearray(3 * 2**20)
        temp = bytearray(2**20)
        del temp
        return len(kept)
"""

POOL = """
    import multiprocessing, os, sys
    from tasks import work

    if __name__ == "__main__":
        print(f"yep-test: program pid {os.getpid()}", file=sys.stderr)
        context = multiprocessing.get_context(sys.argv[1])
        if sys.argv[1] == "forkserver":
            context.set_forkserver_preload(["tasks"])  # the server registers work() too, then outlives the program
        with context.Pool(2) as pool:
            print(sum(pool.map(work, range(7), chunksize=1)))
"""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pool_workers_report_the_lines_they_ran(tmp_path, method):
    write_script(tmp_path, "tasks.py", TASKS)
    script = write_script(tmp_path, "pool.py", POOL)
    result = run_yep(["memory", "--json", "out.json", str(script), method], cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{7 * 3 * MiB}\n")  # the program's own output, first
    assert "had not finished" not in result.stderr  # not even the forkserver, still running
    main = pid_of_run(result.stderr)
    found = processes(result.stdout)
    own_header, own = found[0]
    assert row(own["def work(i):"], "kept = bytearray(3 * 2**20)")["hits"] == 0  # the parent ran no task
    workers = found[1:]
    assert workers, result.stdout
    hits = 0
    for (pid, how, parent, command), t in workers:
        assert pid != main
        if method == "spawn":  # a new interpreter, started by the program
            assert how == "started by" and parent == main and "spawn_main" in command
        elif method == "fork":
            assert how == "forked from" and parent == main
        else:  # forked by the forkserver, which the program started
            assert how == "forked from" and parent != main
        kept = row(t["def work(i):"], "kept = bytearray(3 * 2**20)")
        # Exact bytes, counted in every kind of worker (spawned ones restart with the interposer).
        assert kept["hits"] >= 1
        assert kept["allocated"] == pytest.approx(3 * kept["hits"], rel=0.01)
        assert kept["peak"] == pytest.approx(3, rel=0.01)
        temp = row(t["def work(i):"], "temp = bytearray(2**20)")
        assert temp["hits"] == kept["hits"] and temp["allocated"] == pytest.approx(temp["hits"], rel=0.01)
        assert row(t["def work(i):"], "del temp")["allocated"] == pytest.approx(-temp["hits"], rel=0.01)
        hits += kept["hits"]
    assert hits == 7  # every task, once, in the process that ran it
    assert len({pid for (pid, *_), _ in workers}) == len(workers)
    data = json.loads((tmp_path / "out.json").read_text())
    counted = {f["process"]["pid"]: f["process"]["allocations_counted"] for f in data}
    assert counted == {main: True, **{pid: True for (pid, *_), _ in workers}}
    assert sum(l.get("occurrences", 0) for f in data if f["process"]["pid"] != main for l in f["lines"]
               if l["source"].strip() == "kept = bytearray(3 * 2**20)") == 7


def test_a_pool_that_replaces_its_workers(tmp_path):
    """maxtasksperchild=1: a worker per task, each forked from the pool's
    handler thread while the program runs, the last ones terminated as they
    are born (a SIGTERM lost in that window hung the pool's exit)."""
    write_script(tmp_path, "tasks.py", TASKS)
    result = memory(tmp_path, """
        import multiprocessing
        from tasks import work

        if __name__ == "__main__":
            with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
                print(sum(pool.map(work, range(20), chunksize=1)))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{20 * 3 * MiB}\n")
    (_, own), *workers = processes(result.stdout)
    assert len(workers) == 20  # one process per task, each its own table
    for (pid, how, parent, command), t in workers:
        kept = row(t["def work(i):"], "kept = bytearray(3 * 2**20)")
        assert kept["hits"] == 1 and kept["allocated"] == pytest.approx(3, rel=0.01)


def test_subprocess_and_fork_children_each_under_their_process(tmp_path):
    write_script(tmp_path, "child.py", """
        @profile
        def child_work():
            x = bytearray(5 * 2**20)
            return len(x)

        print("child", child_work())
    """)
    result = memory(tmp_path, """
        import os, subprocess, sys

        @profile
        def in_fork():
            y = bytearray(7 * 2**20)
            return len(y)

        @profile
        def main():
            z = bytearray(2**20)
            print(f"yep-test: program pid {os.getpid()}", file=sys.stderr)
            r = subprocess.run([sys.executable, "child.py", "an argument"])
            pid = os.fork()
            if pid == 0:
                in_fork()
                sys.exit(3)
            _, status = os.waitpid(pid, 0)
            print("fork status", os.waitstatus_to_exitcode(status), "run", r.returncode)
            return os.waitstatus_to_exitcode(status)

        sys.exit(main())
    """)
    assert result.returncode == 3, result.stderr  # the forked child's status, passed on by the program
    assert "child 5242880\nfork status 3 run 0\n" in result.stdout
    assert result.stdout.count("Filename: ") == 5  # the forked child printed no report of its own
    main = pid_of_run(result.stderr)
    (_, own), *children = processes(result.stdout)
    assert row(own["def in_fork():"], "y = bytearray(7 * 2**20)")["hits"] == 0
    assert row(own["def main():"], "z = bytearray(2**20)")["allocated"] == pytest.approx(1, rel=0.01)
    by_how = {how: (pid, parent, command, t) for (pid, how, parent, command), t in children}
    assert len(children) == 2 and set(by_how) == {"started by", "forked from"}

    pid, parent, command, t = by_how["started by"]
    assert parent == main and command.endswith("child.py 'an argument'")
    assert set(t) == {"def child_work():"}
    x = row(t["def child_work():"], "x = bytearray(5 * 2**20)")
    assert x["hits"] == 1 and x["allocated"] == pytest.approx(5, rel=0.01)

    pid, parent, command, t = by_how["forked from"]
    assert parent == main and pid != main
    y = row(t["def in_fork():"], "y = bytearray(7 * 2**20)")
    assert y["hits"] == 1 and y["allocated"] == pytest.approx(7, rel=0.01)
    # The child's main() holds the lines the child ran after the fork, not the parent's.
    child_main = t["def main():"]
    assert row(child_main, "z = bytearray(2**20)")["hits"] == 0
    assert row(child_main, "_, status = os.waitpid(pid, 0)")["hits"] == 0
    assert row(child_main, "in_fork()")["hits"] == 1
    assert row(child_main, "in_fork()")["peak"] == pytest.approx(7, rel=0.01)


def test_forks_while_another_thread_runs_a_profiled_line(tmp_path):
    """A fork copies only the forking thread: the child neither hangs on
    what the other thread held (the GIL, the allocator's locks) nor reports
    that thread's lines, which it never ran."""
    result = memory(tmp_path, """
        import os, threading

        stop = threading.Event()

        @profile
        def churn():
            while not stop.is_set():
                b = bytearray(2**20)
                del b

        @profile
        def small():
            s = bytearray(2 * 2**20)
            return len(s)

        t = threading.Thread(target=churn)
        t.start()
        statuses = []
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                small()
                os._exit(0)
            statuses.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        stop.set()
        t.join()
        print("statuses", statuses)
    """)
    assert result.returncode == 0, result.stderr
    assert "statuses [0, 0, 0, 0, 0]" in result.stdout
    (_, own), *children = processes(result.stdout)
    assert row(own["def churn():"], "b = bytearray(2**20)")["hits"] > 0
    assert row(own["def small():"], "s = bytearray(2 * 2**20)")["hits"] == 0
    assert len(children) == 5
    for (pid, how, parent, command), t in children:
        assert how == "forked from"
        assert set(t) == {"def small():"}, t  # not the churning thread's lines
        s = row(t["def small():"], "s = bytearray(2 * 2**20)")
        assert s["hits"] == 1 and s["allocated"] == pytest.approx(2, rel=0.01)


def test_executor_and_a_terminated_pool(tmp_path):
    result = memory(tmp_path, """
        import multiprocessing, time
        from concurrent.futures import ProcessPoolExecutor

        @profile
        def task(n):
            return len(bytearray(n * 2**20))

        def sleeper():
            time.sleep(120)

        if __name__ == "__main__":
            with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
                print(sum(ex.map(task, [1, 2, 3, 4])))
            pool = multiprocessing.get_context("fork").Pool(1)
            print(pool.apply(task, (5,)))
            ready = pool.apply_async(sleeper)
            pool.terminate()  # SIGTERM: the worker writes its lines first
            pool.join()
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{10 * MiB}\n{5 * MiB}\n")
    (_, own), *children = processes(result.stdout)
    source = "return len(bytearray(n * 2**20))"
    spawned = [row(t["def task(n):"], source) for (_, how, _, _), t in children if how == "started by"]
    forked = [row(t["def task(n):"], source) for (_, how, _, _), t in children if how == "forked from"]
    assert sum(r["hits"] for r in spawned) == 4 and max(r["peak"] for r in spawned) == pytest.approx(4, rel=0.01)
    assert len(forked) == 1 and forked[0]["hits"] == 1 and forked[0]["peak"] == pytest.approx(5, rel=0.01)
    assert "had not finished" not in result.stderr


def test_children_without_profile_add_nothing_and_unfinished_ones_are_named(tmp_path):
    result = memory(tmp_path, """
        import os, signal, subprocess, sys

        @profile
        def parent():
            return 1

        code = "import sys\\n@profile\\ndef f():\\n    return 1\\nf()\\nprint('ready', flush=True)\\nsys.stdin.read()\\n"
        # Still running when the report is written (it ends when the program does) ...
        running = subprocess.Popen([sys.executable, "-c", code, "still-running"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        assert running.stdout.readline() == "ready\\n"
        # ... killed before it could write ...
        killed = subprocess.Popen([sys.executable, "-c", code, "killed"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert killed.stdout.readline() == "ready\\n"
        killed.kill()
        killed.wait()
        # ... and children that ran no profiled function: nothing.
        subprocess.run([sys.executable, "-c", "print('plain child')"], check=True)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        parent()
        print("pids", running.pid, killed.pid)
    """)
    assert result.returncode == 0, result.stderr
    assert "plain child\n" in result.stdout
    running, killed = map(int, re.search(r"^pids (\d+) (\d+)$", result.stdout, re.M).groups())
    assert "Process " not in result.stdout
    (_, own), = processes(result.stdout)
    assert row(own["def parent():"], "return 1")["hits"] == 1
    notes = [l for l in result.stderr.splitlines() if l.startswith("yep memory:")]
    assert len(notes) == 1, result.stderr
    assert "2 child processes had not finished" in notes[0]
    assert re.search(rf"\b{running} \(.*still-running\)", notes[0]) and re.search(rf"\b{killed} \(.*killed\)", notes[0])
    # The one still running ended after the report without a word (its folder was gone).
    assert "yep:" not in result.stderr.replace(notes[0], "")


def test_a_program_without_children_reports_as_before(tmp_path):
    body = """
        @profile
        def f():
            a = bytearray(4 * 2**20)
            return len(a)

        f()
    """
    followed = memory(tmp_path, body, "--json", "out.json")
    alone = memory(tmp_path, body, "--no-subprocesses")
    for result in (followed, alone):
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert "Process " not in result.stdout
        a = row(tables(result.stdout)["def f():"], "a = bytearray(4 * 2**20)")
        assert a["hits"] == 1 and a["allocated"] == pytest.approx(4, rel=0.01)
    strip = lambda text: [" ".join(re.sub(r"\d+\.\d+ (MiB|s|ms|us)", "#", l).split()) for l in text.splitlines()]
    assert strip(followed.stdout) == strip(alone.stdout)
    (f,) = json.loads((tmp_path / "out.json").read_text())
    assert f["function"] == "f" and f["process"]["started"] == "main"


def test_no_subprocesses_leaves_children_alone(tmp_path):
    result = memory(tmp_path, """
        import os, sys

        @profile
        def f():
            return len(bytearray(2**20))

        print("sees", os.environ.get("YEP_SUBPROCESSES"))
        pid = os.fork()
        if pid == 0:
            f()
            sys.exit(4)  # leaves through yep memory's own code, as the parent would
        print("child status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """, "--no-subprocesses")
    assert result.returncode == 0, result.stderr
    assert "sees None\n" in result.stdout and "child status 4\n" in result.stdout
    assert result.stdout.count("Filename: ") == 1 and "Process " not in result.stdout  # no report from the child
    assert row(tables(result.stdout)["def f():"], "return len(bytearray(2**20))")["hits"] == 0


def test_bad_options_are_one_line(tmp_path):
    script = write_script(tmp_path, "prog.py", "print('ran')\n")
    for args in (["--no-subprocesses", "--bogus", str(script)], ["--subprocesses"]):
        result = run_yep(["memory", *args], cwd=tmp_path, timeout=60)
        assert result.returncode == 2 and result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


def test_a_signal_ending_the_program_passes_through(tmp_path):
    result = memory(tmp_path, """
        import os, signal, subprocess, sys

        @profile
        def f():
            return len(bytearray(2**20))

        subprocess.run([sys.executable, "-c", "@profile\\ndef g():\\n    return len(bytearray(3 * 2**20))\\ng()"],
                       check=True)
        f()
        os.kill(os.getpid(), signal.SIGTERM)
        print("not reached")
    """)
    assert result.returncode == -signal.SIGTERM
    assert "not reached" not in result.stdout
    # The report, the child's included, is written before the signal ends the run.
    (_, own), ((pid, how, parent, command), child) = processes(result.stdout)
    assert row(own["def f():"], "return len(bytearray(2**20))")["peak"] == pytest.approx(1, rel=0.01)
    assert how == "started by" and command.endswith("g()'")
    (lines,) = child.values()
    assert [r["peak"] for r in lines.values() if r["hits"]] == [pytest.approx(3, rel=0.01)]
