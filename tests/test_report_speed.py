"""The symbol cache (converters/symbol_cache.*), which makes `yep report` fast
the second time a library is seen: a real profile of Python, an extension
compiled here, libpython and libc, reported without the cache, with an empty
one, with a filled one and with damaged ones, must read the same byte for
byte. How fast it is lives in `make bench` (benchmarks/report_speed.py), not
here."""
import os
import stat
import struct
import subprocess
import sys
import zlib

import pytest

from conftest import run_yep, write_script

WORK = """
import json, re
import hotcold

def py_work():
    doc = {"k%d" % i: [i, str(i) * 3] for i in range(300)}
    for _ in range(40):
        s = json.dumps(doc)
        json.loads(s)
        re.findall(r"[0-9]+", s)

for _ in range(6):
    hotcold.burn_hot(4_000_000)  # about 20 ms each: samples in the extension in every run
    hotcold.burn_cold(200000)
    py_work()
"""

FORMATS = [("text", "-"), ("folded", "-"), ("proto", "out.pb.gz"), ("pstats", "out.pstats"),
           ("callgrind", "out.callgrind")]


@pytest.fixture(scope="module")
def prof(hotcold, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report_speed")
    script = write_script(tmp, "work.py", WORK)
    result = run_yep(["-f", "500", "-o", "work.prof", str(script)], cwd=tmp, env={"PYTHONPATH": str(hotcold)},
                     timeout=300)
    assert result.returncode == 0, result.stderr
    return tmp / "work.prof"


def reports(prof, cache, *extra):
    """Every format of the profile, as bytes, with this YEP_SYMBOL_CACHE."""
    out = {}
    for fmt, output in FORMATS:
        path = prof.parent / output if output != "-" else None
        result = run_yep(["report", str(prof), "--format", fmt, "--nodecount", "0", "-o", str(path or "-"), *extra],
                         cwd=prof.parent, env={"YEP_SYMBOL_CACHE": str(cache)})
        assert result.returncode == 0, result.stderr
        out[fmt] = path.read_bytes() if path else result.stdout.encode()
        if fmt == "text":
            assert "Total:" in result.stdout
    return out


@pytest.fixture(scope="module")
def uncached(prof):
    return reports(prof, "off")


def cache_files(folder):
    return sorted(folder.glob("*.sym"))


def renamed(data, name):
    """A cache file (format: converters/symbol_cache.cpp) whose every named
    frame is called `name`, its checksum made right: what a cache file that
    must not be trusted could say."""
    at, out = 8, bytearray(data[:8])

    def copy(n):
        nonlocal at
        out.extend(data[at:at + n])
        at += n

    def u32():
        return struct.unpack_from("<I", data, at)[0]

    def copy_str():
        copy(4 + u32())

    copy_str()
    copy(1)
    sources = u32()
    copy(4)
    for _ in range(sources):
        copy_str()
        copy(17)
    answers = u32()
    copy(4)
    for _ in range(answers):
        copy(8)
        unnamed = data[at]
        copy(1)
        if unnamed:
            copy(8)
            continue
        frames = u32()
        copy(4)
        for _ in range(frames):
            length = u32()
            if length:
                out.extend(struct.pack("<I", len(name)) + name)
                at += 4 + length
            else:
                copy(4)
            copy_str()
            copy_str()
            copy(16)
    assert at == len(data) - 4
    return bytes(out) + struct.pack("<I", zlib.crc32(bytes(out)))


def mislead(folder):
    for f in cache_files(folder):
        f.write_bytes(renamed(f.read_bytes(), b"misleading_name"))


def test_cold_and_warm_cache_give_the_same_bytes(prof, uncached, tmp_path):
    folder = tmp_path / "cache" / "symbols"
    assert reports(prof, folder) == uncached  # cold: computes and writes
    files = cache_files(folder)
    # The interpreter (libpython or the executable) and the hotcold extension
    # at least (libc and _json too, when the run was sampled in them), each
    # named by its build id.
    assert len(files) >= 2, files
    assert all(len(f.stem) >= 32 and all(c in "0123456789abcdef" for c in f.stem) for f in files)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    before = {f: f.read_bytes() for f in files}
    assert reports(prof, folder) == uncached  # warm: answers from the cache
    # Nothing new was learned, so nothing was rewritten.
    assert {f: f.read_bytes() for f in cache_files(folder)} == before
    assert reports(prof, folder, "--lines") == reports(prof, "off", "--lines")


def damaged_versions(data):
    """Ways a cache file may be broken: cut short, bytes flipped (the checksum
    or the body), garbage, empty, a length field that lies."""
    yield data[: len(data) // 2]
    yield data[:-1]
    yield data[:-4] + bytes(4)
    middle = len(data) // 2
    yield data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
    yield b"\0" * len(data)
    yield b""
    yield data[:8] + struct.pack("<I", 0xFFFFFFF0) + data[12:]


@pytest.mark.parametrize("damage", range(7))
def test_damaged_cache_files_are_ignored(prof, uncached, tmp_path, damage):
    folder = tmp_path / "symbols"
    reports(prof, folder)
    for f in cache_files(folder):
        f.write_bytes(list(damaged_versions(f.read_bytes()))[damage])
    assert reports(prof, folder) == uncached
    # The damaged files were replaced by good ones.
    assert reports(prof, folder) == uncached


def test_a_warm_report_reads_its_names_from_the_cache(prof, tmp_path):
    """The check the next tests rely on: a cache file that is trusted is used."""
    folder = tmp_path / "symbols"
    reports(prof, folder)
    mislead(folder)
    text = reports(prof, folder)["text"].decode()
    assert "misleading_name" in text and "burn_hot" not in text


def test_files_writable_by_others_are_not_read(prof, uncached, tmp_path):
    folder = tmp_path / "symbols"
    reports(prof, folder)
    mislead(folder)
    for f in cache_files(folder):
        os.chmod(f, 0o620)
    assert reports(prof, folder) == uncached


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_files_of_other_users_are_not_read(prof, uncached, tmp_path):
    folder = tmp_path / "symbols"
    reports(prof, folder)
    mislead(folder)
    for f in cache_files(folder):
        os.chown(f, 65534, 65534)
    assert reports(prof, folder) == uncached


def test_a_cache_that_is_not_a_private_folder_is_not_used(prof, uncached, tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o777)
    assert reports(prof, folder) == uncached
    assert not cache_files(folder)
    link = tmp_path / "link"
    os.symlink(folder, link)
    assert reports(prof, link) == uncached
    assert not cache_files(folder)


def test_an_object_file_that_changed_is_symbolized_again(prof, uncached, hotcold, tmp_path):
    """The extension rewritten in place (same build id, a new mtime): its
    cached answers are not used, and are replaced."""
    folder = tmp_path / "symbols"
    reports(prof, folder)
    mislead(folder)
    extension = next(hotcold.glob("hotcold*.so"))
    stamp = extension.stat()
    names_before = {f.name for f in cache_files(folder)}
    os.utime(extension, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    try:
        text = reports(prof, folder)["text"].decode()
        # The extension's own names, not the stale entry's.
        assert "burn_hot" in text and not any("misleading_name" in line and "hotcold.c" in line
                                              for line in text.splitlines()), text
        assert {f.name for f in cache_files(folder)} == names_before
    finally:
        os.utime(extension, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))


def test_off_and_relative_paths_write_nothing(prof, uncached, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert reports(prof, "relative/symbols") == uncached
    assert not (tmp_path / "relative").exists()


def test_xdg_cache_home_is_the_default_place(prof, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "YEP_SYMBOL_CACHE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    result = subprocess.run([sys.executable, "-m", "yep", "report", str(prof)], env=env, cwd=prof.parent,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert cache_files(tmp_path / "xdg" / "yep" / "symbols")
