/*-------------------------------------------------------------------------
 *
 * info.c
 *		The row of the info view: how full insider_guard's shared memory
 *		and violations store are, what did not fit, and when the counts
 *		were last saved -- for the security team's monitoring, like
 *		pg_stat_statements_info.
 *
 * Every figure is of the whole server (all databases), read from shared
 * memory without touching a table or a file.  The totals (evictions,
 * fail_closed_statements, rule_checks_skipped, records_dropped) count from
 * stats_reset_at: when the shared memory was made, at a start or a
 * restart after a crash.  They are atomics and plain fields bumped on the
 * rare paths where such a thing happens, never per row.
 *
 * Who may read it: those granted SELECT on the view (the function checks
 * it, as the other views' functions do).
 *
 * IDENTIFICATION
 *		src/sql/info.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/timestamp.h"

#include "sql/args.h"
#include "shmem/counters.h"
#include "shmem/history.h"
#include "shmem/violations.h"

PG_FUNCTION_INFO_V1(ig_info);

#define IG_INFO_COLUMNS 12

/*
 * insider_guard._info(): the one row of the info view.
 */
Datum
ig_info(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[IG_INFO_COLUMNS];
	bool		nulls[IG_INFO_COLUMNS] = {false};
	IgCountersInfo counters;
	int64		series;
	int64		max_series;
	int64		records;
	int64		bytes;
	int64		dropped;

	ig_require_preloaded();
	ig_require_view_privilege("info");
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
		desc->natts != IG_INFO_COLUMNS)
		elog(ERROR, "insider_guard._info has an unexpected definition");

	ig_counters_info(&counters);
	ig_history_info(&series, &max_series);
	ig_violations_info(&records, &bytes, &dropped);

	values[0] = Int64GetDatum(counters.in_use);
	values[1] = Int64GetDatum(counters.max_tracked);
	values[2] = Int64GetDatum((int64) counters.evictions);
	values[3] = Int64GetDatum((int64) counters.fail_closed);
	values[4] = Int64GetDatum((int64) counters.checks_skipped);
	values[5] = Int64GetDatum(series);
	values[6] = Int64GetDatum(max_series);
	values[7] = Int64GetDatum(records);
	values[8] = Int64GetDatum(bytes);
	values[9] = Int64GetDatum(dropped);
	values[10] = TimestampTzGetDatum(counters.last_save);
	nulls[10] = counters.last_save == 0;
	values[11] = TimestampTzGetDatum(counters.stats_reset);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}
