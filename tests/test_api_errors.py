"""yep.start/stop refuse what gperftools would silently get wrong, with
yep.YepError and a clear message, before any work is lost."""
import subprocess
import sys

from conftest import write_script


def run_python(tmp_path, body):
    script = write_script(tmp_path, "t.py", body)
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_start_twice_stop_unstarted_and_bad_paths(tmp_path):
    result = run_python(tmp_path, """
        import yep
        try:
            yep.stop()
        except yep.YepError as e:
            print("stop:", e)
        yep.start("one.prof")
        yep.start("two.prof")  # a profile inside a profile: no error (tests/test_nested_profiles.py)
        assert yep.is_running()
        sum(range(1000))
        print("inner:", yep.stop()["path"])
        print("outer:", yep.stop()["path"])
        for bad in ("/nonexistent-dir/x.prof", ".", 42):
            try:
                yep.start(bad)
            except yep.YepError as e:
                print("bad:", e)
        assert not yep.is_running()
    """)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "stop: no profile started by yep.start() is running; call yep.start() first" in out
    assert "inner: two.prof\nouter: one.prof\n" in out
    assert "bad: cannot write the profile to '/nonexistent-dir/x.prof': No such file or directory" in out
    assert "bad: cannot write the profile to '.': Is a directory" in out
    assert "bad: profile path must be a str or os.PathLike, not int" in out


def test_another_sigprof_handler_is_detected(tmp_path):
    result = run_python(tmp_path, """
        import signal, yep
        signal.signal(signal.SIGPROF, lambda *a: None)
        try:
            yep.start("x.prof")
        except yep.YepError as e:
            print("error:", e)
        assert not yep.is_running()
    """)
    assert result.returncode == 0, result.stderr
    assert "error: another SIGPROF handler is installed" in result.stdout


def test_handler_installed_before_load_disables_gperftools_and_is_detected(tmp_path):
    # libprofiler checks the handler once, when it loads, and then records
    # nothing forever even though ProfilerStart says it started.
    result = run_python(tmp_path, """
        import os, signal, yep
        signal.signal(signal.SIGPROF, lambda *a: None)
        import yep._native
        signal.signal(signal.SIGPROF, signal.SIG_DFL)
        try:
            yep.start("x.prof", mixed=False)  # gperftools' own sampler
        except yep.YepError as e:
            print("error:", e)
        print("left behind:", os.path.exists("x.prof"))
    """)
    assert result.returncode == 0, result.stderr
    assert "error: gperftools' profiler is disabled in this process" in result.stdout
    assert "left behind: False" in result.stdout
