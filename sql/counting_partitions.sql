--
-- counting_partitions: rows read from a partition or an inheritance child
-- count for every ancestor too, and once in the all-tables total.
--
SELECT insider_guard.reset();

CREATE TABLE events (id int, kind text) PARTITION BY RANGE (id);
CREATE TABLE events_a PARTITION OF events FOR VALUES FROM (0) TO (100)
    PARTITION BY LIST (kind);
CREATE TABLE events_a1 PARTITION OF events_a FOR VALUES IN ('x');
CREATE TABLE events_a2 PARTITION OF events_a FOR VALUES IN ('y');
CREATE TABLE events_b PARTITION OF events FOR VALUES FROM (100) TO (200);
INSERT INTO events SELECT g, CASE WHEN g % 2 = 0 THEN 'x' ELSE 'y' END
    FROM generate_series(0, 199) g;
GRANT SELECT ON events, events_a, events_a1, events_a2, events_b TO alice;

-- through the root: each leaf, each level, once in all tables
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM events;
RESET SESSION AUTHORIZATION;
SELECT reads('events_a1') AS a1, reads('events_a2') AS a2, reads('events_b') AS b,
       reads('events_a') AS a, reads('events') AS root, reads() AS all_tables;

-- a leaf read directly still counts for both of its ancestors
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM events_a1;
RESET SESSION AUTHORIZATION;
SELECT reads('events_a1') AS a1, reads('events_a') AS a, reads('events') AS root,
       reads() AS all_tables;

-- pruning: only the partitions scanned count
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM events WHERE id >= 150;
RESET SESSION AUTHORIZATION;
SELECT reads('events_b') AS b, reads('events_a') AS a, reads('events') AS root;

-- COPY of a leaf counts for its ancestors
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
COPY (SELECT count(*) FROM events_a2) TO STDOUT;
\set VERBOSITY sqlstate
COPY events_a2 TO '/dev/null';
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
GRANT pg_write_server_files TO alice;
SET SESSION AUTHORIZATION alice;
COPY events_a2 TO '/dev/null';
RESET SESSION AUTHORIZATION;
REVOKE pg_write_server_files FROM alice;
SELECT reads('events_a2') AS a2, reads('events_a') AS a, reads('events') AS root;

-- attaching a table changes what it counts for, from the next statement
CREATE TABLE events_c (id int, kind text);
INSERT INTO events_c SELECT g, 'z' FROM generate_series(200, 209) g;
GRANT SELECT ON events_c TO alice;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM events_c;
RESET SESSION AUTHORIZATION;
ALTER TABLE events ATTACH PARTITION events_c FOR VALUES FROM (200) TO (300);
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM events_c;
RESET SESSION AUTHORIZATION;
SELECT reads('events_c') AS c, reads('events') AS root_after_attach;

-- inheritance, including a child with two parents
CREATE TABLE animals (name text);
CREATE TABLE pets (owner text);
CREATE TABLE dogs (breed text) INHERITS (animals, pets);
INSERT INTO animals VALUES ('generic');
INSERT INTO dogs VALUES ('rex', 'alice', 'lab'), ('fido', 'bob', 'pug');
GRANT SELECT ON animals, pets, dogs TO alice;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM animals;
SELECT count(*) FROM dogs;
RESET SESSION AUTHORIZATION;
SELECT reads('animals') AS animals, reads('pets') AS pets, reads('dogs') AS dogs,
       reads() AS all_tables;

-- the all-tables total and role_activity agree
SELECT table_name, rows_last_hour FROM insider_guard.role_activity
WHERE role_name = 'alice' ORDER BY table_name NULLS FIRST;

DROP TABLE events, animals, pets CASCADE;
