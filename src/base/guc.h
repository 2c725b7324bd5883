/*-------------------------------------------------------------------------
 *
 * guc.h
 *		insider_guard's settings, and the clock every module reads.
 *
 * src/base/guc.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_GUC_H
#define IG_GUC_H

#include "datatype/timestamp.h"
#include "access/xact.h"
#include "utils/timestamp.h"

/* the most windows insider_guard.custom_windows may ask for */
#define IG_MAX_CUSTOM_WINDOWS 16

/* insider_guard.log_format */
typedef enum IgLogFormat
{
	IG_LOG_FORMAT_TEXT,
	IG_LOG_FORMAT_JSON
} IgLogFormat;

extern bool ig_enabled;
extern bool ig_fast_scans;
extern int	ig_max_tracked;
extern int	ig_batch_rows;
extern int	ig_custom_windows;
extern int	ig_save_interval;
extern int	ig_violations_max_size;
extern int	ig_max_history;
extern int	ig_log_format;
extern int	ig_citus_budget;
extern uint32 ig_citus_budget_gen;
extern int	ig_citus_sync_interval;

/* insider_guard.citus_budget: how a Citus cluster shares a block limit */
typedef enum IgCitusBudget
{
	IG_CITUS_BUDGET_NODE,		/* each node enforces the whole limit */
	IG_CITUS_BUDGET_SHARE,		/* each node a static share of it */
	IG_CITUS_BUDGET_LEASE		/* leased from the coordinator */
} IgCitusBudget;

extern void ig_define_settings(bool preloaded);

#ifdef IG_TESTING
extern int	ig_test_clock_offset;

/*
 * Wall-clock time as insider_guard sees it: the server's clock plus the
 * superuser-only test offset (0 unless a test moves time forward).  Only
 * test builds have the offset.
 */
static inline TimestampTz
ig_now(void)
{
	return GetCurrentTimestamp() +
		(TimestampTz) ig_test_clock_offset * USECS_PER_SEC;
}

/* The start of the top-level statement, on the same clock. */
static inline TimestampTz
ig_statement_start(void)
{
	return GetCurrentStatementStartTimestamp() +
		(TimestampTz) ig_test_clock_offset * USECS_PER_SEC;
}
#else
/* Wall-clock time as insider_guard sees it. */
static inline TimestampTz
ig_now(void)
{
	return GetCurrentTimestamp();
}

/* The start of the top-level statement, on the same clock. */
static inline TimestampTz
ig_statement_start(void)
{
	return GetCurrentStatementStartTimestamp();
}
#endif

#endif							/* IG_GUC_H */
