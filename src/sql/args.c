/*-------------------------------------------------------------------------
 *
 * args.c
 *		The checks of the arguments of insider_guard's SQL functions and of
 *		the rows DBAs write to its tables, and helpers shared by the SQL
 *		functions.
 *
 * Every SQL function first calls ig_require_preloaded: without
 * shared_preload_libraries there is no shared memory to count in, and
 * the call fails with 55000 (object_not_in_prerequisite_state).  A bad
 * argument fails with 22023 (invalid_parameter_value) or 22004
 * (null_value_not_allowed), naming the argument, whether it came through
 * a function or a row written to a rule table directly (triggers.c).
 *
 * IDENTIFICATION
 *		src/sql/args.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "common/int.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "sql/args.h"
#include "shmem/counters.h"
#include "base/logtext.h"
#include "cache/relinfo.h"

/*
 * Raises 55000 unless the library was loaded by shared_preload_libraries.
 */
void
ig_require_preloaded(void)
{
	if (!ig_counters_ready())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("insider_guard must be loaded via shared_preload_libraries"),
				 errhint("Add insider_guard to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * A window length from an interval argument, in microseconds: 1 minute to
 * 30 days, no month or year units (their length varies).  22023 if not.
 */
int64
ig_window_arg(Interval *per, const char *argname)
{
	int64		length;

	if (per->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not use month or year units", argname),
				 errhint("Use days instead, for example '30 days'.")));
	if (pg_mul_s64_overflow((int64) per->day, USECS_PER_DAY, &length) ||
		pg_add_s64_overflow(length, per->time, &length) ||
		length < INT64CONST(60) * USECS_PER_SEC ||
		length > INT64CONST(30) * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 1 minute and 30 days", argname)));
	return length;
}

/*
 * Checks a role argument given as an OID (a regrole argument written
 * '16384'::regrole is not looked up): 42704 if there is no such role.
 */
void
ig_check_role_arg(Oid roleid, const char *argname)
{
	if (!OidIsValid(roleid) ||
		!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(roleid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s: role with OID %u does not exist", argname, roleid)));
}

/*
 * 22023 for a stored role of OID 0, which would read as "every role".
 * (A role dropped since is kept: such a rule is inert, and dumps of it
 * must restore.)
 */
void
ig_check_stored_role(bool isnull, Datum role)
{
	if (!isnull && !OidIsValid(DatumGetObjectId(role)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role_name must be a role or NULL, not OID 0")));
}

/*
 * Checks that a relation can be watched: a table, partitioned table,
 * materialized view or foreign table, not temporary, not a system
 * catalog.  42809 (wrong_object_type) if not.
 */
void
ig_check_table_arg(Oid relid, const char *argname)
{
	HeapTuple	tuple;
	Form_pg_class form;
	char		relkind;
	char		relpersistence;
	bool		system;
	bool		ours;
	char	   *relname;
	Oid			nspid;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	form = (Form_pg_class) GETSTRUCT(tuple);
	relkind = form->relkind;
	relpersistence = form->relpersistence;
	system = IsCatalogNamespace(form->relnamespace) ||
		IsToastNamespace(form->relnamespace) ||
		relid < FirstNormalObjectId;
	relname = pstrdup(NameStr(form->relname));
	nspid = form->relnamespace;
	ReleaseSysCache(tuple);
	ours = ig_relinfo_extension_table(relid, nspid);

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_MATVIEW && relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s %s is not a table, partitioned table, materialized view or foreign table",
						argname, ig_log_quote(relname))));
	if (relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s %s is a temporary table", argname, ig_log_quote(relname)),
				 errdetail("Reads of temporary tables are not counted.")));
	if (system)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s %s is a system catalog", argname, ig_log_quote(relname)),
				 errdetail("Reads of system catalogs are not counted.")));
	if (ours)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s %s is a table of insider_guard", argname, ig_log_quote(relname)),
				 errdetail("Reads of insider_guard's own tables are not counted.")));
}

/*
 * The checks of a threshold, whether it comes through set_threshold or
 * direct DML: 22023 for max_rows, per and action, 42809 for the table.
 */
