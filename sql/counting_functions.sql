--
-- counting_functions: reads inside functions, triggers and prepared
-- statements, and whom they are attributed to.
--
SELECT insider_guard.reset();

-- an SQL function the planner inlines, and one it cannot
CREATE FUNCTION north_count() RETURNS bigint LANGUAGE sql STABLE
AS $$ SELECT count(*) FROM customers WHERE region = 'north' $$;
CREATE FUNCTION emails_of(r text) RETURNS SETOF text LANGUAGE sql
AS $$ SELECT email FROM customers WHERE region = r $$;
SET SESSION AUTHORIZATION alice;
SELECT north_count();
SELECT count(*) FROM emails_of('south');
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS sql_functions;

-- PL/pgSQL: every statement it runs counts
CREATE FUNCTION scan_twice() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    n int;
    m int;
BEGIN
    SELECT count(*) INTO n FROM customers;
    SELECT count(*) INTO m FROM small;
    FOR i IN 1..3 LOOP
        PERFORM 1 FROM customers WHERE id = i;
    END LOOP;
    RETURN n + m;
END $$;
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT scan_twice();
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS plpgsql_customers, reads('small') AS plpgsql_small;

-- a function called once per row of the outer query
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT sum(north_count()) FROM small;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS per_row_calls, reads('small') AS outer_rows;

-- a trigger that reads: counted for the session user who fired it
CREATE TABLE audit_log (id serial PRIMARY KEY, seen bigint);
GRANT INSERT ON audit_log TO analysts;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO analysts;
CREATE FUNCTION audit_trigger() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER AS $$
BEGIN
    NEW.seen := (SELECT count(*) FROM customers WHERE id <= 40);
    RETURN NEW;
END $$;
CREATE TRIGGER audit_before BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_trigger();
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
INSERT INTO audit_log (seen) VALUES (0), (0);
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS trigger_reads;

-- prepared statements count each time they run
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
PREPARE by_region(text) AS SELECT count(*) FROM customers WHERE region = $1;
EXECUTE by_region('north');
EXECUTE by_region('south');
EXECUTE by_region('nowhere');
DEALLOCATE by_region;
RESET SESSION AUTHORIZATION;
SELECT reads('customers') AS prepared;

-- SET ROLE does not move reads away from the session user
SELECT insider_guard.reset();
SET SESSION AUTHORIZATION alice;
SET ROLE analysts;
SELECT current_user, session_user;
SELECT count(*) FROM small;
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT reads('small') AS alice, reads('small', 'analysts') AS analysts;

-- nor does a SECURITY DEFINER function owned by someone else
CREATE TABLE vault (secret text);
INSERT INTO vault SELECT 'secret ' || g FROM generate_series(1, 25) g;
CREATE FUNCTION peek_vault() RETURNS bigint LANGUAGE sql SECURITY DEFINER
AS $$ SELECT count(*) FROM vault $$;
GRANT EXECUTE ON FUNCTION peek_vault() TO alice;
SELECT insider_guard.reset();
SET SESSION AUTHORIZATION alice;
SELECT peek_vault();
RESET SESSION AUTHORIZATION;
SELECT reads('vault') AS alice, reads('vault', current_user) AS owner;

-- the statements column counts statements, including those inside functions
SELECT insider_guard.reset('alice');
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
SELECT count(*) FROM small;
SELECT scan_twice();
RESET SESSION AUTHORIZATION;
SELECT table_name, statements, rows_last_hour FROM insider_guard.role_activity
WHERE role_name = 'alice' ORDER BY table_name NULLS FIRST;
