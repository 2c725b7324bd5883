--
-- counting_filters: a filter cannot hide reads.  Rows a scan's filter
-- rejects do not count -- unless the filter passes them to a function
-- that is not leakproof, which could copy them out.
--
SELECT insider_guard.reset();

-- leakproof comparisons: only the rows handed out count
SET SESSION AUTHORIZATION alice;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM customers WHERE region = 'north' AND id > 900;
SELECT count(*) FROM customers WHERE region = 'north' AND id > 900;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS leakproof_filter;

-- arithmetic that can fail (here int4mod) is not leakproof either: the
-- filter sees every row, so every row counts
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM customers WHERE region = 'north' AND id % 100 = 0;
RESET enable_indexscan;
RESET enable_bitmapscan;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS modulo_filter;

-- a function that could leak: every row it looks at counts
CREATE FUNCTION leak(t text) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS $$
BEGIN
    RETURN false;   -- could just as well RAISE NOTICE '%', t
END $$;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
EXPLAIN (COSTS OFF) SELECT 1 FROM customers WHERE leak(email);
SELECT 1 FROM customers WHERE leak(email);
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS leaky_filter;

-- a cast that fails with the value in the message is such a function:
-- the row it stops on counts
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT 1 FROM customers WHERE email::int = 0;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS failing_cast;

-- a leaky function behind an index condition sees only the rows the index
-- returns
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT 1 FROM customers WHERE id <= 25 AND leak(email);
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS index_then_leaky_filter;

-- the same function in the select list sees only rows already counted
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(leak(email)) FROM customers WHERE id <= 10;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS leak_in_select_list;

-- security barrier views keep leaky quals above the view's own filter
CREATE VIEW south_sb WITH (security_barrier) AS
    SELECT * FROM customers WHERE region = 'south';
GRANT SELECT ON south_sb TO alice;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM south_sb WHERE leak(email);
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS security_barrier;
