/* insider_guard--0.1.0--0.2.0.sql: behavioural baselines; direct changes of the rules logged */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION insider_guard UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Baseline rules and peer groups: extension tables, like thresholds
-- (pg_dump keeps them, ids included; they replicate; changes are
-- transactional and reach every backend at commit).
-- ---------------------------------------------------------------------

-- ids come from the thresholds' sequence: one id space for all rules
CREATE TABLE insider_guard.baseline_rules (
    rule_id bigint PRIMARY KEY DEFAULT nextval('insider_guard.rule_id_seq'),
    role_name regrole,              -- NULL: every role but superusers and exempt roles
    table_name regclass,            -- NULL: the role's reads of all tables together
    per interval NOT NULL,          -- '1 hour' or '1 day'
    factor float8 NOT NULL,         -- limit = max(min_rows, factor x p99)
    min_rows bigint NOT NULL,
    compare_to text NOT NULL,       -- 'self', 'peers' or 'both'
    action text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE insider_guard.baseline_rules IS
    'behavioural baseline rules: at most factor times the role''s (or its peers'') usual p99 per window';

-- one baseline rule per (role, table, window), NULLs equal
CREATE UNIQUE INDEX baseline_rules_role_table_per
    ON insider_guard.baseline_rules ((COALESCE(role_name::oid, 0::oid)),
                                     (COALESCE(table_name::oid, 0::oid)), per);
-- the rules naming a table (0: all tables), whose history its readers keep
CREATE INDEX baseline_rules_table
    ON insider_guard.baseline_rules ((COALESCE(table_name::oid, 0::oid)));

CREATE TABLE insider_guard.peer_group_roles (
    group_role regrole PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE insider_guard.peer_group_roles IS
    'group roles whose direct members are compared with each other';

SELECT pg_catalog.pg_extension_config_dump('insider_guard.baseline_rules', '');
SELECT pg_catalog.pg_extension_config_dump('insider_guard.peer_group_roles', '');

-- the same checks for the functions and for direct DML
CREATE FUNCTION insider_guard._check_baseline_rule()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ig_check_baseline_rule_trigger'
LANGUAGE C;

CREATE TRIGGER baseline_rules_check
    BEFORE INSERT OR UPDATE ON insider_guard.baseline_rules
    FOR EACH ROW EXECUTE FUNCTION insider_guard._check_baseline_rule();

-- every backend drops its cached rules when the transaction commits
CREATE TRIGGER baseline_rules_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON insider_guard.baseline_rules
    FOR EACH STATEMENT EXECUTE FUNCTION insider_guard._rules_changed();
CREATE TRIGGER peer_group_roles_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON insider_guard.peer_group_roles
    FOR EACH STATEMENT EXECUTE FUNCTION insider_guard._rules_changed();

-- ---------------------------------------------------------------------
-- Admin log: a direct change of a rules table -- INSERT, UPDATE, DELETE,
-- TRUNCATE, a restore -- writes an "insider_guard: admin" line to the
-- server log per row (per table for TRUNCATE, with the rows it removes),
-- as the functions that change rules do per call (their own changes are
-- not logged again).  After the row is stored, so the line shows it as
-- stored; before a TRUNCATE, while its rows can still be counted.
-- ---------------------------------------------------------------------
CREATE FUNCTION insider_guard._log_rule_change()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ig_log_rule_change_trigger'
LANGUAGE C;

CREATE TRIGGER thresholds_log
    AFTER INSERT OR UPDATE OR DELETE ON insider_guard.thresholds
    FOR EACH ROW EXECUTE FUNCTION insider_guard._log_rule_change();
CREATE TRIGGER thresholds_log_truncate
    BEFORE TRUNCATE ON insider_guard.thresholds
    FOR EACH STATEMENT EXECUTE FUNCTION insider_guard._log_rule_change();
CREATE TRIGGER exemptions_log
    AFTER INSERT OR UPDATE OR DELETE ON insider_guard.exemptions
    FOR EACH ROW EXECUTE FUNCTION insider_guard._log_rule_change();
CREATE TRIGGER exemptions_log_truncate
    BEFORE TRUNCATE ON insider_guard.exemptions
    FOR EACH STATEMENT EXECUTE FUNCTION insider_guard._log_rule_change();
CREATE TRIGGER baseline_rules_log
    AFTER INSERT OR UPDATE OR DELETE ON insider_guard.baseline_rules
    FOR EACH ROW EXECUTE FUNCTION insider_guard._log_rule_change();
CREATE TRIGGER baseline_rules_log_truncate
    BEFORE TRUNCATE ON insider_guard.baseline_rules
    FOR EACH STATEMENT EXECUTE FUNCTION insider_guard._log_rule_change();
CREATE TRIGGER peer_group_roles_log
    AFTER INSERT OR UPDATE OR DELETE ON insider_guard.peer_group_roles
    FOR EACH ROW EXECUTE FUNCTION insider_guard._log_rule_change();
CREATE TRIGGER peer_group_roles_log_truncate
    BEFORE TRUNCATE ON insider_guard.peer_group_roles
    FOR EACH STATEMENT EXECUTE FUNCTION insider_guard._log_rule_change();

-- dropping a table drops its thresholds and baseline rules
CREATE OR REPLACE FUNCTION insider_guard._on_sql_drop()
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
    DELETE FROM insider_guard.baseline_rules b
    USING pg_event_trigger_dropped_objects() d
    WHERE d.classid = 'pg_class'::regclass
      AND d.objsubid = 0
      AND b.table_name::oid = d.objid;
END
$$;

-- Sets (or, for the same role, table and window, updates) a baseline
-- rule; returns its id.
CREATE FUNCTION insider_guard.set_baseline_rule(
    role_name regrole,
    factor float8 DEFAULT 5,
    per interval DEFAULT '1 hour',
    min_rows bigint DEFAULT 1000,
    compare_to text DEFAULT 'self',
    action text DEFAULT 'log',
    on_table regclass DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ig_set_baseline_rule'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- The direct members of a group role are each other's peers.
CREATE FUNCTION insider_guard.add_peer_group(group_role regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'ig_add_peer_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION insider_guard.drop_peer_group(group_role regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'ig_drop_peer_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Seeds the history with a past window (shared memory: not transactional).
CREATE FUNCTION insider_guard.record_history(
    role_name regrole,
    on_table regclass,
    per interval,
    window_end timestamptz,
    rows bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'ig_record_history'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Forgets the history of a role (every role if NULL): for a role that
-- changed job.  Returns how many series were removed.
CREATE FUNCTION insider_guard.reset_history(role_name regrole DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ig_reset_history'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The rows of baselines; checks that the caller may read the view.
CREATE FUNCTION insider_guard._baselines(
    OUT role_name name,
    OUT table_name text,
    OUT per interval,
    OUT active_windows bigint,
    OUT days_seen int,
    OUT typical_rows bigint,
    OUT high_rows bigint,
    OUT peer_high_rows bigint,
    OUT limit_now bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ig_baselines'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE VIEW insider_guard.baselines AS
    SELECT role_name, table_name, per, active_windows, days_seen,
           typical_rows, high_rows, peer_high_rows, limit_now
    FROM insider_guard._baselines()
    ORDER BY role_name, table_name NULLS FIRST, per;
COMMENT ON VIEW insider_guard.baselines IS
    'history of each role''s hourly and daily reads in this database, and the baseline limits in force';

CREATE VIEW insider_guard.peer_groups AS
    SELECT g.group_role,
           ARRAY(SELECT r FROM (SELECT DISTINCT m.member::regrole AS r
                                FROM pg_catalog.pg_auth_members m
                                WHERE m.roleid = g.group_role) s
                 ORDER BY r::text) AS members
    FROM insider_guard.peer_group_roles g;
COMMENT ON VIEW insider_guard.peer_groups IS
    'peer groups: each member is compared with the other direct members';

REVOKE ALL ON insider_guard.baseline_rules, insider_guard.peer_group_roles FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard._check_baseline_rule() FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard._log_rule_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.set_baseline_rule(regrole, float8, interval, bigint, text, text, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.add_peer_group(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.drop_peer_group(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.record_history(regrole, regclass, interval, timestamptz, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.reset_history(regrole) FROM PUBLIC;
REVOKE ALL ON insider_guard.baselines, insider_guard.peer_groups FROM PUBLIC;
-- it checks SELECT on its view, so granting the view is enough
GRANT EXECUTE ON FUNCTION insider_guard._baselines() TO PUBLIC;

-- ---------------------------------------------------------------------
-- Violations gain their incident's repeats: later statements of the role
-- stopped by the same block rule while it stays broken, and the latest.
-- The view keeps its grants (CREATE OR REPLACE, columns added at the end).
-- ---------------------------------------------------------------------

CREATE FUNCTION insider_guard._violations_v2(
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
    OUT backend_pid int,
    OUT repeats bigint,
    OUT last_seen_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ig_violations'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE OR REPLACE VIEW insider_guard.violations AS
    SELECT violation_id, occurred_at, role_name, current_role_name,
           table_oid, table_name, threshold_id, max_rows, per,
           rows_in_window, statement_rows, action, query,
           application_name, client_addr, backend_pid,
           repeats, last_seen_at
    FROM insider_guard._violations_v2()
    ORDER BY violation_id;

DROP FUNCTION insider_guard._violations();
-- it checks SELECT on its view, so granting the view is enough
GRANT EXECUTE ON FUNCTION insider_guard._violations_v2() TO PUBLIC;
