--
-- counting_indexonly: an index-only scan reads exactly the rows core's
-- would -- all-visible pages or not, forward or backward, rescanned,
-- fetched by a cursor, under a threshold -- and returns the same rows.
--
SELECT insider_guard.reset();
CREATE TABLE ios (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = off);
INSERT INTO ios SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g;
VACUUM (ANALYZE) ios;
GRANT SELECT ON ios TO analysts, bob;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ios;

-- every page all-visible: the index alone answers
SET SESSION AUTHORIZATION alice;
SELECT count(*), sum(id) FROM ios;
SELECT count(*) FROM ios WHERE id > 1500;
RESET SESSION AUTHORIZATION;
SELECT reads('ios') AS all_visible;

-- rows added since: their pages are not all-visible, the heap is visited,
-- and EXPLAIN ANALYZE shows the same heap fetches with insider_guard on
-- and off.  Both after a first scan: PostgreSQL 19's may set pages
-- all-visible as it reads them (fewer heap fetches from the second on),
-- 15 to 18's never do.
INSERT INTO ios SELECT g, repeat('x', 200) FROM generate_series(2001, 2100) g;
SELECT count(*) AS first_scan FROM ios;
CREATE FUNCTION heap_fetches(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
        IF line LIKE '%Heap Fetches%' THEN
            RETURN trim(line);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TEMP TABLE fetched AS SELECT heap_fetches('SELECT count(*) FROM ios') AS guarded;
SET insider_guard.enabled = off;
SELECT guarded = heap_fetches('SELECT count(*) FROM ios') AS same_heap_fetches,
       guarded <> 'Heap Fetches: 0' AS heap_visited
FROM fetched;
RESET insider_guard.enabled;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*), sum(id) FROM ios;
RESET SESSION AUTHORIZATION;
SELECT reads('ios') AS some_heap;

-- rows deleted and updated since: the heap says which rows are seen, the
-- same as a sequential scan
DELETE FROM ios WHERE id BETWEEN 1001 AND 1010;
UPDATE ios SET pad = 'y' WHERE id % 100 = 0;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*), sum(id) FROM ios;
RESET SESSION AUTHORIZATION;
SELECT reads('ios') AS dead_rows_skipped;
SET enable_indexonlyscan = off;
SET enable_indexscan = off;
SET enable_seqscan = on;
SELECT count(*), sum(id) AS by_sequential_scan FROM ios;
RESET enable_indexonlyscan;
RESET enable_indexscan;
SET enable_seqscan = off;

-- backward, through core's function
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT id FROM ios ORDER BY id DESC LIMIT 3;
RESET SESSION AUTHORIZATION;
SELECT reads('ios') AS backward_3;

-- the inner side of a nested loop, rescanned with a runtime key
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM small s JOIN ios ON ios.id = s.id * 100;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small s JOIN ios ON ios.id = s.id * 100;
RESET SESSION AUTHORIZATION;
SELECT reads('ios') AS rescanned_5;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- a scrollable cursor: forward, backward, forward again
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT id FROM ios WHERE id <= 100 ORDER BY id;
FETCH 4 FROM c;
FETCH BACKWARD 2 FROM c;
FETCH 3 FROM c;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT reads('ios') AS cursor_4_2_3;

-- serializable: the index pages read are locked as core locks them
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) FROM ios WHERE id <= 300;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT reads('ios') AS serializable_300;

-- a parallel index-only scan: each process counts the rows it hands out
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_index_scan_size = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ios WHERE id > 100;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM ios WHERE id > 100;
RESET SESSION AUTHORIZATION;
SELECT reads('ios') AS parallel_1990;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_index_scan_size;
RESET min_parallel_table_scan_size;

-- a block threshold stops it at the row that exceeds it
SELECT insider_guard.reset('alice');
SELECT insider_guard.set_threshold('alice', 1234, '1 hour', 'block', 'ios') > 0 AS block_1234;
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM ios;
RESET SESSION AUTHORIZATION;
SELECT reads('ios') AS stopped_at_1235;
DELETE FROM insider_guard.thresholds;

-- a name column: its index stores a cstring, core's function converts it
CREATE TABLE named (n name PRIMARY KEY) WITH (autovacuum_enabled = off);
INSERT INTO named SELECT 'n' || g FROM generate_series(1, 50) g;
VACUUM (ANALYZE) named;
GRANT SELECT ON named TO analysts;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
EXPLAIN (COSTS OFF) SELECT count(*), max(n) FROM named WHERE n > 'n4';
SELECT count(*), max(n) FROM named WHERE n > 'n4';
RESET SESSION AUTHORIZATION;
SELECT reads('named') AS name_column;

RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE ios, named;
DROP FUNCTION heap_fetches(text);
SELECT insider_guard.reset();
