--
-- counting_copy: COPY table TO bypasses the executor and still counts;
-- COPY (query) TO counts through the executor; neither counts twice.
--
SELECT insider_guard.reset();

SET SESSION AUTHORIZATION alice;
COPY small TO STDOUT;
COPY small (v) TO STDOUT WITH (FORMAT csv, HEADER);
RESET SESSION AUTHORIZATION;
SELECT reads('small') AS copy_table_twice, reads() AS all_tables;

SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
COPY (SELECT * FROM small WHERE id > 2) TO STDOUT;
COPY (SELECT count(*) FROM customers) TO STDOUT;
RESET SESSION AUTHORIZATION;
SELECT reads('small') AS copy_query_small, reads('customers') AS copy_query_customers;

-- the relation is resolved once: a same-named table earlier in the
-- search_path at run time does not change what is counted
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SET search_path = public;
COPY public.small TO STDOUT;
RESET search_path;
RESET SESSION AUTHORIZATION;
SELECT reads('small') AS qualified;

-- a table with row-level security: core runs COPY as a query; counted once
CREATE TABLE notes (id int, owner name, body text);
INSERT INTO notes VALUES (1, 'alice', 'a1'), (2, 'alice', 'a2'), (3, 'bob', 'b1');
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON notes USING (owner = current_user);
GRANT SELECT ON notes TO alice;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
COPY notes TO STDOUT;
RESET SESSION AUTHORIZATION;
SELECT reads('notes') AS rls_copy;

-- a COPY that fails before its first row counts nothing
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
COPY vault TO STDOUT;
COPY small (nosuchcolumn) TO STDOUT;
RESET SESSION AUTHORIZATION;
SELECT reads() AS failed_copies;

-- temporary tables are not counted, by COPY or otherwise
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
CREATE TEMP TABLE scratch AS SELECT * FROM small;
COPY scratch TO STDOUT;
SELECT count(*) FROM scratch;
DROP TABLE scratch;
RESET SESSION AUTHORIZATION;
SELECT reads() AS only_the_ctas_source;

-- with track_activities off the progress counter is silent: the COPY is
-- run as a query so that the executor counts it
SELECT insider_guard.reset('alice');
SET track_activities = off;
SET SESSION AUTHORIZATION alice;
COPY small TO STDOUT;
RESET SESSION AUTHORIZATION;
RESET track_activities;
SELECT reads('small') AS without_progress;
