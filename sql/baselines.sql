--
-- baselines: rules whose limit comes from a role's own history and its
-- peers', seeded with record_history; every bad input; self, peers and
-- both; cold start; per-table and daily rules; privileges.
--
SELECT insider_guard.reset();
SELECT insider_guard.prune_violations('0 seconds') >= 0 AS pruned;
SET client_min_messages = log;   -- a LOG_SERVER_ONLY line must still not show
SET TIME ZONE 'UTC';             -- days are UTC days

-- this session's clock runs one minute past midnight (UTC), so that no
-- hour or day ends while the file runs and closes a window into history
SELECT set_config('insider_guard.test_clock_offset',
                  ((86400 - extract(epoch FROM clock_timestamp())::bigint % 86400 + 60) % 86400)::text,
                  false) IS NOT NULL AS clock_set;

-- moves insider_guard's clock of this session by whole days
CREATE FUNCTION shift_clock(days int) RETURNS bool LANGUAGE sql AS $$
    SELECT set_config('insider_guard.test_clock_offset',
                      (extract(epoch FROM current_setting('insider_guard.test_clock_offset')::interval)::bigint
                       + days * 86400)::text, false) IS NOT NULL $$;

-- the peer groups' memberships were granted 15 days ago (one younger
-- than 14 days raises no limit: see "a young membership" below)
SELECT shift_clock(-15) AS clock_back;
CREATE ROLE support NOLOGIN;
CREATE ROLE tiny NOLOGIN;
CREATE ROLE terry LOGIN IN ROLE support;
CREATE ROLE newbie LOGIN IN ROLE support;
CREATE ROLE p1 LOGIN IN ROLE support;
CREATE ROLE p2 LOGIN IN ROLE support;
CREATE ROLE p3 LOGIN IN ROLE support;
CREATE ROLE p4 LOGIN IN ROLE support;
CREATE ROLE p5 LOGIN IN ROLE support;
CREATE ROLE p6 LOGIN IN ROLE support;
CREATE ROLE loner LOGIN IN ROLE tiny;
CREATE ROLE t1 LOGIN IN ROLE tiny;
CREATE ROLE t2 LOGIN IN ROLE tiny;
CREATE ROLE t3 LOGIN IN ROLE tiny;
GRANT SELECT ON customers TO support, tiny;
SELECT shift_clock(15) AS clock_now;

-- rows a role read from customers in the last hour
CREATE FUNCTION creads(who name) RETURNS bigint LANGUAGE sql
AS $$ SELECT insider_guard.rows_read(who::regrole, '1 hour', 'customers') $$;

-- seeds 20 days of hourly windows, ending at midnight (UTC, real clock)
-- today -- the day this file started, so that seeding again seeds the
-- same windows even after midnight
SELECT set_config('baselines.today', date_trunc('day', now())::text, false)
       IS NOT NULL AS today_set;
CREATE FUNCTION seed(who name, low int, spread int, tbl regclass DEFAULT NULL, days int DEFAULT 20)
RETURNS bigint LANGUAGE sql AS $$
    SELECT count(insider_guard.record_history(who::regrole, tbl, '1 hour',
                 current_setting('baselines.today')::timestamptz - make_interval(hours => h),
                 low + h % spread))
    FROM generate_series(0, days * 24 - 1) h $$;

-- ---------------------------------------------------------------------
-- bad input: a clear error, and nothing changed
-- ---------------------------------------------------------------------
SELECT insider_guard.set_baseline_rule('terry', NULL);
SELECT insider_guard.set_baseline_rule('terry', 1);
SELECT insider_guard.set_baseline_rule('terry', 0.5);
SELECT insider_guard.set_baseline_rule('terry', 'NaN');
SELECT insider_guard.set_baseline_rule('terry', 'infinity');
SELECT insider_guard.set_baseline_rule('terry', 5, NULL);
SELECT insider_guard.set_baseline_rule('terry', 5, '2 hours');
SELECT insider_guard.set_baseline_rule('terry', 5, '30 minutes');
SELECT insider_guard.set_baseline_rule('terry', 5, '1 mon');
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', NULL);
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', -1);
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, NULL);
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, 'others');
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, 'self', NULL);
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, 'self', 'warn');
CREATE VIEW customer_view AS SELECT * FROM customers;
CREATE TEMP TABLE scratch (id int);
SELECT insider_guard.set_baseline_rule('terry', on_table => 'customer_view');
SELECT insider_guard.set_baseline_rule('terry', on_table => 'scratch');
SELECT insider_guard.set_baseline_rule('terry', on_table => 'pg_class');
SELECT insider_guard.set_baseline_rule('terry', on_table => 'insider_guard.baseline_rules');
SELECT insider_guard.set_baseline_rule('nobody_at_all');
SELECT insider_guard.set_baseline_rule('terry', on_table => 'no_such_table');
SELECT insider_guard.record_history(NULL, NULL, '1 hour', now() - interval '1 hour', 5);
SELECT insider_guard.record_history('terry', NULL, '2 hours', now() - interval '1 hour', 5);
SELECT insider_guard.record_history('terry', NULL, NULL, now() - interval '1 hour', 5);
SELECT insider_guard.record_history('terry', NULL, '1 hour', NULL, 5);
SELECT insider_guard.record_history('terry', NULL, '1 hour', now() + interval '2 days', 5);
SELECT insider_guard.record_history('terry', NULL, '1 hour', 'infinity', 5);
-- a window may not end inside the one being counted now (the clock's
-- half a minute ago is past midnight, in the current hour and day)
SELECT now() + current_setting('insider_guard.test_clock_offset')::interval
       - interval '30 seconds' AS half_a_minute_ago \gset
