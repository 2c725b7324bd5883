/*-------------------------------------------------------------------------
 *
 * guc.c
 *		insider_guard's settings.
 *
 * Settings that change what is counted or enforced are superuser-only
 * (PGC_SUSET): a watched role cannot SET them, nor ALTER ROLE ... SET
 * them for itself.  Sizes of shared memory are fixed at server start.
 *
 * IDENTIFICATION
 *		src/base/guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "base/compat.h"

#include "base/guc.h"

/*
 * insider_guard.enabled: count and enforce.  Superuser-only, so that a
 * watched role cannot switch itself off.
 */
bool		ig_enabled = true;

/*
 * insider_guard.fast_scans: let a sequential or index-only scan with no
 * filter and no projection be counted by a trampoline that stands in for
 * core's scan function (fastscan_seq.c, fastscan_ios.c) rather than one
 * that wraps it, where the release was checked.  Read when a node is
 * wrapped, as a statement's executor (or an EvalPlanQual recheck) starts:
 * a change applies from the next statement.  Superuser-only: it changes
 * the code a watched role's scans run through.
 */
bool		ig_fast_scans = true;

/*
 * insider_guard.max_tracked: (database, role, table) counters kept in
 * shared memory.  Fixed at server start.
 */
int			ig_max_tracked = 10000;

/*
 * insider_guard.batch_rows: rows a process may count against a threshold
 * before settling with shared memory.  The overshoot of a threshold by
 * concurrent processes of one role is at most (processes) x batch_rows.
 */
int			ig_batch_rows = 1000;

/*
 * insider_guard.custom_windows: window lengths, beyond the built-in
 * 1 minute, 1 hour, 1 day and 30 days, that every counter keeps exactly.
 * Each costs 336 bytes per counter.  Fixed at server start.
 */
int			ig_custom_windows = 1;

/*
 * insider_guard.save_interval: seconds between saves of the counters to
 * disk by the background worker; what a crash can lose.
 */
int			ig_save_interval = 30;

/*
 * insider_guard.violations_max_size: disk the violation records may take
 * (kB); the oldest are dropped first when it is full.
 */
int			ig_violations_max_size = 65536;

/*
 * insider_guard.max_history: history series of behavioural baselines kept
 * in shared memory (one per role, table and window kind).  Fixed at
 * server start.
 */
int			ig_max_history = 10000;

/*
 * insider_guard.log_format: the form of the lines insider_guard writes to
 * the server log at level LOG (violations, admin actions, evictions...):
 * text, or one JSON object each (event.c, docs/events.md).  Read by each
 * process as it writes a line.  Superuser-only: a watched role must not
 * change the form of the lines that report it, whatever a log shipper
 * expects.
 */
int			ig_log_format = IG_LOG_FORMAT_TEXT;

/*
 * insider_guard.citus_budget: on a Citus worker, how the block limits of a
 * Citus connection's session are shared by the nodes (docs/citus-notes.md,
 * "Cluster budget"): node (each node the whole limit), share (a static
 * share by shard placements: cache/budget.c), lease (rows leased from
 * the coordinator).  Read per statement; reloaded with the configuration.
 */
int			ig_citus_budget = IG_CITUS_BUDGET_LEASE;

static const struct config_enum_entry citus_budget_options[] = {
	{"node", IG_CITUS_BUDGET_NODE, false},
	{"share", IG_CITUS_BUDGET_SHARE, false},
	{"lease", IG_CITUS_BUDGET_LEASE, false},
	{NULL, 0, false}
};

static const struct config_enum_entry log_format_options[] = {
	{"text", IG_LOG_FORMAT_TEXT, false},
	{"json", IG_LOG_FORMAT_JSON, false},
	{NULL, 0, false}
};

/*
 * insider_guard.citus_sync_interval: seconds between background checks
 * that every Citus worker holds the coordinator's rules (sql/citus_sync.c);
 * 0 turns them off.
 */
int			ig_citus_sync_interval = 10;

/*
 * Changes whenever the limits scaled for it may have to be scaled again:
 * the setting changed, or the relations cache (where the shares are kept)
 * was dropped.  Never 0 (a rule list's "never scaled").
 */
uint32		ig_citus_budget_gen = 1;

