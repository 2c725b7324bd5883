/* insider_guard--0.4.0--0.5.0.sql: rules on a Citus cluster */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION insider_guard UPDATE TO '0.5.0'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Rules on a Citus cluster (SPEC, "Citus"; docs/citus-notes.md): the
-- coordinator sends its whole rule set, roles and tables by name, to
-- every worker whenever it changes (src/sql/citus_rules.c); a worker
-- takes rules from the coordinator only, through _apply_rules, which a
-- superuser alone may call.  Without Citus nothing changes.
-- ---------------------------------------------------------------------

-- On a Citus worker: makes this node's rules those of the set (the
-- coordinator's push).  Superuser only, checked inside too.
CREATE FUNCTION insider_guard._apply_rules(rule_set jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ig_apply_rules'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- On the coordinator: sends the rule set to every active primary worker
-- now (a worker that was down, a node added later); one row per worker.
CREATE FUNCTION insider_guard.sync_rules(
    OUT node_name text,
    OUT node_port int,
    OUT success bool,
    OUT skipped bigint,
    OUT result text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ig_sync_rules'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- dropping a table drops its thresholds and baseline rules -- except on a
-- Citus worker, whose rules are the coordinator's: a rule of a table
-- dropped there is inert until the coordinator's set replaces it
CREATE OR REPLACE FUNCTION insider_guard._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    on_worker boolean := false;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_local_group') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_local_group WHERE groupid <> 0)'
            INTO on_worker;
    END IF;
    IF on_worker THEN
        RETURN;
    END IF;
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

REVOKE ALL ON FUNCTION insider_guard._apply_rules(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION insider_guard.sync_rules() FROM PUBLIC;
