--
-- surface: the functions, the view and the settings, with bad arguments.
--
SELECT insider_guard.reset();

-- the view's columns and types, as the contract fixes them
SELECT attname, format_type(atttypid, atttypmod)
FROM pg_attribute
WHERE attrelid = 'insider_guard.role_activity'::regclass AND attnum > 0
ORDER BY attnum;

-- one row per table read, and one (table_name NULL) for all tables
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
SELECT count(*) FROM customers WHERE id <= 3;
RESET SESSION AUTHORIZATION;
SELECT role_name, table_name, rows_last_minute, rows_last_hour, rows_last_day,
       statements, last_read_at > now() - interval '1 minute' AS recent
FROM insider_guard.role_activity WHERE role_name = 'alice'
ORDER BY table_name NULLS FIRST;

-- rows_read: windows from 1 minute to 30 days, any length between
SELECT insider_guard.rows_read('alice', '1 minute') AS one_minute,
       insider_guard.rows_read('alice', '17 minutes', 'small') AS odd_window,
       insider_guard.rows_read('alice', '30 days') AS thirty_days,
       insider_guard.rows_read('alice', '720 hours') AS also_thirty_days,
       insider_guard.rows_read('bob', '1 hour') AS bob_read_nothing;
-- NULL role or window: NULL; a group role reads nothing itself
SELECT insider_guard.rows_read(NULL, '1 hour') IS NULL AS null_role,
       insider_guard.rows_read('alice', NULL) IS NULL AS null_per,
       insider_guard.rows_read('analysts', '1 hour') AS group_role;

-- bad windows: 22023
SELECT insider_guard.rows_read('alice', '59 seconds');
SELECT insider_guard.rows_read('alice', '30 days 1 second');
SELECT insider_guard.rows_read('alice', '1 month');
SELECT insider_guard.rows_read('alice', '1 year');
SELECT insider_guard.rows_read('alice', '-1 hour');
SELECT insider_guard.rows_read('alice', '2 days -50 hours');
-- bad tables: 42809
CREATE VIEW small_view AS SELECT * FROM small;
CREATE SEQUENCE some_seq;
CREATE TEMP TABLE tmp_t (a int);
SELECT insider_guard.rows_read('alice', '1 hour', 'small_view');
SELECT insider_guard.rows_read('alice', '1 hour', 'some_seq');
SELECT insider_guard.rows_read('alice', '1 hour', 'tmp_t');
SELECT insider_guard.rows_read('alice', '1 hour', 'pg_class');
SELECT insider_guard.rows_read('alice', '1 hour', 'small_pkey');
-- unknown role or table: as regrole and regclass input
SELECT insider_guard.rows_read('nobody', '1 hour');
SELECT insider_guard.rows_read('alice', '1 hour', 'no_such_table');
SELECT insider_guard.rows_read('alice', '1 hour', 123456789::oid::regclass);
-- the SQLSTATEs
\set VERBOSITY sqlstate
SELECT insider_guard.rows_read('alice', '1 month');
SELECT insider_guard.rows_read('alice', '59 seconds');
SELECT insider_guard.rows_read('alice', '1 hour', 'small_view');
SELECT insider_guard.rows_read('alice', '1 hour', 'tmp_t');
SELECT insider_guard.rows_read('alice', '1 hour', 'pg_class');
SELECT insider_guard.rows_read('nobody', '1 hour');
SET SESSION AUTHORIZATION alice;
SET insider_guard.enabled = off;
RESET SESSION AUTHORIZATION;
\set VERBOSITY default

-- reset of one role leaves the others
SET SESSION AUTHORIZATION bob;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.reset('alice');
SELECT reads() AS alice, reads(NULL, 'bob') AS bob;
SELECT insider_guard.reset();
SELECT reads(NULL, 'bob') AS bob_after_reset_all;
SELECT count(*) AS rows_left FROM insider_guard.role_activity;

-- settings, with their defaults (test.sh runs the suite a second time
-- with insider_guard.fast_scans off)
SELECT name, boot_val, context, vartype FROM pg_settings
WHERE name LIKE 'insider_guard.%' ORDER BY name;
SET insider_guard.max_tracked = 5;
SET insider_guard.custom_windows = 2;
SET insider_guard.batch_rows = 0;
SET insider_guard.no_such_setting = 1;
-- a watched role cannot switch counting off, nor touch the clock
SET SESSION AUTHORIZATION alice;
SET insider_guard.enabled = off;
SET insider_guard.test_clock_offset = 3600;
SET insider_guard.batch_rows = 1000000;
SELECT set_config('insider_guard.enabled', 'off', false);
SHOW insider_guard.enabled;
RESET SESSION AUTHORIZATION;
ALTER ROLE alice SET insider_guard.enabled = off;
SET SESSION AUTHORIZATION alice;
ALTER ROLE alice SET insider_guard.enabled = off;
RESET SESSION AUTHORIZATION;
ALTER ROLE alice RESET insider_guard.enabled;

-- the test clock: rows read more than a window ago stop counting
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT insider_guard.rows_read('alice', '1 minute') AS now_1m;
SET insider_guard.test_clock_offset = 62;
SELECT insider_guard.rows_read('alice', '1 minute') AS after_62s_1m,
       insider_guard.rows_read('alice', '1 hour') AS after_62s_1h;
SET insider_guard.test_clock_offset = 3662;
SELECT insider_guard.rows_read('alice', '1 hour') AS after_1h_1h,
       insider_guard.rows_read('alice', '1 day') AS after_1h_1d;
SELECT rows_last_minute, rows_last_hour, rows_last_day
FROM insider_guard.role_activity WHERE role_name = 'alice' AND table_name IS NULL;
RESET insider_guard.test_clock_offset;

DROP VIEW small_view;
DROP SEQUENCE some_seq;
