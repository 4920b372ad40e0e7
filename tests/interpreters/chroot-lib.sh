# Sourced by the scripts that make chroots (sid-chroot.sh, tests/wheel/
# clean-chroot.sh): what each of them needs, with $dir the chroot's folder
# and $want the description of what it is made from.

# Copies in the host files pip and apt need there: the CA bundle (the PyPI
# proxy's CA is in it), /etc/pip.conf and the resolver configuration.
host_files() {
    mkdir -p "$dir/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
    if [ -f /etc/pip.conf ]; then
        cp /etc/pip.conf "$dir/etc/pip.conf"
    fi
    rm -f "$dir/etc/resolv.conf"
    cat /etc/resolv.conf > "$dir/etc/resolv.conf"
}

# Exits 0 (after copying the host files again) when $dir was made from $want.
exit_if_ready() {
    if [ -f "$dir/.yep-ready" ] && [ "$(cat "$dir/.yep-ready")" = "$want" ]; then
        host_files
        exit 0
    fi
}

# Before $dir is made anew (rm -rf): everything in-sid.sh mounts lives in its
# own namespace, so nothing is ever mounted under $dir here; a mount made by
# hand would be, and rm -rf would delete through it: refuse instead. Needs
# debootstrap too.
check_can_make() {
    local absolute
    absolute=$(readlink -m "$dir")
    if grep -qE " $absolute(/| )" /proc/self/mounts; then
        echo "$(basename "$0"): something is mounted under $absolute (see /proc/self/mounts); unmount it first" >&2
        exit 1
    fi
    command -v debootstrap >/dev/null || {
        echo "$(basename "$0"): no debootstrap (apt-get install debootstrap)" >&2
        exit 1
    }
}
