--
-- upgrade: ALTER EXTENSION insider_guard UPDATE from 0.1.0, through
-- 0.2.0, to the default version keeps the rules and the grants a database
-- has, and leaves exactly the objects a fresh CREATE EXTENSION makes:
-- every member, and for each its definition and privileges, is compared
-- both ways.
--
CREATE DATABASE ig_upgrade;
\c ig_upgrade
CREATE EXTENSION insider_guard VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'insider_guard';
CREATE ROLE upgrader LOGIN;
CREATE TABLE accounts (id int);
SELECT insider_guard.set_threshold('upgrader', 10, '1 hour', 'block', 'accounts') AS tid \gset
SELECT insider_guard.exempt('upgrader');
-- a grant on a view the updates replace
GRANT SELECT ON insider_guard.violations TO upgrader;
-- the current library runs the rules of 0.1.0: no baseline tables yet
SELECT insider_guard.drop_threshold(-1) AS nothing_to_drop;
SELECT to_regclass('insider_guard.baseline_rules') IS NULL AS no_baselines_yet;

-- to 0.2.0
ALTER EXTENSION insider_guard UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'insider_guard';
-- the grant is kept: the view has the columns of 0.2.0
SET ROLE upgrader;
SELECT count(*) AS records, count(repeats) AS with_repeats FROM insider_guard.violations;
RESET ROLE;
-- the new objects work, and their ids follow the thresholds'
SELECT insider_guard.set_baseline_rule('upgrader', on_table => 'accounts') > :tid AS baseline_rule;
SELECT insider_guard.add_peer_group('upgrader');
SELECT count(*) AS groups FROM insider_guard.peer_groups;
-- a record made under 0.2.0 (by the current library)
INSERT INTO accounts SELECT generate_series(1, 20);
GRANT SELECT ON accounts TO upgrader;
SET SESSION AUTHORIZATION upgrader;
SELECT count(*) FROM accounts;
RESET SESSION AUTHORIZATION;
-- a grant on a view the next update replaces
GRANT SELECT ON insider_guard.baselines TO upgrader;
-- the current library runs the objects of 0.2.0: no info view yet
SELECT to_regclass('insider_guard.info') IS NULL AS no_info_yet;

-- to 0.3.0: the current library sets baseline rules against its index,
-- which does not tell novelty rules apart yet (there are none)
ALTER EXTENSION insider_guard UPDATE TO '0.3.0';
SELECT insider_guard.set_baseline_rule('upgrader', 7, on_table => 'accounts') > :tid AS updated_in_place;
SELECT count(*) AS one_rule_still FROM insider_guard.baseline_rules WHERE factor = 7;
SELECT to_regprocedure('insider_guard.set_novelty_rule(regrole,bigint,text)') IS NULL AS no_novelty_yet;

-- to the default version
ALTER EXTENSION insider_guard UPDATE;
SELECT e.extversion, e.extversion = a.default_version AS is_default
FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
WHERE e.extname = 'insider_guard';

-- the rules are kept
SELECT threshold_id = :tid AS kept, role_name, table_name, max_rows, per, action
FROM insider_guard.thresholds;
SELECT role_name FROM insider_guard.exemptions;
SELECT count(*) AS baseline_rules_kept FROM insider_guard.baseline_rules;
-- and the grants
SET ROLE upgrader;
SELECT database_name = current_database() AS this_database, rule_kind, action, repeats
FROM insider_guard.violations;
SELECT table_name, per, limit_now, no_limit_reason FROM insider_guard.baselines;
RESET ROLE;
REVOKE SELECT ON insider_guard.violations, insider_guard.baselines FROM upgrader;
-- the new view works
SELECT max_tracked > 0 AS info FROM insider_guard.info;
-- the tables are kept by pg_dump; every table and view is closed to PUBLIC
SELECT c.relname, c.oid = ANY (e.extconfig) AS config_dumped,
       has_table_privilege('upgrader', c.oid, 'SELECT') AS upgrader_may_select
