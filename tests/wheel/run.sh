#!/usr/bin/env bash
# usage: run.sh CHROOT WHEEL EXTENSION
#
# Installs WHEEL in a fresh virtual environment, at a path with a space in
# it ("/opt/yep venv"), inside the clean chroot CHROOT (clean-chroot.sh),
# with numpy, matplotlib and IPython from PyPI, and runs smoke.py there on
# the test extension EXTENSION (hotcold, compiled for that Python with its
# source path mapped to /work, where its hotcold.c is copied), and with
# yep's source tree in /work/src (a source install there must fail clearly).
# Exit status: smoke.py's.
set -euo pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 CHROOT WHEEL EXTENSION" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
chroot=$(readlink -f "$1") wheel=$(readlink -f "$2") extension=$(readlink -f "$3")
python=$(basename "$wheel" | sed -E 's/.*-cp([0-9])([0-9]+)-.*/python\1.\2/')

# Fresh every run: the venv, the work folder, the wheel.
rm -rf "$chroot/opt/yep venv" "$chroot/work" "$chroot/wheels"
mkdir -p "$chroot/work" "$chroot/wheels"
cp "$wheel" "$chroot/wheels/"
cp "$extension" "$here/../fixtures/hotcold.c" "$here/smoke.py" "$chroot/work/"
# The source tree as a clone has it (tracked files, and new ones not ignored).
mkdir "$chroot/work/src"
(cd "$here/../.." && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - --ignore-failed-read) |
    tar -xf - -C "$chroot/work/src"
start=$SECONDS
"$here/../interpreters/in-sid.sh" "$chroot" - sh -c '
    set -e
    "$1" -m venv "/opt/yep venv"
    "/opt/yep venv/bin/pip" install -q /wheels/*.whl numpy matplotlib ipython
    echo "installed: $(cd /wheels && ls) numpy matplotlib ipython in /opt/yep venv"
    exec "/opt/yep venv/bin/python" /work/smoke.py /work
' sh "$python"
echo "wheel smoke test in $(basename "$chroot"): $((SECONDS - start)) s"
