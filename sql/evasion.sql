--
-- evasion: the paths an insider tried to read past a block threshold or
-- around the counters, each now counted and stopped.
--
SELECT insider_guard.reset();
SELECT insider_guard.prune_violations('0 seconds') >= 0 AS pruned;
SET client_min_messages = log;
SELECT insider_guard.set_threshold('alice', 100, '1 hour', 'block', 'customers') AS block_100 \gset

-- many cursors open at once share the rows left: 50 + 50, then row 101 fails
SET SESSION AUTHORIZATION alice;
BEGIN;
DECLARE c1 CURSOR FOR SELECT id FROM customers WHERE id BETWEEN 1 AND 200;
DECLARE c2 CURSOR FOR SELECT id FROM customers WHERE id BETWEEN 201 AND 400;
DECLARE c3 CURSOR FOR SELECT id FROM customers WHERE id BETWEEN 401 AND 600;
DECLARE c4 CURSOR FOR SELECT id FROM customers WHERE id BETWEEN 601 AND 800;
MOVE 50 IN c1;
MOVE 50 IN c2;
MOVE 1 IN c3;
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS cursors_stopped_at_101;

-- a statement nested in a function called per row shares them too
CREATE FUNCTION sixty() RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM (SELECT id FROM customers ORDER BY id LIMIT 60) s);
END $$;
GRANT EXECUTE ON FUNCTION sixty() TO alice;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
\set SHOW_CONTEXT never
SELECT id, sixty() FROM customers ORDER BY id LIMIT 3;
\set SHOW_CONTEXT errors
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS nested_stopped_at_101;

-- a cursor opened before the threshold is stopped by it at its next FETCH
SELECT insider_guard.drop_threshold(:block_100);
SELECT insider_guard.reset('alice');
BEGIN;
SET SESSION AUTHORIZATION alice;
DECLARE early CURSOR FOR SELECT id FROM customers ORDER BY id;
MOVE 5 IN early;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.set_threshold('alice', 10, '1 hour', 'block', 'customers') AS block_10 \gset
SET SESSION AUTHORIZATION alice;
MOVE ALL IN early;
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS early_cursor_stopped_at_11;
SELECT insider_guard.drop_threshold(:block_10) AS rolled_back_with_the_cursor;

-- code fired by a foreign-key cascade runs in PostgreSQL's foreign-key
-- context, but is the user's: its reads count (TEMP is all it needs)
SELECT insider_guard.set_threshold('alice', 100, '1 hour', 'block', 'customers') AS block_100 \gset
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
CREATE TEMP TABLE fk_parent (id int PRIMARY KEY);
CREATE TEMP TABLE fk_child (pid int REFERENCES fk_parent ON DELETE CASCADE);
CREATE TEMP TABLE loot AS SELECT * FROM customers WHERE false;
CREATE FUNCTION pg_temp.steal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO loot SELECT * FROM customers;
    RETURN OLD;
END $$;
CREATE TRIGGER steal BEFORE DELETE ON fk_child
    FOR EACH ROW EXECUTE FUNCTION pg_temp.steal();
INSERT INTO fk_parent VALUES (1);
INSERT INTO fk_child VALUES (1);
\set VERBOSITY terse
DELETE FROM fk_parent;
\set VERBOSITY default
SELECT count(*) AS rows_stolen FROM loot;
-- the same through a rule that rewrites the cascade's DELETE
DROP TRIGGER steal ON fk_child;
CREATE RULE steal AS ON DELETE TO fk_child DO INSTEAD
    INSERT INTO loot SELECT * FROM customers;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
\set VERBOSITY terse
DELETE FROM fk_parent;
\set VERBOSITY default
SELECT count(*) AS rows_stolen FROM loot;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS cascade_rule_stopped_at_101;
-- the foreign-key checks themselves are still not counted
SELECT insider_guard.reset('alice');
CREATE TABLE fk_orders (customer int REFERENCES customers);
GRANT INSERT ON fk_orders TO alice;
SET SESSION AUTHORIZATION alice;
INSERT INTO fk_orders SELECT g FROM generate_series(1, 500) g;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS foreign_key_checks_not_counted;
SELECT insider_guard.drop_threshold(:block_100);
DROP TABLE fk_orders;

-- a log threshold crossed by a COPY that fails midway is still recorded
CREATE TABLE memos (id int, note text);
INSERT INTO memos SELECT g, 'ok' FROM generate_series(1, 30) g;
INSERT INTO memos VALUES (31, 'price: 5 €');
GRANT SELECT ON memos TO alice;
SELECT insider_guard.set_threshold('alice', 20, '1 hour', 'log', 'memos') AS log_20 \gset
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
COPY memos TO STDOUT (ENCODING 'LATIN1');
RESET SESSION AUTHORIZATION;
SELECT reads('memos') AS copied_before_the_error;
SELECT role_name, table_name, threshold_id = :log_20 AS rule, max_rows,
       rows_in_window, action
