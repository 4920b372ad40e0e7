"""Outputs in a shared folder (converters/output_file.h): a symbolic link
another user planted at the output path, or at a temporary name older
yeps used, is never followed and its victim is unchanged; a device node
or a FIFO is written through, never replaced, and a FIFO nobody reads is
an error, never a hang; `-o -` is standard output; a full disk on
standard output is one line with status 2. Through every writer: the
capture (python -m yep -o, mixed and native), yep report -o, yep-convert
-o and the Python API's Profile.save. Run as root (as CI runs), with the
links owned by another user, as an attacker's would be."""
import os
import stat
import subprocess
import sys
import threading

import pytest

from conftest import run_yep, write_script, yep_environment

NOBODY = 65534
VICTIM_TEXT = b"the victim's own bytes\n"

SCRIPT = """
import time
end = time.process_time() + 0.05
while time.process_time() < end:
    pass
"""


@pytest.fixture
def shared(tmp_path):
    """A sticky world-writable folder, as /tmp, with a victim file outside."""
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    victim = tmp_path / "victim"
    victim.write_bytes(VICTIM_TEXT)
    return folder, victim


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    where = tmp_path_factory.mktemp("profile")
    script = write_script(where, "s.py", SCRIPT)
    result = run_yep(["-o", "s.prof", str(script)], cwd=where, timeout=60)
    assert result.returncode == 0, result.stderr
    return where / "s.prof"


def plant(link, target):
    os.symlink(target, link)
    os.lchown(link, NOBODY, NOBODY)


def yep_convert(*args, **kwargs):
    streams = {} if "stdout" in kwargs else {"capture_output": True}
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "yep-convert"), *args],
                          timeout=60, env=yep_environment(), **streams, **kwargs)


def writers(profile, out, cwd):
    """Each writer, writing `out` (a path in the shared folder)."""
    script = write_script(cwd, "w.py", SCRIPT)
    return {
        "capture": lambda: run_yep(["-o", str(out), str(script)], cwd=cwd, timeout=60),
        "capture --native": lambda: run_yep(["--native", "-o", str(out), str(script)], cwd=cwd, timeout=60),
        "report": lambda: run_yep(["report", "-o", str(out), str(profile)], cwd=cwd, timeout=60),
        "report pstats": lambda: run_yep(["report", "--format", "pstats", "-o", str(out), str(profile)], cwd=cwd,
                                         timeout=60),
        "yep-convert": lambda: yep_convert("-o", str(out), str(profile), cwd=cwd, text=True),
        "mprof run": lambda: run_yep(["mprof", "run", "-o", str(out), str(script)], cwd=cwd, timeout=60),
        "Profile.save": lambda: subprocess.run(  # its YepError, as a program would show it
            [sys.executable, "-c", f"import sys, yep\ntry:\n    yep.load({str(profile)!r}).save({str(out)!r}, 'text')\n"
             "except yep.YepError as e:\n    print(f'yep: error: {e}', file=sys.stderr)\n    sys.exit(2)\n"],
            cwd=cwd, env=yep_environment(), capture_output=True, text=True, timeout=60),
    }


WRITERS = ["capture", "capture --native", "report", "report pstats", "yep-convert", "mprof run", "Profile.save"]


def one_line_error(result):
    err = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    assert result.returncode == 2, (result.returncode, err)
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("writer", WRITERS)
def test_a_link_planted_at_the_output_is_not_followed(shared, profile, tmp_path, writer):
    folder, victim = shared
    out = folder / "out.prof"
    plant(out, victim)
    line = one_line_error(writers(profile, out, tmp_path)[writer]())
    assert "symbolic link another user made in the shared folder" in line, line
    assert victim.read_bytes() == VICTIM_TEXT
    assert os.path.islink(out) and os.readlink(out) == str(victim)
    assert sorted(os.listdir(folder)) == ["out.prof"]  # no temporary left behind


@pytest.mark.parametrize("writer", WRITERS)
def test_links_at_the_old_temporary_names_are_never_touched(shared, profile, tmp_path, writer):
    folder, victim = shared
    out = folder / "out.prof"
    old_names = [f"{out}.yep-tmp", str(folder / ".out.prof.yep-tmp"), f"{out}.yep-raw"]
    for name in old_names:
        plant(name, victim)
    result = writers(profile, out, tmp_path)[writer]()
    assert result.returncode == 0, result.stderr
    assert victim.read_bytes() == VICTIM_TEXT
    assert stat.S_ISREG(os.lstat(out).st_mode) and os.path.getsize(out) > 0
    assert all(os.readlink(name) == str(victim) for name in old_names)
    assert sorted(os.listdir(folder)) == sorted(["out.prof", *(os.path.basename(n) for n in old_names)])


