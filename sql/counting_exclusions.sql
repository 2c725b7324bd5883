--
-- counting_exclusions: what is not counted (foreign-key checks, catalogs,
-- temporary tables, insider_guard's own objects, EXPLAIN) and what is
-- counted although the statement failed or rolled back.
--
SELECT insider_guard.reset();

-- foreign-key checks read the referenced table on the writer's behalf
CREATE TABLE orders (id serial PRIMARY KEY,
                     customer_id int REFERENCES customers (id) ON DELETE CASCADE);
GRANT INSERT, SELECT, DELETE ON orders TO alice;
GRANT USAGE ON SEQUENCE orders_id_seq TO alice;
SET SESSION AUTHORIZATION alice;
INSERT INTO orders (customer_id) SELECT g FROM generate_series(1, 500) g;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS fk_checks, reads('orders') AS orders;
-- a failed check does not count either
SET SESSION AUTHORIZATION alice;
INSERT INTO orders (customer_id) VALUES (999999);
RESET SESSION AUTHORIZATION;
SELECT reads() AS after_failed_fk;
-- nor does a cascade run by the owner's delete
CREATE TABLE doomed (LIKE customers INCLUDING ALL);
INSERT INTO doomed SELECT * FROM customers WHERE id <= 3;
SELECT insider_guard.reset();
DELETE FROM customers WHERE id = 1000 RETURNING id;
SELECT reads('orders', current_user) AS cascade_reads;
INSERT INTO customers VALUES (1000, 'user1000@example.com', 'north');
DROP TABLE doomed;

-- system catalogs are not counted
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) > 0 FROM pg_class;
SELECT count(*) > 0 FROM information_schema.tables;
RESET SESSION AUTHORIZATION;
SELECT reads() AS catalogs;

-- temporary tables are not counted
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
CREATE TEMP TABLE t_tmp AS SELECT g FROM generate_series(1, 100) g;
SELECT count(*) FROM t_tmp;
RESET SESSION AUTHORIZATION;
SELECT reads() AS temp_table;

-- rows read by a statement that fails still count
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(1 / (500 - id)) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS up_to_the_error;

-- and by a transaction that rolls back, and a rolled back subtransaction
SELECT insider_guard.reset('alice');
BEGIN;
SET LOCAL SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
SAVEPOINT sp;
SELECT count(*) FROM customers;
ROLLBACK TO sp;
SELECT count(*) FROM small;
ROLLBACK;
SELECT reads('small') AS small_rolled_back, reads('customers') AS in_savepoint;

-- an error inside a PL/pgSQL exception block
CREATE FUNCTION swallow() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM count(1 / (100 - id)) FROM customers;
    EXCEPTION WHEN division_by_zero THEN
        RETURN 'caught';
    END;
    RETURN 'not caught';
END $$;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT swallow();
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS exception_block;

-- a cancelled statement: what it read before the cancel counts (it
-- stops in the 10th row, which it has read)
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SET statement_timeout = '1s';
SELECT id, pg_sleep(CASE WHEN id = 10 THEN 60 ELSE 0 END)
FROM customers WHERE id <= 20 ORDER BY id;
RESET statement_timeout;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS cancelled_at_10;

-- counting can be switched off, by a superuser only
SELECT insider_guard.reset('alice');
SET insider_guard.enabled = off;
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SET insider_guard.enabled = on;
SELECT reads() AS while_disabled;

DROP TABLE orders;
