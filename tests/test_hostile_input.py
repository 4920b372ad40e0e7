"""Profiles from elsewhere (attached to a bug report, rendered by a CI bot)
are read safely (converters/input_file.h): a source file a profile names is
printed only when it is a regular file of sane size that looks like source
text (a source extension, UTF-8 without NUL bytes), so a profile naming
/dev/zero, a FIFO, a secret or a binary gets a report without that file's
contents, in bounded time; numbers that would overflow 64 bits, a period
over an hour, or a profile cut right after its samples are one clear
error, never a negative total. Through yep report, yep-convert and
yep.load(...).source()."""
import os
import struct
import subprocess
import sys

import pytest

from conftest import run_yep, write_script, yep_environment

SECRET = "root:$6$SECRET-HASH:19000:0:99999:7:::"

SCRIPT = """
import time

def spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

spin(0.2)
"""


@pytest.fixture(scope="module")
def mixed_profile(tmp_path_factory):
    where = tmp_path_factory.mktemp("hostile")
    script = write_script(where, "victim_script.py", SCRIPT)
    result = run_yep(["-o", "real.prof", str(script)], cwd=where, timeout=60)
    assert result.returncode == 0, result.stderr
    return where, str(script), (where / "real.prof").read_bytes()


def naming(profile, script, target):
    """The profile with its Python frames' file renamed to target."""
    out = []
    for line in profile.split(b"\n"):
        if line.startswith(b"# yep-python:\t"):
            line = line.replace(script.encode(), target.encode())
        out.append(line)
    return b"\n".join(out)


def readers(path, cwd):
    yep_convert = os.path.join(os.path.dirname(sys.executable), "yep-convert")
    code = f"import yep\nprint(yep.load({str(path)!r}).source(list='spin'))"
    return {
        "yep report": lambda: run_yep(["report", "--format", "source", "--list", "spin", str(path)], cwd=cwd,
                                      timeout=60),
        "yep-convert": lambda: subprocess.run([yep_convert, "--format", "source", "--list", "spin", str(path)],
                                              cwd=cwd, env=yep_environment(), capture_output=True, text=True,
                                              timeout=60),
        "yep.load().source()": lambda: subprocess.run([sys.executable, "-c", code], cwd=cwd, env=yep_environment(),
                                                      capture_output=True, text=True, timeout=60),
    }


def hostile_targets(where):
    fifo = where / "fifo.py"
    if not fifo.exists():
        os.mkfifo(fifo)
    shadow = where / "shadow"
    shadow.write_text(SECRET + "\n" * 20)
    binary = where / "binary.py"
    binary.write_bytes(b"\x7fELF\x00\x00" + SECRET.encode() + b"\n" * 20)
    big = where / "big.py"
    big.write_text(("x = 1  # " + SECRET + "\n") * 400_000)  # 19 MiB of text
    return {"/dev/zero": "not a source file name", str(fifo): "not a regular file (a device, FIFO or socket)",
            str(shadow): "not a source file name", str(binary): "not source text", str(big): "larger than 16 MiB"}


@pytest.mark.parametrize("reader", ["yep report", "yep-convert", "yep.load().source()"])
def test_a_profile_naming_hostile_files_never_shows_them(mixed_profile, tmp_path, reader):
    where, script, profile = mixed_profile
    for target, why in hostile_targets(tmp_path).items():
        path = tmp_path / "crafted.prof"
        path.write_bytes(naming(profile, script, target))
        result = readers(path, tmp_path)[reader]()
        assert result.returncode == 0, (target, result.stderr)
        assert SECRET not in result.stdout and "SECRET" not in result.stdout, target
        assert f"(source file not shown, {why}: {target}; showing only lines with samples)" in result.stdout, \
            (target, result.stdout)
    # The real script is shown, as before.
    path = tmp_path / "plain.prof"
    path.write_bytes(profile)
    result = readers(path, tmp_path)[reader]()
    assert result.returncode == 0 and "end = time.process_time() + seconds" in result.stdout, result.stdout


def one_line_error(result):
    assert result.returncode == 2, (result.returncode, result.stdout[-400:], result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def words(profile):
    return list(struct.unpack(f"<{len(profile) // 8}Q", profile[:len(profile) // 8 * 8])), profile[len(profile) // 8 * 8:]


def test_cpu_profile_numbers_that_overflow_or_a_cut_after_the_samples_are_one_error(mixed_profile, tmp_path):
    where, script, profile = mixed_profile
    w, _ = words(profile)
    assert w[:3] == [0, 3, 0] and w[5] > 0
    cases = {}
    # Each record's count at 2^62: four of them overflow any sum.
    big = bytearray(profile)
    i = 5
    while not (w[i] == 0 and w[i + 1] == 1 and w[i + 2] == 0):
        struct.pack_into("<Q", big, i * 8, 1 << 62)
        i += 2 + w[i + 1]
    trailer_end = (i + 3) * 8
    cases["counts.prof"] = (bytes(big), "sample counts beyond what 64 bits can add up")
    period = bytearray(profile)
    struct.pack_into("<Q", period, 3 * 8, 1 << 62)
    cases["period.prof"] = (bytes(period), "a sampling period of 4611686018427387904 microseconds (over an hour)")
    cases["cut.prof"] = (profile[:trailer_end], "it ends after its samples, without the memory maps")
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        line = one_line_error(run_yep(["report", name], cwd=tmp_path, timeout=60))
        assert message in line, (name, line)


def test_heap_profile_counts_that_overflow_are_one_error(tmp_path):
    huge = 2**63 - 1
    (tmp_path / "big.heap").write_text(
        f"heap profile: 1: 8 [ 1: 8] @ heapprofile\n"
        f"     1: {huge} [ 1: {huge}] @ 0x00401105\n"
        f"     1: {huge} [ 1: {huge}] @ 0x00401200\n\nMAPPED_LIBRARIES:\n"
        "00400000-00500000 r-xp 00000000 00:00 42          /usr/bin/prog\n")
    line = one_line_error(run_yep(["report", "big.heap"], cwd=tmp_path, timeout=60))
    assert "counts beyond what 64 bits can add up" in line, line


def test_a_fifo_or_device_given_as_the_profile_is_one_error(tmp_path):
    os.mkfifo(tmp_path / "fifo.prof")
    for name in ("fifo.prof", "/dev/zero"):
        line = one_line_error(run_yep(["report", name], cwd=tmp_path, timeout=30))
        assert "not a regular file" in line, line
