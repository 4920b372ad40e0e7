"""`yep-convert`: the converter's own command line (C++,
converters/yep_convert_main.cpp), which is installed inside the package next
to this launcher (where a wheel's repair points it at its bundled
libraries); the launcher runs it with the same arguments, in this process."""
import os
import sys


def main():
    binary = os.path.join(os.path.dirname(os.path.abspath(__file__)), "yep-convert")
    try:
        os.execv(binary, ["yep-convert", *sys.argv[1:]])
    except OSError as exc:
        sys.stderr.write(f"yep-convert: cannot run {binary}: {exc.strerror}; reinstall yep\n")
        return 2
