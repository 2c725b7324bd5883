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
-- out of what the block rules leave (src/sql/citus_leases.c).  Callable
-- by every role Citus connects as; answers only for a session acting as
-- the caller.
-- ---------------------------------------------------------------------

CREATE FUNCTION insider_guard._citus_lease(
    gpid bigint,
    table_schema text,
    table_name text,
    read bigint,
    keep bigint,
    want bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ig_citus_lease_rows'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

GRANT EXECUTE ON FUNCTION insider_guard._citus_lease(bigint, text, text, bigint, bigint, bigint) TO PUBLIC;
