--
-- fast_scans: insider_guard.fast_scans, the switch of the fast paths that
-- stand in for core's sequential and index-only scan functions.  It is a
-- superuser's setting, on by default, and every count is the same with it
-- on and off.  (test.sh also runs the whole suite with it off in the
-- server's configuration: nothing here depends on that value.)
--
SELECT insider_guard.reset();

-- the setting: boolean, on unless configured, for superusers only
SELECT vartype, boot_val, context FROM pg_settings
WHERE name = 'insider_guard.fast_scans';

-- a watched role can neither SET it nor make it a default of its own
SET SESSION AUTHORIZATION alice;
SET insider_guard.fast_scans = off;
SET insider_guard.fast_scans = on;
SELECT set_config('insider_guard.fast_scans', 'off', false);
ALTER ROLE alice SET insider_guard.fast_scans = off;
RESET insider_guard.fast_scans;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS alice_defaults FROM pg_db_role_setting
WHERE setrole = 'alice'::regrole;

-- a superuser can change it, from the next statement on
SET insider_guard.fast_scans = off;
SHOW insider_guard.fast_scans;
SET insider_guard.fast_scans = on;
SHOW insider_guard.fast_scans;

CREATE TABLE fs (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = off);
INSERT INTO fs SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g;
VACUUM (ANALYZE) fs;
GRANT SELECT ON fs TO analysts;

-- a sequential scan with neither filter nor projection: the fast path's
-- shape
SET enable_indexonlyscan = off;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM fs;
SET insider_guard.fast_scans = on;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM fs;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS seq_fast_on;
SET insider_guard.fast_scans = off;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM fs;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS seq_fast_off;

-- the same scan under a block threshold stops at the same row
SELECT insider_guard.set_threshold('alice', 1234, '1 hour', 'block', 'fs') > 0 AS block_1234;
SET insider_guard.fast_scans = on;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM fs;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS seq_stopped_fast_on;
SET insider_guard.fast_scans = off;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM fs;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS seq_stopped_fast_off;
DELETE FROM insider_guard.thresholds;
RESET enable_indexonlyscan;
RESET enable_indexscan;
RESET enable_bitmapscan;

-- an index-only scan with neither filter nor projection, on all-visible
-- pages and, after an insert and a delete, on pages that are not
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM fs;
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM fs WHERE id > 1000;
SET insider_guard.fast_scans = on;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM fs;
SELECT count(*), sum(id) FROM fs WHERE id > 1000;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS ios_fast_on;
SET insider_guard.fast_scans = off;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM fs;
SELECT count(*), sum(id) FROM fs WHERE id > 1000;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS ios_fast_off;

INSERT INTO fs SELECT g, 'new' FROM generate_series(3001, 3100) g;
DELETE FROM fs WHERE id BETWEEN 101 AND 150;
SET insider_guard.fast_scans = on;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*), sum(id) FROM fs WHERE id > 0;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS ios_heap_fast_on;
SET insider_guard.fast_scans = off;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*), sum(id) FROM fs WHERE id > 0;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS ios_heap_fast_off;

-- the same scan under a block threshold stops at the same row
SELECT insider_guard.set_threshold('alice', 1234, '1 hour', 'block', 'fs') > 0 AS block_1234;
SET insider_guard.fast_scans = on;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM fs;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS ios_stopped_fast_on;
SET insider_guard.fast_scans = off;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM fs;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS ios_stopped_fast_off;
DELETE FROM insider_guard.thresholds;

-- indexes that hand back heap-format tuples (GiST, SP-GiST): the values
-- and the counts are the same both ways
CREATE TABLE fs_points (p point, t text) WITH (autovacuum_enabled = off);
INSERT INTO fs_points SELECT point(g % 50, g / 50), 'word' || g
FROM generate_series(1, 2000) g;
CREATE INDEX fs_points_gist ON fs_points USING gist (p);
CREATE INDEX fs_points_spgist ON fs_points USING spgist (t);
VACUUM (ANALYZE) fs_points;
GRANT SELECT ON fs_points TO analysts;
EXPLAIN (COSTS OFF)
SELECT count(*), sum(p[0]), sum(p[1]) FROM fs_points WHERE p <@ box '((0,0),(20,30))';
EXPLAIN (COSTS OFF)
SELECT count(*), sum(length(t)) FROM fs_points WHERE t > 'word1';
SET insider_guard.fast_scans = on;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*), sum(p[0]), sum(p[1]) FROM fs_points WHERE p <@ box '((0,0),(20,30))';
SELECT count(*), sum(length(t)) FROM fs_points WHERE t > 'word1';
RESET SESSION AUTHORIZATION;
SELECT reads('fs_points') AS heap_format_fast_on;
SET insider_guard.fast_scans = off;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*), sum(p[0]), sum(p[1]) FROM fs_points WHERE p <@ box '((0,0),(20,30))';
SELECT count(*), sum(length(t)) FROM fs_points WHERE t > 'word1';
RESET SESSION AUTHORIZATION;
SELECT reads('fs_points') AS heap_format_fast_off;

-- a cursor keeps what it was opened with; the setting applies to the
-- next statement
EXPLAIN (COSTS OFF) SELECT id FROM fs;
SET insider_guard.fast_scans = on;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM fs;
FETCH 5 FROM c;
RESET SESSION AUTHORIZATION;
SET LOCAL insider_guard.fast_scans = off;
SET SESSION AUTHORIZATION alice;
FETCH 7 FROM c;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT reads('fs') AS cursor_5_7;
RESET insider_guard.fast_scans;

RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE fs, fs_points;
SELECT insider_guard.reset();