SELECT insider_guard.record_history('terry', NULL, '1 hour', :'half_a_minute_ago', 5);
SELECT insider_guard.record_history('terry', NULL, '1 day', :'half_a_minute_ago', 5);
SELECT insider_guard.record_history('terry', NULL, '1 hour', now() - interval '1 hour', NULL);
SELECT insider_guard.record_history('terry', NULL, '1 hour', now() - interval '1 hour', -1);
SELECT insider_guard.record_history('terry', 'customer_view', '1 hour', now() - interval '1 hour', 5);
SELECT insider_guard.add_peer_group(NULL);
SELECT insider_guard.drop_peer_group(NULL);
-- roles given as OIDs must exist (0 would read as "every role")
SELECT insider_guard.set_baseline_rule(0::regrole);
SELECT insider_guard.set_baseline_rule(987654321::regrole);
SELECT insider_guard.add_peer_group(987654321::regrole);
SELECT insider_guard.record_history(987654321::regrole, NULL, '1 hour', now() - interval '1 hour', 5);
INSERT INTO insider_guard.baseline_rules (role_name, per, factor, min_rows, compare_to, action)
VALUES (0, '1 hour', 5, 10, 'self', 'log');
-- direct DML gets the same checks
INSERT INTO insider_guard.baseline_rules (role_name, per, factor, min_rows, compare_to, action)
VALUES ('terry', '1 hour', 0.9, 10, 'self', 'log');
INSERT INTO insider_guard.baseline_rules (role_name, per, factor, min_rows, compare_to, action)
VALUES ('terry', '3 hours', 5, 10, 'self', 'log');
-- ids are shared with thresholds
SELECT insider_guard.set_threshold('terry', 1000000) AS tid \gset
\set VERBOSITY sqlstate
INSERT INTO insider_guard.baseline_rules (rule_id, role_name, per, factor, min_rows, compare_to, action)
VALUES (:tid, 'terry', '1 hour', 5, 10, 'self', 'log');
\set VERBOSITY default
SELECT insider_guard.drop_threshold(:tid) AS threshold_dropped;
-- the check needs no privilege on the other table: a role allowed to
-- insert thresholds need not read baseline rules
CREATE ROLE rule_writer;
GRANT USAGE ON SCHEMA insider_guard TO rule_writer;
GRANT USAGE ON SEQUENCE insider_guard.rule_id_seq TO rule_writer;
GRANT INSERT ON insider_guard.thresholds TO rule_writer;
SET ROLE rule_writer;
INSERT INTO insider_guard.thresholds (role_name, max_rows, per, action)
VALUES ('terry', 1000000, '1 hour', 'log');
SELECT count(*) FROM insider_guard.baseline_rules;
RESET ROLE;
SELECT count(*) AS inserted_by_rule_writer FROM insider_guard.thresholds WHERE created_by = current_user;
DELETE FROM insider_guard.thresholds;
REVOKE ALL ON insider_guard.thresholds, insider_guard.rule_id_seq FROM rule_writer;
REVOKE USAGE ON SCHEMA insider_guard FROM rule_writer;
DROP ROLE rule_writer;
SELECT count(*) AS no_rule_stored FROM insider_guard.baseline_rules;
SELECT count(*) AS no_history_stored FROM insider_guard.baselines;

-- ---------------------------------------------------------------------
-- history: terry reads ~5 rows an hour, his peers ~50; p6 is new
-- ---------------------------------------------------------------------
SELECT seed('terry', 4, 3) AS terry_windows;
SELECT seed(p, 40, 21) AS peer_windows FROM unnest('{p1,p2,p3,p4,p5}'::name[]) p;
SELECT seed('p6', 40, 21, days => 3) AS p6_windows;
SELECT seed(t, 40, 21) AS tiny_windows FROM unnest('{t1,t2,t3}'::name[]) t;
-- an idle window is not history
SELECT insider_guard.record_history('p6', NULL, '1 hour', now() - interval '30 days', 0);
SELECT insider_guard.add_peer_group('support');
SELECT insider_guard.add_peer_group('support');  -- once is enough
SELECT insider_guard.add_peer_group('tiny');
SELECT group_role, members FROM insider_guard.peer_groups ORDER BY group_role::text;
SELECT role_name, table_name, per, active_windows, days_seen, typical_rows,
       high_rows, peer_high_rows, limit_now, no_limit_reason
FROM insider_guard.baselines;

