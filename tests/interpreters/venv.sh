#!/usr/bin/env bash
# usage: venv.sh PYTHON VENV "BUILD PACKAGES" "PEER PACKAGES"
#
# Makes the virtual environment VENV with PYTHON (unless it is there), then
# installs into it:
#   - BUILD PACKAGES, what yep is built and tested with (scikit-build-core,
#     cmake, ninja, pytest, ...): each must install, or this fails;
#   - PEER PACKAGES, the tools and libraries the tests compare yep with
#     (memray, py-spy, guppy3, memory_profiler, ...): some have no wheel or
#     no working build for a new interpreter, so each may fail. Those that
#     did are listed, one a line, in VENV/peer-packages-missing.txt (make
#     test's summary shows them) and their tests skip with the reason.
# Runs the same on the host (pyenv's Pythons) and in the sid chroot
# (Debian's python3.14 and python3.15), where in-sid.sh starts it.
set -euo pipefail
python=$1 venv=$2 build_packages=$3 peer_packages=$4

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
py=$venv/bin/python
"$py" -m pip install -q --upgrade pip
# shellcheck disable=SC2086  # word lists
"$py" -m pip install -q $build_packages

# One resolve for all the peers is the quick way; only when it fails is each
# tried alone, to find the ones that cannot be had for this Python.
missing=()
# shellcheck disable=SC2086
if ! "$py" -m pip install -q --prefer-binary $peer_packages; then
    echo "venv.sh: not every peer package installs for $("$py" -V); trying them one by one" >&2
    for package in $peer_packages; do
        if ! "$py" -m pip install -q --prefer-binary "$package"; then
            missing+=("$package")
        fi
    done
fi
printf '%s\n' "${missing[@]+"${missing[@]}"}" | sed '/^$/d' > "$venv/peer-packages-missing.txt"
if [ -s "$venv/peer-packages-missing.txt" ]; then
    echo "venv.sh: peer packages NOT installed for $("$py" -V): $(tr '\n' ' ' < "$venv/peer-packages-missing.txt")(their tests skip)" >&2
fi
