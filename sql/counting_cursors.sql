--
-- counting_cursors: each FETCH and MOVE counts when it runs; a WITH HOLD
-- cursor's remaining rows count when they are materialized at COMMIT.
--
SELECT insider_guard.reset();

-- (the session switches back to the superuser to look at the counts)
BEGIN;
SET SESSION AUTHORIZATION alice;
DECLARE c CURSOR FOR SELECT id FROM customers ORDER BY id;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS after_declare;
SET SESSION AUTHORIZATION alice;
FETCH 3 FROM c;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS after_fetch_3;
SET SESSION AUTHORIZATION alice;
MOVE 10 IN c;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS after_move_10;
SET SESSION AUTHORIZATION alice;
FETCH 2 FROM c;
CLOSE c;
RESET SESSION AUTHORIZATION;
COMMIT;
SELECT reads('customers') AS fetch_move_fetch;

-- physical reads: a scan that moves backwards hands rows out again ...
SELECT insider_guard.reset('alice');
BEGIN;
SET SESSION AUTHORIZATION alice;
DECLARE s SCROLL CURSOR FOR SELECT * FROM small;
FETCH ALL FROM s;
FETCH BACKWARD 2 FROM s;
FETCH FORWARD 1 FROM s;
CLOSE s;
RESET SESSION AUTHORIZATION;
COMMIT;
SELECT reads('small') AS scroll_5_2_1;

-- ... but rows a sort already holds are not read again
SELECT insider_guard.reset('alice');
BEGIN;
SET SESSION AUTHORIZATION alice;
DECLARE s SCROLL CURSOR FOR SELECT * FROM small ORDER BY v;
FETCH ALL FROM s;
FETCH BACKWARD 2 FROM s;
CLOSE s;
RESET SESSION AUTHORIZATION;
COMMIT;
SELECT reads('small') AS sorted_once;

-- WITH HOLD: what was fetched counts at once, the rest at COMMIT.  A
-- cursor whose plan can run backwards is scrollable by default, so at
-- COMMIT it is rewound and read whole: 4 + 100.
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
BEGIN;
DECLARE h CURSOR WITH HOLD FOR SELECT id FROM customers WHERE id <= 100 ORDER BY id;
FETCH 4 FROM h;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.rows_read('alice', '1 hour', 'customers') AS before_commit;
SET SESSION AUTHORIZATION alice;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS after_commit;
SET SESSION AUTHORIZATION alice;
-- reading from the materialized cursor reads no table
FETCH 2 FROM h;
CLOSE h;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS after_fetch_from_holdstore;

-- NO SCROLL: only the rows not fetched yet are read at COMMIT
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
BEGIN;
DECLARE h NO SCROLL CURSOR WITH HOLD FOR SELECT id FROM customers WHERE id <= 100 ORDER BY id;
FETCH 4 FROM h;
COMMIT;
CLOSE h;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS no_scroll_4_plus_96;

-- a cursor in PL/pgSQL
CREATE FUNCTION first_n(n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    cur CURSOR FOR SELECT id FROM customers ORDER BY id;
    r record;
    k int := 0;
BEGIN
    OPEN cur;
    LOOP
        FETCH cur INTO r;
        EXIT WHEN NOT FOUND OR k >= n;
        k := k + 1;
    END LOOP;
    CLOSE cur;
    RETURN k;
END $$;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT first_n(9);
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS plpgsql_cursor_10_fetches;