-- ---------------------------------------------------------------------
-- seeding a window again replaces it: the last call's rows count
-- ---------------------------------------------------------------------
CREATE TEMP TABLE seeded_once AS SELECT * FROM insider_guard.baselines;
CREATE FUNCTION baselines_changed() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (SELECT * FROM insider_guard.baselines
                          EXCEPT SELECT * FROM seeded_once) d $$;
-- the same windows again (a seeding script run twice): nothing doubles
SELECT seed('terry', 4, 3) AS terry_windows_again;
SELECT seed(p, 40, 21) AS peer_windows_again FROM unnest('{p1,p2,p3,p4,p5}'::name[]) p;
SELECT baselines_changed() AS changed_by_seeding_again;
-- other rows: the 10 oldest hours read 1,000 rows each instead
SELECT count(insider_guard.record_history('terry', NULL, '1 hour',
                 current_setting('baselines.today')::timestamptz - make_interval(hours => h), 1000))
FROM generate_series(470, 479) h;
SELECT active_windows, days_seen, typical_rows, high_rows
FROM insider_guard.baselines WHERE role_name = 'terry';
-- and back to what they were: the history is as seeded once
SELECT count(insider_guard.record_history('terry', NULL, '1 hour',
                 current_setting('baselines.today')::timestamptz - make_interval(hours => h), 4 + h % 3))
FROM generate_series(470, 479) h;
SELECT baselines_changed() AS changed_after_replacing_back;
-- 0 rows removes a seeded window: the 24 hours of the oldest day go, and
-- the day with them
SELECT count(insider_guard.record_history('terry', NULL, '1 hour',
                 current_setting('baselines.today')::timestamptz - make_interval(hours => h), 0))
FROM generate_series(456, 479) h;
SELECT active_windows, days_seen, typical_rows, high_rows
FROM insider_guard.baselines WHERE role_name = 'terry';
-- a window is the UTC hour holding the instant before window_end: an end
-- inside the hour names the hour it ends in, replaced by the second call
SELECT insider_guard.record_history('terry', NULL, '1 hour',
           current_setting('baselines.today')::timestamptz - interval '480 hours' + interval '1 second', 5);
SELECT insider_guard.record_history('terry', NULL, '1 hour',
           current_setting('baselines.today')::timestamptz - interval '479 hours' - interval '17 minutes', 6);
SELECT active_windows, days_seen FROM insider_guard.baselines WHERE role_name = 'terry';
SELECT seed('terry', 4, 3) AS terry_windows_back;
SELECT baselines_changed() AS changed_after_seeding_back;

-- ---------------------------------------------------------------------
-- self, log: 500 rows in an hour against 5 x p99 (7) floored at 100
-- ---------------------------------------------------------------------
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, 'self', 'log') AS terry_rule \gset
SELECT :terry_rule > :tid AS same_id_space;
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, 'self', 'log') = :terry_rule AS same_rule_updated;
SELECT role_name, per, limit_now FROM insider_guard.baselines WHERE role_name = 'terry';
SET SESSION AUTHORIZATION terry;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 500) s;
-- still over: no second record
SELECT count(*) FROM (SELECT id FROM customers LIMIT 50) s;
RESET SESSION AUTHORIZATION;
SELECT role_name, table_name, threshold_id = :terry_rule AS rule, rule_kind, max_rows, per,
       rows_in_window, statement_rows, action
FROM insider_guard.violations ORDER BY violation_id;

-- block: reading exactly the limit passes, one more row fails
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, 'self', 'block') = :terry_rule AS switched_to_block;
SELECT insider_guard.reset('terry');
SET SESSION AUTHORIZATION terry;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 100) s;
SELECT id FROM customers ORDER BY id LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT creads('terry') AS stopped_at_101;
-- in one statement, mid-read
SELECT insider_guard.reset('terry');
SET SESSION AUTHORIZATION terry;
SELECT count(*) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT creads('terry') AS stopped_mid_statement;
SELECT action, rule_kind, max_rows, rows_in_window, statement_rows
FROM insider_guard.violations ORDER BY violation_id DESC LIMIT 2;

-- a rolled-back rule never applies
SELECT insider_guard.drop_threshold(:terry_rule) AS dropped;
SELECT insider_guard.drop_threshold(:terry_rule) AS dropped_again;
BEGIN;
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, 'self', 'block') > 0 AS set_in_transaction;
ROLLBACK;
SELECT insider_guard.reset('terry');
SET SESSION AUTHORIZATION terry;
SELECT count(*) AS not_blocked FROM customers;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- peers and both: terry's peers' limit is 5 x 50 = 250
-- ---------------------------------------------------------------------
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, 'peers', 'block') AS peers_rule \gset
SELECT insider_guard.reset('terry');
SET SESSION AUTHORIZATION terry;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 250) s;
SELECT id FROM customers LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT creads('terry') AS peers_stopped_at_251;

-- both: 200 rows exceed his own limit (100) but not his peers' (250)
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 100, 'both', 'log') = :peers_rule AS both_rule;
SELECT insider_guard.reset('terry');
SELECT count(*) AS before FROM insider_guard.violations \gset
SET SESSION AUTHORIZATION terry;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 200) s;
RESET SESSION AUTHORIZATION;
SELECT count(*) - :before AS no_violation_within_both FROM insider_guard.violations;
SET SESSION AUTHORIZATION terry;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 100) s;
RESET SESSION AUTHORIZATION;
SELECT max_rows, rows_in_window, action FROM insider_guard.violations
ORDER BY violation_id DESC LIMIT 1;
SELECT insider_guard.drop_threshold(:peers_rule) AS dropped;

