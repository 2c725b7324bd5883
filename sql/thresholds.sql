--
-- thresholds: the SQL API for rules -- set, update, drop, exempt -- its
-- bad inputs, and what the tables keep.
--
SELECT insider_guard.reset();

-- set returns an id; the same role, table and window update it
SELECT insider_guard.set_threshold('alice', 100) > 0 AS set_default;
SELECT role_name, table_name, max_rows, per, action, created_by = current_user AS by_me
FROM insider_guard.thresholds ORDER BY threshold_id;
SELECT insider_guard.set_threshold('alice', 100) =
       insider_guard.set_threshold('alice', 250, '1 hour', 'block') AS same_id;
SELECT role_name, table_name, max_rows, per, action FROM insider_guard.thresholds;
-- another window, table or role is another threshold; NULLs are equal
SELECT insider_guard.set_threshold('alice', 10, '1 minute', 'log') <>
       insider_guard.set_threshold('alice', 1000, '1 day', 'log', 'customers') AS distinct_ids;
SELECT insider_guard.set_threshold(NULL, 5000, '1 day') =
       insider_guard.set_threshold(NULL, 6000, '24 hours') AS null_role_equal;
SELECT coalesce(role_name::text, '(every role)') AS role, coalesce(table_name::text, '(all tables)') AS tbl,
       max_rows, per, action
FROM insider_guard.thresholds ORDER BY threshold_id;

-- drop: true once, then false
SELECT insider_guard.drop_threshold(threshold_id) AS dropped,
       insider_guard.drop_threshold(threshold_id) AS again
FROM insider_guard.thresholds WHERE per = '1 minute';
SELECT insider_guard.drop_threshold(-1) AS never_existed;
SELECT insider_guard.drop_threshold(NULL) AS null_id;

-- bad input: a clear error and nothing changed
SELECT count(*) AS before FROM insider_guard.thresholds;
\set VERBOSITY sqlstate
SELECT insider_guard.set_threshold('alice', 0);
SELECT insider_guard.set_threshold('alice', -5);
SELECT insider_guard.set_threshold('alice', NULL);
SELECT insider_guard.set_threshold('alice', 10, '59 seconds');
SELECT insider_guard.set_threshold('alice', 10, '30 days 00:00:01');
SELECT insider_guard.set_threshold('alice', 10, '1 month');
SELECT insider_guard.set_threshold('alice', 10, '1 year');
SELECT insider_guard.set_threshold('alice', 10, NULL);
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'warn');
SELECT insider_guard.set_threshold('alice', 10, '1 hour', NULL);
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'BLOCK');
CREATE VIEW small_v AS SELECT * FROM small;
CREATE SEQUENCE a_seq;
CREATE TEMP TABLE scratch (a int);
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'small_v');
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'a_seq');
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'customers_pkey');
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'scratch');
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'pg_class');
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'insider_guard.thresholds');
SELECT insider_guard.set_threshold('nobody', 10);
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'no_such_table');
\set VERBOSITY default
SELECT insider_guard.set_threshold('alice', 0);
SELECT insider_guard.set_threshold('alice', 10, '1 month');
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'warn');
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'small_v');
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'scratch');
SELECT count(*) AS after FROM insider_guard.thresholds;

-- direct DML gets the same checks
\set VERBOSITY sqlstate
INSERT INTO insider_guard.thresholds (role_name, max_rows, per, action) VALUES ('alice', 0, '1 hour', 'log');
INSERT INTO insider_guard.thresholds (role_name, max_rows, per, action) VALUES ('alice', 1, '2 months', 'log');
INSERT INTO insider_guard.thresholds (role_name, max_rows, per, action) VALUES ('alice', 1, '1 hour', 'panic');
INSERT INTO insider_guard.thresholds (role_name, table_name, max_rows, per, action) VALUES ('alice', 'small_v', 1, '1 hour', 'log');
UPDATE insider_guard.thresholds SET max_rows = -1;
-- the key is unique: a second (alice, all tables, 1 hour) is refused
INSERT INTO insider_guard.thresholds (role_name, max_rows, per, action) VALUES ('alice', 7, '1 hour', 'log');
\set VERBOSITY default
-- a valid direct insert works, and shows up as any other
INSERT INTO insider_guard.thresholds (role_name, table_name, max_rows, per, action)
VALUES ('bob', 'small', 3, '10 minutes', 'block');
SELECT role_name, table_name, max_rows, per, action FROM insider_guard.thresholds
WHERE role_name = 'bob'::regrole;

