#!/usr/bin/env bash
#
# test/bench/run.sh: the benchmark suite.  One command, on a fresh Debian 12
# machine, as root or as a user with sudo:
#
#     test/bench/run.sh
#
# Installs what it needs (valgrind, pgaudit), builds and installs
# insider_guard, builds a throwaway cluster in a temporary directory, and
# compares, side by side in one run:
#
#   configurations
#     none            no extension loaded
#     pgss            pg_stat_statements
#     pgaudit         pgaudit, pgaudit.log = 'read'
#     ig              insider_guard, counting only (no threshold)
#     ig_rules        insider_guard with 1,000 thresholds over 200 roles
#                     and 100 tables (log and block, all four built-in
#                     windows and a custom one), none broken
#     ig_base         insider_guard with 1,000 baseline rules over 200 roles
#                     and 100 tables (self, peers and both; log and block;
#                     hours and days) and 10 peer groups, on 20 days of
#                     seeded history, none broken
#   workloads (throughput; the instruction counts run their own inputs
#   through single-user backends: point selects of one role and of 200,
#   count(*) planned and as a sequential scan, each also with
#   insider_guard.fast_scans off, a sequential scan whose filter keeps
#   every row, COPY t TO)
#     select_prep     pgbench -S, prepared protocol, 2 clients
#     select_simple   pgbench -S, simple protocol, 2 clients
#     count           count(*) over 2 M rows, no parallel workers
#     count_off       the same with insider_guard.fast_scans off (the
#                     server restarted with it; the configurations without
#                     insider_guard are not run again: their count is it)
#     count_filter    count(*) over 2 M rows WHERE bid > 0: a filter that
#                     keeps every row, so no fast path stands in for core
#     count_par       the same with 2 parallel workers
#     fetch500k       SELECT * of 500 k rows, fetched by the client
#     copy            COPY of the 2 M-row table to the client
#     point200        2,000 point selects spread over 200 login roles
#
# and prints:
#   1. shared memory per tracked (role, table) entry;
#   2. throughput: every configuration in turn, BENCH_ROUNDS rounds,
#      medians, ratio to none (noisy on a shared machine: a guide);
#   3. instructions: callgrind on a single-user backend (repeatable to
#      about 0.001%, so it resolves the 1% budget), per statement or row,
#      against none; each run minus the same configuration's empty run;
#   4. scaling: instructions per point select, (I(4000) - I(2000)) / 2000,
#      with 1, 100 and 10,000 thresholds and 100 and ~101,000 tracked
#      entries: it must not grow with them.
#
# Settings (environment): BENCH_ROUNDS (3), BENCH_SECONDS per throughput
# measurement (3), BENCH_PARTS ("memory throughput instructions scaling"),
# KEEP=1 keeps the temporary directory.  Takes about 15 minutes on 2 cores.
#
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
# shellcheck source=../prepare.sh
. "$here/test/prepare.sh"

rounds=${BENCH_ROUNDS:-3}
seconds=${BENCH_SECONDS:-3}
parts=${BENCH_PARTS:-memory throughput instructions scaling}
configs="none pgss pgaudit ig ig_rules ig_base"
start_time=$(date +%s)

PACKAGES="$PACKAGES valgrind postgresql-$PG_MAJOR-pgaudit"
prepare_packages
prepare_build >/dev/null
# Debian packages pgaudit for its own major only (15): elsewhere (18,
# built from source) the comparison goes without it
if [ ! -f "$("$PG_CONFIG" --pkglibdir)/pgaudit.so" ]; then
    echo "no pgaudit for $("$PG_CONFIG" --version): its configuration is left out" >&2
    configs=${configs/ pgaudit/}
fi

dir=$(mktemp -d /tmp/insider_guard_bench.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir"
# the server's user may not be able to enter the clone's directory
cd "$dir"
data=$dir/data
port=5432						# unix socket in $dir only: no clash possible
server_stop() {
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}
cleanup() {
    server_stop
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data_b" -m immediate -w stop >/dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT

pg() { as_pg "$@"; }
psql_as() { local user=$1 db=$2; shift 2; pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p $port -U "$user" -d "$db" "$@"; }
log() { printf '[%4ds] %s\n' $(($(date +%s) - start_time)) "$*" >&2; }

# server options of a configuration
config_opts() {
    case $1 in
        none) echo "" ;;
        pgss) echo "-c shared_preload_libraries=pg_stat_statements" ;;
        pgaudit) echo "-c shared_preload_libraries=pgaudit -c pgaudit.log=read" ;;
        ig | ig_rules | ig_base) echo "-c shared_preload_libraries=insider_guard" ;;
    esac
}
# database a configuration runs in
config_db() {
    case $1 in
        ig_rules) echo bench_rules ;;
        ig_base) echo bench_base ;;
        *) echo bench ;;
    esac
}

