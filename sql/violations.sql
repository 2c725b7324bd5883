--
-- violations: what a record holds, pruning, and who may see them.
--
SELECT insider_guard.reset();
SELECT insider_guard.prune_violations('0 seconds') >= 0 AS pruned;
SELECT count(*) AS none_left FROM insider_guard.violations;

-- the view's columns and types, as the contract fixes them
SELECT attname, format_type(atttypid, atttypmod)
FROM pg_attribute
WHERE attrelid = 'insider_guard.violations'::regclass AND attnum > 0
ORDER BY attnum;

SELECT insider_guard.set_threshold('alice', 3, '1 hour', 'block', 'small') > 0 AS block_3;
SELECT insider_guard.set_threshold('alice', 20, '10 minutes', 'log') > 0 AS log_20;
SET application_name = 'exfil-tool';
SET SESSION AUTHORIZATION alice;
SET ROLE analysts;
SELECT v FROM small ORDER BY id;
SELECT count(*) FROM customers WHERE id <= 25;
RESET ROLE;
RESET SESSION AUTHORIZATION;
RESET application_name;

SELECT violation_id > 0 AS has_id,
       occurred_at BETWEEN now() - interval '1 minute' AND clock_timestamp() AS recent,
       role_name, current_role_name, table_oid = 'small'::regclass AS small_oid,
       table_name, max_rows, per, rows_in_window, statement_rows, action, query,
       application_name, client_addr IS NULL AS local, backend_pid = pg_backend_pid() AS my_pid
FROM insider_guard.violations ORDER BY violation_id;
-- the database, by name, and the kind of rule (baselines: sql/baselines)
SELECT database_name = current_database() AS this_database, rule_kind, action
FROM insider_guard.violations ORDER BY violation_id;
-- (the log threshold covers all tables: its record names the table being read)
SELECT threshold_id = (SELECT threshold_id FROM insider_guard.thresholds WHERE action = 'log') AS log_rule
FROM insider_guard.violations WHERE action = 'log';

-- the query is the top-level statement, bounded like pg_stat_activity.query
SELECT insider_guard.reset('alice');
CREATE FUNCTION read_small() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM small';
SET SESSION AUTHORIZATION alice;
SELECT read_small() /* through a function */;
RESET SESSION AUTHORIZATION;
SELECT query FROM insider_guard.violations ORDER BY violation_id DESC LIMIT 1;

-- the table name as it was
SELECT insider_guard.reset('alice');
CREATE TABLE renamed_later (a int);
INSERT INTO renamed_later SELECT generate_series(1, 10);
GRANT SELECT ON renamed_later TO alice;
SELECT insider_guard.set_threshold('alice', 2, '1 hour', 'block', 'renamed_later') > 0 AS block_2;
SET SESSION AUTHORIZATION alice;
SELECT * FROM renamed_later;
RESET SESSION AUTHORIZATION;
ALTER TABLE renamed_later RENAME TO renamed_now;
SELECT table_name, table_oid = 'renamed_now'::regclass AS same_table
FROM insider_guard.violations ORDER BY violation_id DESC LIMIT 1;
DROP TABLE renamed_now;

-- prune: only older records of this database go
SELECT count(*) AS before FROM insider_guard.violations;
SELECT insider_guard.prune_violations('1 hour') AS pruned_nothing;
SELECT insider_guard.prune_violations('0 seconds') AS pruned_all;
SELECT count(*) AS after FROM insider_guard.violations;
\set VERBOSITY sqlstate
SELECT insider_guard.prune_violations(NULL);
SELECT insider_guard.prune_violations('-1 day');
SELECT insider_guard.prune_violations('1 month');
\set VERBOSITY default

-- a watched role sees no thresholds, exemptions or violations
SET SESSION AUTHORIZATION alice;
SELECT * FROM insider_guard.violations;
SELECT * FROM insider_guard._violations_v3();
SELECT * FROM insider_guard.thresholds;
SELECT * FROM insider_guard.exemptions;
SELECT insider_guard.set_threshold('alice', 1000000);
SELECT insider_guard.drop_threshold(1);
SELECT insider_guard.exempt('alice');
SELECT insider_guard.unexempt('alice');
SELECT insider_guard.prune_violations('0 seconds');
DELETE FROM insider_guard.thresholds;
SELECT nextval('insider_guard.rule_id_seq');
RESET SESSION AUTHORIZATION;

