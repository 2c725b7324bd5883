/*-------------------------------------------------------------------------
 *
 * triggers.c
 *		The triggers on insider_guard's rule tables: rows written directly
 *		(a restore, a DBA's INSERT) are checked like the functions'
 *		arguments, and every change makes backends read the rules again.
 *
 * insider_guard.thresholds and insider_guard.baseline_rules share one
 * sequence of rule ids: a violation names its rule by id alone, so an id
 * may be in one of the tables only.  The log line of each change is
 * adminlog.c's.
 *
 * IDENTIFICATION
 *		src/sql/triggers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


#include "access/genam.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "base/compat.h"
#include "sql/args.h"
#include "sql/citus_rules.h"

PG_FUNCTION_INFO_V1(ig_check_threshold_trigger);
PG_FUNCTION_INFO_V1(ig_check_baseline_rule_trigger);
PG_FUNCTION_INFO_V1(ig_rules_changed_trigger);

/*
 * The row a BEFORE INSERT OR UPDATE row trigger is called for, and its
 * first natts columns.
 */
static HeapTuple
trigger_new_row(FunctionCallInfo fcinfo, int natts, Datum *values,
				bool *isnull)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	TupleDesc	desc;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "not called as a trigger");
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);
	if (desc->natts < natts)
		elog(ERROR, "insider_guard.%s has an unexpected definition",
			 RelationGetRelationName(trigdata->tg_relation));
	for (int i = 0; i < natts; i++)
		values[i] = heap_getattr(tuple, i + 1, desc, &isnull[i]);
	return tuple;
}

/*
 * 23505 if another rules table already uses the id: thresholds and
 * baseline rules share one id space (drop_threshold drops either).  Read
 * through its primary key, without the caller's privileges on it: a role
 * allowed to change one rules table need not be allowed to read the
 * other.  Ids normally come from one sequence; this catches explicit ones
 * (not two concurrent transactions choosing the same one).
 */
static void
check_rule_id_unique(int64 id, const char *other_table)
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
	pkey = ig_primary_key_index(rel);
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
 * BEFORE INSERT OR UPDATE trigger on insider_guard.thresholds: the same
 * checks for direct DML (and restores).
 */
Datum
ig_check_threshold_trigger(PG_FUNCTION_ARGS)
{
	bool		isnull[6];
	Datum		values[6];
	HeapTuple	tuple = trigger_new_row(fcinfo, 6, values, isnull);

	ig_check_threshold(isnull[3], isnull[3] ? 0 : DatumGetInt64(values[3]),
					isnull[4] ? NULL : DatumGetIntervalP(values[4]),
					isnull[5] ? NULL : TextDatumGetCString(values[5]),
					isnull[2], isnull[2] ? InvalidOid : DatumGetObjectId(values[2]));
	ig_check_stored_role(isnull[1], values[1]);
	if (!isnull[0] && ig_baselines_installed())
		check_rule_id_unique(DatumGetInt64(values[0]), "baseline_rules");
	return PointerGetDatum(tuple);
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
	HeapTuple	tuple = trigger_new_row(fcinfo, 8, values, isnull);

	/* rule_id, role_name, table_name, per, factor, min_rows, compare_to, action */
	ig_check_baseline_rule(isnull[4], isnull[4] ? 0 : DatumGetFloat8(values[4]),
						   isnull[3] ? NULL : DatumGetIntervalP(values[3]),
						   isnull[5], isnull[5] ? 0 : DatumGetInt64(values[5]),
						   isnull[6] ? NULL : TextDatumGetCString(values[6]),
						   isnull[7] ? NULL : TextDatumGetCString(values[7]),
						   isnull[2], isnull[2] ? InvalidOid : DatumGetObjectId(values[2]),
						   true);
	ig_check_stored_role(isnull[1], values[1]);
	if (!isnull[0])
		check_rule_id_unique(DatumGetInt64(values[0]), "thresholds");
	return PointerGetDatum(tuple);
}

/*
 * AFTER ... FOR EACH STATEMENT trigger on the rules tables: every backend
 * drops its cached rules when this transaction commits (on standbys, when
 * the commit is replayed).  On a Citus cluster the change is refused on a
 * worker, and sent to the workers from the coordinator (citus_rules.c).
 */
Datum
ig_rules_changed_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	Relation	rel;
	Oid			thresholds;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "not called as a trigger");
	rel = trigdata->tg_relation;
	ig_citus_rules_changed();
	CacheInvalidateRelcacheByRelid(RelationGetRelid(rel));

	/*
	 * And the thresholds, which every backend that read the rules watches:
	 * one that read them before an upgrade added a table knows nothing of
	 * that table, and must reload all the same.
	 */
	thresholds = get_relname_relid("thresholds", RelationGetNamespace(rel));
	if (OidIsValid(thresholds) && thresholds != RelationGetRelid(rel))
		CacheInvalidateRelcacheByRelid(thresholds);
	return PointerGetDatum(NULL);
}

