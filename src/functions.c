/*-------------------------------------------------------------------------
 *
 * functions.c
 *		SQL-callable functions: rows_read, reset, the role_activity view's
 *		rows, and argument checks shared with the rest of the SQL surface.
 *
 * Every function first checks that the library was preloaded, and raises
 * 55000 (object_not_in_prerequisite_state) if not.  reset and
 * prune_violations are admin actions: each call writes its line to the
 * server log (adminlog.c).  Who may call what is
 * decided by GRANTs in the install script (PUBLIC gets nothing); the
 * function behind role_activity also checks that the caller may SELECT
 * from the view, so that granting the view is enough.
 *
 * IDENTIFICATION
 *		src/functions.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "commands/trigger.h"
#include "utils/inet.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "adminlog.h"
#include "counters.h"
#include "functions.h"
#include "guc.h"
#include "relinfo.h"
#include "violations.h"

PG_FUNCTION_INFO_V1(ig_assert_preloaded);
PG_FUNCTION_INFO_V1(ig_rows_read);
PG_FUNCTION_INFO_V1(ig_reset);
PG_FUNCTION_INFO_V1(ig_role_activity);
PG_FUNCTION_INFO_V1(ig_check_threshold_trigger);
PG_FUNCTION_INFO_V1(ig_rules_changed_trigger);
PG_FUNCTION_INFO_V1(ig_violations);
PG_FUNCTION_INFO_V1(ig_prune_violations);

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
 * Raises 42P06 if the extension's schema -- the function's own -- belongs
 * to a role that is neither the current user nor a superuser: CREATE
 * EXTENSION uses a schema insider_guard that already exists, and its owner
 * could then change or drop the rules.
 */
static void
require_own_schema(Oid funcid)
{
	Oid			nspid = get_func_namespace(funcid);
	HeapTuple	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
	ReleaseSysCache(tuple);
	if (owner != GetUserId() && !superuser_arg(owner))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_SCHEMA),
				 errmsg("schema \"%s\" is owned by role \"%s\", who is not a superuser",
						get_namespace_name(nspid),
						GetUserNameFromId(owner, false)),
				 errdetail("insider_guard keeps its rules in this schema, which already existed: its owner could change or drop them."),
				 errhint("Check what the schema holds, then drop it or make a superuser its owner (ALTER SCHEMA ... OWNER TO), and create the extension again.")));
}

/*
 * insider_guard._assert_preloaded(): the install script calls it first, so
 * that CREATE EXTENSION fails clearly without shared_preload_libraries,
 * or in a schema insider_guard that someone else made.
 */
Datum
ig_assert_preloaded(PG_FUNCTION_ARGS)
{
	ig_require_preloaded();
	if (creating_extension)
		require_own_schema(fcinfo->flinfo->fn_oid);
	PG_RETURN_VOID();
}

/*
 * insider_guard.rows_read(role_name regrole, per interval,
 *						   on_table regclass DEFAULT NULL) RETURNS bigint
 *
 * Rows the role read in this database within the last "per", from the
 * table and its partitions or children (all tables if NULL).
 */
Datum
ig_rows_read(PG_FUNCTION_ARGS)
{
	IgCounterKey key;
	int64		length;

	ig_require_preloaded();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	length = ig_window_arg(PG_GETARG_INTERVAL_P(1), "per");

	key.dbid = MyDatabaseId;
	key.roleid = PG_GETARG_OID(0);
	key.relid = InvalidOid;
	if (!PG_ARGISNULL(2))
	{
		key.relid = PG_GETARG_OID(2);
		ig_check_table_arg(key.relid, "on_table");
	}
	PG_RETURN_INT64((int64) ig_counters_rows_read(&key, length, ig_now()));
}

/*
 * insider_guard.reset(role_name regrole DEFAULT NULL) RETURNS void
 *
 * Forgets what the role (every role, if NULL) read in this database.
 */
