"""The installed wheel, checked as a new user would use it, on a machine with
no compiler and no -dev packages (run.sh runs this in a clean minbase
chroot, in a virtual environment whose path has a space in it):

    python smoke.py WORKDIR

WORKDIR holds hotcold*.so (the test extension, compiled elsewhere for this
Python), hotcold.c and src/ (yep's source tree, for a source install that
must fail with one clear message). Every check compares what yep prints or
writes with a known truth; the first that fails ends the run with exit
status 1.
Standard library, yep, numpy, matplotlib and IPython only.
"""
import gzip
import os
import pstats
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

WORK = Path(sys.argv[1]).resolve()
PY = sys.executable
SITE = Path(sysconfig.get_paths()["purelib"])
checks = 0


def check(condition, what, detail=""):
    global checks
    if not condition:
        print(f"FAIL: {what}\n{detail}", flush=True)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}", flush=True)


def run(*args, env=None, **kwargs):
    full_env = dict(os.environ, PYTHONPATH=str(WORK))
    full_env.update(env or {})
    result = subprocess.run([str(a) for a in args], cwd=WORK, capture_output=True, text=True, env=full_env,
                            timeout=600, **kwargs)
    return result


def yep(*args, **kwargs):
    return run(PY, "-m", "yep", *args, **kwargs)


# ---- the wheel's binaries resolve inside the wheel ---------------------------------
ALLOWED = re.compile(r"^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|(ld-linux-x86-64|libc|libm|libdl|libpthread|"
                     r"librt|libstdc\+\+|libgcc_s|libz)\.so[.\d]*)$")
def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


binaries = [p for folder in ("yep", "yep_profiler.libs", "yep_profiler.scripts") for p in (SITE / folder).rglob("*")
            if p.is_file() and is_elf(p)]
check(any(p.name.startswith("_native") for p in binaries) and any(p.name == "libyepmalloc.so" for p in binaries),
      "the wheel holds yep's extension and its malloc interposer", "\n".join(map(str, binaries)))
for binary in binaries:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    outside = []
    for line in out.splitlines():
        name, _, rest = line.strip().partition(" => ")
        target = rest.split(" (")[0] if rest else name.split(" (")[0]
        if target.startswith(str(SITE)) or ALLOWED.match(target) or ALLOWED.match(os.path.basename(target)):
            continue
        outside.append(line.strip())
    check(not outside, f"ldd {binary.relative_to(SITE)}: nothing outside the wheel but glibc, libstdc++, libgcc, zlib",
          out)

# ---- CPU: Python frames and the C extension ------------------------------------------
(WORK / "work.py").write_text("""
import hotcold

def caller_a(n):
    for _ in range(3):
        hotcold.burn_hot(n)

def caller_b(n):
    hotcold.burn_hot(n)

for r in range(80):
    caller_a(1_000_000 + r * 7919 % 70_000)
    caller_b(1_000_000 + r * 7919 % 70_000)
""")
result = yep("-v", "--nodecount", "0", "-f", "250", "work.py")
check(result.returncode == 0, "python -m yep -v runs", result.stderr)
rows = {m.group(2): float(m.group(1)) for m in re.finditer(r"^\s*[\d.]+s\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)s\s+[\d.]+%\s+(\S+)",
                                                             result.stdout, re.M)}
check({"burn_hot", "py_burn_hot", "caller_a", "caller_b", "<module>"} <= set(rows),
      "the report names the Python callers above the C extension's functions", result.stdout)
a, b = rows["caller_a"], rows["caller_b"]
check(abs(a / (a + b) - 0.75) < 0.05, f"caller_a holds 3/4 of burn_hot's time ({a / (a + b):.2f})", result.stdout)
check(not any(n.startswith("_PyEval_EvalFrameDefault") for n in rows), "the interpreter's frames are hidden",
      result.stdout)

# ---- every report format, and yep-convert ------------------------------------------
expect = {
    "text": lambda b: b"burn_hot" in b,
    "pstats": lambda b: any(k[2] == "burn_hot" for k in pstats.Stats(str(WORK / "out.pstats")).stats),
    "source": lambda b: b"SPIN" in b,
    "callgrind": lambda b: b"fn=" in b and b"burn_hot" in b,
    "proto": lambda b: b"burn_hot" in gzip.decompress(b),
    "folded": lambda b: re.search(rb"^<module>;caller_a;py_burn_hot;burn_hot \d+$", b, re.M) is not None,
    "html": lambda b: b"<html" in b.lower() and b"burn_hot" in b,
}
suffix = {"pstats": ".pstats", "proto": ".pb.gz"}
for fmt, ok in expect.items():
    out = WORK / f"out{suffix.get(fmt, '.' + fmt)}"
    result = yep("report", "work.py.prof", "--format", fmt, "-o", out, *(["--list", "^burn_hot$"] if fmt == "source" else []))
    check(result.returncode == 0 and out.exists() and ok(out.read_bytes()), f"yep report --format {fmt}",
          result.stderr)
