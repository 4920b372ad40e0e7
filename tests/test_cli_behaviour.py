"""The profiled program's behaviour passes through `python -m yep`
untouched (argv, __main__, output, exit status, exceptions, Ctrl-C), the
profile is complete whatever way the program ends, and user mistakes get
one clear line and exit status 2."""
import os
import signal
import subprocess
import sys

import pytest

from conftest import parse_report, run_yep, write_script


def report_of(path, cwd):
    result = run_yep(["report", "--nodecount", "0", str(path)], cwd=cwd)
    assert result.returncode == 0, result.stderr
    return parse_report(result.stdout)


def test_argv_main_and_path_are_the_programs(tmp_path):
    (tmp_path / "sub").mkdir()
    write_script(tmp_path / "sub", "helper_mod.py", "VALUE = 42\n")
    script = write_script(tmp_path / "sub", "prog.py", """
        import sys, helper_mod   # importable only if the script's directory is on sys.path
        print("name", __name__)
        print("argv", sys.argv)
        print("value", helper_mod.VALUE)
        sys.stderr.write("to stderr\\n")
    """)
    result = run_yep([str(script), "a", "-v", "--x=1"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"name __main__\nargv {[str(script), 'a', '-v', '--x=1']}\nvalue 42\n"
    assert result.stderr.startswith("to stderr\n")
    assert (tmp_path / "prog.py.prof").exists()


PROGRAM = """\
import sys
print("name", __name__, "main", sys.modules["__main__"].__dict__ is globals())
print("argv", sys.argv[1:], "file", __file__)
print("sum", sum(i * i for i in range(3_000_000)))
"""


@pytest.mark.parametrize("form", ["source", "folder", "zip", "compiled"])
def test_every_form_of_script_runs_as_python_runs_it(tmp_path, form):
    # A source file runs in yep's own runner (without runpy's imports); a
    # folder or zip with __main__.py and compiled code go through runpy.
    # Each prints what plain Python prints, and the profile has its samples.
    import py_compile
    import zipapp

    source = write_script(tmp_path, "prog.py", PROGRAM)
    if form == "folder":
        (tmp_path / "app").mkdir()
        (tmp_path / "app" / "__main__.py").write_text(PROGRAM)
        target = tmp_path / "app"
    elif form == "zip":
        (tmp_path / "app").mkdir()
        (tmp_path / "app" / "__main__.py").write_text(PROGRAM)
        target = tmp_path / "app.pyz"
        zipapp.create_archive(tmp_path / "app", target)
    elif form == "compiled":
        target = tmp_path / "prog_compiled"  # compiled code under any name, as python runs it
        py_compile.compile(str(source), cfile=str(target), doraise=True)
    else:
        target = source
    plain = subprocess.run([sys.executable, str(target), "a", "-b"], capture_output=True, text=True, timeout=60,
                           cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    result = run_yep(["-o", "p.prof", str(target), "a", "-b"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.stdout
    assert "name __main__ main True" in result.stdout
    rows, total = report_of(tmp_path / "p.prof", tmp_path)
    assert total > 0


def test_double_dash_before_the_script_as_in_yep(tmp_path):
    script = write_script(tmp_path, "p.py", "import sys; print(sys.argv[1:])\n")
    result = run_yep(["-o", "x.prof", "--", str(script), "-o"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['-o']\n"
    assert (tmp_path / "x.prof").exists()


def test_exception_passes_through_and_profile_is_complete(tmp_path):
    script = write_script(tmp_path, "boom.py", """
        def busy():
            return sum(i * i for i in range(3_000_000))

        def fail():
            busy()
            raise ValueError("the program's own error")

        fail()
    """)
    result = run_yep(["-v", str(script)], cwd=tmp_path)
    assert result.returncode == 1
    assert "ValueError: the program's own error" in result.stderr
    assert f'File "{script}", line 9, in <module>' in result.stderr
    assert "runpy" not in result.stderr and "yep" not in result.stderr.split("ValueError")[0]
    rows, total = report_of(tmp_path / "boom.py.prof", tmp_path)
    assert total > 0.05  # samples up to the exception were kept


def test_sys_exit_status_passes_through(tmp_path):
    script = write_script(tmp_path, "leave.py", """
        import sys
        sum(i * i for i in range(2_000_000))
        sys.exit(3)
    """)
    result = run_yep([str(script)], cwd=tmp_path)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    rows, total = report_of(tmp_path / "leave.py.prof", tmp_path)
    assert total > 0


def test_sys_exit_with_message(tmp_path):
    script = write_script(tmp_path, "msg.py", "import sys; sys.exit('bye now')\n")
    result = run_yep([str(script)], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("bye now\n")  # the program's words first, then yep's
    assert "Traceback" not in result.stderr


def test_ctrl_c_writes_the_profile_and_exits_like_python(tmp_path):
    script = write_script(tmp_path, "interrupted.py", """
        import os, signal
        sum(i * i for i in range(2_000_000))
        os.kill(os.getpid(), signal.SIGINT)
        while True:
            pass
    """)
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    result = run_yep([str(script)], cwd=tmp_path)
    assert result.returncode == plain.returncode == -signal.SIGINT
    assert "KeyboardInterrupt" in result.stderr
    rows, total = report_of(tmp_path / "interrupted.py.prof", tmp_path)
    assert total > 0


def test_dash_m_runs_a_module(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    write_script(pkg, "tool.py", """
        import sys
        if __name__ == "__main__":
            print("tool", sys.argv[1:])
            print(sum(i * i for i in range(3_000_000)))
    """)
    result = run_yep(["-m", "mypkg.tool", "x", "-y"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("tool ['x', '-y']\n")
    rows, total = report_of(tmp_path / "mypkg.tool.prof", tmp_path)
    assert total > 0


def test_run_subcommand_and_a_script_named_like_a_subcommand(tmp_path):
    write_script(tmp_path, "report", "print('I am a script called report')\n")
    result = run_yep(["run", "report"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "I am a script called report\n"


@pytest.mark.parametrize("args, message", [
    ([], "usage:"),
    (["missing.py"], "yep: error: cannot run 'missing.py': no such file"),
    (["-m", "no_such_module_here"], "yep: error: cannot run module 'no_such_module_here'"),
    (["--bogus", "x.py"], "yep: error: unknown option --bogus"),
    (["-o", "/nonexistent-dir/out.prof", "ok.py"], "yep: error: cannot write the profile to '/nonexistent-dir/out.prof'"),
    (["-f", "0", "ok.py"], "yep: error: -f takes a number from 1 to 4000, not '0'"),
    # Numbers as the user might mistype them: other scripts' digits, beyond
    # 64 bits, exponents and infinities, a dump interval of one byte.
    (["-f", "١٠٠", "ok.py"], "yep: error: -f takes a number from 1 to 4000, not '١٠٠'"),
    (["-f", "inf", "ok.py"], "yep: error: -f takes a number from 1 to 4000, not 'inf'"),
    (["--nodecount", "99999999999999999999999", "ok.py"],
     "yep: error: --nodecount takes a whole number from 0 to 2147483647, not '99999999999999999999999'"),
    (["report", "--nodecount", "١٠", "x.prof"], "yep: error: --nodecount takes a whole number from 0 to 2147483647"),
    (["--heap", "--heap-interval", "1", "ok.py"], "yep: error: --heap-interval takes a size from 1M to 1P, not '1'"),
    (["--heap", "--heap-interval", "1e400", "ok.py"], "yep: error: --heap-interval needs a size like 64M or 1G"),
    (["memory", "--precision", "1000000000", "ok.py"], "yep: error: --precision takes a whole number from 0 to 12"),
    (["serve", "--port", "70000", "ok.py"], "yep: error: --port takes a whole number from 0 to 65535"),
    (["report", "nothing.prof"], "yep: error: nothing.prof: no such profile file"),
])
def test_user_mistakes_get_one_line_and_status_2(tmp_path, args, message):
    write_script(tmp_path, "ok.py", "print('should not run')\n")
    result = run_yep(args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "should not run" not in result.stdout


@pytest.mark.parametrize("args", [
    ["report", "--format", "nope", "x.prof"],
    ["report"],
    ["memory", "--precision", "many", "ok.py"],
    ["memory"],
    ["mprof", "run"],
    ["mprof", "run", "--interval", "soon", "ok.py"],
    ["mprof", "plot", "--bogus"],
    ["serve", "--port", "eighty", "ok.py"],
])
def test_every_sub_command_says_a_mistake_in_one_line(tmp_path, args):
    write_script(tmp_path, "ok.py", "print('should not run')\n")
    result = run_yep(args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("yep: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "should not run" not in result.stdout


@pytest.mark.parametrize("args, suggestion", [
    (["--vizualize", "ok.py"], "did you mean --visualize?"),
    (["--nodecont", "5", "ok.py"], "did you mean --nodecount?"),
    (["report", "--sortt", "cum", "x.prof"], "did you mean --sort?"),
    (["memory", "--precison", "2", "ok.py"], "did you mean --precision?"),
    (["mprof", "run", "--intervall", "0.1", "ok.py"], "did you mean --interval?"),
])
def test_a_misspelled_option_is_one_line_with_the_option_meant(tmp_path, args, suggestion):
    # One line, no usage block: the closest option named.
    write_script(tmp_path, "ok.py", "print('should not run')\n")
    result = run_yep(args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and suggestion in result.stderr, result.stderr
    assert "should not run" not in result.stdout


def test_version_of_yep_and_yep_convert(tmp_path):
    import os

    import yep

    result = run_yep(["--version"], cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith(f"yep {yep.__version__} (Python "), result
    convert = subprocess.run([os.path.join(os.path.dirname(sys.executable), "yep-convert"), "--version"],
                             capture_output=True, text=True)
    assert convert.returncode == 0 and convert.stdout == f"yep-convert {yep.__version__}\n", convert
    typo = subprocess.run([os.path.join(os.path.dirname(sys.executable), "yep-convert"), "--nodecont", "3", "x"],
                          capture_output=True, text=True)
    assert typo.returncode == 2 and "did you mean --nodecount?" in typo.stderr and typo.stderr.count("\n") == 1


def test_a_profile_given_as_the_script_is_pointed_to_yep_report(tmp_path):
    # `yep out.prof` (report forgotten) used to run the profile as Python: a
    # SyntaxError, and a new out.prof.prof. CPU, heap and proto files alike.
    script = write_script(tmp_path, "ok.py", "x = sum(range(10))\n")
    assert run_yep(["-o", "out.prof", "--format", "proto", str(script)], cwd=tmp_path).returncode == 0
    assert run_yep(["--heap", "-o", "mem", str(script)], cwd=tmp_path).returncode == 0
    heap = sorted(p.name for p in tmp_path.glob("mem.*.heap"))[-1]
    for name in ("out.prof", "out.prof.pb.gz", heap):
        before = sorted(p.name for p in tmp_path.iterdir())
        result = run_yep([name], cwd=tmp_path)
        assert result.returncode == 2, result
        assert result.stderr == f"yep: error: '{name}' is a profile, not a script: read it with yep report {name}\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_mprof_run_exits_with_the_programs_status(tmp_path):
    # memory_profiler's mprof exits 0 unless -E; yep passes the status through.
    script = write_script(tmp_path, "fails.py", "import sys; sys.exit(3)\n")
    assert run_yep(["mprof", "run", "-o", "a.dat", str(script)], cwd=tmp_path).returncode == 3
    killed = write_script(tmp_path, "killed.py", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)\n")
    assert run_yep(["mprof", "run", "-o", "b.dat", str(killed)], cwd=tmp_path).returncode == -signal.SIGTERM


def test_yep_memory_without_profile_says_so(tmp_path):
    plain = write_script(tmp_path, "plain.py", "x = [0] * 1000\nprint('ran')\n")
    result = run_yep(["memory", str(plain)], cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "ran\n", result
    assert "no function was decorated with @profile" in result.stderr
    decorated = write_script(tmp_path, "decorated.py", "@profile\ndef f():\n    return 1\nf()\n")
    result = run_yep(["memory", str(decorated)], cwd=tmp_path)
    assert result.returncode == 0 and "@profile" not in result.stderr and "Line #" in result.stdout, result


@pytest.mark.parametrize("command", [["memory"], ["serve"], ["run"]])
def test_after_dash_m_every_word_is_the_modules(tmp_path, command):
    (tmp_path / "echo_args.py").write_text("import sys\nprint(sys.argv[1:])\n")
    result = run_yep([*command, "-m", "echo_args", "--sort-keys", "-o", "x", "--", "-m"], cwd=tmp_path,
                     env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "['--sort-keys', '-o', 'x', '--', '-m']"


@pytest.mark.parametrize("command", [["-v"], ["memory"]])
def test_a_program_that_closes_stdout_still_gets_yeps_report(tmp_path, command):
    script = write_script(tmp_path, "closes.py", """
        import sys

        @profile
        def work():
            total = sum(range(200_000))
            return total

        if "profile" not in dir(__builtins__):
            pass
        work()
        print("done")
        sys.stdout.close()  # as json.tool does with its output file
    """) if command == ["memory"] else write_script(tmp_path, "closes.py", """
        import sys
        total = 0
        for i in range(3_000_000):
            total += i
        print("done")
        sys.stdout.close()
    """)
    result = run_yep([*command, str(script)], cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.startswith("done\n")
    report = result.stdout[len("done\n"):]
    assert ("total = sum(range(200_000))" in report) if command == ["memory"] else ("Total:" in report), report


def test_crafted_bad_profiles_are_refused_clearly(tmp_path):
    (tmp_path / "text.prof").write_text("not a profile at all, just some text\n")
    good = tmp_path / "good.prof"
    script = write_script(tmp_path, "w.py", "sum(i for i in range(1_000_000))\n")
    assert run_yep(["-o", str(good), str(script)], cwd=tmp_path).returncode == 0
    data = good.read_bytes()
    (tmp_path / "truncated.prof").write_bytes(data[:8 * 12])  # inside the records
    (tmp_path / "cut-maps.prof").write_bytes(data[:-30])  # inside the maps at the end
    (tmp_path / "empty.prof").write_bytes(b"")
    for name, message in [("text.prof", "not a gperftools CPU profile"), ("truncated.prof", "truncated"),
                          ("cut-maps.prof", "truncated"),
                          ("empty.prof", "empty")]:
        result = run_yep(["report", name], cwd=tmp_path)
        assert result.returncode == 2, name
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and name in lines[0], result.stderr


def test_profile_is_never_left_half_written_on_bad_report_output(tmp_path):
    script = write_script(tmp_path, "w.py", "sum(i for i in range(100_000))\n")
    assert run_yep([str(script)], cwd=tmp_path).returncode == 0
    result = run_yep(["report", "w.py.prof", "-o", "/nonexistent-dir/r.txt"], cwd=tmp_path)
    assert result.returncode == 2 and "cannot write '/nonexistent-dir/r.txt'" in result.stderr


def test_forked_child_exiting_normally_leaves_the_parents_profile_intact(tmp_path):
    # A child that exits through Py_Finalize runs libprofiler's static
    # destructor; it must not write into the parent's profile.
    script = write_script(tmp_path, "forks.py", """
        import os, sys
        def busy(n):
            return sum(i * i for i in range(n))
        busy(1_000_000)
        pid = os.fork()
        if pid == 0:
            busy(3_000_000)
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print("child status", status)
        busy(1_000_000)
    """)
    result = run_yep([str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "child status 0" in result.stdout
    assert "PROFILE:" not in result.stderr and "error" not in result.stderr
    rows, total = report_of(tmp_path / "forks.py.prof", tmp_path)
    assert total > 0


def test_program_changing_directory_still_gets_its_profile(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    script = write_script(tmp_path, "wander.py", """
        import os
        os.chdir("elsewhere")
        sum(i * i for i in range(2_000_000))
    """)
    result = run_yep([str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "elsewhere" / "wander.py.prof").exists()
    rows, total = report_of(tmp_path / "wander.py.prof", tmp_path)
    assert total > 0


def test_os_exit_still_finishes_the_profile(tmp_path):
    script = write_script(tmp_path, "hard_exit.py", """
        import os
        sum(i * i for i in range(2_000_000))
        print("bye", flush=True)
        os._exit(7)
    """)
    result = run_yep(["-v", str(script)], cwd=tmp_path)
    assert result.returncode == 7
    assert result.stdout.startswith("bye\n") and "Total:" in result.stdout
    rows, total = report_of(tmp_path / "hard_exit.py.prof", tmp_path)
    assert total > 0


@pytest.mark.parametrize("mode", [[], ["--mixed"]], ids=["plain", "mixed"])
def test_a_profile_that_cannot_be_written_at_stop_leaves_no_file(tmp_path, mode):
    # The start creates nothing (it only checks that the path could be
    # written); when the write at stop fails, nothing half-written stays
    # behind, no temporary either. Here the program itself takes the
    # output's name with a folder, which no write can replace.
    script = write_script(tmp_path, "w.py", "import os\nos.mkdir('out.prof')\nprint('ran')\n")
    result = run_yep([*mode, "-o", str(tmp_path / "out.prof"), str(script)], cwd=tmp_path)
    assert result.returncode == 2 and "ran" in result.stdout
    assert result.stderr.strip().splitlines() == [
        f"yep: error: cannot write the profile '{tmp_path / 'out.prof'}': Is a directory"], result.stderr
    assert sorted(os.listdir(tmp_path)) == ["out.prof", "w.py"] and not os.listdir(tmp_path / "out.prof")