server_start() {
    pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -o "$1" start >/dev/null
}

# ---------------------------------------------------------------------
# the cluster and its data
# ---------------------------------------------------------------------
log "$("$PG_CONFIG" --version): building the cluster in $dir"
pg "$PG_BIN/initdb" -D "$data" --auth=trust --no-locale -E UTF8 --no-sync >/dev/null
cat >> "$data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
shared_buffers = 768MB
max_wal_size = 4GB
jit = off
max_parallel_workers_per_gather = 0
logging_collector = off
EOF
# 96 small tables besides pgbench's four, so that 100 tables carry thresholds
fillers="DO \$\$ BEGIN FOR i IN 1..96 LOOP
    EXECUTE format('CREATE TABLE filler_%s AS SELECT g AS id FROM generate_series(1, 10) g',
                   lpad(i::text, 3, '0'));
END LOOP; END \$\$"
server_start "$(config_opts ig)"
pg "$PG_BIN/createdb" -h "$dir" -p $port bench
pg "$PG_BIN/pgbench" -h "$dir" -p $port -i -s 20 -q bench >/dev/null 2>&1
psql_as "$PG_USER" bench -c "$fillers"
psql_as "$PG_USER" bench <<'EOF'
CREATE EXTENSION insider_guard;
CREATE EXTENSION pg_prewarm;
-- what the COPY instruction runs copy: 250 k rows, the cost per row is
-- that of any size
CREATE TABLE copy_src AS SELECT * FROM pgbench_accounts WHERE aid <= 250000;
-- 200 roles the thresholds cover, one that none covers (ig_copier), 1,000
-- more to fill the counters for the scaling check
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXECUTE format('CREATE ROLE ig_r%s LOGIN', lpad(i::text, 3, '0'));
    END LOOP;
    FOR i IN 1..1000 LOOP
        EXECUTE format('CREATE ROLE ig_t%s', lpad(i::text, 4, '0'));
    END LOOP;
END $$;
CREATE ROLE ig_copier LOGIN;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC;
-- the single-user COPY workloads write to /dev/null
GRANT pg_write_server_files TO ig_copier, ig_r001;
VACUUM (FREEZE, ANALYZE);
EOF

# a small database for the scaling check: pgbench scale 1 and the same
# 100 tables, in which 1, 100 or 10,000 thresholds are set
pg "$PG_BIN/createdb" -h "$dir" -p $port small
pg "$PG_BIN/pgbench" -h "$dir" -p $port -i -s 1 -q small >/dev/null 2>&1
psql_as "$PG_USER" small -c "$fillers"
psql_as "$PG_USER" small <<'EOF'
CREATE EXTENSION insider_guard;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC;
VACUUM (FREEZE, ANALYZE);
EOF
for n in 1 100 10000; do
    pg "$PG_BIN/createdb" -h "$dir" -p $port -T small "small_$n"
    # threshold i: role i % 200, table i / 200 (pgbench_accounts first);
    # ig_r001 on pgbench_accounts is always among them
    psql_as "$PG_USER" "small_$n" -v n=$n >/dev/null <<'EOF'
SELECT count(insider_guard.set_threshold(
           format('ig_r%s', lpad((i % 200 + 1)::text, 3, '0'))::regrole,
           1000000000000, '1 hour',
           CASE WHEN i % 2 = 0 THEN 'block' ELSE 'log' END,
           t.rel))
