--
-- enforcement: a block threshold stops a statement at the row that would
-- exceed it, on every read path; a log threshold records one violation per
-- crossing and says nothing to the client.
--
SELECT insider_guard.reset();
SELECT insider_guard.prune_violations('0 seconds') >= 0 AS pruned;
SET client_min_messages = log;   -- a LOG_SERVER_ONLY line must still not show

-- at most 10 rows of customers per hour for alice, blocking
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block', 'customers') > 0 AS block_10;

-- reading exactly 10 passes; the 11th row fails
SET SESSION AUTHORIZATION alice;
SELECT id FROM customers ORDER BY id LIMIT 10;
SELECT id FROM customers ORDER BY id LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS count_after_block;
-- once over, the first row of any read fails
SET SESSION AUTHORIZATION alice;
SELECT id FROM customers WHERE id = 500;
RESET SESSION AUTHORIZATION;

-- in one statement: stopped at row 11, which counts
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS stopped_at_11;

-- an aggregate
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT length(string_agg(email, ',')) FROM (SELECT email FROM customers ORDER BY id LIMIT 10) s;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT length(string_agg(email, ',')) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS string_agg_stopped;

-- a filter that calls a leaky function is stopped before it sees row 11
CREATE FUNCTION leak_notice(t text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'leaked %', t;
    RETURN false;
END $$;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT 1 FROM customers WHERE id <= 20 AND leak_notice(email);
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS leaky_filter_stopped;

-- a cursor read in batches: the batch that reaches row 11 fails
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM customers ORDER BY id;
FETCH 4 FROM c;
FETCH 4 FROM c;
FETCH 4 FROM c;
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS cursor_stopped;

-- COPY table TO and COPY (query) TO
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
COPY customers TO STDOUT;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS copy_table_stopped;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
COPY (SELECT id FROM customers ORDER BY id) TO STDOUT;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS copy_query_stopped;

-- inside a function
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM emails_of('north');
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS in_function_stopped;

-- SET ROLE and SECURITY DEFINER do not help
SELECT insider_guard.reset('alice');
CREATE FUNCTION count_customers() RETURNS bigint LANGUAGE sql SECURITY DEFINER
AS $$ SELECT count(*) FROM customers $$;
GRANT EXECUTE ON FUNCTION count_customers() TO alice;
SET SESSION AUTHORIZATION alice;
SELECT count_customers();
SET ROLE analysts;
SELECT count(*) FROM customers;
RESET ROLE;
RESET SESSION AUTHORIZATION;

-- a partition read directly, under a threshold on its parent
CREATE TABLE events (id int, kind text) PARTITION BY RANGE (id);
CREATE TABLE events_a PARTITION OF events FOR VALUES FROM (0) TO (100);
CREATE TABLE events_b PARTITION OF events FOR VALUES FROM (100) TO (200);
INSERT INTO events SELECT g, 'x' FROM generate_series(0, 199) g;
GRANT SELECT ON events, events_a, events_b TO alice;
SELECT insider_guard.set_threshold('alice', 30, '1 hour', 'block', 'events') > 0 AS block_events_30;
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM (SELECT * FROM events_a LIMIT 20) s;
SELECT count(*) FROM (SELECT * FROM events_b LIMIT 10) s;
SELECT * FROM events_b LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT reads('events') AS events, reads('events_a') AS a, reads('events_b') AS b;

-- foreign-key checks read on the writer's behalf: not counted, not blocked
SELECT insider_guard.reset('alice');
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers (id));
GRANT INSERT ON orders TO alice;
GRANT USAGE ON SEQUENCE orders_id_seq TO alice;
SET SESSION AUTHORIZATION alice;
INSERT INTO orders (customer_id) SELECT g FROM generate_series(1, 500) g;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS orders_inserted FROM orders;
SELECT reads('customers') AS fk_reads;

-- reset lets the role read again
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM (SELECT * FROM customers LIMIT 10) s;
RESET SESSION AUTHORIZATION;

-- a log threshold: the statement completes, the client hears nothing
DELETE FROM insider_guard.thresholds;
SELECT insider_guard.reset();
SELECT insider_guard.prune_violations('0 seconds') >= 0 AS pruned;
SELECT insider_guard.set_threshold('alice', 100, '1 hour', 'log', 'customers') > 0 AS log_100;
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM customers;
-- still over: no second record
SELECT count(*) FROM customers WHERE id <= 50;
RESET SESSION AUTHORIZATION;
SELECT action, role_name, table_name, max_rows, rows_in_window, statement_rows
FROM insider_guard.violations;
-- back under the limit, then over again: a new record
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM (SELECT * FROM customers LIMIT 60) s;
SELECT count(*) FROM (SELECT * FROM customers LIMIT 60) s;
RESET SESSION AUTHORIZATION;
SELECT action, rows_in_window, statement_rows FROM insider_guard.violations;

