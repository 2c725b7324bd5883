--
-- counting_dml: reads done by statements that write, create or explain.
--
SELECT insider_guard.reset();
GRANT CREATE ON SCHEMA public TO alice;

-- CREATE TABLE AS, SELECT INTO, CREATE MATERIALIZED VIEW, REFRESH
SET SESSION AUTHORIZATION alice;
CREATE TABLE copy1 AS SELECT * FROM customers WHERE id <= 10;
SELECT * INTO copy2 FROM customers WHERE id <= 20;
CREATE MATERIALIZED VIEW mv AS SELECT * FROM customers WHERE id <= 30;
REFRESH MATERIALIZED VIEW mv;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS ctas_into_mv_refresh;
-- reading the materialized view counts for the view
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM mv;
RESET SESSION AUTHORIZATION;
SELECT reads('mv') AS matview, reads('customers') AS customers;

-- INSERT ... SELECT, UPDATE/DELETE ... RETURNING
CREATE TABLE scratchpad (id int PRIMARY KEY, email text);
INSERT INTO scratchpad SELECT id, email FROM customers WHERE id <= 50;
GRANT SELECT, INSERT, UPDATE, DELETE ON scratchpad TO alice;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
INSERT INTO scratchpad SELECT id, email FROM customers WHERE id BETWEEN 51 AND 60;
UPDATE scratchpad SET email = upper(email) WHERE id <= 5 RETURNING id;
DELETE FROM scratchpad WHERE id > 55 RETURNING id;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS insert_select, reads('scratchpad') AS update_delete;

-- MERGE reads the target and the source
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
MERGE INTO scratchpad t
USING (SELECT id, email FROM customers WHERE id BETWEEN 50 AND 59) s ON t.id = s.id
WHEN MATCHED THEN UPDATE SET email = s.email
WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.email);
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS merge_source, reads('scratchpad') > 0 AS merge_target_read;

-- INSERT ... ON CONFLICT DO UPDATE counts each existing row it updates:
-- with RETURNING it can hand old values back
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
INSERT INTO scratchpad AS t VALUES (1, 'x'), (2, 'x'), (3, 'x'), (1000, 'new')
ON CONFLICT (id) DO UPDATE SET id = t.id RETURNING id, email;
RESET SESSION AUTHORIZATION;
SELECT reads('scratchpad') AS on_conflict_updated_3;
-- ... and its WHERE clause is a filter like any other
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
INSERT INTO scratchpad AS t VALUES (1, 'x'), (2, 'x'), (3, 'x')
ON CONFLICT (id) DO UPDATE SET email = 'y' WHERE t.id = 2;
RESET SESSION AUTHORIZATION;
SELECT reads('scratchpad') AS on_conflict_where_1;
-- DO NOTHING reads nothing
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
INSERT INTO scratchpad VALUES (1, 'x'), (2, 'x') ON CONFLICT DO NOTHING;
RESET SESSION AUTHORIZATION;
SELECT reads('scratchpad') AS on_conflict_nothing;

-- ON CONFLICT into a partitioned table counts for the partition and parent
CREATE TABLE kv (k int PRIMARY KEY, v text) PARTITION BY RANGE (k);
CREATE TABLE kv_low PARTITION OF kv FOR VALUES FROM (0) TO (100);
CREATE TABLE kv_high PARTITION OF kv FOR VALUES FROM (100) TO (1000);
INSERT INTO kv SELECT g, 'v' || g FROM generate_series(1, 300) g;
GRANT SELECT, INSERT, UPDATE ON kv TO alice;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
INSERT INTO kv AS t VALUES (5, 'a'), (150, 'b'), (250, 'c')
ON CONFLICT (k) DO UPDATE SET v = t.v RETURNING k, v;
RESET SESSION AUTHORIZATION;
SELECT reads('kv_low') AS low, reads('kv_high') AS high, reads('kv') AS parent, reads() AS all_tables;

DROP TABLE copy1, copy2, scratchpad, kv;
DROP MATERIALIZED VIEW mv;
REVOKE CREATE ON SCHEMA public FROM alice;