FROM generate_series(0, :n - 1) i
JOIN (SELECT c.oid::regclass AS rel,
             row_number() OVER (ORDER BY c.relname <> 'pgbench_accounts', c.relname) - 1 AS k
      FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r') t ON t.k = i / 200;
EOF
done

pg "$PG_BIN/createdb" -h "$dir" -p $port -T bench bench_rules
# 1,000 thresholds: per role, one over all its tables, one on
# pgbench_accounts, three on the 99 other tables; windows and actions
# rotate, the limits are never reached
psql_as "$PG_USER" bench_rules <<'EOF'
DO $$
DECLARE
    windows interval[] := '{1 minute,1 hour,1 day,30 days,2 hours}';
    others regclass[];
    r regrole;
BEGIN
    SELECT array_agg(c.oid::regclass ORDER BY c.relname) INTO others
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
      AND c.relname NOT IN ('pgbench_accounts', 'copy_src');
    FOR k IN 0..199 LOOP
        r := format('ig_r%s', lpad((k + 1)::text, 3, '0'))::regrole;
        PERFORM insider_guard.set_threshold(r, 1000000000000, windows[1 + k % 5],
                    CASE WHEN k % 2 = 0 THEN 'block' ELSE 'log' END, NULL);
        PERFORM insider_guard.set_threshold(r, 1000000000000, windows[1 + (k + 1) % 5],
                    CASE WHEN k % 2 = 1 THEN 'block' ELSE 'log' END, 'pgbench_accounts');
        FOR m IN 0..2 LOOP
            PERFORM insider_guard.set_threshold(r, 1000000000000, windows[1 + (k + m + 2) % 5],
                        CASE WHEN (k + m) % 2 = 0 THEN 'block' ELSE 'log' END,
                        others[1 + (3 * k + m) % array_length(others, 1)]);
        END LOOP;
    END LOOP;
END $$;
DO $$
DECLARE
    n bigint; nroles bigint; ntables bigint; nper bigint;
BEGIN
    SELECT count(*), count(DISTINCT role_name), count(DISTINCT table_name), count(DISTINCT per)
    INTO n, nroles, ntables, nper FROM insider_guard.thresholds;
    IF n <> 1000 OR nroles <> 200 OR ntables <> 100 OR nper <> 5 THEN
        RAISE EXCEPTION 'expected 1000 thresholds over 200 roles, 100 tables, 5 windows; got %, %, %, %',
            n, nroles, ntables, nper;
    END IF;
END $$;
EOF
pg "$PG_BIN/createdb" -h "$dir" -p $port -T bench bench_base
# 1,000 baseline rules: per role, one over all its tables and one on
# pgbench_accounts, three on other tables, hours and days, self, peers and
# both, log and block in turn.  The 200 roles are in 10 peer groups of 20;
# each series the rules name has 20 days of seeded history of 10,000 M rows
# a window, so every own limit is usable and far above what the workload
# reads (a peers or both rule on a table only its role's rules name has no
# peer limit: none of the peers has history of it).
psql_as "$PG_USER" bench_base <<'EOF'
DO $$
DECLARE
    others regclass[];
    per interval;
    cmp text[] := '{self,peers,both}';
    r regrole;
    t regclass;
BEGIN
    SELECT array_agg(c.oid::regclass ORDER BY c.relname) INTO others
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
      AND c.relname NOT IN ('pgbench_accounts', 'copy_src');
    FOR g IN 1..10 LOOP
        EXECUTE format('CREATE ROLE ig_g%s', lpad(g::text, 2, '0'));
        PERFORM insider_guard.add_peer_group(format('ig_g%s', lpad(g::text, 2, '0'))::regrole);
    END LOOP;
    FOR k IN 0..199 LOOP
        r := format('ig_r%s', lpad((k + 1)::text, 3, '0'))::regrole;
        EXECUTE format('GRANT ig_g%s TO %s', lpad((k % 10 + 1)::text, 2, '0'), r);
        FOR m IN 0..4 LOOP
            t := CASE m WHEN 0 THEN NULL WHEN 1 THEN 'pgbench_accounts'::regclass
                 ELSE others[1 + (3 * k + m) % array_length(others, 1)] END;
            per := CASE WHEN (k + m) % 2 = 0 THEN '1 hour' ELSE '1 day' END;
            PERFORM insider_guard.set_baseline_rule(r, 5, per, 1000,
                        cmp[1 + (k + m) % 3],
                        CASE WHEN (k + m) % 2 = 0 THEN 'block' ELSE 'log' END, t);
            PERFORM insider_guard.record_history(r, t, per,
                        date_trunc('day', now(), 'UTC') - h * per, 10000000000)
            FROM generate_series(0, CASE WHEN per = '1 day' THEN 19 ELSE 479 END) h;
        END LOOP;
    END LOOP;
END $$;
DO $$
DECLARE
    n bigint; nroles bigint; ntables bigint; usable bigint;
BEGIN
    SELECT count(*), count(DISTINCT role_name), count(DISTINCT table_name)
    INTO n, nroles, ntables FROM insider_guard.baseline_rules;
    SELECT count(*) INTO usable FROM insider_guard.baselines
    WHERE days_seen >= 7 AND active_windows >= 20;
    IF n <> 1000 OR nroles <> 200 OR ntables <> 100 OR usable <> 1000 THEN
        RAISE EXCEPTION 'expected 1000 baseline rules over 200 roles, 100 tables, 1000 usable series; got %, %, %, %',
            n, nroles, ntables, usable;
    END IF;
END $$;
EOF
psql_as "$PG_USER" postgres -c CHECKPOINT
# the peer groups' memberships count as granted long ago, as on a server
# where they were granted before insider_guard was loaded: a membership
# younger than 14 days raises no limit, and the peer limits are part of
# what this measures.  (No grant follows; the next start reads no file.)
as_pg rm -f "$data/pg_stat/insider_guard.members" "$data/pg_stat/insider_guard.members.prev"
log "data ready: pgbench scale 20 (2 M rows) in bench, bench_rules and bench_base"


# ---------------------------------------------------------------------
# workload files (read by psql/pgbench, and by single-user backends)
# ---------------------------------------------------------------------
w=$dir/w
mkdir -p "$w"
: > "$w/empty.sql"
points() {		# points N ROLE-EVERY: N point selects, a new role every ROLE-EVERY
    awk -v n="$1" -v every="$2" 'BEGIN { srand(1); for (i = 0; i < n; i++) {
            if (i % every == 0)
                printf "SET SESSION AUTHORIZATION ig_r%03d;\n", (i / every) % 200 + 1
            printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d;\n", 1 + int(rand() * 100000) } }'
}
points 2000 2000 > "$w/point.sql"
points 4000 4000 > "$w/point4000.sql"
points 2000 10 > "$w/point200.sql"
noindex="SET enable_indexonlyscan = off; SET enable_indexscan = off; SET enable_bitmapscan = off;"
echo "SET SESSION AUTHORIZATION ig_r001; SELECT count(*) FROM pgbench_accounts;" > "$w/count.sql"
echo "SET SESSION AUTHORIZATION ig_r001; $noindex SELECT count(*) FROM pgbench_accounts;" > "$w/countseq.sql"
# the same scan with a filter that keeps every row (bid is 1 to 20, not
# indexed): what counting costs a row where no fast path stands in for core
echo "SET SESSION AUTHORIZATION ig_r001; $noindex SELECT count(*) FROM pgbench_accounts WHERE bid > 0;" > "$w/countfilter.sql"
echo "SET SESSION AUTHORIZATION ig_copier; COPY copy_src TO '/dev/null';" > "$w/copy.sql"
echo "SET SESSION AUTHORIZATION ig_r001; COPY copy_src TO '/dev/null';" > "$w/copyblock.sql"
# 1 role reading 99 tables, or 1,000 roles reading 100: counters to track
tables=$(psql_as "$PG_USER" small -Atc "SELECT string_agg(format('SELECT id FROM %I', relname), ' UNION ALL ')
    FROM pg_class WHERE relname LIKE 'filler%'")
tables4="SELECT aid FROM pgbench_accounts WHERE aid <= 10 UNION ALL SELECT bid FROM pgbench_branches
    UNION ALL SELECT tid FROM pgbench_tellers UNION ALL SELECT tid FROM pgbench_history"
{ echo "SET SESSION AUTHORIZATION ig_t0001;"; echo "SELECT count(*) FROM ($tables UNION ALL SELECT bid FROM pgbench_branches UNION ALL SELECT tid FROM pgbench_tellers) s;"; } > "$w/track100.sql"
for i in $(seq 1 1000); do
    printf 'SET SESSION AUTHORIZATION ig_t%04d;\nSELECT count(*) FROM (%s UNION ALL %s) s;\n' "$i" "$tables" "$tables4"
done > "$w/track100k.sql"
echo "SELECT count(*) FROM pgbench_accounts;" > "$w/pgb_count.sql"
echo "SELECT count(*) FROM pgbench_accounts WHERE bid > 0;" > "$w/pgb_countfilter.sql"
echo "SELECT * FROM pgbench_accounts WHERE aid <= 500000;" > "$w/pgb_fetch.sql"
[ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$w"

results=$dir/results
: > "$results"

# ---------------------------------------------------------------------
# 1. shared memory per tracked entry
# ---------------------------------------------------------------------
if [[ " $parts " == *" memory "* ]]; then
    shmem_total() {
        server_stop
        server_start "$(config_opts ig) -c insider_guard.max_tracked=$1"
        psql_as "$PG_USER" postgres -Atc "SELECT sum(allocated_size) FROM pg_shmem_allocations"
    }
    a=$(shmem_total 10000)
    b=$(shmem_total 20000)
    echo "memory per_entry $(((b - a) / 10000))" >> "$results"
    log "shared memory: $(((b - a) / 10000)) bytes per tracked entry"
fi

# ---------------------------------------------------------------------
# 2. throughput
# ---------------------------------------------------------------------
# statements per second of a loop of psql runs, for BENCH_SECONDS
rate_of() {
    local per_run=$1 n=0 t0 t1
    shift
    t0=$(date +%s%N)
    t1=$t0
    while [ $((t1 - t0)) -lt $((seconds * 1000000000)) ]; do
        "$@" > /dev/null
        n=$((n + 1))
        t1=$(date +%s%N)
    done
    awk -v n=$n -v per=$per_run -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f\n", n * per / (ns / 1e9) }'
}
pgbench_tps() {
    pg env PGOPTIONS="${PGOPTS:-}" "$PG_BIN/pgbench" -n -h "$dir" -p $port -T "$seconds" "$@" 2>/dev/null |
        awk '/^tps/ { print $3; exit }'
}

if [[ " $parts " == *" throughput "* ]]; then
    noindex_opts="-c enable_indexonlyscan=off -c enable_indexscan=off -c enable_bitmapscan=off"
    seq_opts="$noindex_opts -c max_parallel_workers_per_gather=0"
    for round in $(seq 1 "$rounds"); do
        # rotate the order each round, so no configuration always goes first
        read -r -a all <<<"$configs"
        k=$(((round - 1) % ${#all[@]}))
        for c in "${all[@]:k}" "${all[@]:0:k}"; do
            db=$(config_db "$c")
            server_stop
            server_start "$(config_opts "$c")"
            # the table and its index in shared buffers, as in a warm server
            prewarm() {
                psql_as "$PG_USER" "$db" -c "SELECT pg_prewarm('pgbench_accounts'), pg_prewarm('pgbench_accounts_pkey')" >/dev/null
            }
            prewarm
            r() { echo "throughput $c $1 $2" >> "$results"; }
            r select_prep "$(pgbench_tps -S -M prepared -c 2 -j 2 -U ig_r001 "$db")"
            r select_simple "$(pgbench_tps -S -M simple -c 2 -j 2 -U ig_r001 "$db")"
            r count "$(PGOPTS="$seq_opts" pgbench_tps -f "$w/pgb_count.sql" -U ig_r001 "$db")"
            r count_filter "$(PGOPTS="$seq_opts" pgbench_tps -f "$w/pgb_countfilter.sql" -U ig_r001 "$db")"
            r count_par "$(PGOPTS="$noindex_opts -c max_parallel_workers_per_gather=2" pgbench_tps -f "$w/pgb_count.sql" -U ig_r001 "$db")"
            r fetch500k "$(pgbench_tps -f "$w/pgb_fetch.sql" -U ig_r001 "$db")"
            r copy "$(rate_of 1 psql_as ig_r001 "$db" -c "COPY pgbench_accounts TO STDOUT")"
            r point200 "$(rate_of 2000 psql_as "$PG_USER" "$db" -f "$w/point200.sql")"
            # count with the fast paths off: a superuser's setting (ig_r001
            # may not SET it), so the server is started with it
            if [[ $c == ig* ]]; then
                server_stop
                server_start "$(config_opts "$c") -c insider_guard.fast_scans=off"
                prewarm
                r count_off "$(PGOPTS="$seq_opts" pgbench_tps -f "$w/pgb_count.sql" -U ig_r001 "$db")"
            fi
        done
        log "throughput: round $round of $rounds done"
    done
    server_stop
fi
server_stop

# ---------------------------------------------------------------------
# 3 and 4. instructions (callgrind, single-user backends)
# ---------------------------------------------------------------------
# a run: NAME DB INPUT STATE CONFIG-OPTIONS...; STATE is none (no saved
# counters) or the name of a saved counters file to start from
cg_run() {
    local d=$1 name=$2 db=$3 input=$4 state=$5 out
    shift 5
    out=$dir/cg/$name.out
    # no saved counters, not even the previous save, which insider_guard
    # loads when the latest is missing (after the throughput part's
    # servers, it holds their counters)
    pg rm -f "$d/pg_stat/insider_guard.counts" "$d/pg_stat/insider_guard.counts.prev" \
        "$d/pg_stat/pg_stat_statements.stat"
    [ "$state" != none ] && pg cp "$dir/$state" "$d/pg_stat/insider_guard.counts"
    # shellcheck disable=SC2068
    pg valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$PG_BIN/postgres" --single -D "$d" -c jit=off -c max_parallel_workers_per_gather=0 $@ \
        "$db" < "$input" > /dev/null 2>&1
    echo "$name $(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')" \
        >> "$dir/cg/totals"
    pg rm -f "$out"
}

if [[ " $parts " == *" instructions "* || " $parts " == *" scaling "* ]]; then
    mkdir -p "$dir/cg"
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir/cg"
    : > "$dir/cg/totals"
    big="-c insider_guard.max_tracked=120000"
    ig=$(config_opts ig)
    # the tracked counters of the scaling check, saved by single-user runs
    pg "$PG_BIN/postgres" --single -D "$data" $ig $big small_1 < "$w/track100k.sql" > /dev/null 2>&1
    pg cp "$data/pg_stat/insider_guard.counts" "$dir/counts100k"
    pg rm -f "$data/pg_stat/insider_guard.counts"
    pg "$PG_BIN/postgres" --single -D "$data" $ig $big small_1 < "$w/track100.sql" > /dev/null 2>&1
    pg cp "$data/pg_stat/insider_guard.counts" "$dir/counts100"
    pg rm -f "$data/pg_stat/insider_guard.counts"
    # two copies of the cluster: two single-user backends at a time
    pg cp -a "$data" "$dir/data_b"

    jobs=()
    if [[ " $parts " == *" instructions "* ]]; then
        for c in $configs; do
            db=$(config_db "$c")
            for wl in empty point point4000 point200 count countseq countfilter copy; do
                jobs+=("$c.$wl|$db|$wl|none|$(config_opts "$c")")
            done
            # the fast paths off, where there are any (elsewhere the
            # figures are those of count and countseq)
            if [[ $c == ig* ]]; then
                for wl in count countseq; do
                    jobs+=("$c.${wl}_off|$db|$wl|none|$(config_opts "$c") -c insider_guard.fast_scans=off")
                done
            fi
        done
        jobs+=("ig_rules.copyblock|bench_rules|copyblock|none|$ig")
    fi
    if [[ " $parts " == *" scaling "* ]]; then
        for n in 2000 4000; do
            input=point; [ $n = 4000 ] && input=point4000
            jobs+=("scale_none.$n|small_1|$input|none|")
            for t in 1 100 10000; do
                jobs+=("scale_thresholds_$t.$n|small_$t|$input|none|$ig $big")
            done
            jobs+=("scale_tracked_100.$n|small_1|$input|counts100|$ig $big")
            jobs+=("scale_tracked_100k.$n|small_1|$input|counts100k|$ig $big")
        done
    fi
    log "instructions: ${#jobs[@]} callgrind runs, two at a time"
    run_jobs() {
        local d=$1 i job name db input state opts
        for ((i = $2; i < ${#jobs[@]}; i += 2)); do
            job=${jobs[$i]}
            IFS='|' read -r name db input state opts <<<"$job"
            cg_run "$d" "$name" "$db" "$w/$input.sql" "$state" $opts
        done
    }
    run_jobs "$data" 0 &
    pid_a=$!
    run_jobs "$dir/data_b" 1 &
    pid_b=$!
    wait $pid_a
    wait $pid_b
    sed 's/^/instructions /' "$dir/cg/totals" >> "$results"
    log "instructions done"
fi

# ---------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------
echo
echo "insider_guard benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}'),"
echo "$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
perl "$here/test/bench/report.pl" "$results" "$configs"
echo "total time: $(($(date +%s) - start_time)) s"