-- group, every-role and all-tables thresholds; superusers and exempt roles
DELETE FROM insider_guard.thresholds;
SELECT insider_guard.reset();
SELECT insider_guard.set_threshold('analysts', 5, '1 hour', 'block', 'small') > 0 AS group_5;
SELECT insider_guard.set_threshold(NULL, 3, '1 hour', 'block', 'small') > 0 AS every_role_3;
SET SESSION AUTHORIZATION alice;      -- member of analysts: both apply
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bob;        -- not a member: only the every-role one
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS superuser_not_covered FROM small;
SELECT insider_guard.exempt('bob');
SET SESSION AUTHORIZATION bob;        -- exempt: only rules naming bob apply
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.set_threshold('bob', 2, '1 hour', 'block') > 0 AS bob_all_tables_2;
SET SESSION AUTHORIZATION bob;
SELECT count(*) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.unexempt('bob');
SELECT reads('small') AS alice_small, reads('small', 'bob') AS bob_small,
       reads(NULL, 'bob') AS bob_all;

-- what the blocks recorded
SELECT action, role_name, table_name, max_rows, rows_in_window, statement_rows
FROM insider_guard.violations WHERE action = 'block' ORDER BY violation_id;

-- the same matching from the whole table: a backend reads the rules of
-- its first few session users through the role index, then the whole
-- table once, and matches every further user from it
CREATE ROLE many1 LOGIN;
CREATE ROLE many2 LOGIN;
CREATE ROLE many3 LOGIN;
CREATE ROLE many4 LOGIN;
CREATE ROLE many5 LOGIN;
GRANT SELECT ON small TO many1, many2, many3, many4, many5;
GRANT analysts TO many5;
DELETE FROM insider_guard.thresholds;
DELETE FROM insider_guard.exemptions;
SELECT insider_guard.reset();
SELECT insider_guard.set_threshold('analysts', 5, '1 hour', 'block', 'small') > 0 AS group_5;
SELECT insider_guard.set_threshold(NULL, 3, '1 hour', 'block', 'small') > 0 AS every_role_3;
SELECT insider_guard.set_threshold('many1', 2, '1 hour', 'block', 'small') > 0 AS many1_2;
SELECT insider_guard.exempt('many4');
-- through the index: this superuser, many2, many3, bob
SELECT count(*) AS superuser_not_covered FROM small;
SET SESSION AUTHORIZATION many2;      -- every role: 3
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION many3;
SELECT count(*) FROM small WHERE id <= 3;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bob;        -- every role: 3
SELECT count(*) FROM small WHERE id <= 3;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
-- from the whole table: many1, many4, many5
SET SESSION AUTHORIZATION many1;      -- its own 2, and every role's 3
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION many4;      -- exempt: no rule names it
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION many5;      -- member of analysts: 5 and 3
SELECT count(*) FROM small WHERE id <= 3;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.exempt('bob');   -- a change: read again, through the index
SET SESSION AUTHORIZATION bob;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT reads('small', 'many1') AS many1, reads('small', 'many2') AS many2,
       reads('small', 'many3') AS many3, reads('small', 'many4') AS many4,
       reads('small', 'many5') AS many5, reads('small', 'bob') AS bob;
DELETE FROM insider_guard.thresholds;
DELETE FROM insider_guard.exemptions;
SELECT insider_guard.reset();
REVOKE SELECT ON small FROM many1, many2, many3, many4, many5;
DROP ROLE many1, many2, many3, many4, many5;

DELETE FROM insider_guard.thresholds;
DELETE FROM insider_guard.exemptions;
SELECT insider_guard.reset();
DROP TABLE orders, events;
DROP FUNCTION count_customers();

-- a rule changed while a statement runs applies to the statements that
-- start after it (here, one nested in a function); the running statement
-- keeps the rules it started with.  Rolled back, the change is gone.
CREATE FUNCTION tighten_and_count() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM insider_guard.set_threshold('alice', 3, '1 hour', 'block', 'small');
    RETURN (SELECT count(*) FROM small);
END $$;
GRANT EXECUTE ON FUNCTION tighten_and_count() TO alice;
SELECT insider_guard.set_threshold('alice', 1000, '1 hour', 'block', 'small') > 0 AS loose;
SET SESSION AUTHORIZATION alice;
\set SHOW_CONTEXT never
SELECT id, tighten_and_count() FROM small WHERE id <= 2;
\set SHOW_CONTEXT errors
SELECT count(*) AS under_the_old_rule FROM small;
RESET SESSION AUTHORIZATION;
SELECT max_rows, action FROM insider_guard.violations
WHERE table_name = 'public.small' ORDER BY violation_id DESC LIMIT 1;
SELECT max_rows FROM insider_guard.thresholds;
DELETE FROM insider_guard.thresholds;
SELECT insider_guard.reset();
DROP FUNCTION tighten_and_count();
RESET client_min_messages;
