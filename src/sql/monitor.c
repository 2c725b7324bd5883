/*-------------------------------------------------------------------------
 *
 * monitor.c
 *		What DBAs read and clear: rows_read, the rows of the views
 *		role_activity, violations and baselines, reset and
 *		prune_violations; and _assert_preloaded, which the install script
 *		calls first.
 *
 * Who may call what is decided by GRANTs in the install script (PUBLIC
 * gets nothing); the functions behind the views also check that the
 * caller may SELECT from the view, so that granting the view is enough.
 * reset and prune_violations are admin actions: each call writes its
 * line to the server log (adminlog.c).
 *
 * IDENTIFICATION
 *		src/sql/monitor.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


#include "access/htup_details.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "sql/adminlog.h"
#include "sql/args.h"
#include "cache/baseline.h"
#include "shmem/counters.h"
#include "base/guc.h"
#include "shmem/history.h"
#include "base/names.h"
#include "shmem/violations.h"
#include "shmem/violations_file.h"

PG_FUNCTION_INFO_V1(ig_assert_preloaded);
PG_FUNCTION_INFO_V1(ig_rows_read);
PG_FUNCTION_INFO_V1(ig_reset);
PG_FUNCTION_INFO_V1(ig_role_activity);
PG_FUNCTION_INFO_V1(ig_violations);
PG_FUNCTION_INFO_V1(ig_prune_violations);
PG_FUNCTION_INFO_V1(ig_baselines);

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
 * insider_guard._violations_v3(): the rows of the violations view, this
 * database's records, oldest first.  Also behind the views of earlier
 * versions (_violations, _violations_v2), which have fewer columns: a
 * database not yet updated runs on.  rule_kind is NULL for the records
 * 0.2.0's library wrote, which did not say; the view looks their rule up.
 */
Datum
ig_violations(PG_FUNCTION_ARGS)
{
	Tuplestorestate *store;
	TupleDesc	desc;
	IgViolation *records;
	int			count;
	char	   *dbname;

	ig_require_preloaded();
	ig_require_view_privilege("violations");
	desc = ig_materialize_result(fcinfo, &store);

	/* _violations (0.1.0), _violations_v2 (0.2.0), _violations_v3 */
	if (desc->natts != 16 && desc->natts != 18 && desc->natts != 20)
		elog(ERROR, "insider_guard._violations has an unexpected definition");
	/* the repeats of open incidents, as they are now */
	ig_violations_write_repeats(true);
	records = ig_violations_read(MyDatabaseId, &count);
	/* (this database's: its name, looked up once) */
	dbname = get_database_name(MyDatabaseId);
	for (int i = 0; i < count; i++)
	{
		IgViolation *v = &records[i];
		Datum		values[20];
		bool		nulls[20] = {false};

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
		/* of 0.3.0: the database, by name now; the kind of rule */
		if (dbname != NULL)
			values[18] = DirectFunctionCall1(namein, CStringGetDatum(dbname));
		else
			nulls[18] = true;
		if (v->facts.rule_kind == IG_RULE_KIND_THRESHOLD)
			values[19] = CStringGetTextDatum("threshold");
		else if (v->facts.rule_kind == IG_RULE_KIND_BASELINE)
			values[19] = CStringGetTextDatum("baseline");
		else if (v->facts.rule_kind == IG_RULE_KIND_NOVELTY)
			values[19] = CStringGetTextDatum("novelty");
		else
			nulls[19] = true;	/* written by 0.2.0: the view looks it up */
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

/*
 * insider_guard._baselines_v2(): the rows of the baselines view, one per
 * history series of this database, with why no limit is in force where
 * none is.  Series of dropped roles and tables are left out.  Also
 * behind the view of 0.2.0 (_baselines), which lacks the last column.
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
	/* _baselines (0.2.0), _baselines_v2 */
	if (desc->natts != 9 && desc->natts != 10)
		elog(ERROR, "insider_guard._baselines has an unexpected definition");

	series = ig_history_list(MyDatabaseId, &count);
	for (int i = 0; i < count; i++)
	{
		IgSeriesCopy *s = &series[i];
		IgBaselineView view;
		Datum		values[10];
		bool		nulls[10] = {false};
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
		values[2] = IntervalPGetDatum(ig_length_interval(ig_hist_kind_span(s->key.kind)));
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
		/* of 0.3.0 */
		if (view.no_limit_reason != NULL)
			values[9] = CStringGetTextDatum(view.no_limit_reason);
		else
			nulls[9] = true;
		tuplestore_putvalues(store, desc, values, nulls);
	}
	return (Datum) 0;
}
