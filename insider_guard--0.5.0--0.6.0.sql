/* insider_guard--0.5.0--0.6.0.sql: Citus sessions, and records on the coordinator */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION insider_guard UPDATE TO '0.6.0'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Reads a worker runs for a coordinator session count for that session's
-- session user (docs/citus-notes.md, "Whose reads"): the worker asks the
-- node that runs the session, over a connection logged in as the role
-- Citus connected as; this node answers only for a session of this
-- database that acts as the caller (src/sql/citus_sessions.c).
-- ---------------------------------------------------------------------

CREATE FUNCTION insider_guard._citus_session(
    gpid bigint,
    OUT session_user_name name,
    OUT application_name text,
    OUT query text)
RETURNS record
AS 'MODULE_PATHNAME', 'ig_citus_session'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- every role Citus connects as must be able to ask
GRANT EXECUTE ON FUNCTION insider_guard._citus_session(bigint) TO PUBLIC;

-- ---------------------------------------------------------------------
-- Every node's records, read from one (the coordinator): this node's and,
-- with Citus, each active primary worker's, through run_command_on_workers
-- as the caller, who needs SELECT on violations on every node.  A worker
-- that cannot be read is named in a WARNING.
-- ---------------------------------------------------------------------

CREATE FUNCTION insider_guard.cluster_violations()
RETURNS TABLE (
    node_name text,
    node_port int,
    violation_id bigint,
    occurred_at timestamptz,
    role_name name,
    current_role_name name,
    table_oid oid,
    table_name text,
    threshold_id bigint,
    max_rows bigint,
    per interval,
    rows_in_window bigint,
    statement_rows bigint,
    action text,
    query text,
    application_name text,
    client_addr inet,
    backend_pid int,
    repeats bigint,
    last_seen_at timestamptz,
    database_name name,
    rule_kind text)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    here_name text;
    here_port int;
    w record;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_node') IS NOT NULL
       AND to_regclass('pg_catalog.pg_dist_local_group') IS NOT NULL THEN
        EXECUTE 'SELECT n.nodename, n.nodeport FROM pg_catalog.pg_dist_node n
                 JOIN pg_catalog.pg_dist_local_group g USING (groupid)
                 WHERE n.noderole = ''primary'' ORDER BY n.nodeid LIMIT 1'
            INTO here_name, here_port;
    END IF;
    RETURN QUERY
        SELECT here_name, here_port, v.*
        FROM insider_guard.violations v;
    IF to_regprocedure('pg_catalog.run_command_on_workers(text,boolean)') IS NULL
       AND to_regproc('run_command_on_workers') IS NULL THEN
        RETURN;
    END IF;
    FOR w IN EXECUTE
        'SELECT nodename::text AS nodename, nodeport::int AS nodeport, success, result
         FROM run_command_on_workers($c$SELECT coalesce(json_agg(v ORDER BY v.violation_id), ''[]'')
                                        FROM insider_guard.violations v$c$)'
    LOOP
        IF w.success THEN
            RETURN QUERY
                SELECT w.nodename, w.nodeport, r.*
                FROM json_populate_recordset(NULL::insider_guard.violations,
                                             w.result::json) r;
        ELSE
            RAISE WARNING 'insider_guard: the records of node %:% cannot be read: %',
                w.nodename, w.nodeport, w.result;
        END IF;
    END LOOP;
END
$$;

COMMENT ON FUNCTION insider_guard.cluster_violations() IS
    'violations of this node and, on a Citus coordinator, of every worker, with the node';

-- like the rest: granted by the DBA (it reads violations on every node as
-- the caller, who needs SELECT on them there too)
REVOKE ALL ON FUNCTION insider_guard.cluster_violations() FROM PUBLIC;

-- ---------------------------------------------------------------------
-- One block limit for the cluster (insider_guard.citus_budget = lease):
-- a worker reading for a session leases the rows it may read from the
-- session's node, which counts them for the session user and holds them
-- out of what the block rules leave (src/sql/citus_leases.c); a client
-- connected to a worker leases from the coordinator for its own login
-- (gpid 0).  Callable by every role Citus connects as; answers only for a
-- session acting as the caller, or for the caller's own login.
-- ---------------------------------------------------------------------

CREATE FUNCTION insider_guard._citus_lease(
    gpid bigint,
    table_schema text,
    table_name text,
    read bigint,
    keep bigint,
    want bigint,
    client_application text DEFAULT NULL,
    client_query text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ig_citus_lease_rows'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

GRANT EXECUTE ON FUNCTION insider_guard._citus_lease(bigint, text, text, bigint, bigint, bigint, text, text) TO PUBLIC;

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