FROM pg_class c, pg_extension e
WHERE e.extname = 'insider_guard' AND c.relnamespace = 'insider_guard'::regnamespace
  AND c.relkind IN ('r', 'v')
ORDER BY c.relname;

--
-- What an install of insider_guard consists of, one row per fact, by name
-- (never by OID, which differs between installs): every member of the
-- extension (pg_depend deptype 'e'); the columns of its tables and views
-- (position, type, collation, NOT NULL, default); constraints, indexes,
-- triggers, comments, owners and ACLs; each view's definition; each
-- function's arguments with defaults, result, language, volatility,
-- strictness, parallel safety, SECURITY DEFINER, settings, body and ACL;
-- sequences' parameters; the event trigger; the schema; and the
-- extension's own row, config tables and their conditions.
--
CREATE FUNCTION ig_install_facts()
RETURNS TABLE (kind text, object text, fact text)
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
WITH ext AS (
    SELECT * FROM pg_extension WHERE extname = 'insider_guard'
), member AS (
    SELECT d.classid, d.objid, d.objsubid
    FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
      AND d.deptype = 'e'
      -- PostgreSQL 18 also lists the row types of its relations (and
      -- their arrays): they come with the relations
      AND NOT EXISTS (SELECT FROM pg_type t
                      LEFT JOIN pg_type elem ON elem.oid = t.typelem
                      WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                        AND (t.typrelid <> 0 OR elem.typrelid <> 0))
), rel AS (
    SELECT c.* FROM pg_class c JOIN member m
        ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
), func AS (
    SELECT p.* FROM pg_proc p JOIN member m
        ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
)
SELECT 'member', pg_describe_object(classid, objid, objsubid), ''
FROM member
UNION ALL
SELECT 'extension', extname,
       format('version %s, relocatable %s, schema %s, owner %s', extversion,
              extrelocatable, extnamespace::regnamespace,
              pg_get_userbyid(extowner))
FROM ext
UNION ALL
SELECT 'config table', cfg::regclass::text, format('condition %L', cond)
FROM ext, unnest(extconfig, extcondition) AS u(cfg, cond)
UNION ALL
SELECT 'schema', n.nspname,
       format('owner %s, acl %s', pg_get_userbyid(n.nspowner), n.nspacl)
FROM pg_namespace n, ext
WHERE n.oid = ext.extnamespace
UNION ALL
SELECT 'relation', c.oid::regclass::text,
       format('kind %s, persistence %s, owner %s, acl %s, options %s, row security %s',
              c.relkind, c.relpersistence, pg_get_userbyid(c.relowner),
              c.relacl, c.reloptions, c.relrowsecurity)
FROM rel c
UNION ALL
SELECT 'column', format('%s.%s', c.oid::regclass, a.attname),
       format('#%s %s%s%s%s', a.attnum, format_type(a.atttypid, a.atttypmod),
              CASE WHEN a.attcollation <> 0 THEN ' COLLATE ' || a.attcollation::regcollation END,
              CASE WHEN a.attnotnull THEN ' NOT NULL' END,
              ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid))
FROM rel c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
UNION ALL
SELECT 'view', c.oid::regclass::text, pg_get_viewdef(c.oid, true)
FROM rel c WHERE c.relkind = 'v'
UNION ALL
SELECT 'constraint', format('%s on %s', co.conname, c.oid::regclass),
       pg_get_constraintdef(co.oid, true)
FROM rel c JOIN pg_constraint co ON co.conrelid = c.oid
-- NOT NULL: a column fact (PostgreSQL 18 also makes them constraints)
WHERE co.contype <> 'n'
UNION ALL
SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM rel c JOIN pg_index i ON i.indrelid = c.oid
UNION ALL
SELECT 'trigger', format('%s on %s', t.tgname, c.oid::regclass),
       format('%s, enabled %s', pg_get_triggerdef(t.oid, true), t.tgenabled)
