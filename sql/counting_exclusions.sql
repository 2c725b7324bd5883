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

-- nor a check into a partitioned table whose partitions have another
-- owner: the check runs as the partitioned table's owner and reads a
-- partition, under a block threshold it would otherwise break at 1,001
CREATE ROLE pk_owner NOLOGIN;
CREATE ROLE part_owner NOLOGIN;
CREATE TABLE accounts (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE accounts_low PARTITION OF accounts FOR VALUES FROM (1) TO (1001);
CREATE TABLE accounts_high PARTITION OF accounts FOR VALUES FROM (1001) TO (2001);
INSERT INTO accounts SELECT g FROM generate_series(1, 2000) g;
ALTER TABLE accounts OWNER TO pk_owner;
ALTER TABLE accounts_low OWNER TO part_owner;
ALTER TABLE accounts_high OWNER TO part_owner;
SELECT c.relname, r.rolname AS owner
FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
WHERE c.relname IN ('accounts', 'accounts_low', 'accounts_high') ORDER BY 1;
CREATE TABLE payments (account_id int REFERENCES accounts (id));
GRANT INSERT ON payments TO alice;
SELECT insider_guard.set_threshold('alice', 1000, '1 hour', 'block') AS block_1000 \gset
SELECT insider_guard.reset();
SET SESSION AUTHORIZATION alice;
INSERT INTO payments SELECT g FROM generate_series(1, 1500) g;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS payments FROM payments;
SELECT reads('accounts') AS partitioned_fk_checks, reads('accounts_low') AS low,
       reads('accounts_high') AS high, reads() AS all_tables;
SELECT insider_guard.drop_threshold(:block_1000) AS dropped;
DROP TABLE payments, accounts;
DROP ROLE pk_owner, part_owner;

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
