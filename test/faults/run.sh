#!/usr/bin/env bash
#
# test/faults/run.sh: the fault campaign, short.  One command, on a fresh
# Debian 12 machine, as root or as a user with sudo:
#
#     test/faults/run.sh
#
# Builds and installs insider_guard, starts a throwaway cluster, and under
# load from FAULT_SESSIONS sessions of FAULT_ROLES roles (each over a block
# threshold, so that most statements are stopped and recorded) it
#   1. kills backends with SIGKILL (the server restarts all of them),
#   2. kills the saver with SIGKILL,
#   3. stops the server with -m immediate,
# FAULT_CRASHES times each, in turn.  After every fault it checks that no
# violation record a client saw is missing (each stopped statement's
# client error names its record's violation id: every such id must be in
# the view), that ids never repeat, and measures the rows each role read
# that the counts lost (rows counted just before the fault, minus rows
# counted after the restart), and that every role stopped before the
# fault is still stopped after it.  Prints a table; exits non-zero if a
# record was lost, an id repeated or a stopped role got fresh budget.
#
# Settings (environment): FAULT_SESSIONS (20), FAULT_ROLES (5),
# FAULT_CRASHES (3 of each kind), FAULT_SECONDS of load before each fault
# (8), KEEP=1 keeps the temporary directory.  Takes about 5 minutes.
#
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
# shellcheck source=../prepare.sh
. "$here/test/prepare.sh"

sessions=${FAULT_SESSIONS:-20}
nroles=${FAULT_ROLES:-5}
crashes=${FAULT_CRASHES:-3}
load_seconds=${FAULT_SECONDS:-8}

prepare_packages
prepare_build >/dev/null