FROM rel c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
UNION ALL
SELECT 'sequence', s.seqrelid::regclass::text,
       format('%s start %s increment %s min %s max %s cache %s cycle %s',
              format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
              s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
FROM rel c JOIN pg_sequence s ON s.seqrelid = c.oid
UNION ALL
SELECT 'function', format('%s(%s)', p.oid::regproc, pg_get_function_identity_arguments(p.oid)),
       format('arguments (%s) returns %s, %s, kind %s, volatility %s, strict %s, parallel %s, security definer %s, leakproof %s, config %s, owner %s, acl %s, symbol %s, body %s',
              pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
              l.lanname, p.prokind, p.provolatile, p.proisstrict, p.proparallel,
              p.prosecdef, p.proleakproof, p.proconfig,
              pg_get_userbyid(p.proowner), p.proacl,
              CASE WHEN l.lanname = 'c' THEN p.prosrc END,
              CASE WHEN l.lanname <> 'c' THEN md5(p.prosrc) END)
FROM func p JOIN pg_language l ON l.oid = p.prolang
UNION ALL
SELECT 'event trigger', e.evtname,
       format('on %s executes %s, enabled %s, tags %s, owner %s', e.evtevent,
              e.evtfoid::regproc, e.evtenabled, e.evttags,
              pg_get_userbyid(e.evtowner))
FROM pg_event_trigger e JOIN member m
    ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
UNION ALL
SELECT 'comment', pg_describe_object(m.classid, m.objid, m.objsubid), d.description
FROM member m JOIN pg_description d
    ON d.classoid = m.classid AND d.objoid = m.objid AND d.objsubid = m.objsubid
$$;

-- the upgraded install: what it is made of
CREATE TABLE upgraded AS SELECT * FROM ig_install_facts();
SELECT object AS member FROM upgraded WHERE kind = 'member' ORDER BY 1;
SELECT kind, count(*) AS facts FROM upgraded GROUP BY kind ORDER BY kind;

-- a fresh install, in the same database, without its rules: from scratch.
-- (While there is no full script of a later version, CREATE EXTENSION runs
-- the 0.1.0 script and then the update scripts, so this compares the
-- updates of a database in use with those of an empty one; a future full
-- install script is compared with the update path the same way.)
DROP EXTENSION insider_guard;
DROP SCHEMA insider_guard;
CREATE EXTENSION insider_guard;
SELECT extversion FROM pg_extension WHERE extname = 'insider_guard';

-- every fact of one that the other lacks: none, either way
CREATE FUNCTION ig_install_differences()
RETURNS TABLE (side text, kind text, object text, fact text)
LANGUAGE sql STABLE
AS $$
(SELECT 'only upgraded', * FROM upgraded
 EXCEPT
 SELECT 'only upgraded', * FROM ig_install_facts())
UNION ALL
(SELECT 'only fresh', * FROM ig_install_facts()
 EXCEPT
 SELECT 'only fresh', * FROM upgraded)
$$;
SELECT * FROM ig_install_differences() ORDER BY 1, 2, 3, 4;
SELECT count(*) AS facts_fresh FROM ig_install_facts();
SELECT count(*) AS facts_upgraded FROM upgraded;

-- the comparison does see a difference: an object changed in a
-- transaction, then rolled back
BEGIN;
GRANT SELECT ON insider_guard.violations TO upgrader;
GRANT SELECT ON insider_guard.info TO upgrader;
ALTER FUNCTION insider_guard.reset_history(regrole) STABLE;
ALTER TABLE insider_guard.thresholds ALTER COLUMN action SET DEFAULT 'log';
SELECT side, kind, object FROM ig_install_differences() ORDER BY 1, 2, 3;
ROLLBACK;
SELECT count(*) AS differences FROM ig_install_differences();

\c contrib_regression
DROP DATABASE ig_upgrade;
DROP ROLE upgrader;
