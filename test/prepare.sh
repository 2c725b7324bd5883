#!/usr/bin/env bash
#
# test/prepare.sh: install the Debian packages insider_guard needs, build
# it warning-free and install it.  Sourced by test.sh and demo.sh; sets
# PG_CONFIG, PG_BIN, as_root (runs a command as root) and as_pg (runs a
# command as the unprivileged user servers run as).
#
PG_MAJOR=15
# IG_PG_CONFIG may point at another installation of PostgreSQL (18, or a
# relocated copy of 15), so that several builds can be tested side by side
PG_CONFIG=${IG_PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
PG_BIN=$(dirname "$PG_CONFIG")
# postgresql-15-pgaudit: test/t/030_pgaudit_seed.pl seeds from its logs
PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-$PG_MAJOR-pgaudit libipc-run-perl make gcc perl"
# for the TAP suite only, daemons the tests run themselves: for 029 the
# real Prometheus exporter, and promtool (in package prometheus); for 028
# rsyslogd (run as the test user on a socket of its own); test.sh
# installs them when it runs the TAP suite
MONITORING_PACKAGES="prometheus-postgres-exporter prometheus rsyslog jq"

if [ "$(id -u)" -eq 0 ]; then
    as_root() { "$@"; }
    # PostgreSQL refuses to run as root
    as_pg() { runuser -u postgres -- "$@"; }
    PG_USER=postgres
else
    as_root() { sudo "$@"; }
    as_pg() { "$@"; }
    PG_USER=$(id -un)
fi

prepare_packages() {
    local missing="" p
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ] || [ "${CI:-}" = "true" ]; then
        echo "installing packages:${missing:- (refresh)}"
        as_root apt-get update -q
        # together: the -dev package may upgrade the server to match it
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PACKAGES
    fi
}

# Installs MONITORING_PACKAGES if missing, without their recommends
# (node exporter, smartmontools...) and without starting their services:
# prometheus would listen on :9090, the exporter on :9187, rsyslog on
# /dev/log.  policy-rc.d
# (see invoke-rc.d(8); deb-systemd-invoke reads it too) refuses the
# start; containers usually have one already, and run no init anyway.
# On a host running systemd the units of the packages it installed stay
# disabled (a package already there is left as it was).
prepare_monitoring_packages() {
    local missing="" p policy=/usr/sbin/policy-rc.d made="" status=0
    for p in $MONITORING_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    echo "installing packages:$missing"
    if [ ! -e $policy ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee $policy >/dev/null
        as_root chmod 755 $policy
        made=yes
    fi
    as_root apt-get update -q || status=$?
    # shellcheck disable=SC2086
    [ $status -ne 0 ] || as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends $MONITORING_PACKAGES || status=$?
    [ -z "$made" ] || as_root rm -f $policy
    if [ $status -eq 0 ] && [ -d /run/systemd/system ]; then
        local units=""
        for p in $missing; do units="$units $p.service"; done
        # shellcheck disable=SC2086
        as_root systemctl disable $units ||
            echo "warning: could not disable$units" >&2
    fi
    return $status
}

prepare_build() {
    make -s PG_CONFIG="$PG_CONFIG" with_llvm=no clean >/dev/null
    make -s PG_CONFIG="$PG_CONFIG" with_llvm=no COPT="-Werror"
    as_root make -s PG_CONFIG="$PG_CONFIG" with_llvm=no install
}