def test_the_users_own_link_is_followed_to_its_file(tmp_path, profile):
    target = tmp_path / "real.txt"
    target.write_text("an older report\n")
    (tmp_path / "link.txt").symlink_to(target)
    result = run_yep(["report", "-o", "link.txt", str(profile)], cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert os.path.islink(tmp_path / "link.txt") and target.read_text().startswith("Type: cpu")


@pytest.mark.parametrize("writer", WRITERS)
def test_a_device_node_is_written_through_not_replaced(shared, profile, tmp_path, writer):
    folder, _ = shared
    null = folder / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # as /dev/null
    result = writers(profile, null, tmp_path)[writer]()
    assert result.returncode == 0, result.stderr
    st = os.lstat(null)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert sorted(os.listdir(folder)) == ["null"]


@pytest.mark.parametrize("writer", ["capture", "capture --native", "report", "yep-convert", "Profile.save"])
def test_a_fifo_is_written_through_to_its_reader(tmp_path, profile, writer):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    # The reader opens the FIFO first, as `cat fifo &` would: the write
    # comes at the end of the run.
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    result = writers(profile, fifo, tmp_path)[writer]()
    reader.join(30)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    data = got[0]
    assert data.startswith(b"Type: cpu") or data[:8] == bytes(8), data[:40]  # a report, or a CPU profile


@pytest.mark.parametrize("writer", ["capture", "report", "yep-convert", "Profile.save"])
def test_a_fifo_nobody_reads_is_one_line_not_a_hang(tmp_path, profile, writer):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    line = one_line_error(writers(profile, fifo, tmp_path)[writer]())
    assert "FIFO that no process reads" in line, line
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dash_is_standard_output_and_a_full_disk_is_one_line(tmp_path, profile):
    for command in (lambda **kw: run_yep(["report", "-o", "-", str(profile)], cwd=tmp_path, timeout=60, **kw),
                    lambda **kw: yep_convert("-o", "-", str(profile), cwd=tmp_path, text=True, **kw)):
        result = command()
        assert result.returncode == 0 and result.stdout.startswith("Type: cpu"), result.stderr
        assert not (tmp_path / "-").exists()
    with open("/dev/full", "w") as full:
        for args in (["report", str(profile)], ["report", "--format", "folded", str(profile)]):
            result = subprocess.run([sys.executable, "-m", "yep", *args], stdout=full, stderr=subprocess.PIPE,
                                    text=True, timeout=60, env=yep_environment(), cwd=tmp_path)
            line = one_line_error(result)
            assert "cannot write the report to standard output: No space left on device" in line, line
        line = one_line_error(yep_convert(str(profile), stdout=full, stderr=subprocess.PIPE, cwd=tmp_path))
        assert "cannot write the report to standard output" in line, line


def test_a_folder_at_the_output_is_one_line(tmp_path, profile):
    (tmp_path / "dir").mkdir()
    line = one_line_error(run_yep(["report", "-o", "dir", str(profile)], cwd=tmp_path, timeout=60))
    assert "cannot write 'dir': Is a directory" in line, line


@pytest.fixture
def unprivileged_share(tmp_path):
    """A sticky world-writable folder outside pytest's private tmp (which
    only root can enter), for yep-convert run as the unprivileged user
    nobody (setpriv), with a profile and a victim file that are nobody's."""
    import shutil
    import tempfile

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run yep-convert as another user")
    folder = tempfile.mkdtemp(prefix="yep-shared-", dir="/tmp")
    os.chmod(folder, 0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_nobody(*args):
    import yep  # the installed package (pytest -P): its yep-convert binary, not the venv's launcher

    yep_convert = os.path.join(os.path.dirname(yep.__file__), "yep-convert")
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all",
                           yep_convert, *args], capture_output=True, text=True, timeout=60)


def test_as_an_unprivileged_user_a_planted_link_is_refused_and_a_device_written_through(unprivileged_share,
                                                                                          profile):
    folder = unprivileged_share
    probe = as_nobody("--version")
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run this tree's yep-convert: {probe.stderr.strip()}")
    mine = os.path.join(folder, "mine.prof")
    with open(profile, "rb") as src, open(mine, "wb") as dst:
        dst.write(src.read())
    victim = os.path.join(folder, "victim")
    with open(victim, "wb") as f:
        f.write(VICTIM_TEXT)
    for path in (mine, victim):
        os.chown(path, NOBODY, NOBODY)
    # Planted by another user (daemon, uid 1), in a folder root owns.
    link = os.path.join(folder, "out.txt")
    os.symlink(victim, link)
    os.lchown(link, 1, 1)
    line = one_line_error(as_nobody("-o", link, mine))
    assert "symbolic link another user made in the shared folder" in line, line
    with open(victim, "rb") as f:
        assert f.read() == VICTIM_TEXT
    null = os.path.join(folder, "null")
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(null, 0o666)  # past the umask
    result = as_nobody("-o", null, mine)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    # And nobody's own report, into the shared folder: a file of nobody's.
    result = as_nobody("-o", os.path.join(folder, "report.txt"), mine)
    assert result.returncode == 0, result.stderr
    st = os.lstat(os.path.join(folder, "report.txt"))
    assert stat.S_ISREG(st.st_mode) and st.st_uid == NOBODY
    assert sorted(os.listdir(folder)) == ["mine.prof", "null", "out.txt", "report.txt", "victim"]


def test_dev_stdout_is_written_through_and_another_users_fifo_is_refused(shared, profile, tmp_path):
    result = run_yep(["report", "-o", "/dev/stdout", str(profile)], cwd=tmp_path, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("Type: cpu"), result.stderr
    assert os.path.islink("/dev/stdout")
    folder, _ = shared
    fifo = folder / "out.txt"
    os.mkfifo(fifo)
    os.chown(fifo, NOBODY, NOBODY)  # theirs: reading what yep would write
    line = one_line_error(run_yep(["report", "-o", str(fifo), str(profile)], cwd=tmp_path, timeout=60))
    assert "it is a file another user made in the shared folder" in line, line