/* A new value of insider_guard.citus_budget: limits are scaled again. */
static void
citus_budget_assign(int newval, void *extra)
{
	if (newval != ig_citus_budget && ++ig_citus_budget_gen == 0)
		ig_citus_budget_gen = 1;
}

#ifdef IG_TESTING
/*
 * insider_guard.test_clock_offset: seconds added to the clock insider_guard
 * reads.  For tests that need time to pass; superuser-only, 0 by default.
 * Only test builds (make IG_TESTING=1, as test.sh builds) have it.
 */
int			ig_test_clock_offset = 0;
#endif

/*
 * Defines the settings.  Those fixed at server start can only be defined
 * while the postmaster loads shared_preload_libraries.
 */
void
ig_define_settings(bool preloaded)
{
	DefineCustomBoolVariable("insider_guard.enabled",
							 "Counts the rows each role reads and enforces thresholds.",
							 "Superuser-only: a watched role cannot switch it off.",
							 &ig_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("insider_guard.fast_scans",
							 "Counts plain sequential and index-only scans in place of PostgreSQL's own scan function.",
							 "Used only on PostgreSQL releases the fast paths were checked against; off, such scans are counted around PostgreSQL's own function.  Applies from the next statement.",
							 &ig_fast_scans,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("insider_guard.batch_rows",
							"Rows a process may read against a threshold before settling with shared memory.",
							"Concurrent processes of one role may overshoot a threshold by at most this many rows each.",
							&ig_batch_rows,
							1000,
							1, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("insider_guard.save_interval",
							"Time between saves of the counters to disk.",
							"A crash loses at most the reads of this last interval.",
							&ig_save_interval,
							30,
							1, 60,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("insider_guard.violations_max_size",
							"Disk space the violation records may take.",
							"When it is full, the oldest records are dropped first, and the server log says how many.",
							&ig_violations_max_size,
							65536,
							1024, INT_MAX / 1024,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("insider_guard.log_format",
							 "Form of insider_guard's lines in the server log: text or json.",
							 "json: each line insider_guard writes at level LOG is one JSON object after \"insider_guard: \".  Superuser-only.",
							 &ig_log_format,
							 IG_LOG_FORMAT_TEXT,
							 log_format_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("insider_guard.citus_budget",
							 "How the nodes of a Citus cluster share a block limit: node, share or lease.",
							 "node: each node enforces the whole limit; share: each node a share of a distributed table's limits by its shard placements; lease: workers lease rows from the coordinator.",
							 &ig_citus_budget,
							 IG_CITUS_BUDGET_LEASE,
							 citus_budget_options,
							 PGC_SIGHUP,
							 0,
							 NULL, citus_budget_assign, NULL);

	DefineCustomIntVariable("insider_guard.citus_sync_interval",
							"Seconds between background checks that every Citus worker holds the coordinator's rules (0: none).",
							"A worker added after the rules, or down while they changed, gets them within this time.",
							&ig_citus_sync_interval,
							10,
							0, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

#ifdef IG_TESTING
	DefineCustomIntVariable("insider_guard.test_clock_offset",
							"Seconds added to insider_guard's clock, for tests.",
							NULL,
							&ig_test_clock_offset,
							0,
							-366 * 86400, 366 * 86400,
							PGC_SUSET,
							GUC_NOT_IN_SAMPLE | GUC_UNIT_S,
							NULL, NULL, NULL);
#endif

	if (!preloaded)
	{
		MarkGUCPrefixReserved("insider_guard");
		return;
	}

	DefineCustomIntVariable("insider_guard.max_tracked",
							"Maximum number of (database, role, table) counters kept in shared memory.",
							NULL,
							&ig_max_tracked,
							10000,
							10, 10000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("insider_guard.max_history",
							"Maximum number of history series of behavioural baselines kept in shared memory.",
							"One per role, table and window kind (hours, days, 7-day totals); the least recently used are evicted when full.",
							&ig_max_history,
							10000,
							10, 10000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("insider_guard.custom_windows",
							"Window lengths, besides 1 minute, 1 hour, 1 day and 30 days, counted exactly.",
							NULL,
							&ig_custom_windows,
							1,
							0, IG_MAX_CUSTOM_WINDOWS,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("insider_guard");
}