void
ig_check_threshold(bool max_rows_null, int64 max_rows, Interval *per,
				   const char *action, bool table_null, Oid relid)
{
	if (max_rows_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must not be null")));
	if (max_rows <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must be greater than zero")));
	if (per == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("per must not be null")));
	(void) ig_window_arg(per, "per");
	ig_check_action_arg(action);
	if (!table_null)
		ig_check_table_arg(relid, "on_table");
}

/*
 * The kind of history a baseline window is: '1 hour', '1 day' or '7 days'
 * (also written '60 minutes', '24 hours', '1 week'), nothing else.
 * 22023 if not.
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
	for (int kind = 0; kind < IG_HIST_KINDS; kind++)
		if (per->month == 0 && length == ig_hist_kind_span(kind))
			return kind;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("per must be '1 hour', '1 day' or '7 days'"),
			 errdetail("Baselines compare hourly, daily or 7-day windows.")));
	pg_unreachable();
}

/* 22023 unless min_rows is a number of rows */
void
ig_check_min_rows_arg(bool min_rows_null, int64 min_rows)
{
	if (min_rows_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_rows must not be null")));
	if (min_rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_rows must not be negative")));
}

/* 22023 unless action is "log" or "block" */
void
ig_check_action_arg(const char *action)
{
	if (action == NULL ||
		(strcmp(action, "log") != 0 && strcmp(action, "block") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("action must be \"log\" or \"block\"")));
}

/*
 * The checks of a baseline rule, whether it comes through
 * set_baseline_rule, set_novelty_rule (a row of compare_to 'novelty',
 * with novelty_allowed) or direct DML: 22023 for factor, per, min_rows,
 * compare_to and action, 42809 for the table.  A novelty rule's row has
 * per '1 day', factor 1 (unused) and no table: it applies to each table.
 */
void
ig_check_baseline_rule(bool factor_null, double factor, Interval *per,
					   bool min_rows_null, int64 min_rows,
					   const char *compare_to, const char *action,
					   bool table_null, Oid relid, bool novelty_allowed)
{
	if (novelty_allowed && compare_to != NULL &&
		strcmp(compare_to, "novelty") == 0)
	{
		if (factor_null || factor != 1.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a novelty rule's factor must be 1"),
					 errdetail("Its limit is the role's hourly p50, at least min_rows.")));
		if (per == NULL || ig_baseline_per_arg(per) != IG_HIST_DAY)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a novelty rule's per must be 1 day")));
		if (!table_null)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a novelty rule's table_name must be null"),
					 errdetail("It applies to each table the role reads.")));
		ig_check_min_rows_arg(min_rows_null, min_rows);
		ig_check_action_arg(action);
		return;
	}
	if (factor_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("factor must not be null")));
	if (isnan(factor) || isinf(factor) || factor <= 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("factor must be a finite number greater than 1")));
	(void) ig_baseline_per_arg(per);
	ig_check_min_rows_arg(min_rows_null, min_rows);
	if (compare_to == NULL ||
		(strcmp(compare_to, "self") != 0 && strcmp(compare_to, "peers") != 0 &&
		 strcmp(compare_to, "both") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("compare_to must be \"self\", \"peers\" or \"both\"")));
	ig_check_action_arg(action);
	if (!table_null)
		ig_check_table_arg(relid, "on_table");
}

/*
 * True if this database's extension has the baseline objects (version
 * 0.2.0 or later).
 */
bool
ig_baselines_installed(void)
{
	Oid			nspid = get_namespace_oid("insider_guard", true);

	return OidIsValid(nspid) &&
		OidIsValid(get_relname_relid("baseline_rules", nspid));
}

/*
 * True if this database's extension has novelty rules (version 0.4.0 or
 * later): the baseline rules' unique index tells rules apart by kind.
 */
bool
ig_novelty_installed(void)
{
	Oid			nspid = get_namespace_oid("insider_guard", true);

	return OidIsValid(nspid) &&
		OidIsValid(get_relname_relid("baseline_rules_role_table_per_kind", nspid));
}

/* Raises 42501 unless the current user may SELECT from the view. */
void
ig_require_view_privilege(const char *view)
{
	Oid			nspid = get_namespace_oid("insider_guard", false);
	Oid			viewid = get_relname_relid(view, nspid);

	if (!OidIsValid(viewid) ||
		pg_class_aclcheck(viewid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for view %s", view)));
}

/* Sets up a set-returning function's tuplestore; returns its descriptor. */
TupleDesc
ig_materialize_result(FunctionCallInfo fcinfo, Tuplestorestate **store)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	desc;
	MemoryContext old;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	desc = CreateTupleDescCopy(desc);
	*store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(old);

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = *store;
	rsinfo->setDesc = desc;
	return desc;
}

/* An interval of a window length in microseconds. */
Interval *
ig_length_interval(int64 length)
{
	Interval   *interval = palloc(sizeof(Interval));

	interval->month = 0;
	interval->day = length / USECS_PER_DAY;
	interval->time = length % USECS_PER_DAY;
	return interval;
}