-- an auditor granted the view sees the records
SET SESSION AUTHORIZATION alice;
SELECT * FROM small;
RESET SESSION AUTHORIZATION;
GRANT SELECT ON insider_guard.violations TO auditor;
SET SESSION AUTHORIZATION auditor;
SELECT role_name, action FROM insider_guard.violations;
RESET SESSION AUTHORIZATION;
REVOKE SELECT ON insider_guard.violations FROM auditor;
-- and a threshold admin granted set_threshold can set them
GRANT EXECUTE ON FUNCTION insider_guard.set_threshold(regrole, bigint, interval, text, regclass) TO auditor;
SET SESSION AUTHORIZATION auditor;
SELECT insider_guard.set_threshold('bob', 5, '1 hour', 'log') > 0 AS auditor_set_one;
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION insider_guard.set_threshold(regrole, bigint, interval, text, regclass) FROM auditor;
SELECT role_name, created_by FROM insider_guard.thresholds WHERE role_name = 'bob'::regrole;

-- one record per incident: statements of the role stopped again by the
-- same block rule while it stays broken are repeats of the first record
SELECT insider_guard.reset('alice');
SELECT coalesce(max(violation_id), 0) AS last_id FROM insider_guard.violations \gset
SELECT insider_guard.set_threshold('alice', 3, '1 hour', 'block', 'small') > 0 AS block_3;
SET SESSION AUTHORIZATION alice;
SELECT v FROM small ORDER BY id;
SELECT v FROM small ORDER BY id;
SELECT v FROM small WHERE id = 1;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS records, max(repeats) AS repeats,
       max(last_seen_at) >= max(occurred_at) AS seen_later,
       max(statement_rows) AS first_statement_rows
FROM insider_guard.violations WHERE violation_id > :last_id;
-- after a reset the role may read again, and its next break is a new incident
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT v FROM small ORDER BY id;
RESET SESSION AUTHORIZATION;
SELECT violation_id - :last_id AS nth, repeats, statement_rows
FROM insider_guard.violations WHERE violation_id > :last_id ORDER BY violation_id;

-- every rule a statement breaks gets its record, whichever stops it: a
-- block on all tables and a log on the table, both broken by the same row
SELECT insider_guard.reset('alice');
DELETE FROM insider_guard.thresholds;
SELECT coalesce(max(violation_id), 0) AS last_id FROM insider_guard.violations \gset
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block') > 0 AS block_all_10;
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'customers') > 0 AS log_customers_10;
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT action, table_name, max_rows, rows_in_window, statement_rows
FROM insider_guard.violations WHERE violation_id > :last_id ORDER BY action;
SELECT insider_guard.rows_read('alice', '1 hour', 'customers') AS customers_read;
DELETE FROM insider_guard.thresholds;

-- incidents that end leave their slots to the next ones: a role whose
-- limit is raised and lowered again three times makes three records,
-- however often it is stopped in between (the view, which writes the
-- repeats, is not read until the end)
SELECT insider_guard.reset('alice');
SELECT coalesce(max(violation_id), 0) AS last_id FROM insider_guard.violations \gset
SELECT insider_guard.set_threshold('alice', 3, '1 hour', 'block', 'small') > 0 AS block_3;
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.set_threshold('alice', 1000, '1 hour', 'block', 'small') > 0 AS raised;
SET SESSION AUTHORIZATION alice;
SELECT v FROM small WHERE id = 1;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.set_threshold('alice', 3, '1 hour', 'block', 'small') > 0 AS lowered;
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.set_threshold('alice', 1000, '1 hour', 'block', 'small') > 0 AS raised;
SET SESSION AUTHORIZATION alice;
SELECT v FROM small WHERE id = 1;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.set_threshold('alice', 3, '1 hour', 'block', 'small') > 0 AS lowered;
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
SELECT count(*) FROM small;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT violation_id - :last_id AS nth, repeats
FROM insider_guard.violations WHERE violation_id > :last_id ORDER BY violation_id;
DELETE FROM insider_guard.thresholds;

-- an incident whose record is pruned ends with it: the next stop of the
-- role makes a new record
SELECT insider_guard.reset('alice');
SELECT insider_guard.set_threshold('alice', 3, '1 hour', 'block', 'small') > 0 AS block_3;
SET SESSION AUTHORIZATION alice;
SELECT v FROM small ORDER BY id;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.prune_violations('0 seconds') > 0 AS pruned;
SET SESSION AUTHORIZATION alice;
SELECT v FROM small WHERE id = 1;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS records, sum(repeats) AS repeats, max(statement_rows) AS statement_rows
FROM insider_guard.violations;
DELETE FROM insider_guard.thresholds;

DELETE FROM insider_guard.thresholds;
SELECT insider_guard.reset();
SELECT insider_guard.prune_violations('0 seconds') >= 0 AS pruned;
DROP FUNCTION read_small();
