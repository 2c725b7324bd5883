--
-- not_preloaded: without shared_preload_libraries, CREATE EXTENSION and
-- every function fail with 55000 and say why; nothing crashes.
--
SHOW shared_preload_libraries;
-- (PostgreSQL 18 adds the script's line as context)
\set SHOW_CONTEXT never
CREATE EXTENSION insider_guard;
\set SHOW_CONTEXT errors
\set VERBOSITY sqlstate
CREATE EXTENSION insider_guard;
\set VERBOSITY default
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'insider_guard';

-- the library itself loads (its settings exist) but installs nothing
LOAD 'insider_guard';
SHOW insider_guard.enabled;
CREATE TABLE t AS SELECT g FROM generate_series(1, 10) g;
SELECT count(*) FROM t;

-- functions reached without the extension fail the same way
CREATE FUNCTION rows_read(regrole, interval, regclass DEFAULT NULL) RETURNS bigint
    AS 'insider_guard', 'ig_rows_read' LANGUAGE C;
CREATE FUNCTION role_activity(OUT role_name name, OUT table_name text,
    OUT rows_last_minute bigint, OUT rows_last_hour bigint,
    OUT rows_last_day bigint, OUT statements bigint, OUT last_read_at timestamptz)
    RETURNS SETOF record AS 'insider_guard', 'ig_role_activity' LANGUAGE C;
CREATE FUNCTION reset(regrole DEFAULT NULL) RETURNS void
    AS 'insider_guard', 'ig_reset' LANGUAGE C;
CREATE FUNCTION info(OUT counters_in_use bigint, OUT max_tracked bigint)
    RETURNS record AS 'insider_guard', 'ig_info' LANGUAGE C;
SELECT rows_read(current_user::regrole, '1 hour');
\set VERBOSITY sqlstate
SELECT rows_read(current_user::regrole, '1 hour');
SELECT * FROM role_activity();
SELECT reset();
SELECT * FROM info();
\set VERBOSITY default
DROP TABLE t;
DROP FUNCTION rows_read, role_activity, reset, info;