-- a rolled-back change changes nothing
BEGIN;
SELECT insider_guard.set_threshold('bob', 1, '2 hours', 'block') > 0 AS set_in_transaction;
SELECT count(*) AS inside FROM insider_guard.thresholds WHERE role_name = 'bob'::regrole;
ROLLBACK;
SELECT count(*) AS after_rollback FROM insider_guard.thresholds WHERE role_name = 'bob'::regrole;

-- dropping a table drops its thresholds; dropping a role leaves them inert
CREATE TABLE doomed (a int);
CREATE ROLE temp_reader;
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'log', 'doomed') > 0 AS on_doomed;
SELECT insider_guard.set_threshold('temp_reader', 10, '1 hour', 'log', 'small') > 0 AS for_temp_reader;
DROP TABLE doomed;
SELECT count(*) AS left_on_dropped_table FROM insider_guard.thresholds
WHERE table_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = table_name);
SELECT 'temp_reader'::regrole::oid AS temp_reader_oid \gset
DROP ROLE temp_reader;
SELECT role_name::oid = :temp_reader_oid AS still_there_by_oid,
       role_name::text ~ '^[0-9]+$' AS shown_as_oid
FROM insider_guard.thresholds WHERE role_name::oid = :temp_reader_oid;

-- exemptions
SELECT insider_guard.exempt('bob');
SELECT insider_guard.exempt('bob');
SELECT role_name, created_by = current_user AS by_me FROM insider_guard.exemptions;
SELECT insider_guard.unexempt('bob');
SELECT insider_guard.unexempt('bob');
SELECT count(*) AS exempt_roles FROM insider_guard.exemptions;
\set VERBOSITY sqlstate
SELECT insider_guard.exempt(NULL);
SELECT insider_guard.exempt('nobody');
\set VERBOSITY default

-- what pg_dump keeps
SELECT c.relname, e.extname IS NOT NULL AS config_dumped
FROM pg_class c
LEFT JOIN pg_extension e ON c.oid = ANY (e.extconfig)
WHERE c.relnamespace = 'insider_guard'::regnamespace AND c.relkind IN ('r', 'S')
ORDER BY c.relname;

-- a session whose statements read no table keeps no pile of dropped
-- matches: each role change drops them, and they go at the next statement
\set ECHO none
\o /dev/null
SELECT q FROM generate_series(1, 20) g,
  LATERAL (VALUES (format('ALTER ROLE bob CONNECTION LIMIT %s', g)), ('SELECT 1')) v(q) \gexec
\o
\set ECHO all
SELECT count(*) AS matched_rules_contexts
FROM pg_backend_memory_contexts WHERE name = 'insider_guard matched rules';
ALTER ROLE bob CONNECTION LIMIT -1;

-- nor does one with a cursor open: its statement keeps the matches it
-- started with, and only those (a role may change its own password in a
-- loop, so one copy per change would be a way to exhaust memory)
CREATE TABLE cursor_src AS SELECT generate_series(1, 10) AS a;
BEGIN;
DECLARE c CURSOR FOR SELECT a FROM cursor_src ORDER BY a;
FETCH 2 FROM c;
\set ECHO none
\o /dev/null
SELECT q FROM generate_series(1, 20) g,
  LATERAL (VALUES (format('ALTER ROLE bob CONNECTION LIMIT %s', g)), ('SELECT count(*) FROM cursor_src')) v(q) \gexec
\o
\set ECHO all
SELECT count(*) AS matched_rules_contexts
FROM pg_backend_memory_contexts WHERE name = 'insider_guard matched rules';
FETCH 2 FROM c;
SELECT insider_guard.set_threshold('bob', 1000) > 0 AS rule_changed_under_cursor;
FETCH 2 FROM c;
SELECT count(*) AS matched_rules_contexts
FROM pg_backend_memory_contexts WHERE name = 'insider_guard matched rules';
COMMIT;
SELECT count(*) AS matched_rules_contexts_after
FROM pg_backend_memory_contexts WHERE name = 'insider_guard matched rules';
ALTER ROLE bob CONNECTION LIMIT -1;
DROP TABLE cursor_src;

-- clean up for the next files
DELETE FROM insider_guard.thresholds;
DROP VIEW small_v;
DROP SEQUENCE a_seq;
