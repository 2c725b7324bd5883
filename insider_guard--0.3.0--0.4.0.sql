/* insider_guard--0.3.0--0.4.0.sql: novelty rules */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION insider_guard UPDATE TO '0.4.0'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Novelty rules (SPEC, "Multi-day windows and novelty"): a role reading,
-- within a day, more than max(min_rows, its own hourly p50) rows from a
-- table that neither it nor any peer has read breaks the rule.  A novelty
-- rule is a row of baseline_rules -- same ids, records, validation,
-- enforcement, pg_dump and admin log as the others -- with compare_to
-- 'novelty', per '1 day', factor 1 (unused) and no table: it applies to
-- each table the role reads.  One per role, beside its baseline rules.
-- ---------------------------------------------------------------------
DROP INDEX insider_guard.baseline_rules_role_table_per;
CREATE UNIQUE INDEX baseline_rules_role_table_per_kind
    ON insider_guard.baseline_rules ((COALESCE(role_name::oid, 0::oid)),
                                     (COALESCE(table_name::oid, 0::oid)), per,
                                     (compare_to = 'novelty'));
COMMENT ON TABLE insider_guard.baseline_rules IS
    'behavioural baseline rules: at most factor times the role''s (or its peers'') usual p99 per window; and novelty rules (compare_to novelty): at most max(min_rows, the role''s hourly p50) a day from a table new to the role and its peers';

CREATE FUNCTION insider_guard.set_novelty_rule(
    role_name regrole,
    min_rows bigint DEFAULT 1000,
    action text DEFAULT 'log')
RETURNS bigint
AS 'MODULE_PATHNAME', 'ig_set_novelty_rule'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION insider_guard.set_novelty_rule(regrole, bigint, text) FROM PUBLIC;
