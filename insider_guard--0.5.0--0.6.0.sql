/* insider_guard--0.5.0--0.6.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION insider_guard UPDATE TO '0.6.0'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Citus: rules follow a table rebuilt under its name (docs/citus-notes.md,
-- "What an independent attacker found").  alter_distributed_table,
-- undistribute_table and alter_table_set_access_method drop the table
-- and make a new one of the same name: on a Citus coordinator the
-- sql_drop trigger no longer deletes the rules of a dropped table at
-- once; at commit they go to the table then of that schema and name, or
-- are deleted if there is none (src/sql/citus_rules.c).  A worker moves
-- its copy of them to the rebuilt shell when its part of the rebuild
-- commits.  Without Citus nothing changes.
-- ---------------------------------------------------------------------

-- Called by the sql_drop trigger for each dropped table with rules:
-- true if their fate waits for the commit (a Citus node).
-- Superuser only, checked inside too.
CREATE FUNCTION insider_guard._defer_dropped_table_rules(
    table_oid oid, schema_name text, table_name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ig_defer_dropped_table_rules'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- dropping a table drops its thresholds and baseline rules -- at commit
-- on a Citus coordinator, unless a table of its name is there by then;
-- not on a Citus worker, whose rules are the coordinator's: there they
-- go to a table of its name at commit (Citus rebuilt the shell), or
-- wait for the coordinator's next push
CREATE OR REPLACE FUNCTION insider_guard._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    on_worker boolean := false;
    deferred oid[] := '{}';
    dropped record;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_local_group') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_local_group WHERE groupid <> 0)'
            INTO on_worker;
    END IF;
    FOR dropped IN
        SELECT o.objid, o.schema_name, o.object_name
        FROM pg_event_trigger_dropped_objects() o
        WHERE o.classid = 'pg_class'::regclass
          AND o.objsubid = 0
          AND (EXISTS (SELECT 1 FROM insider_guard.thresholds t
                       WHERE t.table_name::oid = o.objid)
               OR EXISTS (SELECT 1 FROM insider_guard.baseline_rules b
                          WHERE b.table_name::oid = o.objid))
    LOOP
        IF insider_guard._defer_dropped_table_rules(dropped.objid, dropped.schema_name, dropped.object_name) THEN
            deferred := deferred || dropped.objid;
        END IF;
    END LOOP;
    IF on_worker THEN
        RETURN;
    END IF;
    DELETE FROM insider_guard.thresholds t
    USING pg_event_trigger_dropped_objects() d
    WHERE d.classid = 'pg_class'::regclass
      AND d.objsubid = 0
      AND t.table_name::oid = d.objid
      AND d.objid <> ALL (deferred);
    DELETE FROM insider_guard.baseline_rules b
    USING pg_event_trigger_dropped_objects() d
    WHERE d.classid = 'pg_class'::regclass
      AND d.objsubid = 0
      AND b.table_name::oid = d.objid
      AND d.objid <> ALL (deferred);
END
$$;

REVOKE ALL ON FUNCTION insider_guard._defer_dropped_table_rules(oid, text, text) FROM PUBLIC;
