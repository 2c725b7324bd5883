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
# rsyslog: the syslog daemon test/t/028_json_events.pl runs (as the test user)
PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libipc-run-perl make gcc perl rsyslog"

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

prepare_build() {
    make -s PG_CONFIG="$PG_CONFIG" with_llvm=no clean >/dev/null
    make -s PG_CONFIG="$PG_CONFIG" with_llvm=no COPT="-Werror"
    as_root make -s PG_CONFIG="$PG_CONFIG" with_llvm=no install
}