-- ---------------------------------------------------------------------
-- cold start: every role but superusers and exempt ones
-- ---------------------------------------------------------------------
SELECT insider_guard.set_baseline_rule(NULL, 5, '1 hour', 100, 'self', 'block') AS all_rule \gset
-- newbie has no history: his peers' limit applies (terry's windows are
-- pooled with theirs)
SET SESSION AUTHORIZATION newbie;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 250) s;
SELECT id FROM customers LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT creads('newbie') AS newbie_stopped_at_251;
-- the same under 'both': his own limit is not usable, so his peers'
-- applies alone -- not the cold-start limit (101), and not none
SELECT insider_guard.set_baseline_rule(NULL, 5, '1 hour', 100, 'both', 'block') = :all_rule AS switched_to_both;
SELECT insider_guard.reset('newbie');
SET SESSION AUTHORIZATION newbie;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 250) s;
SELECT id FROM customers LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT creads('newbie') AS newbie_under_both_stopped_at_251;
SELECT insider_guard.set_baseline_rule(NULL, 5, '1 hour', 100, 'self', 'block') = :all_rule AS back_to_self;
-- loner has no history and 3 peers with history: too few, no limit from
-- history; a block rule then applies its cold-start limit, min_rows (100)
SET SESSION AUTHORIZATION loner;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 100) s;
SELECT id FROM customers LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT creads('loner') AS loner_stopped_at_101;
SELECT threshold_id = :all_rule AS rule, rule_kind, max_rows, rows_in_window, action
FROM insider_guard.violations ORDER BY violation_id DESC LIMIT 1;
-- an exempt role is not covered by a rule for all roles
SELECT insider_guard.exempt('newbie');
SELECT insider_guard.reset('newbie');
SET SESSION AUTHORIZATION newbie;
SELECT count(*) AS exempt_not_stopped FROM customers;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.unexempt('newbie');
SELECT role_name, per, active_windows, peer_high_rows, limit_now, no_limit_reason
FROM insider_guard.baselines WHERE role_name IN ('newbie', 'loner');
-- a log rule, which only alerts, has no cold-start limit: loner reads on,
-- and nothing is recorded
SELECT insider_guard.set_baseline_rule(NULL, 5, '1 hour', 100, 'self', 'log') = :all_rule AS switched_to_log;
SELECT insider_guard.reset('loner');
SELECT count(*) AS before FROM insider_guard.violations \gset
SET SESSION AUTHORIZATION loner;
SELECT count(*) AS loner_not_stopped FROM customers;
RESET SESSION AUTHORIZATION;
SELECT count(*) - :before AS no_violation_under_log FROM insider_guard.violations;
SELECT role_name, per, limit_now, no_limit_reason
FROM insider_guard.baselines WHERE role_name = 'loner';
SELECT insider_guard.drop_threshold(:all_rule) AS dropped;

-- ---------------------------------------------------------------------
-- a rule that protects nobody yet says so: a NOTICE when it is set (the
-- roles it covers that can log in: none has a usable limit), and for
-- each role the baselines view says why
-- ---------------------------------------------------------------------
-- tiny's members compared with their peers: at most 3 peers with history
SELECT insider_guard.set_baseline_rule('tiny', 5, '1 hour', 100, 'peers', 'log') AS tiny_rule \gset
-- compared with themselves, t1..t3 have usable history: no NOTICE
SELECT insider_guard.set_baseline_rule('tiny', 5, '1 hour', 100, 'self', 'log') = :tiny_rule AS tiny_self;
SELECT insider_guard.drop_threshold(:tiny_rule) AS dropped;
-- one role, with no history of the table, nor peers with any: a block
-- rule protects with its cold-start limit (min_rows) and says so
SELECT insider_guard.set_baseline_rule('newbie', 5, '1 hour', 100, 'self', 'block', 'customers') AS newbie_rule \gset
SELECT insider_guard.reset('newbie');
SET SESSION AUTHORIZATION newbie;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 100) s;
SELECT id FROM customers LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT creads('newbie') AS newbie_stopped_at_101;
SELECT role_name, table_name, per, limit_now, no_limit_reason
FROM insider_guard.baselines WHERE role_name = 'newbie';
-- the same rule logging limits nobody
SELECT insider_guard.set_baseline_rule('newbie', 5, '1 hour', 100, 'self', 'log', 'customers') = :newbie_rule AS switched_to_log;
SELECT insider_guard.reset('newbie');
SET SESSION AUTHORIZATION newbie;
SELECT count(*) AS not_limited FROM customers;
RESET SESSION AUTHORIZATION;
SELECT role_name, table_name, per, limit_now, no_limit_reason
FROM insider_guard.baselines WHERE role_name = 'newbie';
SELECT insider_guard.drop_threshold(:newbie_rule) AS dropped;
-- daily windows: nobody was seeded any
SELECT insider_guard.set_baseline_rule('terry', 5, '1 day', 100, 'both', 'log') AS daily_rule \gset
SELECT insider_guard.drop_threshold(:daily_rule) AS dropped;
-- a group without members that can log in covers nobody
CREATE ROLE nobody_logs_in NOLOGIN;
SELECT insider_guard.set_baseline_rule('nobody_logs_in') AS empty_rule \gset
SELECT insider_guard.drop_threshold(:empty_rule) AS dropped;
DROP ROLE nobody_logs_in;

