--
-- privileges: PUBLIC gets nothing; a watched role sees no counts and
-- cannot reset them; granting the view or a function is enough.
--
SELECT insider_guard.reset();

-- no object of the extension grants anything to PUBLIC but the schema,
-- the functions behind the views (which check the view's privilege) and
-- _citus_session and _citus_lease (which answer a caller only about a
-- session acting as it)
SELECT p.proname, p.proacl IS NOT NULL AS has_acl,
       has_function_privilege('alice', p.oid, 'EXECUTE') AS alice_may_execute
FROM pg_proc p WHERE p.pronamespace = 'insider_guard'::regnamespace
ORDER BY p.proname;
SELECT c.relname, has_table_privilege('alice', c.oid, 'SELECT') AS alice_may_select
FROM pg_class c WHERE c.relnamespace = 'insider_guard'::regnamespace
ORDER BY c.relname;
SELECT has_schema_privilege('alice', 'insider_guard', 'USAGE') AS usage,
       has_schema_privilege('alice', 'insider_guard', 'CREATE') AS create;

SET SESSION AUTHORIZATION alice;
SELECT * FROM insider_guard.role_activity;
SELECT * FROM insider_guard._role_activity();
SELECT insider_guard.rows_read('alice', '1 hour');
SELECT insider_guard.reset();
SELECT insider_guard.reset('alice');
SELECT insider_guard._assert_preloaded();
CREATE FUNCTION insider_guard.mine() RETURNS int LANGUAGE sql AS 'SELECT 1';
RESET SESSION AUTHORIZATION;

-- an auditor granted the view reads it; granted rows_read, calls it
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
GRANT SELECT ON insider_guard.role_activity TO auditor;
GRANT EXECUTE ON FUNCTION insider_guard.rows_read(regrole, interval, regclass) TO auditor;
SET SESSION AUTHORIZATION auditor;
SELECT role_name, table_name, rows_last_hour FROM insider_guard.role_activity
ORDER BY table_name NULLS FIRST;
SELECT insider_guard.rows_read('alice', '1 hour', 'small');
SELECT insider_guard.reset('alice');
RESET SESSION AUTHORIZATION;
REVOKE SELECT ON insider_guard.role_activity FROM auditor;
REVOKE EXECUTE ON FUNCTION insider_guard.rows_read(regrole, interval, regclass) FROM auditor;
SET SESSION AUTHORIZATION auditor;
SELECT * FROM insider_guard.role_activity;
RESET SESSION AUTHORIZATION;
