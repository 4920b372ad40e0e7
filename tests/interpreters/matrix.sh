#!/usr/bin/env bash
# usage: matrix.sh X.Y...      (make test runs it with PYTHONS)
#
# Runs the suite on each CPython X.Y given, in order, and all of them even
# after one failed:
#   make setup-X.Y   the venv with yep built for X.Y  (log: build/logs/setup-X.Y.log)
#   make test-X.Y    the suite on it, with the C++ tests on 3.11
#                                                     (log: build/logs/test-X.Y.log)
# The Debian sid chroot that the versions in SID_PYTHONS need is made (or
# found cached) once, before the first of them (log: build/logs/sid.log).
#
# At the end, a summary: for each version passed, FAILED, failed (known) or
# SKIPPED, with the reason, the counts, the failing tests, the peer packages
# that could not be installed, the skip reasons and the time of each phase;
# then one "total: N passed, N failed, N skipped" line for the supported
# versions (the known-failing ones are counted on a line of their own).
#
# Exit status 1 when a version failed that is supported (not in
# KNOWN_FAILING), or a supported version's wheel test did; otherwise 0. A version whose interpreter does not exist
# here (not in pyenv, not in sid) is SKIPPED, loudly, and does not fail.
#
# From the Makefile, in the environment: PYENV_PYTHONS, SID_PYTHONS,
# KNOWN_FAILING, SID (the chroot's folder), VENVS ("X.Y=folder ...": each
# version's venv, for its list of missing peer packages), WHEEL_TESTS
# ("X.Y:suite ...": after the versions, make test-wheel-X.Y installs X.Y's
# wheel in a clean Debian suite chroot and uses it) and MAKE.
set -uo pipefail
cd "$(dirname "$0")/../.."
here=tests/interpreters
make=${MAKE:-make}
# The suite checks that Ctrl-C (SIGINT) ends a program as it ends Python's;
# started from a background job (nohup make test &), SIGINT would be
# ignored, and inherited so; the makes below get it back at its default.
run_make() { env --default-signal=INT,QUIT "$make" --no-print-directory "$@"; }
logs=build/logs
mkdir -p "$logs"

in_list() { [[ " $2 " == *" $1 "* ]]; }
clock() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
venv_of() {
    local pair
    for pair in ${VENVS:-}; do
        [ "${pair%%=*}" = "$1" ] && echo "${pair#*=}"
    done
}
banner() {
    printf '\n%s\n== %s\n%s\n' "==================================================================" "$1" \
        "=================================================================="
}

declare -A status reason times ran
sid_state=      # empty: not tried; "ok"; or why it failed
sid_time=
start_all=$SECONDS

for version in "$@"; do
    if [ "$version" != 3.11 ] && ! in_list "$version" "${PYENV_PYTHONS:-}" && ! in_list "$version" "${SID_PYTHONS:-}"; then
        status[$version]=FAILED
        reason[$version]="make test knows no CPython $version (3.11, PYENV_PYTHONS and SID_PYTHONS in the Makefile)"
        continue
    fi
    banner "Python $version"

    # Is the interpreter there? A missing one is SKIPPED, not failed.
    if in_list "$version" "${PYENV_PYTHONS:-}"; then
        if ! why=$("$here/pyenv-python.sh" "$version" 2>&1 >/dev/null); then
            status[$version]=SKIPPED
            reason[$version]=$why
            echo "SKIPPED: $why"
            continue
        fi
    elif in_list "$version" "${SID_PYTHONS:-}"; then
        if [ -z "$sid_state" ]; then
            t=$SECONDS
            if run_make sid 2>&1 | tee "$logs/sid.log"; then
                sid_state=ok
            else
                sid_state="the Debian sid chroot could not be made: see $logs/sid.log and build/sid.log"
            fi
            sid_time=$((SECONDS - t))
        fi
        if [ "$sid_state" != ok ]; then
            status[$version]=FAILED
            reason[$version]=$sid_state
            continue
        fi
        if [ -f "$SID/.yep-no-python$version" ]; then
            status[$version]=SKIPPED
            reason[$version]=$(cat "$SID/.yep-no-python$version")
            echo "SKIPPED: ${reason[$version]}"
            continue
        fi
    fi

    t=$SECONDS
    run_make "setup-$version" 2>&1 | tee "$logs/setup-$version.log"
    setup_rc=${PIPESTATUS[0]}
    setup_time=$((SECONDS - t))
    if [ "$setup_rc" != 0 ]; then
        status[$version]=FAILED
        reason[$version]="set-up failed (venv or build of yep): see $logs/setup-$version.log"
        times[$version]="set-up $(clock $setup_time)"
        continue
    fi

    t=$SECONDS
    run_make "test-$version" 2>&1 | tee "$logs/test-$version.log"
    test_rc=${PIPESTATUS[0]}
    ran[$version]=1
    times[$version]="set-up $(clock $setup_time), tests $(clock $((SECONDS - t)))"
    if [ "$test_rc" = 0 ]; then
        status[$version]=passed
    else
        status[$version]=FAILED
        if ! grep -qE '^[0-9]+ (passed|failed|skipped|errors?)' "$logs/test-$version.log"; then
            reason[$version]="the tests did not run to the end: see $logs/test-$version.log"
        fi
    fi
