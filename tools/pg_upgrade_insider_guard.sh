#!/usr/bin/env bash
#
# pg_upgrade_insider_guard.sh OLD_PGDATA NEW_PGDATA
#
# Run after pg_upgrade and before the new server's first start.  pg_upgrade
# keeps insider_guard's rules (rows of extension tables) but makes a new
# data directory without the files insider_guard keeps outside the catalog:
# the violation records (pg_insider_guard/), the counts and baselines'
# history (pg_stat/insider_guard.counts and .history, and their previous
# saves, .prev), and when role memberships younger than 14 days were
# granted (pg_stat/insider_guard.members).  This copies them from OLD_PGDATA to NEW_PGDATA.  They key
# on database, role and relation OIDs, which pg_upgrade keeps; the new
# server (the same insider_guard version, built for the new major) loads
# files written under an earlier major.
#
# Refuses, changing nothing (exit 1), when: either server is running; a
# directory is not a data directory; OLD's major is later than NEW's; a
# user database of OLD is missing from NEW (then NEW is not a pg_upgrade
# of OLD); NEW already holds violation records or has handed out violation
# ids.  The counts and history NEW has (none, unless it was started since
# pg_upgrade) are replaced.
#
# Run it as the owner of NEW_PGDATA or as root: the copies get NEW's owner
# and its modes (0600, or 0640 with group access).  Exit 0: carried, or
# nothing to carry.
#
set -euo pipefail
shopt -s nullglob

me=$(basename "$0")
die() { echo "$me: $*" >&2; exit 1; }

[ $# -eq 2 ] || { echo "usage: $me OLD_PGDATA NEW_PGDATA" >&2; exit 2; }
old=${1%/}
new=${2%/}

for d in "$old" "$new"; do
    [ -d "$d" ] || die "\"$d\" is not a directory"
    [ -f "$d/PG_VERSION" ] || die "\"$d\" is not a data directory (no PG_VERSION)"
    # pg_upgrade --link renames the old cluster's pg_control
    [ -f "$d/global/pg_control" ] || [ -f "$d/global/pg_control.old" ] ||
        die "\"$d\" is not a data directory (no global/pg_control)"
    [ ! -e "$d/postmaster.pid" ] ||
        die "a server is running on \"$d\" (postmaster.pid): stop it first"
done
if [ "$old" -ef "$new" ]; then
    die "OLD_PGDATA and NEW_PGDATA are the same directory"
fi

old_major=$(cat "$old/PG_VERSION")
new_major=$(cat "$new/PG_VERSION")
[[ $old_major =~ ^[0-9]+$ && $new_major =~ ^[0-9]+$ ]] ||
    die "cannot read the major versions (\"$old_major\", \"$new_major\")"
[ "$old_major" -le "$new_major" ] ||
    die "\"$old\" is of PostgreSQL $old_major, later than \"$new\" ($new_major): the arguments are OLD_PGDATA NEW_PGDATA"

# records and counts key on database OIDs: pg_upgrade keeps those of user
# databases (16384 and up; the system ones may differ)
missing=""
for b in "$old"/base/*; do
    oid=$(basename "$b")
    if [[ $oid =~ ^[0-9]+$ ]] && [ "$oid" -ge 16384 ] && [ ! -d "$new/base/$oid" ]; then
        missing="$missing $oid"
    fi
done
if [ -n "$missing" ]; then
    die "\"$new\" lacks databases of \"$old\" (OIDs$missing): it is not a pg_upgrade of it"
fi

# NEW must not have records of its own: they would be replaced
if [ -d "$new/pg_insider_guard" ]; then
    for seg in "$new"/pg_insider_guard/violations.*; do
        if [ -s "$seg" ]; then
            die "\"$new\" already holds violation records ($seg): refusing to replace them"
        fi
    done
    if [ -s "$new/pg_insider_guard/next_id" ]; then
        next_id=$(od -An -t d8 -N8 "$new/pg_insider_guard/next_id" | tr -d ' ')
        [ "${next_id:-0}" -le 1 ] ||
            die "\"$new\" has handed out violation ids (up to $((next_id - 1))): refusing to replace its records"
    fi
fi

stat_files="insider_guard.counts insider_guard.counts.prev insider_guard.history insider_guard.history.prev
    insider_guard.members insider_guard.members.prev"
have=""
if [ -d "$old/pg_insider_guard" ]; then
    have=records
fi
for f in $stat_files; do
    if [ -f "$old/pg_stat/$f" ]; then
        have="$have $f"
    fi
done
if [ -z "$have" ]; then
    echo "$me: \"$old\" has no insider_guard files: nothing to carry"
    exit 0
fi

# the copies get NEW's owner and modes
owner=$(stat -c %u:%g "$new")
if [ "$(id -u)" -ne 0 ] && [ "$(id -u)" != "${owner%%:*}" ]; then
    die "run as the owner of \"$new\" (uid ${owner%%:*}) or as root"
fi
dir_mode=$(stat -c %a "$new")
case $dir_mode in
    750) file_mode=640 ;;
    *) dir_mode=700 file_mode=600 ;;
esac
own() {
    if [ "$(id -u)" -eq 0 ]; then
        chown "$owner" "$@"
    fi
}

# the records: copied whole beside NEW's (empty) directory, then swapped in
if [ -d "$old/pg_insider_guard" ]; then
    carry="$new/pg_insider_guard.carry"
    rm -rf "$carry"
    mkdir "$carry"
    chmod "$dir_mode" "$carry"
    own "$carry"
    nseg=0
    for f in "$old"/pg_insider_guard/violations.* "$old/pg_insider_guard/next_id"; do
        name=$(basename "$f")
        # what a crash left of a rewrite: the server removes it too
        if [ ! -f "$f" ] || [[ $name == *.tmp ]]; then
            continue
        fi
        cp "$f" "$carry/$name"
        chmod "$file_mode" "$carry/$name"
        own "$carry/$name"
        if [[ $name == violations.* ]]; then
            nseg=$((nseg + 1))
        fi
    done
    sync "$carry" "$carry"/*
    rm -rf "$new/pg_insider_guard"
    mv "$carry" "$new/pg_insider_guard"
    echo "$me: carried $nseg violation segment(s) and the id mark to \"$new/pg_insider_guard\""
fi

# counts and history: each file, or its absence (NEW's own saves go)
for f in $stat_files; do
    rm -f "$new/pg_stat/$f"
    if [ -f "$old/pg_stat/$f" ]; then
        cp "$old/pg_stat/$f" "$new/pg_stat/$f.carry"
        chmod "$file_mode" "$new/pg_stat/$f.carry"
        own "$new/pg_stat/$f.carry"
        sync "$new/pg_stat/$f.carry"
        mv "$new/pg_stat/$f.carry" "$new/pg_stat/$f"
        echo "$me: carried pg_stat/$f"
    fi
done
sync "$new/pg_stat" "$new"