Datum
ig_reset(PG_FUNCTION_ARGS)
{
	static const char *const argnames[1] = {"role_name"};
	static const Oid argtypes[1] = {REGROLEOID};

	ig_require_preloaded();
	/* the repeats of the incidents that go with the counters are kept */
	ig_violations_write_repeats(true);
	/* and the records made until now restore no counts at a start */
	ig_violations_note_reset(PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0));
	ig_counters_reset(MyDatabaseId,
					  PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0));
	ig_admin_log_call(fcinfo, "reset", argnames, argtypes, 1,
					  (Datum) 0, InvalidOid);
	PG_RETURN_VOID();
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

/* "schema.table", quoted as needed, or NULL if the relation is gone. */
char *
ig_qualified_name(Oid relid)
{
	char	   *relname = get_rel_name(relid);
	char	   *nspname;

	if (relname == NULL)
		return NULL;
	nspname = get_namespace_name(get_rel_namespace(relid));
	if (nspname == NULL)
		return NULL;
	return quote_qualified_identifier(nspname, relname);
}

/*
 * insider_guard._role_activity(): the rows of the role_activity view,
 * this database's counters.  The row with a NULL table_name is the role's
 * total over all tables (every row once).  Counters of dropped roles and
 * tables are left out.
 */
Datum
ig_role_activity(PG_FUNCTION_ARGS)
{
	Tuplestorestate *store;
	TupleDesc	desc;
	IgActivity *activity;
	int			count;

	ig_require_preloaded();
	ig_require_view_privilege("role_activity");
	desc = ig_materialize_result(fcinfo, &store);

	activity = ig_counters_activity(MyDatabaseId, ig_now(), &count);
	for (int i = 0; i < count; i++)
	{
		IgActivity *a = &activity[i];
		Datum		values[7];
		bool		nulls[7] = {false};
		char	   *rolname = GetUserNameFromId(a->key.roleid, true);
		char	   *table = NULL;

		if (rolname == NULL)
			continue;
		if (OidIsValid(a->key.relid))
		{
			table = ig_qualified_name(a->key.relid);
			if (table == NULL)
				continue;
		}
		values[0] = DirectFunctionCall1(namein, CStringGetDatum(rolname));
		if (table)
			values[1] = CStringGetTextDatum(table);
		else
			nulls[1] = true;
		values[2] = Int64GetDatum((int64) a->rows_minute);
		values[3] = Int64GetDatum((int64) a->rows_hour);
		values[4] = Int64GetDatum((int64) a->rows_day);
		values[5] = Int64GetDatum(a->statements);
		if (a->last_read != 0)
			values[6] = TimestampTzGetDatum(a->last_read);
		else
			nulls[6] = true;
		tuplestore_putvalues(store, desc, values, nulls);
	}
	return (Datum) 0;
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
	if (action == NULL ||
		(strcmp(action, "log") != 0 && strcmp(action, "block") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("action must be \"log\" or \"block\"")));
	if (!table_null)
		ig_check_table_arg(relid, "on_table");
}

/*
 * The row a BEFORE INSERT OR UPDATE row trigger is called for, and its
 * first natts columns.
 */
