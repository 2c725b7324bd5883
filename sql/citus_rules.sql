--
-- citus_rules: without Citus, rules are this server's as always: the
-- functions that send rules to Citus workers, or apply them on one,
-- refuse (55000), PUBLIC may call neither, and rules change as before.
--
SELECT insider_guard.sync_rules();
SELECT insider_guard._apply_rules(
    '{"thresholds": [], "baseline_rules": [], "exemptions": [], "peer_group_roles": []}');
SELECT insider_guard._apply_rules(NULL);

SET SESSION AUTHORIZATION alice;
SELECT insider_guard.sync_rules();
SELECT insider_guard._apply_rules('{}');
RESET SESSION AUTHORIZATION;

-- a change of the rules sends nothing anywhere, and commits
CREATE TABLE citus_rules_t (id int);
BEGIN;
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block', 'citus_rules_t') > 0 AS set;
UPDATE insider_guard.thresholds SET max_rows = 20
WHERE table_name = 'citus_rules_t'::regclass;
COMMIT;
SELECT max_rows FROM insider_guard.thresholds
WHERE table_name = 'citus_rules_t'::regclass;
DROP TABLE citus_rules_t;
SELECT count(*) AS dropped_with_its_table FROM insider_guard.thresholds
WHERE table_name IS NOT NULL AND table_name::oid NOT IN (SELECT oid FROM pg_class);

-- the sql_drop trigger's helper: without Citus it defers nothing (the
-- rules above went at once), and PUBLIC may not call it
SELECT insider_guard._defer_dropped_table_rules(1, 'public', 'x') AS deferred;
SET SESSION AUTHORIZATION alice;
SELECT insider_guard._defer_dropped_table_rules(1, 'public', 'x');
RESET SESSION AUTHORIZATION;
-- without Citus, a change of the rules may be prepared (on a Citus
-- coordinator it may not: it would reach the workers at PREPARE)
BEGIN;
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block') > 0 AS set;
PREPARE TRANSACTION 'ig_citus_rules';
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE gid = 'ig_citus_rules';
ROLLBACK PREPARED 'ig_citus_rules';
SELECT count(*) AS alice_rules FROM insider_guard.thresholds
WHERE role_name = 'alice'::regrole;
