#!/usr/bin/env bash
#
# test.sh: run insider_guard's whole test suite on a Debian 12 machine.
#
# Installs the packages it needs (apt-get, with sudo if not root), builds
# warning-free, installs the extension, then -- as the "postgres" user when
# run as root, else as the calling user -- runs the unit tests, pg_regress
# (against throwaway instances it starts and stops itself) and the TAP
# tests.  pg_regress and the isolation specs run twice: as configured
# (insider_guard.fast_scans on, its default), then with the fast paths off;
# the same expected files must pass both times.  Last, the Debian package
# (test/deb-test.sh): built, installed into the system PostgreSQL 15, tried
# on a throwaway cluster, removed.  Exits non-zero on any failure and prints
# what failed.
#
# Runs on every supported major: 15 (Debian's packages) and 18 (built
# from Debian's source package by test/pg-build.sh, cached outside the
# tree), one after the other; the 18 run also upgrades a 15 cluster with
# pg_upgrade (test/t/027_pg_upgrade.pl).  The package test runs once, at
# the end.  IG_PG_MAJORS picks the majors (e.g. "15 17 18": 17 comes from
# Debian's binaries, test/pg-debian-binaries.sh); IG_PG_CONFIG runs on that
# one installation only.
#
# Usage: ./test.sh [unit|regress|isolation|tap|deb ...]   (default: all of them)
#
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

say() { printf '\n=== %s\n' "$*"; }

# every major in turn, each a run of this script on its installation
if [ -z "${IG_PG_CONFIG:-}" ]; then
    majors=${IG_PG_MAJORS:-15 18}
    # deb last, once: while it runs, the system PostgreSQL 15 has the
    # package's insider_guard in place of what make install put there
    per_major=""
    package=""
    for s in ${*:-unit regress isolation tap deb}; do
        if [ "$s" = deb ]; then package=deb; else per_major="$per_major $s"; fi
    done
    results=""
    status=0
    previous=""
    for major in $majors; do
        [ -n "$per_major" ] || break
        say "PostgreSQL $major"
        if [ "$major" = 15 ]; then
            pg_config=/usr/lib/postgresql/15/bin/pg_config
            # test/prepare.sh installs the packages
        elif ! pg_config=$("$here/test/pg-build.sh" "$major" | tail -n 1); then
            # the archive may list a source package it does not serve (17)
            pg_config=$("$here/test/pg-debian-binaries.sh" "$major" | tail -n 1)
        fi
        # the pg_upgrade test starts from the major tested just before
        # shellcheck disable=SC2086
        if IG_PG_CONFIG=$pg_config IG_UPGRADE_FROM=$previous "$0" $per_major; then
            results="$results\n  PostgreSQL $major: passed"
        else
            results="$results\n  PostgreSQL $major: FAILED"
            status=1
        fi
        previous=$("$pg_config" --bindir)
        previous=${previous%/bin}
    done
    if [ -n "$package" ]; then
        say "the Debian package"
        if IG_PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config "$0" deb; then
            results="$results\n  Debian package: passed"
        else
            results="$results\n  Debian package: FAILED"
            status=1
        fi
    fi
    say "summary"
    printf "%b\n" "$results"
    exit $status
fi

suites=${*:-unit regress isolation tap}

# shellcheck source=test/prepare.sh
. "$here/test/prepare.sh"
# quiet unless it fails
setup_log=$(mktemp /tmp/insider_guard_setup.XXXXXX)
# the test build: it has insider_guard.test_clock_offset (see Makefile)
export IG_TESTING=1
case " $suites " in
    *" tap "*)
        # installed: TAP test 029 fails, rather than skips, without them
        export IG_MONITORING_REQUIRED=1 ;;
esac
# TAP tests 034 and 037 run a Citus cluster: on 15, Citus 13.2.2 is built once
# from the vendored source (IG_CITUS_VENDOR, else ../shared/vendor beside
# the clone, else /work/shared/vendor; test/citus-build.sh, cached in
# /var/cache/insider_guard) and installed beside insider_guard.  With
# neither the vendored source nor a cached build, on other majors, or
# with IG_CITUS=0, 034 and 037 are skipped.
citus_vendor=${IG_CITUS_VENDOR:-}
if [ -z "$citus_vendor" ]; then
    for d in "$here/../shared/vendor" /work/shared/vendor; do
        if [ -f "$d/citus-13.2.2.tar.gz" ]; then citus_vendor=$d; break; fi
    done
fi
citus_note=""
prepare_citus() {
    local pg_version
    case " $suites " in *" tap "*) ;; *) return 0 ;; esac
    pg_version=$("$PG_CONFIG" --version | awk '{print $2}')
    if [ "${IG_CITUS:-1}" = 0 ]; then
        citus_note="IG_CITUS=0: Citus not installed, Citus TAP tests (034, 036, 037) skipped"
    elif [ "${pg_version%%.*}" != 15 ]; then
        citus_note="Citus 13.2.2 is tested on PostgreSQL 15 only: Citus TAP tests (034, 036, 037) skipped"
    elif [ -z "$citus_vendor" ] &&
        [ ! -f "${IG_PG_CACHE:-/var/cache/insider_guard}/citus-13.2.2-$pg_version/complete" ]; then
        citus_note="no vendored Citus source nor a cached build: Citus TAP tests (034, 036, 037) skipped"
    else
        IG_CITUS_VENDOR=$citus_vendor "$here/test/citus-build.sh" "$PG_CONFIG"
    fi
}
if ! { prepare_packages &&
    { [ -z "${IG_MONITORING_REQUIRED:-}" ] || prepare_monitoring_packages; } &&
    prepare_build && prepare_citus; } >"$setup_log" 2>&1; then
    cat "$setup_log"
    rm -f "$setup_log"
    say "FAILED: packages or build"
    exit 1