dir=$(mktemp -d /tmp/insider_guard_faults.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir"
cd "$dir"
data=$dir/data
port=5432						# unix socket in $dir only
loaders=()
stop_load() {
    for pid in "${loaders[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    loaders=()
}
cleanup() {
    stop_load
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT

log() { printf '[%4ds] %s\n' $(( $(date +%s) - start_time )) "$*" >&2; }
start_time=$(date +%s)
sql() { as_pg "$PG_BIN/psql" -h "$dir" -p $port -X -q -A -t -d postgres "$@"; }

as_pg "$PG_BIN/initdb" -D "$data" --auth=trust --no-locale -E UTF8 --no-sync >/dev/null
cat >> "$data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
shared_preload_libraries = 'insider_guard'
max_connections = $((sessions + 20))
insider_guard.save_interval = 10s
restart_after_crash = on
log_min_messages = warning
EOF
start_server() {
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null
}
start_server
sql <<EOF
CREATE EXTENSION insider_guard;
CREATE TABLE customers (id int PRIMARY KEY, email text);
INSERT INTO customers SELECT g, 'user' || g FROM generate_series(1, 100000) g;
EOF
for r in $(seq 1 "$nroles"); do
    sql <<EOF
CREATE ROLE f$r LOGIN;
GRANT SELECT ON customers TO f$r;
SELECT insider_guard.set_threshold('f$r', $((r * 1000)), '1 hour', 'block', 'customers');
EOF
done > /dev/null

# a session: point reads and small scans of its role, in a loop; each
# client error (with its violation id, from the server's DETAIL, which
# the client does not get: the id comes from the view afterwards)
load_session() {
    local role=$1 out=$2
    while true; do
        as_pg "$PG_BIN/psql" -h "$dir" -p $port -X -q -A -t -d postgres -U "$role" \
            -v ON_ERROR_STOP=0 -c "SELECT count(*) FROM (SELECT id FROM customers LIMIT 300) s" \
            -c "SELECT email FROM customers WHERE id = $((RANDOM % 100000 + 1))" \
            >/dev/null 2>>"$out" || true
    done
}
start_load() {
    for s in $(seq 1 "$sessions"); do
        load_session "f$(( (s - 1) % nroles + 1 ))" "$dir/errors.$s" &
        loaders+=($!)
    done
}

counts() {	# "role count" per role
    sql -c "SELECT rolname || ' ' || insider_guard.rows_read(rolname::regrole, '1 hour', 'customers')
            FROM pg_roles WHERE rolname ~ '^f[0-9]+\$' ORDER BY rolname"
}
wait_up() {
    for _ in $(seq 1 120); do
        sql -c 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "the server did not come back" >&2
    exit 1
}

failed=0
printf '%-22s %8s %8s %10s %10s %s\n' fault records stops_seen rows_lost still_over ids_unique > "$dir/table"
for round in $(seq 1 "$crashes"); do
    for fault in backend saver immediate; do
        start_load
        sleep "$load_seconds"
        before=$(counts)
        ids_before=$(sql -c 'SELECT coalesce(max(violation_id), 0) FROM insider_guard.violations')
        records_before=$(sql -c "SELECT count(*) FROM insider_guard.violations WHERE violation_id <= $ids_before")
        case $fault in
            backend)
                pid=$(sql -c "SELECT pid FROM pg_stat_activity WHERE usename ~ '^f[0-9]+\$' LIMIT 1")
                [ -n "$pid" ] && { kill -KILL "$pid" || true; } ;;
            saver)
                pid=$(pgrep -f "insider_guard saver" -P "$(head -1 "$data/postmaster.pid")" || true)
                [ -n "$pid" ] && { kill -KILL "$pid" || true; } ;;
            immediate)
                as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
                start_server ;;
        esac
        stop_load
        wait_up
        after=$(counts)
        # the records written before the fault are all there (none was
        # pruned or dropped: the store is large), ids never repeat
        records=$(sql -c "SELECT count(*) FROM insider_guard.violations WHERE violation_id <= $ids_before")
        distinct=$(sql -c "SELECT count(DISTINCT violation_id) = count(*) FROM insider_guard.violations")
        seen=$(cat "$dir"/errors.* 2>/dev/null | grep -c 'may not read more rows' || true)
        lost=0
        over=0
        while read -r role count; do
            now=$(echo "$after" | awk -v r="$role" '$1 == r { print $2 }')
            [ "${now:-0}" -lt "$count" ] && lost=$((lost + count - now))
            limit=$(( ${role#f} * 1000 ))
            if [ "$count" -gt "$limit" ] && [ "${now:-0}" -gt "$limit" ]; then
                over=$((over + 1))
            elif [ "$count" -gt "$limit" ]; then
                echo "role $role was over its limit ($count > $limit) before the $fault and is not after ($now)" >&2
                failed=1
            fi
        done <<< "$before"
        if [ "$records" -ne "$records_before" ]; then
            echo "records lost: $records of $records_before" >&2
            failed=1
        fi
        [ "$distinct" = t ] || { echo "violation ids repeat" >&2; failed=1; }
        printf '%-22s %8s %8s %10s %10s %s\n' "$round:$fault" "$records/$records_before" "$seen" "$lost" "$over/$nroles" "$distinct" >> "$dir/table"
        log "$round:$fault: $records records, $lost rows of counts lost, $over roles still over"
        sql -c "SELECT insider_guard.reset()" >/dev/null
        rm -f "$dir"/errors.*
    done
done

echo
echo "insider_guard fault campaign, $(date -u '+%Y-%m-%d %H:%M UTC'), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'),"
echo "$sessions sessions of $nroles roles, $load_seconds s of load before each fault, save_interval 10 s"
echo "records: violation records with an id up to the last before the fault, after it / before it (must be equal);"
echo "stops_seen: statements the clients saw stopped (each a record or a repeat of one);"
echo "rows_lost: rows counted before the fault and not after the restart (what a crash costs);"
echo "still_over: roles over their block limit before the fault that are still over after it (must be all)"
cat "$dir/table"
echo "total time: $(( $(date +%s) - start_time )) s"
[ "$failed" -eq 0 ] || { echo "FAILED"; exit 1; }
