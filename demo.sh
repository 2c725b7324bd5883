#!/usr/bin/env bash
#
# demo.sh: insider_guard on a throwaway cluster.  Terry, a support agent,
# normally looks up a handful of customers; today Terry pulls the whole
# table.  insider_guard counts every row, stops him at a fixed threshold,
# then -- with behavioural baselines -- at five times his own normal, and
# a new hire who joined the team today at the rule's cold-start floor (a
# membership younger than 14 days raises no limit), and shows the
# violations.
#
# Installs what it needs (like test.sh), starts a private cluster in a
# temporary directory as an unprivileged user, and removes it at the end.
#
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# shellcheck source=test/prepare.sh
. "$here/test/prepare.sh"

echo "== preparing (packages, build, install)"
prepare_packages
prepare_build >/dev/null

dir=$(mktemp -d /tmp/insider_guard_demo.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir"
# the server's user may not be able to enter the clone's directory
cd "$dir"
port=54329
stop_cluster() {
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop_cluster EXIT

echo "== starting a throwaway cluster in $dir"
as_pg "$PG_BIN/initdb" -D "$dir/data" --auth=trust --no-locale -E UTF8 --no-sync >/dev/null
cat >> "$dir/data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
EOF
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

psql_as() {
    local user=$1
    shift
    as_pg "$PG_BIN/psql" -X -q -h "$dir" -p "$port" -U "$user" -d postgres "$@"
}

# the support team has worked together for months: its roles predate
# insider_guard on this server
psql_as postgres -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
CREATE ROLE support;
CREATE ROLE terry LOGIN IN ROLE support;
CREATE ROLE ana LOGIN IN ROLE support;
CREATE ROLE ben LOGIN IN ROLE support;
CREATE ROLE cho LOGIN IN ROLE support;
CREATE ROLE dev LOGIN IN ROLE support;
CREATE ROLE eli LOGIN IN ROLE support;
SQL
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
echo "shared_preload_libraries = 'insider_guard'" >> "$dir/data/postgresql.conf"
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

psql_as postgres -v ON_ERROR_STOP=1 <<'SQL'
\echo == the DBA installs insider_guard; Terry, in the support team, may read customers
CREATE EXTENSION insider_guard;
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text);
INSERT INTO customers
    SELECT g, 'Customer ' || g, 'customer' || g || '@example.com',
           lpad((g * 7919 % 10000)::text, 4, '0')
    FROM generate_series(1, 50000) g;
GRANT SELECT ON customers TO support;

\echo == and sets two thresholds for the support team: notice 500 rows an hour, stop at 5000
SELECT insider_guard.set_threshold('support', 500, '1 hour', 'log') AS log_threshold,
       insider_guard.set_threshold('support', 5000, '1 hour', 'block', 'customers') AS block_threshold;
SQL

echo "== Terry answers three support calls"
psql_as terry -c "SELECT name, email FROM customers WHERE id = 4711" \
              -c "SELECT name, email FROM customers WHERE id = 815" \
              -c "SELECT name, email FROM customers WHERE email = 'customer42@example.com'"

echo "== Terry starts pulling customers out: 1,000 rows (no message: the log threshold is silent)"
psql_as terry -c "SELECT count(*) AS rows_taken FROM (SELECT * FROM customers ORDER BY id LIMIT 1000) s"
echo "== then tries to COPY the whole table"
psql_as terry -c "COPY customers TO STDOUT" 2>"$dir/copy.err" | wc -l | sed 's/^/rows that got out: /' || true
cat "$dir/copy.err"

psql_as postgres <<'SQL'
\echo == what insider_guard saw
SELECT role_name, coalesce(table_name, '(all tables)') AS table_name,
       rows_last_minute, rows_last_hour, statements
FROM insider_guard.role_activity ORDER BY role_name, table_name NULLS FIRST;
\echo == the violations the DBA reads
\x on
SELECT violation_id, occurred_at, role_name, table_name, threshold_id, max_rows, per,
       rows_in_window, statement_rows, action, query, application_name, backend_pid
FROM insider_guard.violations;
SQL
echo "== and the lines in the server log"
grep "insider_guard: violation" "$dir/server.log" || true

psql_as postgres -v ON_ERROR_STOP=1 <<'SQL'
\echo
\echo == a generous fixed limit lets 5,000 rows an hour through.  Terry normally reads
\echo == about 5 an hour, his colleagues about 20: the DBA seeds 30 days of that history
\echo == (from the old audit logs), makes the support team a peer group, and sets a
\echo == baseline rule: at most 5 x the usual p99 of each agent an hour, never under 100
\echo == (newbie joins the team today)
CREATE ROLE newbie LOGIN IN ROLE support;
SELECT count(insider_guard.record_history(agent::regrole, NULL, '1 hour',
                 date_trunc('hour', now(), 'UTC') - make_interval(hours => h),
                 CASE WHEN agent = 'terry' THEN 3 + h % 5 ELSE 15 + h % 11 END))
       AS windows_seeded
FROM unnest('{terry,ana,ben,cho,dev,eli}'::text[]) agent, generate_series(1, 30 * 24) h;
SELECT insider_guard.add_peer_group('support');
SELECT insider_guard.set_baseline_rule('support', factor => 5, per => '1 hour',
                                       min_rows => 100, compare_to => 'self',
                                       action => 'block') AS baseline_rule;
SELECT insider_guard.reset();
\x on
SELECT role_name, per, active_windows, days_seen, typical_rows, high_rows, peer_high_rows, limit_now
FROM insider_guard.baselines WHERE role_name IN ('terry', 'ana');
\x off
SQL

echo "== Terry pulls 1,000 customers again: 5 x his usual hour is under the floor, so 100"
psql_as terry -c "SELECT count(*) AS rows_taken FROM (SELECT * FROM customers ORDER BY id LIMIT 1000) s" || true
echo "== newbie, who joined today, has no history, and a membership younger than 14 days"
echo "   raises no limit: the rule holds him to its cold-start floor, 100"
psql_as newbie -c "SELECT count(*) AS rows_taken FROM (SELECT * FROM customers ORDER BY id LIMIT 1000) s" || true

psql_as postgres <<'SQL'
\echo == the baseline violations
SELECT violation_id, role_name, table_name, threshold_id, max_rows, per, rows_in_window,
       statement_rows, action
FROM insider_guard.violations WHERE threshold_id = (SELECT max(rule_id) FROM insider_guard.baseline_rules);
SQL
echo "== done; the cluster is removed"
