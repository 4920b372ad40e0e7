#!/usr/bin/env bash
# usage: clean-chroot.sh DIR SUITE MIRROR PACKAGE...
#
# Makes DIR a Debian SUITE chroot with nothing but debootstrap's minbase and
# the PACKAGEs (a Python and its venv module): a machine as a new user has
# it, with no compiler and no -dev package, where a wheel must work on its
# own (on the build host, a wheel also finds the system's libraries and
# hides what it lacks). tests/interpreters/in-sid.sh runs commands in it.
#
# Cached: DIR/.yep-ready records what DIR was made from; when it matches,
# only the host files below are copied in again. The host's CA bundle (the
# PyPI proxy's CA is in it), /etc/pip.conf and resolv.conf: pip needs them
# to install numpy and friends from PyPI in there.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 DIR SUITE MIRROR PACKAGE..." >&2
    exit 2
fi
dir=$1 suite=$2 mirror=$3
shift 3
want="suite=$suite mirror=$mirror packages=$*"
log=$dir.log

# shellcheck source=../interpreters/chroot-lib.sh
. "$(dirname "$0")/../interpreters/chroot-lib.sh"
exit_if_ready
check_can_make

echo "Making a clean Debian $suite chroot $dir with $* (log: $log)"
rm -rf "$dir"
mkdir -p "$dir"
start=$SECONDS
include=$(IFS=,; echo "$*")
if ! debootstrap --variant=minbase --include="$include" "$suite" "$dir" "$mirror" > "$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "clean-chroot.sh: debootstrap failed (whole log: $log)" >&2
    exit 1
fi
host_files
echo "  debootstrap with $*: $((SECONDS - start)) s"
printf '%s' "$want" > "$dir/.yep-ready"
