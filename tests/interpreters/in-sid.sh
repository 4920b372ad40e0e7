#!/usr/bin/env bash
# usage: in-sid.sh DIR SRC COMMAND [ARG...]
#
# Runs COMMAND inside the Debian sid chroot DIR (made by sid-chroot.sh), as
# root, with a clean environment, in /src: the source tree SRC bind-mounted
# there (SRC "-": no source tree, working directory /).
#
# The mounts (proc, /dev, /sys, SRC, a tmpfs /tmp) are made in a private
# mount namespace, and everything runs in a new PID namespace: they exist for
# this command only. There is nothing to unmount afterwards and nothing left
# behind when it is killed: --kill-child makes unshare's death kill the
# namespace's first process, and the kernel then kills every process started
# inside, so the last user of the mounts is gone and the mounts with it.
# (unshare itself ignores SIGINT and SIGTERM; Ctrl-C reaches the command
# through the process group, and SIGKILL to unshare ends everything.)
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 DIR SRC|- COMMAND [ARG...]" >&2
    exit 2
fi
dir=$(readlink -f "$1")
src=$2
shift 2
[ "$src" = - ] || src=$(readlink -f "$src")
if [ ! -x "$dir/usr/bin/env" ]; then
    echo "in-sid.sh: $dir is not a chroot (make sid makes it)" >&2
    exit 2
fi

# The first process of the PID namespace is the bash below: it makes the
# mounts, starts the command and waits for it. Being PID 1, it also reaps
# the processes orphaned inside (a daemonised child of a test), which would
# otherwise stay zombies that look alive to os.kill(pid, 0).
exec unshare --mount --pid --fork --kill-child bash -c '
    set -euo pipefail
    dir=$1 src=$2
    shift 2
    mount -t proc proc "$dir/proc"
    mount --rbind /dev "$dir/dev"
    mount --rbind /sys "$dir/sys"
    mount -t tmpfs -o mode=1777 tmpfs "$dir/tmp"
    cwd=/
    if [ "$src" != - ]; then
        mkdir -p "$dir/src"
        mount --bind "$src" "$dir/src"
        cwd=/src
    fi
    env=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
         DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
         PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-60}" TERM="${TERM:-dumb}" COLUMNS="${COLUMNS:-200}")
    if [ -f "$dir/etc/ssl/certs/ca-certificates.crt" ]; then
        env+=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
    fi
    # Not the last command, so that bash forks it instead of exec-ing it (the
    # command would then be PID 1); not in the background, whose commands
    # bash starts with SIGINT ignored (Python then has no KeyboardInterrupt).
    status=0
    chroot "$dir" /usr/bin/env -i "${env[@]}" /bin/sh -c "cd $cwd && exec \"\$@\"" sh "$@" || status=$?
    exit $status
' in-sid "$dir" "$src" "$@"
