/*-------------------------------------------------------------------------
 *
 * admin.c
 *		The functions DBAs set rules with: set_threshold, drop_threshold,
 *		exempt, unexempt.
 *
 * They check their arguments first (22023, 42809: nothing is changed on
 * bad input), then change the rules tables through SPI; the tables'
 * triggers check direct DML the same way and invalidate every backend's
 * cached rules at commit.  They are SECURITY DEFINER in SQL, so that
 * EXECUTE on them is all a rules administrator needs.
 *
 * IDENTIFICATION
 *		src/admin.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "functions.h"

PG_FUNCTION_INFO_V1(ig_set_threshold);
PG_FUNCTION_INFO_V1(ig_drop_threshold);
PG_FUNCTION_INFO_V1(ig_exempt);
PG_FUNCTION_INFO_V1(ig_unexempt);

/* one threshold per (role, table, window), NULLs equal: see the index */
#define UPSERT_THRESHOLD \
	"INSERT INTO insider_guard.thresholds AS t " \
	"       (role_name, table_name, max_rows, per, action) " \
	"VALUES ($1, $2, $3, $4, $5) " \
	"ON CONFLICT ((COALESCE(role_name::oid, 0::oid)), " \
	"             (COALESCE(table_name::oid, 0::oid)), per) " \
	"DO UPDATE SET max_rows = EXCLUDED.max_rows, action = EXCLUDED.action, " \
	"              created_at = now(), created_by = session_user " \
	"RETURNING t.threshold_id"

/* Runs a statement through SPI; returns the first column of its row. */
static Datum
run(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
	bool *isnull)
{
	Datum		result = (Datum) 0;

	*isnull = true;
	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0) < 0)
		elog(ERROR, "insider_guard: could not run \"%s\"", sql);
	if (SPI_processed > 0 && SPI_tuptable != NULL)
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
							   isnull);
	SPI_finish();
	return result;
}

/*
 * insider_guard.set_threshold(role_name regrole, max_rows bigint,
 *     per interval DEFAULT '1 hour', action text DEFAULT 'log',
 *     on_table regclass DEFAULT NULL) RETURNS bigint
 */
Datum
ig_set_threshold(PG_FUNCTION_ARGS)
{
	Oid			types[5] = {REGROLEOID, REGCLASSOID, INT8OID, INTERVALOID, TEXTOID};
	Datum		values[5];
	char		nulls[5];
	Datum		id;
	bool		isnull;

	ig_require_preloaded();
	ig_check_threshold(PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1),
					   PG_ARGISNULL(2) ? NULL : PG_GETARG_INTERVAL_P(2),
					   PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
					   PG_ARGISNULL(4), PG_ARGISNULL(4) ? InvalidOid : PG_GETARG_OID(4));

	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(4);
	values[2] = PG_GETARG_DATUM(1);
	values[3] = PG_GETARG_DATUM(2);
	values[4] = PG_GETARG_DATUM(3);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	nulls[1] = PG_ARGISNULL(4) ? 'n' : ' ';
	nulls[2] = nulls[3] = nulls[4] = ' ';
	id = run(UPSERT_THRESHOLD, 5, types, values, nulls, &isnull);
	if (isnull)
		elog(ERROR, "insider_guard: set_threshold stored nothing");
	PG_RETURN_DATUM(id);
}

/*
 * insider_guard.drop_threshold(threshold_id bigint) RETURNS boolean
 */
Datum
ig_drop_threshold(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;

	ig_require_preloaded();
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	values[0] = PG_GETARG_DATUM(0);
	run("DELETE FROM insider_guard.thresholds WHERE threshold_id = $1 "
		"RETURNING threshold_id", 1, types, values, " ", &isnull);
	PG_RETURN_BOOL(!isnull);
}

/* The role argument of exempt/unexempt. */
static Datum
role_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role_name must not be null")));
	return PG_GETARG_DATUM(0);
}

/*
 * insider_guard.exempt(role_name regrole) RETURNS void
 */
Datum
ig_exempt(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {REGROLEOID};
	Datum		values[1];
	bool		isnull;

	ig_require_preloaded();
	values[0] = role_arg(fcinfo);
	run("INSERT INTO insider_guard.exemptions (role_name) VALUES ($1) "
		"ON CONFLICT DO NOTHING", 1, types, values, " ", &isnull);
	PG_RETURN_VOID();
}

/*
 * insider_guard.unexempt(role_name regrole) RETURNS void
 */
Datum
ig_unexempt(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {REGROLEOID};
	Datum		values[1];
	bool		isnull;

	ig_require_preloaded();
	values[0] = role_arg(fcinfo);
	run("DELETE FROM insider_guard.exemptions WHERE role_name = $1",
		1, types, values, " ", &isnull);
	PG_RETURN_VOID();
}
