#!/usr/bin/env bash
# usage: sid-chroot.sh DIR MIRROR "X.Y ..." PACKAGE...
#
# Makes DIR a Debian sid chroot holding Debian's python3.X (with -dev and
# -venv) for each X.Y given and the PACKAGEs (compiler, gperftools, elfutils,
# peer tools): what make test needs to build yep for the CPythons that only
# sid carries (3.14, 3.15) and to run the suite there.
#
# Cached: DIR/.yep-ready records what DIR was made from (mirror, versions,
# packages); when they are the same, only the host files below are copied in
# again and DIR/.yep-ready is left untouched (its time stamp is what the
# Makefile's venvs depend on). When they differ, DIR is made anew.
#
# A python3.X that sid does not have (any more) does not stop the build: it
# is written to DIR/.yep-no-python3.X, and make test reports that version as
# SKIPPED with the reason.
#
# Copied from the host on every call (the chroot has no other way to reach
# PyPI here): the CA bundle (the PyPI proxy's CA is in it), /etc/pip.conf,
# and the resolver configuration.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 DIR MIRROR \"X.Y ...\" PACKAGE..." >&2
    exit 2
fi
dir=$1 mirror=$2 pythons=$3
shift 3
packages=("$@")
here=$(cd "$(dirname "$0")" && pwd)
want="mirror=$mirror pythons=$pythons packages=${packages[*]} dbg copyright"
log=$dir.log

# shellcheck source=chroot-lib.sh
. "$here/chroot-lib.sh"
exit_if_ready
check_can_make

echo "Making the Debian sid chroot $dir (log: $log)"
rm -rf "$dir"
mkdir -p "$dir"
: > "$log"
start=$SECONDS
if ! debootstrap --variant=minbase sid "$dir" "$mirror" >> "$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "sid-chroot.sh: debootstrap failed (whole log: $log)" >&2
    exit 1
fi
echo "  debootstrap: $((SECONDS - start)) s"

# sid's index is often past its Valid-Until date: apt would refuse it.
cat > "$dir/etc/apt/apt.conf.d/99yep" <<'CONF'
Acquire::Check-Valid-Until "false";
Acquire::Retries "3";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
CONF
# A chroot for tests: no fsync per file, no documentation, no services.
cat > "$dir/etc/dpkg/dpkg.cfg.d/99yep" <<'CONF'
force-unsafe-io
path-exclude=/usr/share/man/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
CONF
printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
chmod +x "$dir/usr/sbin/policy-rc.d"
host_files

in_sid() { "$here/in-sid.sh" "$dir" - "$@" >> "$log" 2>&1; }
start=$SECONDS
if ! in_sid apt-get update; then
    tail -n 30 "$log" >&2
    echo "sid-chroot.sh: apt-get update failed in the chroot (whole log: $log)" >&2
    exit 1
fi
python_packages=()
for version in $pythons; do
    python_packages+=("python$version" "python$version-dev" "python$version-venv")
done
install() { in_sid apt-get install -y -q -o Dpkg::Progress-Fancy=0 "$@"; }
if ! install "${packages[@]}" "${python_packages[@]}"; then
    # One of them is missing or broken: the others first, then each Python
    # alone, so that one gone from sid skips that version only.
    if ! install "${packages[@]}"; then
        tail -n 30 "$log" >&2
        echo "sid-chroot.sh: apt-get install failed in the chroot (whole log: $log)" >&2
        exit 1
    fi
    for version in $pythons; do
        if ! install "python$version" "python$version-dev" "python$version-venv"; then
            echo "Debian sid has no installable python$version (python$version-dev, python$version-venv): see $log" \
                > "$dir/.yep-no-python$version"
            echo "sid-chroot.sh: python$version not installable from sid: make test will skip it" >&2
        fi
    done
fi
# Debian's detached debug files of each Python, where sid has them: the
# mixed-stack tests run with them and, hidden, without. Optional.
for version in $pythons; do
    if [ ! -f "$dir/.yep-no-python$version" ] && ! install "python$version-dbg"; then
        echo "sid-chroot.sh: no python$version-dbg in sid: the test with and without it will skip" >&2
    fi
done
# ca-certificates' own bundle replaced the host's one: copy it again.
host_files
echo "  packages: $((SECONDS - start)) s"
printf '%s' "$want" > "$dir/.yep-ready"
