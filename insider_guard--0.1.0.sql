/* insider_guard--0.1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION insider_guard" to load this file. \quit

-- Without shared_preload_libraries, CREATE EXTENSION stops here with 55000.
CREATE FUNCTION insider_guard._assert_preloaded()
RETURNS void
AS 'MODULE_PATHNAME', 'ig_assert_preloaded'
LANGUAGE C STRICT;

SELECT insider_guard._assert_preloaded();

-- Rows a role read in this database within the last "per".
CREATE FUNCTION insider_guard.rows_read(
    role_name regrole,
    per interval,
    on_table regclass DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ig_rows_read'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- Forget what a role (every role if NULL) read in this database.
CREATE FUNCTION insider_guard.reset(role_name regrole DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'ig_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The rows of role_activity; checks that the caller may read the view.
CREATE FUNCTION insider_guard._role_activity(
    OUT role_name name,
    OUT table_name text,
    OUT rows_last_minute bigint,
    OUT rows_last_hour bigint,
    OUT rows_last_day bigint,
    OUT statements bigint,
    OUT last_read_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ig_role_activity'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE VIEW insider_guard.role_activity AS
    SELECT role_name, table_name, rows_last_minute, rows_last_hour,
           rows_last_day, statements, last_read_at
    FROM insider_guard._role_activity();

COMMENT ON VIEW insider_guard.role_activity IS
    'rows each role read from each table (table_name NULL: all tables) in this database';

-- PUBLIC gets nothing but the right to look into the schema; a superuser
-- grants EXECUTE or SELECT on what each auditor may use.
REVOKE ALL ON FUNCTION insider_guard._assert_preloaded() FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.rows_read(regrole, interval, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.reset(regrole) FROM PUBLIC;
REVOKE ALL ON insider_guard.role_activity FROM PUBLIC;
-- checks SELECT on role_activity itself, so granting the view is enough
GRANT EXECUTE ON FUNCTION insider_guard._role_activity() TO PUBLIC;
GRANT USAGE ON SCHEMA insider_guard TO PUBLIC;
