#!/usr/bin/env bash
#
# test/bench/instructions.sh: what insider_guard costs, in instructions.
#
# Runs each workload in a single-user backend under valgrind's callgrind,
# with and without insider_guard preloaded, on a pgbench (scale 20, 2 M
# accounts) database, and prints the instructions each configuration adds
# per statement or per row.  Callgrind counts instructions, not time: the
# same binary, data and input give the same count to about 0.001%, however
# busy the machine is.  Each figure is the run minus the same run with an
# empty input (startup and shutdown), so only the workload is compared.
#
# Usage: test/bench/instructions.sh [workload ...]
#   workloads: point (2,000 point selects), count (count(*) over 2 M rows,
#   as planned: an index-only scan), countseq (the same as a sequential
#   scan).  Default: all.
#
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
# shellcheck source=../prepare.sh
. "$here/test/prepare.sh"

workloads=${*:-point count countseq}

prepare_packages
command -v valgrind >/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind
prepare_build >/dev/null

dir=$(mktemp -d /tmp/insider_guard_bench.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir"
trap 'as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

echo "preparing a pgbench database (scale 20) in $dir" >&2
as_pg "$PG_BIN/initdb" -D "$dir/data" --auth=trust --no-locale -E UTF8 --no-sync >/dev/null
cat >> "$dir/data/postgresql.conf" <<EOF
port = 54330
listen_addresses = ''
unix_socket_directories = '$dir'
max_parallel_workers_per_gather = 0
jit = off
EOF
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
as_pg "$PG_BIN/pgbench" -h "$dir" -p 54330 -i -s 20 -q postgres >/dev/null 2>&1
as_pg "$PG_BIN/psql" -X -q -h "$dir" -p 54330 -d postgres -c "VACUUM ANALYZE"
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -w stop >/dev/null

# the workloads, as files the single-user backend reads
mkdir -p "$dir/w"
: > "$dir/w/empty.sql"
awk 'BEGIN { srand(1); for (i = 0; i < 2000; i++)
        printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d;\n", 1 + int(rand() * 2000000) }' \
    > "$dir/w/point.sql"
echo "SELECT count(*) FROM pgbench_accounts;" > "$dir/w/count.sql"
printf '%s\n' "SET enable_indexonlyscan = off;" "SET enable_indexscan = off;" \
    "SET enable_bitmapscan = off;" "SELECT count(*) FROM pgbench_accounts;" > "$dir/w/countseq.sql"
[ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$dir/w"

# units per workload, to report per statement or per row
unit_of() { case $1 in point) echo "2000 statement" ;; *) echo "2000000 row" ;; esac; }

# instructions of one callgrind run
instructions() {
    local config=$1 input=$2 out opts
    out="$dir/cg.$config.$(basename "$input" .sql)"
    opts="-c jit=off -c max_parallel_workers_per_gather=0"
    case $config in
        none) ;;
        insider_guard) opts="$opts -c shared_preload_libraries=insider_guard" ;;
    esac
    # shellcheck disable=SC2086
    as_pg valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$PG_BIN/postgres" --single -D "$dir/data" $opts postgres < "$input" >/dev/null 2>&1
    callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

configs="none insider_guard"
declare -A base
for c in $configs; do
    base[$c]=$(instructions "$c" "$dir/w/empty.sql")
done

printf '%-10s %-15s %15s %12s %10s\n' workload config instructions "per unit" "vs none"
for w in $workloads; do
    read -r n unit <<<"$(unit_of "$w")"
    none=""
    for c in $configs; do
        total=$(instructions "$c" "$dir/w/$w.sql")
        net=$((total - base[$c]))
        [ -z "$none" ] && none=$net
        awk -v w="$w" -v c="$c" -v net="$net" -v none="$none" -v n="$n" -v unit="$unit" 'BEGIN {
            printf "%-10s %-15s %15d %8.1f/%-4s %+9.2f%%\n", w, c, net, net / n, substr(unit, 1, 4),
                   (net - none) * 100.0 / none }'
    done
done
