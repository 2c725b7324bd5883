/* insider_guard--0.2.0--0.3.0.sql: the info view; database_name and rule_kind in violations; why a baseline limits nobody */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION insider_guard UPDATE TO '0.3.0'" to load this file. \quit

-- ---------------------------------------------------------------------
-- info: one row, of the whole server, for monitoring (the figures
-- Prometheus' exporter reads): shared memory in use and its limits, what
-- did not fit, the violations store, the last save.  The totals count
-- from stats_reset_at (the server's start, or its restart after a crash).
-- ---------------------------------------------------------------------

-- The row of info; checks that the caller may read the view.
CREATE FUNCTION insider_guard._info(
    OUT counters_in_use bigint,
    OUT max_tracked bigint,
    OUT evictions bigint,
    OUT fail_closed_statements bigint,
    OUT rule_checks_skipped bigint,
    OUT history_series_in_use bigint,
    OUT history_series_max bigint,
    OUT violation_records bigint,
    OUT violation_bytes bigint,
    OUT records_dropped bigint,
    OUT last_save_at timestamptz,
    OUT stats_reset_at timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'ig_info'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE VIEW insider_guard.info AS
    SELECT counters_in_use, max_tracked, evictions, fail_closed_statements,
           rule_checks_skipped, history_series_in_use, history_series_max,
           violation_records, violation_bytes, records_dropped,
           last_save_at, stats_reset_at
    FROM insider_guard._info();
COMMENT ON VIEW insider_guard.info IS
    'insider_guard''s shared memory, violations store and saves, for the whole server: one row';

REVOKE ALL ON insider_guard.info FROM PUBLIC;
-- it checks SELECT on its view, so granting the view is enough
GRANT EXECUTE ON FUNCTION insider_guard._info() TO PUBLIC;

-- ---------------------------------------------------------------------
-- Violations gain the database's name and the kind of rule broken
-- ('threshold' or 'baseline').  The records 0.2.0 wrote do not say their
-- kind: their rule says, while it exists (ids are one space for both
-- tables); else NULL.  The view keeps its grants (CREATE OR REPLACE,
-- columns added at the end).
-- ---------------------------------------------------------------------

CREATE FUNCTION insider_guard._violations_v3(
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
    OUT last_seen_at timestamptz,
    OUT database_name name,
    OUT rule_kind text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ig_violations'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE OR REPLACE VIEW insider_guard.violations AS
    SELECT v.violation_id, v.occurred_at, v.role_name, v.current_role_name,
           v.table_oid, v.table_name, v.threshold_id, v.max_rows, v.per,
           v.rows_in_window, v.statement_rows, v.action, v.query,
           v.application_name, v.client_addr, v.backend_pid,
           v.repeats, v.last_seen_at, v.database_name,
           COALESCE(v.rule_kind,
                    CASE WHEN EXISTS (SELECT FROM insider_guard.thresholds t
                                      WHERE t.threshold_id = v.threshold_id)
                         THEN 'threshold'
                         WHEN EXISTS (SELECT FROM insider_guard.baseline_rules b
                                      WHERE b.rule_id = v.threshold_id)
                         THEN 'baseline'
                    END) AS rule_kind
    FROM insider_guard._violations_v3() v
    ORDER BY v.violation_id;

COMMENT ON VIEW insider_guard.violations IS
    'broken thresholds and baseline rules in this database, oldest first';

DROP FUNCTION insider_guard._violations_v2();
-- it checks SELECT on its view, so granting the view is enough
GRANT EXECUTE ON FUNCTION insider_guard._violations_v3() TO PUBLIC;

-- ---------------------------------------------------------------------
-- Baselines that protect nobody say why: no_limit_reason, NULL while a
-- limit is in force.  The view keeps its grants.
-- ---------------------------------------------------------------------

CREATE FUNCTION insider_guard._baselines_v2(
    OUT role_name name,
    OUT table_name text,
    OUT per interval,
    OUT active_windows bigint,
    OUT days_seen int,
    OUT typical_rows bigint,
    OUT high_rows bigint,
    OUT peer_high_rows bigint,
    OUT limit_now bigint,
    OUT no_limit_reason text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ig_baselines'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE OR REPLACE VIEW insider_guard.baselines AS
    SELECT role_name, table_name, per, active_windows, days_seen,
           typical_rows, high_rows, peer_high_rows, limit_now, no_limit_reason
    FROM insider_guard._baselines_v2()
    ORDER BY role_name, table_name NULLS FIRST, per;

DROP FUNCTION insider_guard._baselines();
-- it checks SELECT on its view, so granting the view is enough
GRANT EXECUTE ON FUNCTION insider_guard._baselines_v2() TO PUBLIC;
