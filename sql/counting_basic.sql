--
-- counting_basic: rows handed out by scan nodes, for plain statements.
--
SELECT insider_guard.reset();

-- SELECT * ... LIMIT 5 reads 5
SET SESSION AUTHORIZATION alice;
SELECT * FROM customers ORDER BY id LIMIT 5;
RESET SESSION AUTHORIZATION;
-- (ORDER BY id LIMIT 5 walks the primary key: 5 rows)
SELECT reads('customers') AS limit_5;

-- a plain LIMIT without order reads exactly as many rows as it returns
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM (SELECT * FROM customers LIMIT 7) s;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS limit_7;

-- count(*) and string_agg read every row
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS count_star;

SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT length(string_agg(email, ',')) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS string_agg;

-- a point lookup reads 1, by index or by a filtered sequential scan
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT email FROM customers WHERE id = 7;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT email FROM customers WHERE id = 8;
RESET enable_indexscan;
RESET enable_bitmapscan;
SET enable_seqscan = off;
SELECT id FROM customers WHERE id BETWEEN 10 AND 12;
RESET enable_seqscan;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS point_lookups;

-- a view reads its tables
CREATE VIEW north AS SELECT * FROM customers WHERE region = 'north';
GRANT SELECT ON north TO alice;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM north;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS through_view;

-- CTEs and subqueries
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
WITH c AS MATERIALIZED (SELECT * FROM customers WHERE id <= 100)
SELECT count(*) FROM c JOIN c c2 USING (id);
SELECT count(*) FROM small WHERE id IN (SELECT id FROM customers WHERE id <= 3);
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS cte_and_subquery, reads('small') AS small;

-- the inner side of a nested loop counts every time it is rescanned
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM small s1, small s2 WHERE s1.id < s2.id;
SELECT count(*) FROM small s1, small s2 WHERE s1.id < s2.id;
RESET ALL;
RESET SESSION AUTHORIZATION;
SELECT reads('small') AS nested_loop_5_plus_5x5;

-- EXPLAIN ANALYZE runs the query: it counts; plain EXPLAIN does not
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
EXPLAIN (COSTS OFF) SELECT * FROM customers;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS explain_only;
SET SESSION AUTHORIZATION alice;
-- (its output differs between majors: only the count matters)
\o /dev/null
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM customers WHERE id <= 20;
\o
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS explain_analyze;

-- rows the superuser reads count for the superuser, not for alice
SELECT insider_guard.reset();
SELECT count(*) FROM customers;
SELECT reads('customers') AS alice, reads('customers', current_user) AS me;

-- every row counts once in the all-tables total
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
EXPLAIN (COSTS OFF) SELECT count(*) FROM customers c JOIN small s USING (id);
SELECT count(*) FROM customers c JOIN small s USING (id);
RESET SESSION AUTHORIZATION;
-- (a merge join reads one customer past the last match)
SELECT reads('customers') AS customers, reads('small') AS small, reads() AS all_tables;
