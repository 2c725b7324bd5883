--
-- setup: the extension, the roles and the tables every other file uses.
--
CREATE EXTENSION insider_guard;

-- alice reads; auditor may look at the counts when granted; nobody else
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE auditor LOGIN;
CREATE ROLE analysts NOLOGIN;
GRANT analysts TO alice;

CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, region text NOT NULL);
INSERT INTO customers
    SELECT g, 'user' || g || '@example.com', CASE WHEN g % 2 = 0 THEN 'north' ELSE 'south' END
    FROM generate_series(1, 1000) g;
CREATE TABLE small (id int PRIMARY KEY, v text);
INSERT INTO small SELECT g, 'v' || g FROM generate_series(1, 5) g;
ANALYZE customers, small;

GRANT SELECT ON customers, small TO analysts, bob;

-- rows alice read from a table (all tables if NULL) in the last hour
CREATE FUNCTION reads(tbl regclass DEFAULT NULL, who name DEFAULT 'alice')
RETURNS bigint LANGUAGE sql
AS $$ SELECT insider_guard.rows_read(who::regrole, '1 hour', tbl) $$;

SELECT extname, extversion, nspname AS schema
FROM pg_extension JOIN pg_namespace ON pg_namespace.oid = extnamespace
WHERE extname = 'insider_guard';
SELECT reads() AS nothing_read_yet;
