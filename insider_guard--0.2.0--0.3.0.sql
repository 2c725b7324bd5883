/* insider_guard--0.2.0--0.3.0.sql: the info view */

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