-- ---------------------------------------------------------------------
-- a table's own history, and daily windows
-- ---------------------------------------------------------------------
SELECT seed('terry', 2, 1, 'customers') AS terry_customer_windows;
SELECT count(insider_guard.record_history('terry', 'customers', '1 day',
                 date_trunc('day', now(), 'UTC') - make_interval(days => d), 100))
       AS terry_days
FROM generate_series(0, 29) d;
SELECT insider_guard.set_baseline_rule('terry', 5, '1 hour', 10, 'self', 'block', 'customers') AS table_rule \gset
SELECT insider_guard.reset('terry');
SET SESSION AUTHORIZATION terry;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 10) s;
SELECT id FROM customers LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT table_name, max_rows, rows_in_window FROM insider_guard.violations
ORDER BY violation_id DESC LIMIT 1;
SELECT insider_guard.drop_threshold(:table_rule) AS dropped;
-- 30 days of 100 rows: 5 x 112 = 560 a day
SELECT insider_guard.set_baseline_rule('terry', 5, '1 day', 100, 'self', 'block', 'customers') AS day_rule \gset
SELECT insider_guard.reset('terry');
SET SESSION AUTHORIZATION terry;
SELECT count(*) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT table_name, max_rows, per, rows_in_window FROM insider_guard.violations
ORDER BY violation_id DESC LIMIT 1;
SELECT role_name, table_name, per, active_windows, days_seen, typical_rows, high_rows, limit_now,
       no_limit_reason
FROM insider_guard.baselines WHERE role_name = 'terry';
-- a role that changed job starts its history afresh: its peers' limit
-- applies to its "self" rules until its own history is usable again
SELECT insider_guard.reset_history('terry') AS series_removed;
SELECT count(*) AS terry_series FROM insider_guard.baselines WHERE role_name = 'terry';
-- nobody has daily history of customers: terry's daily block rule is in
-- cold start, stopping him at min_rows (100) + 1 rows in the day
SELECT insider_guard.reset('terry');
SET SESSION AUTHORIZATION terry;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 100) s;
SELECT id FROM customers LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT threshold_id = :day_rule AS rule, max_rows, per, rows_in_window, action
FROM insider_guard.violations ORDER BY violation_id DESC LIMIT 1;
SELECT role_name, table_name, per, active_windows, limit_now, no_limit_reason
FROM insider_guard.baselines WHERE role_name = 'terry' AND per = '1 day';
-- as a log rule it stops nothing
SELECT insider_guard.set_baseline_rule('terry', 5, '1 day', 100, 'self', 'log', 'customers') = :day_rule AS switched_to_log;
SELECT insider_guard.reset('terry');
SET SESSION AUTHORIZATION terry;
SELECT count(*) AS after_reset_log_not_stopped FROM customers;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.reset_history('nobody_at_all');
-- dropping the table drops its baseline rules
CREATE TABLE doomed (id int);
SELECT insider_guard.set_baseline_rule('terry', on_table => 'doomed') > 0 AS doomed_rule;
DROP TABLE doomed;
SELECT array_agg(rule_id) = ARRAY[:day_rule]::bigint[] AS only_day_rule_left
FROM insider_guard.baseline_rules;
SELECT insider_guard.drop_threshold(:day_rule) AS dropped;

-- ---------------------------------------------------------------------
-- the members of a group share one pool of its windows, each compared
-- without itself: o1..o5 read ~50 rows an hour, oheavy ~5,000.  The same
-- backend matches them in turn, o1 first.
-- ---------------------------------------------------------------------
SELECT shift_clock(-15) AS clock_back;
CREATE ROLE ops NOLOGIN;
CREATE ROLE o1 LOGIN IN ROLE ops;
CREATE ROLE o2 LOGIN IN ROLE ops;
CREATE ROLE o3 LOGIN IN ROLE ops;
CREATE ROLE o4 LOGIN IN ROLE ops;
CREATE ROLE o5 LOGIN IN ROLE ops;
CREATE ROLE oheavy LOGIN IN ROLE ops;
SELECT shift_clock(15) AS clock_now;
GRANT SELECT ON customers TO ops;
SELECT seed(o, 40, 21) AS ops_windows FROM unnest('{o1,o2,o3,o4,o5}'::name[]) o;
SELECT seed('oheavy', 4000, 2001) AS heavy_windows;
SELECT insider_guard.add_peer_group('ops');
SELECT insider_guard.set_baseline_rule('ops', 5, '1 hour', 100, 'peers', 'block') AS ops_rule \gset
-- o1's peers include oheavy: a limit far above the table
SET SESSION AUTHORIZATION o1;
SELECT count(*) AS o1_not_stopped FROM customers;
RESET SESSION AUTHORIZATION;
-- oheavy's peers are the light five: 5 x 50
SET SESSION AUTHORIZATION oheavy;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 250) s;
SELECT id FROM customers LIMIT 1;
RESET SESSION AUTHORIZATION;
SELECT creads('oheavy') AS oheavy_stopped_at_251;
-- o2's peers include oheavy again
SET SESSION AUTHORIZATION o2;
SELECT count(*) AS o2_not_stopped FROM customers;
RESET SESSION AUTHORIZATION;
SELECT role_name, peer_high_rows, limit_now FROM insider_guard.baselines
WHERE role_name IN ('o1', 'o2', 'oheavy') ORDER BY role_name::text;
SELECT insider_guard.drop_threshold(:ops_rule) AS dropped;
SELECT insider_guard.drop_peer_group('ops');

