--
-- upgrade: a database that installed version 0.1.0 keeps its thresholds
-- and exemptions across ALTER EXTENSION UPDATE, and gains baselines.
--
CREATE DATABASE ig_upgrade;
\c ig_upgrade
CREATE EXTENSION insider_guard VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'insider_guard';
CREATE ROLE upgrader LOGIN;
CREATE TABLE accounts (id int);
SELECT insider_guard.set_threshold('upgrader', 10, '1 hour', 'block', 'accounts') AS tid \gset
SELECT insider_guard.exempt('upgrader');
-- the library of 0.2.0 runs the rules of 0.1.0: no baseline tables yet
SELECT insider_guard.drop_threshold(-1) AS nothing_to_drop;
SELECT to_regclass('insider_guard.baseline_rules') IS NULL AS no_baselines_yet;

ALTER EXTENSION insider_guard UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'insider_guard';
SELECT threshold_id = :tid AS kept, role_name, table_name, max_rows, per, action
FROM insider_guard.thresholds;
SELECT role_name FROM insider_guard.exemptions;
-- the new objects work, and their ids follow the thresholds'
SELECT insider_guard.set_baseline_rule('upgrader', on_table => 'accounts') > :tid AS baseline_rule;
SELECT insider_guard.add_peer_group('upgrader');
SELECT count(*) AS groups FROM insider_guard.peer_groups;
-- and are kept by pg_dump, closed to PUBLIC
SELECT c.relname, c.oid = ANY (e.extconfig) AS config_dumped,
       has_table_privilege('upgrader', c.oid, 'SELECT') AS upgrader_may_select
FROM pg_class c, pg_extension e
WHERE e.extname = 'insider_guard' AND c.relnamespace = 'insider_guard'::regnamespace
  AND c.relkind IN ('r', 'v')
ORDER BY c.relname;
-- a fresh install and an upgraded one have the same objects
SELECT count(*) AS objects FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'insider_guard');
\c contrib_regression
SELECT count(*) AS objects FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'insider_guard');
DROP DATABASE ig_upgrade;
DROP ROLE upgrader;
