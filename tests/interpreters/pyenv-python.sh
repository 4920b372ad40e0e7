#!/usr/bin/env bash
# usage: pyenv-python.sh X.Y
#
# Prints the path of the python of the newest CPython X.Y.Z release build
# that pyenv holds (pre-releases and free-threaded builds left out), or says
# on stderr why there is none and exits 1. make test uses it for the versions
# it takes from pyenv (PYENV_PYTHONS in the Makefile): a missing one is a
# loud SKIP in the summary, never a silent pass.
set -euo pipefail
version=$1
root=${PYENV_ROOT:-}
if [ -z "$root" ]; then
    root=$(pyenv root 2>/dev/null) || root=$HOME/.pyenv
fi
if [ ! -d "$root/versions" ]; then
    echo "no pyenv at $root (no $root/versions): pyenv provides CPython $version here" >&2
    exit 1
fi
newest=$(ls -1 "$root/versions" | grep -E "^${version//./\\.}\.[0-9]+$" | sort -V | tail -n 1 || true)
if [ -z "$newest" ] || [ ! -x "$root/versions/$newest/bin/python$version" ]; then
    echo "pyenv has no CPython $version release build in $root/versions (pyenv install $version)" >&2
    exit 1
fi
echo "$root/versions/$newest/bin/python$version"