convert = [p for p in (Path(PY).parent / "yep-convert",) if p.exists()]
check(bool(convert), "the yep-convert command is installed")
result = run(convert[0], "--format", "text", "work.py.prof")
check(result.returncode == 0 and "burn_hot" in result.stdout, "yep-convert converts the profile", result.stderr)

# ---- memory: --heap, yep memory, mprof run --heap + plot, %memit ----------------------
(WORK / "mem.py").write_text("""
import numpy as np

def allocate():
    return np.ones(10_000_000)  # 80,000,000 bytes: the known allocation

keep = allocate()
print("allocated", keep.nbytes)
""")
result = yep("--heap", "-o", "mem", "mem.py")
check(result.returncode == 0 and "allocated 80000000" in result.stdout, "python -m yep --heap runs", result.stderr)
library = run(PY, "-c", "import yep._native as n; print(n.malloc_hooks_library())").stdout.strip()
check(library.startswith(str(SITE)), f"--heap preloads the wheel's own malloc interposer ({library})")
folded = yep("report", "mem.0001.heap", "--format", "folded").stdout
charged = sum(int(line.rsplit(" ", 1)[1]) for line in folded.splitlines() if ";allocate;" in line + ";")
check(80_000_000 <= charged < 80_000_000 + 64 * 1024, f"--heap charges the 80,000,000-byte array to allocate() ({charged})",
      folded[:2000])

(WORK / "lines.py").write_text("""
@profile
def grow():
    block = bytearray(64 * 1024 * 1024)  # 64 MiB, held to the end
    return block

kept = grow()
""")
result = yep("memory", "lines.py")
row = next((line for line in result.stdout.splitlines() if "bytearray(64" in line), "")
numbers = [float(x) for x in re.findall(r"(\d+\.\d+) MiB", row)]
check(result.returncode == 0 and any(63.5 <= x <= 64.5 for x in numbers),
      "yep memory charges 64 MiB to the line that allocates it", result.stdout + result.stderr)

result = yep("mprof", "run", "--heap", "-o", "run.dat", "mem.py")
dat = (WORK / "run.dat").read_text() if (WORK / "run.dat").exists() else ""
heap = [float(line.split()[1]) for line in dat.splitlines() if line.startswith("HEAP ")]
check(result.returncode == 0 and heap and max(heap) >= 76.2, "yep mprof run --heap records the heap line",
      result.stderr + dat[:500])
result = yep("mprof", "plot", "-o", "run.png", "run.dat")
png = WORK / "run.png"
check(result.returncode == 0 and png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n",
      "yep mprof plot draws it (matplotlib)", result.stderr)

(WORK / "memit.ipy").write_text("%load_ext yep\n%memit x = bytearray(50 * 2**20)\n")
ipython = Path(PY).parent / "ipython"
result = run(ipython, "--no-banner", "--quick", "memit.ipy")
m = re.search(r"peak memory: ([\d.]+) MiB, increment: ([\d.]+) MiB", result.stdout)
check(m is not None and 49.5 <= float(m.group(2)) <= 53.5, "%memit in IPython measures a 50 MiB allocation",
      result.stdout + result.stderr)

# ---- a source install where nothing to build with is installed ------------------------
# pip fetches the build requirements (pybind11 among them) from PyPI, then
# yep's CMake names everything this machine lacks, at once, before CMake's
# own errors (the compiler's first).
if (WORK / "src" / "pyproject.toml").exists():
    result = run(PY, "-m", "pip", "install", "--no-deps", WORK / "src")
    said = result.stdout + result.stderr
    wanted = ["yep cannot be built here; missing:", "a C and C++ compiler: apt-get install g++ | dnf install gcc-c++",
              "pkg-config: apt-get install pkg-config", "libgoogle-perftools-dev | dnf install gperftools-devel",
              "libdw-dev | dnf install elfutils-devel", "zlib1g-dev | dnf install zlib-devel",
              f"python{sys.version_info[0]}.{sys.version_info[1]}-dev | dnf install "
              f"python{sys.version_info[0]}.{sys.version_info[1]}-devel"]
    check(result.returncode != 0 and all(w in said for w in wanted) and "CMAKE_CXX_COMPILER" not in said,
          "pip install . without a compiler or -dev packages names all that is missing, in one message", said[-3000:])

print(f"smoke: all {checks} checks passed on Python {sys.version.split()[0]} ({PY})")