-- ---------------------------------------------------------------------
-- a young membership: fresh joins support now.  For 14 days the group
-- raises none of its limits, so a peers block rule holds fresh to its
-- cold-start limit (min_rows, 100); 15 days on the peers' limit counts,
-- risen one bin from the 20 rows the cold start stood for (100 / 5):
-- 5 x 33 = 165, not 5 x 50 at once.
-- ---------------------------------------------------------------------
CREATE ROLE fresh LOGIN IN ROLE support;
SELECT insider_guard.set_baseline_rule('fresh', 5, '1 hour', 100, 'peers', 'block') AS fresh_rule \gset
SET SESSION AUTHORIZATION fresh;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 250) s;
RESET SESSION AUTHORIZATION;
SELECT creads('fresh') AS fresh_stopped_at_101;
SELECT role_name, peer_high_rows, limit_now, no_limit_reason
FROM insider_guard.baselines WHERE role_name = 'fresh';
SELECT shift_clock(15) AS clock_15_days_on;
SELECT role_name, peer_high_rows, limit_now, no_limit_reason
FROM insider_guard.baselines WHERE role_name = 'fresh';
SET SESSION AUTHORIZATION fresh;
SELECT count(*) AS fresh_reads_165 FROM (SELECT id FROM customers LIMIT 165) s;
RESET SESSION AUTHORIZATION;
SELECT shift_clock(-15) AS clock_back;
SELECT insider_guard.drop_threshold(:fresh_rule) AS dropped;
DROP ROLE fresh;

-- ---------------------------------------------------------------------
-- novelty rules: a table that neither the role nor a peer has read
-- ---------------------------------------------------------------------
-- bad inputs: 22023 (and a role that does not exist)
SELECT insider_guard.set_novelty_rule('p1', NULL);
SELECT insider_guard.set_novelty_rule('p1', -1);
SELECT insider_guard.set_novelty_rule('p1', 10, 'warn');
SELECT insider_guard.set_novelty_rule('p1', 10, NULL);
SELECT insider_guard.set_novelty_rule(987654321::regrole);
-- direct DML keeps a novelty row's shape
INSERT INTO insider_guard.baseline_rules (role_name, per, factor, min_rows, compare_to, action)
VALUES ('p1', '1 day', 2, 10, 'novelty', 'log');
INSERT INTO insider_guard.baseline_rules (role_name, per, factor, min_rows, compare_to, action)
VALUES ('p1', '1 hour', 1, 10, 'novelty', 'log');
INSERT INTO insider_guard.baseline_rules (role_name, table_name, per, factor, min_rows, compare_to, action)
VALUES ('p1', 'customers', '1 day', 1, 10, 'novelty', 'log');
-- and set_baseline_rule sets no novelty rule
SELECT insider_guard.set_baseline_rule('p1', 1, '1 day', 10, 'novelty');
SELECT insider_guard.set_baseline_rule('p1', 2, '1 day', 10, 'novelty');