FROM insider_guard.violations ORDER BY violation_id DESC LIMIT 1;
-- and by cursors whose transaction fails
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
BEGIN;
DECLARE n1 CURSOR FOR SELECT * FROM memos WHERE id <= 15;
DECLARE n2 CURSOR FOR SELECT * FROM memos WHERE id > 15 AND id <= 30;
FETCH ALL FROM n1;
FETCH ALL FROM n2;
SELECT 1 / 0;
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT reads('memos') AS read_by_cursors;
SELECT rows_in_window, statement_rows, action
FROM insider_guard.violations WHERE threshold_id = :log_20 ORDER BY violation_id;
SELECT insider_guard.drop_threshold(:log_20);
DROP TABLE memos;
SELECT insider_guard.reset();

-- functions the planner runs while it plans a foreign-key query (here a
-- stable getter it estimates with, in a rule that rewrites the cascade)
-- run in the foreign-key context too, but are the user's: counted
CREATE FUNCTION get_email(i int) RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
    AS 'SELECT email FROM customers WHERE id = i';
GRANT EXECUTE ON FUNCTION get_email(int) TO alice;
SELECT insider_guard.set_threshold('alice', 100, '1 hour', 'block', 'customers') AS block_100 \gset
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
CREATE TEMP TABLE plan_parent (id int PRIMARY KEY);
CREATE TEMP TABLE plan_child (pid int REFERENCES plan_parent ON DELETE CASCADE);
CREATE TEMP TABLE plan_sink (x text);
CREATE FUNCTION pg_temp.same(t text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT t';
SELECT format('CREATE RULE r AS ON DELETE TO plan_child DO ALSO DELETE FROM plan_sink WHERE x = ANY (ARRAY[%s])',
              string_agg(format('pg_temp.same(public.get_email(%s))', g), ','))
FROM generate_series(1, 150) g \gexec
INSERT INTO plan_parent VALUES (1);
INSERT INTO plan_child VALUES (1);
\set VERBOSITY terse
DELETE FROM plan_parent;
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS planner_functions_stopped_at_101;

-- ... and so are casts the planner folds in a foreign-key check, which
-- run as the referenced table's owner (REFERENCES and CREATE on a schema
-- are all it needs)
SELECT insider_guard.reset('alice');
CREATE SCHEMA alice_s AUTHORIZATION alice;
GRANT REFERENCES ON customers TO alice;
SET SESSION AUTHORIZATION alice;
CREATE TYPE alice_s.boxed AS (v int);
CREATE FUNCTION alice_s.unbox(alice_s.boxed) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    cur refcursor := 'loot';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_cursors WHERE name = 'loot') THEN
        OPEN cur FOR SELECT * FROM public.customers;
    END IF;
    RETURN ($1).v;
END $$;
CREATE CAST (alice_s.boxed AS int) WITH FUNCTION alice_s.unbox(alice_s.boxed) AS IMPLICIT;
CREATE TABLE alice_s.refs (c alice_s.boxed REFERENCES public.customers (id));
BEGIN;
INSERT INTO alice_s.refs VALUES (ROW(5));
SELECT count(*) AS cursor_opened FROM pg_cursors WHERE name = 'loot';
MOVE ALL IN loot;
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS cast_cursor_stopped_at_101;
SELECT insider_guard.drop_threshold(:block_100);
REVOKE REFERENCES ON customers FROM alice;
DROP SCHEMA alice_s CASCADE;

-- names in the error a stopped statement gets are quoted and escaped, so
-- that no name can start a line of the server log
CREATE TABLE "odd
name" (id int);
INSERT INTO "odd
name" SELECT g FROM generate_series(1, 5) g;
GRANT SELECT ON "odd
name" TO alice;
SELECT insider_guard.set_threshold('alice', 2, '1 hour', 'block', '"odd
name"') AS block_2 \gset
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM "odd
name";
RESET SESSION AUTHORIZATION;
SELECT insider_guard.drop_threshold(:block_2);
DROP TABLE "odd
name";
-- a role given as an OID must exist
SELECT insider_guard.set_threshold(0::regrole, 10);
SELECT insider_guard.set_threshold(987654321::regrole, 10);
SELECT insider_guard.exempt(987654321::regrole);
SELECT insider_guard.unexempt(987654321::regrole) AS removing_is_fine;
INSERT INTO insider_guard.thresholds (role_name, max_rows, per, action) VALUES (0, 10, '1 hour', 'log');
SELECT insider_guard.reset();
