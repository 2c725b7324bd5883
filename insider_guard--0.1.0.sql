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

-- ---------------------------------------------------------------------
-- Thresholds and exemptions: extension tables, so that pg_dump keeps them
-- (ids included), they replicate to standbys and changes are
-- transactional.  Every change -- through the functions below or by
-- direct DML -- invalidates every backend's cached copy at commit.
-- ---------------------------------------------------------------------

-- threshold ids; behavioural baseline rules will share them
CREATE SEQUENCE insider_guard.rule_id_seq;

CREATE TABLE insider_guard.thresholds (
    threshold_id bigint PRIMARY KEY DEFAULT nextval('insider_guard.rule_id_seq'),
    role_name regrole,              -- NULL: every role but superusers and exempt roles
    table_name regclass,            -- NULL: all tables
    max_rows bigint NOT NULL,
    per interval NOT NULL,
    action text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE insider_guard.thresholds IS
    'volume thresholds: at most max_rows rows per rolling window per';

-- one threshold per (role, table, window), NULLs equal
CREATE UNIQUE INDEX thresholds_role_table_per
    ON insider_guard.thresholds ((COALESCE(role_name::oid, 0::oid)),
                                 (COALESCE(table_name::oid, 0::oid)), per);

CREATE TABLE insider_guard.exemptions (
    role_name regrole PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE insider_guard.exemptions IS
    'roles covered only by thresholds that name them directly';

SELECT pg_catalog.pg_extension_config_dump('insider_guard.thresholds', '');
SELECT pg_catalog.pg_extension_config_dump('insider_guard.exemptions', '');
SELECT pg_catalog.pg_extension_config_dump('insider_guard.rule_id_seq', '');

-- the same checks for the functions and for direct DML
CREATE FUNCTION insider_guard._check_threshold()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ig_check_threshold_trigger'
LANGUAGE C;

CREATE TRIGGER thresholds_check
    BEFORE INSERT OR UPDATE ON insider_guard.thresholds
    FOR EACH ROW EXECUTE FUNCTION insider_guard._check_threshold();

-- every backend drops its cached rules when the transaction commits
CREATE FUNCTION insider_guard._rules_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ig_rules_changed_trigger'
LANGUAGE C;

CREATE TRIGGER thresholds_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON insider_guard.thresholds
    FOR EACH STATEMENT EXECUTE FUNCTION insider_guard._rules_changed();
CREATE TRIGGER exemptions_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON insider_guard.exemptions
    FOR EACH STATEMENT EXECUTE FUNCTION insider_guard._rules_changed();

-- dropping a table drops its thresholds
CREATE FUNCTION insider_guard._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM insider_guard.thresholds t
    USING pg_event_trigger_dropped_objects() d
    WHERE d.classid = 'pg_class'::regclass
      AND d.objsubid = 0
      AND t.table_name::oid = d.objid;
END
$$;

CREATE EVENT TRIGGER insider_guard_sql_drop ON sql_drop
    EXECUTE FUNCTION insider_guard._on_sql_drop();

-- Sets (or, for the same role, table and window, updates) a threshold;
-- returns its id.
CREATE FUNCTION insider_guard.set_threshold(
    role_name regrole,
    max_rows bigint,
    per interval DEFAULT '1 hour',
    action text DEFAULT 'log',
    on_table regclass DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ig_set_threshold'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Drops a threshold; false if there was none.
CREATE FUNCTION insider_guard.drop_threshold(threshold_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ig_drop_threshold'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- An exempt role is covered only by thresholds that name it directly.
CREATE FUNCTION insider_guard.exempt(role_name regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'ig_exempt'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION insider_guard.unexempt(role_name regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'ig_unexempt'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- ---------------------------------------------------------------------
-- Violations: records of broken thresholds, kept on disk (not in a table:
-- a hot standby writes them too), oldest first.
-- ---------------------------------------------------------------------

-- The rows of violations; checks that the caller may read the view.
CREATE FUNCTION insider_guard._violations(
    OUT violation_id bigint,
    OUT occurred_at timestamptz,
    OUT role_name name,
    OUT current_role_name name,
    OUT table_oid oid,
    OUT table_name text,
    OUT threshold_id bigint,
    OUT max_rows bigint,
    OUT per interval,
    OUT rows_in_window bigint,
    OUT statement_rows bigint,
    OUT action text,
    OUT query text,
    OUT application_name text,
    OUT client_addr inet,
    OUT backend_pid int)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ig_violations'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE VIEW insider_guard.violations AS
    SELECT violation_id, occurred_at, role_name, current_role_name,
           table_oid, table_name, threshold_id, max_rows, per,
           rows_in_window, statement_rows, action, query,
           application_name, client_addr, backend_pid
    FROM insider_guard._violations()
    ORDER BY violation_id;
COMMENT ON VIEW insider_guard.violations IS
    'broken thresholds in this database, oldest first';

-- Removes this database's records older than older_than; returns how many.
CREATE FUNCTION insider_guard.prune_violations(older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ig_prune_violations'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- PUBLIC gets nothing but the right to look into the schema; a superuser
-- grants EXECUTE or SELECT on what each auditor may use.
REVOKE ALL ON FUNCTION insider_guard._assert_preloaded() FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.rows_read(regrole, interval, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.reset(regrole) FROM PUBLIC;
REVOKE ALL ON insider_guard.role_activity FROM PUBLIC;
REVOKE ALL ON insider_guard.thresholds, insider_guard.exemptions FROM PUBLIC;
REVOKE ALL ON SEQUENCE insider_guard.rule_id_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.set_threshold(regrole, bigint, interval, text, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.drop_threshold(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.exempt(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.unexempt(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard._on_sql_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard._check_threshold() FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard._rules_changed() FROM PUBLIC;
REVOKE ALL ON insider_guard.violations FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.prune_violations(interval) FROM PUBLIC;
-- these check SELECT on their view, so granting the view is enough
GRANT EXECUTE ON FUNCTION insider_guard._role_activity() TO PUBLIC;
GRANT EXECUTE ON FUNCTION insider_guard._violations() TO PUBLIC;
GRANT USAGE ON SCHEMA insider_guard TO PUBLIC;