HeapTuple
ig_trigger_new_row(FunctionCallInfo fcinfo, int natts, Datum *values,
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
 * BEFORE INSERT OR UPDATE trigger on insider_guard.thresholds: the same
 * checks for direct DML (and restores).
 */
Datum
ig_check_threshold_trigger(PG_FUNCTION_ARGS)
{
	bool		isnull[6];
	Datum		values[6];
	HeapTuple	tuple = ig_trigger_new_row(fcinfo, 6, values, isnull);

	ig_check_threshold(isnull[3], isnull[3] ? 0 : DatumGetInt64(values[3]),
					isnull[4] ? NULL : DatumGetIntervalP(values[4]),
					isnull[5] ? NULL : TextDatumGetCString(values[5]),
					isnull[2], isnull[2] ? InvalidOid : DatumGetObjectId(values[2]));
	ig_check_stored_role(isnull[1], values[1]);
	if (!isnull[0] && ig_baselines_installed())
		ig_check_rule_id_unique(DatumGetInt64(values[0]), "baseline_rules");
	return PointerGetDatum(tuple);
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
 * AFTER ... FOR EACH STATEMENT trigger on the rules tables: every backend
 * drops its cached rules when this transaction commits (on standbys, when
 * the commit is replayed).
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

/*
 * insider_guard._violations(): the rows of the violations view, this
 * database's records, oldest first.
 */
Datum
ig_violations(PG_FUNCTION_ARGS)
{
	Tuplestorestate *store;
	TupleDesc	desc;
	IgViolation *records;
	int			count;

	ig_require_preloaded();
	ig_require_view_privilege("violations");
	desc = ig_materialize_result(fcinfo, &store);

	if (desc->natts != 16 && desc->natts != 18)
		elog(ERROR, "insider_guard._violations has an unexpected definition");
	/* the repeats of open incidents, as they are now */
	ig_violations_write_repeats(true);
	records = ig_violations_read(MyDatabaseId, &count);
	for (int i = 0; i < count; i++)
	{
		IgViolation *v = &records[i];
		Datum		values[18];
		bool		nulls[18] = {false};

		values[0] = Int64GetDatum(v->facts.violation_id);
		values[1] = TimestampTzGetDatum(v->facts.occurred_at);
		values[2] = DirectFunctionCall1(namein, CStringGetDatum(v->role_name));
		values[3] = DirectFunctionCall1(namein, CStringGetDatum(v->current_role_name));
		values[4] = ObjectIdGetDatum(v->facts.table_oid);
		values[5] = CStringGetTextDatum(v->table_name);
		nulls[5] = (v->table_name[0] == '\0');
		values[6] = Int64GetDatum(v->facts.threshold_id);
		values[7] = Int64GetDatum(v->facts.max_rows);
		values[8] = IntervalPGetDatum(ig_length_interval(v->facts.per));
		values[9] = Int64GetDatum(v->facts.rows_in_window);
		values[10] = Int64GetDatum(v->facts.statement_rows);
		values[11] = CStringGetTextDatum(v->facts.block ? "block" : "log");
		values[12] = CStringGetTextDatum(v->query);
		values[13] = CStringGetTextDatum(v->application_name);
		if (v->client_addr[0])
			values[14] = DirectFunctionCall1(inet_in, CStringGetDatum(v->client_addr));
		else
			nulls[14] = true;
		values[15] = Int32GetDatum(v->facts.backend_pid);
		/* columns of version 0.2.0 */
		values[16] = Int64GetDatum(v->repeats);
		values[17] = TimestampTzGetDatum(v->last_seen);
		tuplestore_putvalues(store, desc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * insider_guard.prune_violations(older_than interval) RETURNS bigint:
 * removes this database's records older than that; returns how many.
 */
Datum
ig_prune_violations(PG_FUNCTION_ARGS)
{
	static const char *const argnames[1] = {"older_than"};
	static const Oid argtypes[1] = {INTERVALOID};
	Interval   *older_than;
	int64		length;
	int64		removed;

	ig_require_preloaded();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be null")));
	older_than = PG_GETARG_INTERVAL_P(0);
	if (older_than->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not use month or year units"),
				 errhint("Use days instead, for example '90 days'.")));
	if (pg_mul_s64_overflow((int64) older_than->day, USECS_PER_DAY, &length) ||
		pg_add_s64_overflow(length, older_than->time, &length) || length < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative")));
	removed = ig_violations_prune(MyDatabaseId, ig_now() - length);
	ig_admin_log_call(fcinfo, "prune_violations", argnames, argtypes, 1,
					  Int64GetDatum(removed), INT8OID);
	PG_RETURN_INT64(removed);
}