fi
rm -f "$setup_log"
say "$("$PG_CONFIG" --version): built and installed into $("$PG_CONFIG" --pkglibdir)"
[ -z "$citus_note" ] || echo "  $citus_note"

# 3. servers refuse to run as root: work in a copy owned by the test user
work=$(mktemp -d /tmp/insider_guard_test.XXXXXX)
cleanup() { [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT
cp -a "$here/." "$work/"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"
cd "$work"

# the second run of pg_regress and of the isolation specs: an extra
# temp-config line (pg_regress appends each --temp-config in turn)
fast_off_conf=$work/test/fast_scans_off.conf
echo "insider_guard.fast_scans = off" > "$fast_off_conf"
[ "$(id -u)" -eq 0 ] && chown postgres: "$fast_off_conf"
fast_off="EXTRA_REGRESS_OPTS=--temp-config=$fast_off_conf"

# Each suite's output goes to a log of its own; the terminal gets one line
# per suite when it passes, the log, diffs and server logs when it fails.
logs=$work/suite-logs
mkdir -p "$logs"
[ "$(id -u)" -eq 0 ] && chown postgres: "$logs"
failed=""
passed=""
run_suite() {
    local name=$1 log started
    shift
    log=$logs/$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_').log
    started=$(date +%s)
    if as_pg env HOME="$work" "$@" >"$log" 2>&1; then
        printf '  ok      %-40s %s (%d s)\n' "$name" "$(suite_count "$log")" \
            $(($(date +%s) - started))
        passed="$passed $name"
        return
    fi
    printf '  FAILED  %s (%d s)\n' "$name" $(($(date +%s) - started))
    failed="$failed $name"
    echo "--- output"
    cat "$log"
    # now: the next suite's pg_regress would overwrite them
    for diffs in regression.diffs output_iso/regression.diffs; do
        if [ -s $diffs ]; then
            echo "--- $diffs"
            cat $diffs
        fi
    done
    if [ -f log/postmaster.log ]; then
        echo "--- log/postmaster.log (last 60 lines)"
        tail -n 60 log/postmaster.log
    fi
    # the TAP files that failed: their own logs
    for t in $(sed -n -E 's#^(test/t/[^ ]*)\.pl .*(Failed|Dubious|Wstat).*#\1#p' "$log" | sort -u); do
        t=$(basename "$t")
        for tlog in tmp_check/log/regress_log_"$t" tmp_check/log/*"$t"*.log; do
            [ -f "$tlog" ] && { echo "--- $tlog (last 80 lines)"; tail -n 80 "$tlog"; }
        done
    done
}

# "19 tests", "505 tests in 26 files", from a suite's log
suite_count() {
    local n
    if n=$(grep -Eo 'Files=[0-9]+, Tests=[0-9]+' "$1" | tail -n 1) && [ -n "$n" ]; then
        echo "$n" | sed -E 's/Files=([0-9]+), Tests=([0-9]+)/\2 tests in \1 files/'
    elif n=$(grep -Eo 'All [0-9]+ tests passed' "$1" | tail -n 1) && [ -n "$n" ]; then
        echo "$n" | sed -E 's/All ([0-9]+) tests passed/\1 tests/'
    elif n=$(grep -Eo 'all [0-9]+ checks passed' "$1" | awk '{s += $2} END {print s}') &&
        [ -n "$n" ]; then
        echo "$n checks; $(grep -Eo '^layering: [0-9]+ files' "$1" | cut -d' ' -f2-) layered"
    fi
}

for s in $suites; do
    case $s in
        unit)
            run_suite "unit tests and layering" make -s PG_CONFIG="$PG_CONFIG" with_llvm=no unittest check-layers ;;
        regress)
            run_suite "pg_regress (preloaded)" \
                make -s PG_CONFIG="$PG_CONFIG" with_llvm=no installcheck TAP_TESTS= ISOLATION=
            run_suite "pg_regress (preloaded, fast_scans off)" \
                make -s PG_CONFIG="$PG_CONFIG" with_llvm=no installcheck TAP_TESTS= ISOLATION= "$fast_off"
            run_suite "pg_regress (not preloaded)" \
                make -s PG_CONFIG="$PG_CONFIG" with_llvm=no installcheck-nopreload ;;
        isolation)
            run_suite "isolation" \
                make -s PG_CONFIG="$PG_CONFIG" with_llvm=no installcheck REGRESS= TAP_TESTS=
            run_suite "isolation (fast_scans off)" \
                make -s PG_CONFIG="$PG_CONFIG" with_llvm=no installcheck REGRESS= TAP_TESTS= "$fast_off" ;;
        tap)
            run_suite "TAP" \
                make -s PG_CONFIG="$PG_CONFIG" with_llvm=no installcheck REGRESS= ISOLATION= PROVE_FLAGS= ;;
        deb)
            # as the caller, not as_pg: it needs root (or sudo) for apt and
            # dpkg, and runs its server as_pg itself
            log=$logs/deb.log
            if "$work/test/deb-test.sh" >"$log" 2>&1; then
                printf '  ok      %-40s\n' "Debian package"
                passed="$passed deb"
            else
                printf '  FAILED  Debian package\n'
                cat "$log"
                failed="$failed deb"
            fi ;;
        *)
            echo "unknown suite: $s" >&2
            exit 2 ;;
    esac
done

if [ -n "$failed" ]; then
    say "FAILED:$failed ($("$PG_CONFIG" --version))"
    exit 1
fi
say "all passed: $suites ($("$PG_CONFIG" --version))"
