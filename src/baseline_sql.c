/*-------------------------------------------------------------------------
 *
 * baseline_sql.c
 *		The SQL surface of behavioural baselines that is not an admin
 *		function: the checks of a baseline rule (for set_baseline_rule and
 *		for direct DML on insider_guard.baseline_rules) and the rows of
 *		the baselines view.
 *
 * IDENTIFICATION
 *		src/baseline_sql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "baseline.h"
#include "functions.h"
#include "guc.h"
#include "history.h"

PG_FUNCTION_INFO_V1(ig_check_baseline_rule_trigger);
PG_FUNCTION_INFO_V1(ig_baselines);

/*
 * The kind of history a baseline window is: '1 hour' or '1 day' (also
 * written '60 minutes', '24 hours'), nothing else.  22023 if not.
 */
int
ig_baseline_per_arg(Interval *per)
{
	int64		length;

	if (per == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("per must not be null")));
	length = per->time + (int64) per->day * USECS_PER_DAY;
	if (per->month != 0 ||
		(length != USECS_PER_HOUR && length != USECS_PER_DAY))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("per must be '1 hour' or '1 day'"),
				 errdetail("Baselines compare hourly or daily windows.")));
	return length == USECS_PER_DAY ? IG_HIST_DAY : IG_HIST_HOUR;
}

/*
 * The checks of a baseline rule, whether it comes through
 * set_baseline_rule or direct DML: 22023 for factor, per, min_rows,
 * compare_to and action, 42809 for the table.
 */
void
ig_check_baseline_rule(bool factor_null, double factor, Interval *per,
					   bool min_rows_null, int64 min_rows,
					   const char *compare_to, const char *action,
					   bool table_null, Oid relid)
{
	if (factor_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("factor must not be null")));
	if (isnan(factor) || isinf(factor) || factor <= 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("factor must be a finite number greater than 1")));
	(void) ig_baseline_per_arg(per);
	if (min_rows_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_rows must not be null")));
	if (min_rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_rows must not be negative")));
	if (compare_to == NULL ||
		(strcmp(compare_to, "self") != 0 && strcmp(compare_to, "peers") != 0 &&
		 strcmp(compare_to, "both") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("compare_to must be \"self\", \"peers\" or \"both\"")));
	if (action == NULL ||
		(strcmp(action, "log") != 0 && strcmp(action, "block") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("action must be \"log\" or \"block\"")));
	if (!table_null)
		ig_check_table_arg(relid, "on_table");
}

/*
 * 23505 if another rules table already uses the id: thresholds and
 * baseline rules share one id space (drop_threshold drops either).  Read
 * through its primary key, without the caller's privileges on it: a role
 * allowed to change one rules table need not be allowed to read the
 * other.  Ids normally come from one sequence; this catches explicit ones
 * (not two concurrent transactions choosing the same one).
 */
void
ig_check_rule_id_unique(int64 id, const char *other_table)
{
	Oid			relid = get_relname_relid(other_table,
										  get_namespace_oid("insider_guard", false));
	Relation	rel;
	Oid			pkey;
	ScanKeyData key;
	SysScanDesc scan;
	bool		taken;

	if (!OidIsValid(relid))
		return;
	rel = table_open(relid, AccessShareLock);
	pkey = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(pkey))
		elog(ERROR, "insider_guard.%s has no primary key", other_table);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));
	scan = systable_beginscan(rel, pkey, true, NULL, 1, &key);
	taken = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (taken)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("rule id %lld is already used in insider_guard.%s",
						(long long) id, other_table),
				 errdetail("Thresholds and baseline rules share one id space.")));
}

/*
 * BEFORE INSERT OR UPDATE trigger on insider_guard.baseline_rules: the
 * same checks for direct DML (and restores).
 */
Datum
ig_check_baseline_rule_trigger(PG_FUNCTION_ARGS)
{
	bool		isnull[8];
	Datum		values[8];
	HeapTuple	tuple = ig_trigger_new_row(fcinfo, 8, values, isnull);

	/* rule_id, role_name, table_name, per, factor, min_rows, compare_to, action */
	ig_check_baseline_rule(isnull[4], isnull[4] ? 0 : DatumGetFloat8(values[4]),
						   isnull[3] ? NULL : DatumGetIntervalP(values[3]),
						   isnull[5], isnull[5] ? 0 : DatumGetInt64(values[5]),
						   isnull[6] ? NULL : TextDatumGetCString(values[6]),
						   isnull[7] ? NULL : TextDatumGetCString(values[7]),
						   isnull[2], isnull[2] ? InvalidOid : DatumGetObjectId(values[2]));
	ig_check_stored_role(isnull[1], values[1]);
	if (!isnull[0])
		ig_check_rule_id_unique(DatumGetInt64(values[0]), "thresholds");
	return PointerGetDatum(tuple);
}

/*
 * insider_guard._baselines(): the rows of the baselines view, one per
 * history series of this database.  Series of dropped roles and tables
 * are left out.
 */
Datum
ig_baselines(PG_FUNCTION_ARGS)
{
	Tuplestorestate *store;
	TupleDesc	desc;
	IgSeriesCopy *series;
	int			count;

	ig_require_preloaded();
	ig_require_view_privilege("baselines");
	desc = ig_materialize_result(fcinfo, &store);

	series = ig_history_list(MyDatabaseId, &count);
	for (int i = 0; i < count; i++)
	{
		IgSeriesCopy *s = &series[i];
		IgBaselineView view;
		Datum		values[9];
		bool		nulls[9] = {false};
		char	   *rolname = GetUserNameFromId(s->key.roleid, true);
		char	   *table = NULL;
		bool		any = s->hist.windows > 0;

		if (rolname == NULL)
			continue;
		if (OidIsValid(s->key.relid))
		{
			table = ig_qualified_name(s->key.relid);
			if (table == NULL)
				continue;
		}
		ig_baseline_describe(s, &view);

		values[0] = DirectFunctionCall1(namein, CStringGetDatum(rolname));
		if (table)
			values[1] = CStringGetTextDatum(table);
		else
			nulls[1] = true;
		values[2] = IntervalPGetDatum(ig_length_interval(ig_hist_kind_length(s->key.kind)));
		values[3] = Int64GetDatum((int64) s->hist.windows);
		values[4] = Int32GetDatum((int32) s->hist.days);
		values[5] = Int64GetDatum((int64) view.typical);
		nulls[5] = !any;
		values[6] = Int64GetDatum((int64) view.high);
		nulls[6] = !any;
		values[7] = Int64GetDatum(view.peer_high);
		nulls[7] = view.peer_high < 0;
		values[8] = Int64GetDatum(view.limit_now);
		nulls[8] = view.limit_now < 0;
		tuplestore_putvalues(store, desc, values, nulls);
	}
	return (Datum) 0;
}