CREATE TABLE secrets (id int PRIMARY KEY);
INSERT INTO secrets SELECT generate_series(1, 200);
CREATE TABLE ledger (id int PRIMARY KEY);
INSERT INTO ledger SELECT generate_series(1, 200);
GRANT SELECT ON secrets, ledger TO support;
SELECT insider_guard.set_novelty_rule('p1', 10, 'block') AS novelty_rule \gset
-- set again: the same rule, changed in place; beside a daily baseline rule
SELECT insider_guard.set_novelty_rule('p1', 10, 'block') = :novelty_rule AS same_id;
SELECT insider_guard.set_baseline_rule('p1', 5, '1 day', 100000, 'self', 'log') AS p1_daily \gset
SELECT role_name, table_name, per, factor, min_rows, compare_to, action
FROM insider_guard.baseline_rules WHERE role_name = 'p1'::regrole ORDER BY rule_id;
-- for its first week it learns: p1 reads ledger, which nobody has read,
-- on three days (one read would not make it p1's)
SET SESSION AUTHORIZATION p1;
SELECT count(*) AS learning_ledger FROM ledger;
RESET SESSION AUTHORIZATION;
SELECT shift_clock(1) AS next_day;
SET SESSION AUTHORIZATION p1;
SELECT count(*) AS learning_ledger FROM ledger;
RESET SESSION AUTHORIZATION;
SELECT shift_clock(1) AS next_day;
SET SESSION AUTHORIZATION p1;
SELECT count(*) AS learning_ledger FROM ledger;
RESET SESSION AUTHORIZATION;
SELECT table_name, per, limit_now, no_limit_reason LIKE 'novelty rule learning until %' AS learning
FROM insider_guard.baselines WHERE role_name = 'p1' AND table_name = 'public.ledger';
-- 8 days on: p1 reads ~50 rows an hour, so up to max(10, 50) rows a day
-- of secrets, which no member of support has read
SELECT shift_clock(6) AS clock_8_days_on;
SET SESSION AUTHORIZATION p1;
SELECT count(*) FROM (SELECT id FROM secrets LIMIT 50) s;
SELECT count(*) FROM (SELECT id FROM secrets LIMIT 60) s;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.rows_read('p1', '1 day', 'secrets') AS p1_stopped_at_51;
SELECT rule_kind, threshold_id = :novelty_rule AS the_rule, max_rows, per, action
FROM insider_guard.violations WHERE role_name = 'p1' ORDER BY violation_id DESC LIMIT 1;
SELECT table_name, per, limit_now, no_limit_reason FROM insider_guard.baselines
WHERE role_name = 'p1' AND table_name = 'public.secrets';
-- ledger, which p1 read on three days of its learning week, is not new
-- to it: the last day's window is in its history once it closed (here
-- with p1's next read of ledger; on a live server the background worker
-- closes it just after midnight).  Nor is customers once terry, a peer,
-- has usable history of it.
SET SESSION AUTHORIZATION p1;
SELECT count(*) AS closes_the_window FROM (SELECT id FROM ledger LIMIT 1) s;
SELECT pg_sleep(1.1);  -- limits take a closed window in within a second
SELECT count(*) AS ledger_not_new FROM ledger;
SELECT count(*) FROM (SELECT id FROM customers LIMIT 150) s;
RESET SESSION AUTHORIZATION;
SELECT count(insider_guard.record_history('terry', 'customers', '1 day',
       current_setting('baselines.today')::timestamptz - make_interval(days => d), 100))
       AS terry_read_customers_20_days FROM generate_series(1, 20) d;
SELECT insider_guard.reset('p1');
SET SESSION AUTHORIZATION p1;
SELECT count(*) AS customers_not_new FROM (SELECT id FROM customers LIMIT 150) s;
RESET SESSION AUTHORIZATION;
SELECT table_name, per, limit_now, no_limit_reason FROM insider_guard.baselines
WHERE role_name = 'p1' AND table_name IN ('public.ledger', 'public.customers')
  AND per = '1 day' ORDER BY table_name;
-- a peer, p2, has read secrets: not new any more
SELECT count(insider_guard.record_history('p2', 'secrets', '1 day',
       current_setting('baselines.today')::timestamptz - make_interval(days => d), 40))
       AS p2_read_secrets_20_days FROM generate_series(1, 20) d;