done

# ---- the wheels, in clean chroots (WHEEL_TESTS: "X.Y:suite ...") ---------
declare -A wheel_status wheel_time
for pair in ${WHEEL_TESTS:-}; do
    version=${pair%%:*} suite=${pair#*:}
    banner "The cp${version/./} wheel in a clean Debian $suite chroot"
    if [ "${status[$version]:-}" = SKIPPED ]; then
        wheel_status[$pair]="SKIPPED !!! not tested (no Python $version here)"
        continue
    fi
    t=$SECONDS
    if run_make "test-wheel-$version" 2>&1 | tee "$logs/wheel-$version.log"; then
        wheel_status[$pair]=passed
    else
        wheel_status[$pair]="FAILED: see $logs/wheel-$version.log"
        in_list "$version" "${KNOWN_FAILING:-}" || wheel_failed=1
    fi
    wheel_time[$pair]=$(clock $((SECONDS - t)))
done

# ---- summary -------------------------------------------------------------
banner "make test: summary ($(clock $((SECONDS - start_all))) in all)"
fail=0 total_passed=0 total_failed=0 total_skipped=0 known_lines=()
if [ -n "$sid_time" ]; then
    echo "Debian sid chroot (for ${SID_PYTHONS:-}): $([ "$sid_state" = ok ] && echo ready || echo FAILED), $(clock "$sid_time")"
fi
for version in "$@"; do
    state=${status[$version]:-FAILED}
    label=$state
    if [ "$state" = FAILED ]; then
        if in_list "$version" "${KNOWN_FAILING:-}"; then
            label="failed (known: pre-release, does not fail make test)"
        else
            fail=1
        fi
    elif [ "$state" = SKIPPED ]; then
        label="SKIPPED !!! not tested"
    fi
    log=$logs/test-$version.log
    line="Python $version: $label"
    [ -n "${times[$version]:-}" ] && line+="  (${times[$version]})"
    echo "$line"
    [ -n "${reason[$version]:-}" ] && echo "    why: ${reason[$version]}"
    [ -n "${ran[$version]:-}" ] || continue
    # The interpreter the tests ran on (conftest prints it first).
    grep -m1 '^yep tests on Python' "$log" | sed 's/^/    /'
    cpp=$(grep -E 'tests passed, [0-9]+ tests? failed out of' "$log" | tail -n 1)
    [ -n "$cpp" ] && echo "    C++ (ctest): $cpp"
    py=$(grep -E '^[0-9]+ (passed|failed|skipped|errors?|deselected|xfailed|xpassed|warnings?)\b.* in [0-9.]+s' "$log" | tail -n 1)
    if [ -n "$py" ]; then
        echo "    pytest: $py"
        n() { echo "$py" | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' || echo 0; }
        if in_list "$version" "${KNOWN_FAILING:-}"; then
            known_lines+=("Python $version (pre-release, not counted): $(n passed) passed, $(($(n failed) + $(n 'errors?'))) failed, $(n skipped) skipped")
        else
            total_passed=$((total_passed + $(n passed)))
            total_failed=$((total_failed + $(n failed) + $(n 'errors?')))
            total_skipped=$((total_skipped + $(n skipped)))
        fi
    fi
    grep -E '^(FAILED|ERROR) ' "$log" | sed -E 's/ - (.{0,100}).*/ - \1/; s/^/      /'
    venv=$(venv_of "$version")
    if [ -n "$venv" ] && [ -s "$venv/peer-packages-missing.txt" ]; then
        echo "    peer packages NOT installed (their tests skip): $(tr '\n' ' ' < "$venv/peer-packages-missing.txt")"
    fi
    # Skip reasons, once each, with how many tests they skipped.
    grep -E '^SKIPPED \[[0-9]+\] ' "$log" | sed -E 's/^SKIPPED \[([0-9]+)\] [^ ]+:[0-9]+: /\1\t/' |
        awk -F'\t' '{n[$2] += $1} END {for (r in n) printf "    skipped %d: %s\n", n[r], r}' | sort
done
for pair in ${WHEEL_TESTS:-}; do
    echo "Wheel cp$(echo "${pair%%:*}" | tr -d .) in a clean Debian ${pair#*:} chroot: ${wheel_status[$pair]:-not run}${wheel_time[$pair]:+  (${wheel_time[$pair]})}"
    [ -f "$logs/wheel-${pair%%:*}.log" ] && grep -E '^(smoke: |FAIL: )' "$logs/wheel-${pair%%:*}.log" | sed 's/^/    /'
done
[ "${wheel_failed:-0}" = 1 ] && fail=1
printf '%s\n' "${known_lines[@]+"${known_lines[@]}"}" | sed '/^$/d'
# The supported versions' tests, added up (CI reads this closing line).
echo "total: $total_passed passed, $total_failed failed, $total_skipped skipped"
if [ "$fail" = 1 ]; then
    echo "make test: FAILED (a supported version failed: see above)"
else
    echo "make test: OK (every supported version that exists here passed)"
fi
exit "$fail"
