--
-- info: one row about insider_guard in the whole server -- shared memory
-- in use and its limits, what did not fit, the violations store, the
-- last save -- and who may read it.
--
SELECT insider_guard.reset();

-- the view's columns and types: monitoring (the Prometheus exporter's
-- queries) reads these names
SELECT attname, format_type(atttypid, atttypmod)
FROM pg_attribute
WHERE attrelid = 'insider_guard.info'::regclass AND attnum > 0
ORDER BY attnum;

-- one row; the limits are the settings; nothing failed for lack of room
-- (10,000 counters, 64MB of records); the totals count from the start
SELECT count(*) AS rows FROM insider_guard.info;
SELECT max_tracked = current_setting('insider_guard.max_tracked')::bigint AS max_tracked_is_setting,
       history_series_max = current_setting('insider_guard.max_history')::bigint AS history_max_is_setting,
       evictions, fail_closed_statements, rule_checks_skipped, records_dropped,
       stats_reset_at BETWEEN pg_postmaster_start_time() - interval '1 minute' AND now()
           AS reset_at_start,
       last_save_at IS NULL OR last_save_at BETWEEN stats_reset_at AND clock_timestamp()
           AS saved_since_reset
FROM insider_guard.info;

-- counters in use: of every database; alice's here among them
SET SESSION AUTHORIZATION alice;
SELECT count(*) FROM small;
RESET SESSION AUTHORIZATION;
SELECT counters_in_use >= 2 AS alice_counted,
       counters_in_use >= (SELECT count(*) FROM insider_guard.role_activity) AS at_least_this_database
FROM insider_guard.info;

-- history series in use: a seeded series is one more
SELECT history_series_in_use AS series_before FROM insider_guard.info \gset
SELECT insider_guard.record_history('alice', 'small', '1 hour',
                                    date_trunc('hour', now()) - interval '1 hour', 5);
SELECT history_series_in_use - :series_before AS new_series FROM insider_guard.info;
SELECT insider_guard.reset_history('alice') AS series_removed;
SELECT history_series_in_use - :series_before AS series_after_reset FROM insider_guard.info;

-- violation records: a block makes one; a repeat of its incident none
SELECT violation_records AS records_before, violation_bytes AS bytes_before
FROM insider_guard.info \gset
SELECT insider_guard.set_threshold('alice', 3, '1 hour', 'block', 'small') > 0 AS block_3;
SET SESSION AUTHORIZATION alice;
SELECT v FROM small ORDER BY id;
RESET SESSION AUTHORIZATION;
SELECT violation_records - :records_before AS new_records,
       violation_bytes > :bytes_before AS more_bytes
FROM insider_guard.info;
SET SESSION AUTHORIZATION alice;
SELECT v FROM small WHERE id = 1;
RESET SESSION AUTHORIZATION;
SELECT violation_records - :records_before AS still_one_record FROM insider_guard.info;
-- of every database: at least this one's
SELECT violation_records >= (SELECT count(*) FROM insider_guard.violations) AS at_least_this_database
FROM insider_guard.info;
-- records pruned leave the store (no other database has any here)
SELECT insider_guard.prune_violations('0 seconds') > 0 AS pruned;
SELECT violation_records AS records_after_prune FROM insider_guard.info;
DELETE FROM insider_guard.thresholds;
SELECT insider_guard.reset('alice');

-- privileges: PUBLIC gets nothing, the function behind the view checks
-- SELECT on it; granting the view is enough
SELECT has_table_privilege('public', 'insider_guard.info', 'SELECT') AS public_may_select,
       has_table_privilege('alice', 'insider_guard.info', 'SELECT') AS alice_may_select;
SET SESSION AUTHORIZATION alice;
SELECT * FROM insider_guard.info;
SELECT * FROM insider_guard._info();
RESET SESSION AUTHORIZATION;
GRANT SELECT ON insider_guard.info TO auditor;
SET SESSION AUTHORIZATION auditor;
SELECT count(*) AS auditor_reads, bool_and(max_tracked > 0) AS with_values
FROM insider_guard.info;
SELECT count(*) AS auditor_calls FROM insider_guard._info();
RESET SESSION AUTHORIZATION;
REVOKE SELECT ON insider_guard.info FROM auditor;
SET SESSION AUTHORIZATION auditor;
SELECT * FROM insider_guard.info;
RESET SESSION AUTHORIZATION;