SELECT insider_guard.reset('p1');
SET SESSION AUTHORIZATION p1;
SELECT count(*) AS p1_reads_all_200 FROM secrets;
RESET SESSION AUTHORIZATION;
SELECT shift_clock(-8) AS clock_back;
-- (a peer's one window of a table does not make it known: see 033_novelty)
SELECT insider_guard.drop_threshold(:novelty_rule) AS dropped,
       insider_guard.drop_threshold(:p1_daily) AS dropped_daily;
DROP TABLE secrets, ledger;
SELECT insider_guard.reset_history('p2') > 0 AS p2_history_forgotten,
       insider_guard.reset_history('terry') > 0 AS terry_history_forgotten;

-- ---------------------------------------------------------------------
-- 7-day rules: the rows of the last 7 days against factor x the p99 of
-- the role's past 7-day totals, which are taken once a day
-- ---------------------------------------------------------------------
CREATE ROLE wendy LOGIN;
GRANT SELECT ON customers TO wendy;
SELECT insider_guard.set_baseline_rule('wendy', 2, '3 days');
SELECT insider_guard.set_baseline_rule('wendy', 2, '8 days');
SELECT insider_guard.set_baseline_rule('wendy', 2, '7 days 1 second');
INSERT INTO insider_guard.baseline_rules (role_name, per, factor, min_rows, compare_to, action)
VALUES ('wendy', '14 days', 2, 10, 'self', 'log');
SELECT insider_guard.record_history('wendy', NULL, '6 days', now() - interval '2 days', 5);
-- a 7-day total ends with a day: not with the one under way
SELECT insider_guard.record_history('wendy', 'customers', '7 days', :'half_a_minute_ago', 5);
-- 30 days of 7-day totals of 100 .. 140 rows, the last ending at midnight
SELECT count(insider_guard.record_history('wendy', 'customers', '7 days',
             current_setting('baselines.today')::timestamptz - make_interval(days => d),
             100 + d % 5 * 10)) AS week_totals_seeded
FROM generate_series(0, 29) d;
-- '1 week' and '6 days 24 hours' are 7 days: the same rule
SELECT insider_guard.set_baseline_rule('wendy', 2, '1 week', 50, 'self', 'block', 'customers') AS week_rule \gset
SELECT insider_guard.set_baseline_rule('wendy', 2, '6 days 24 hours', 50, 'self', 'block', 'customers') = :week_rule
       AS same_rule;
SELECT per, factor, min_rows, compare_to, action FROM insider_guard.baseline_rules
WHERE rule_id = :week_rule;
SELECT role_name, table_name, per, active_windows, days_seen, typical_rows, high_rows, limit_now,
       no_limit_reason
FROM insider_guard.baselines WHERE role_name = 'wendy';
-- the 7 days' rows are one budget: stopped at the limit, mid-statement
SELECT insider_guard.reset('wendy');
SET SESSION AUTHORIZATION wendy;
SELECT count(*) AS first_100 FROM (SELECT id FROM customers LIMIT 100) s;
SELECT count(*) FROM customers;
RESET SESSION AUTHORIZATION;
SELECT threshold_id = :week_rule AS rule, rule_kind, max_rows, per, rows_in_window, action
FROM insider_guard.violations ORDER BY violation_id DESC LIMIT 1;
SELECT insider_guard.rows_read('wendy', '7 days', 'customers') AS wendy_7_days;
-- two days later the 7 days still hold those rows: still stopped
SELECT shift_clock(2) AS two_days_on;
SET SESSION AUTHORIZATION wendy;
SELECT id FROM customers LIMIT 1;
RESET SESSION AUTHORIZATION;
-- and the day that broke the rule fed no 7-day total to the history
SELECT per, active_windows FROM insider_guard.baselines WHERE role_name = 'wendy';
-- a 7-day total is taken at the end of each day the role read: 9 days
-- on, with the history forgotten (the block rule's cold start holds wendy
-- to min_rows, 50, in 7 days), 20 rows one day and 25 the next are
-- totals of 20 and 45, not 25: the newer, weighing more, is the p50, in
-- the bin of 42 .. 62 rows (shown as 50; 25 would show as 22)
SELECT shift_clock(7) AS nine_days_on;
SELECT insider_guard.reset_history('wendy') AS wendy_series_forgotten;
SET SESSION AUTHORIZATION wendy;
SELECT count(*) AS read_20 FROM (SELECT id FROM customers LIMIT 20) s;
RESET SESSION AUTHORIZATION;
SELECT shift_clock(1) AS ten_days_on;
SET SESSION AUTHORIZATION wendy;
SELECT count(*) AS read_25 FROM (SELECT id FROM customers LIMIT 25) s;
RESET SESSION AUTHORIZATION;
SELECT shift_clock(1) AS eleven_days_on;
SET SESSION AUTHORIZATION wendy;
SELECT count(*) AS read_1 FROM (SELECT id FROM customers LIMIT 1) s;
-- 20 + 25 + 1 + 5 > 50
SELECT count(*) FROM (SELECT id FROM customers LIMIT 5) s;
RESET SESSION AUTHORIZATION;
SELECT per, active_windows, typical_rows, high_rows, limit_now, no_limit_reason
FROM insider_guard.baselines WHERE role_name = 'wendy';
SELECT shift_clock(-11) AS clock_back;
SELECT insider_guard.drop_threshold(:week_rule) AS dropped,
       insider_guard.reset_history('wendy') AS wendy_series_forgotten;
REVOKE SELECT ON customers FROM wendy;
DROP ROLE wendy;

-- ---------------------------------------------------------------------
-- privileges: a watched role sees and changes nothing
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION terry;
SELECT * FROM insider_guard.baselines;
SELECT * FROM insider_guard._baselines_v2();
SELECT * FROM insider_guard.peer_groups;
SELECT * FROM insider_guard.baseline_rules;
SELECT * FROM insider_guard.peer_group_roles;
SELECT insider_guard.set_baseline_rule('terry', 1000);
SELECT insider_guard.record_history('terry', NULL, '1 hour', now() - interval '1 hour', 1000000);
SELECT insider_guard.add_peer_group('support');
SELECT insider_guard.drop_peer_group('support');
SELECT insider_guard.reset_history('terry');
RESET SESSION AUTHORIZATION;
-- an auditor granted the views reads them
GRANT SELECT ON insider_guard.baselines, insider_guard.peer_groups TO auditor;
SET SESSION AUTHORIZATION auditor;
SELECT role_name, per, active_windows FROM insider_guard.baselines
WHERE role_name = 'p1' AND table_name IS NULL;
SELECT group_role FROM insider_guard.peer_groups ORDER BY 1;
RESET SESSION AUTHORIZATION;
REVOKE SELECT ON insider_guard.baselines, insider_guard.peer_groups FROM auditor;

SELECT insider_guard.drop_peer_group('support');
SELECT insider_guard.drop_peer_group('tiny');
SELECT count(*) AS groups_left FROM insider_guard.peer_groups;
RESET insider_guard.test_clock_offset;
SELECT insider_guard.reset();
