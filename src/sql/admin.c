/*-------------------------------------------------------------------------
 *
 * admin.c
 *		The functions DBAs set rules with: set_threshold, drop_threshold,
 *		exempt, unexempt, set_baseline_rule, add_peer_group,
 *		drop_peer_group, and record_history and reset_history, which seed
 *		and clear the baselines' history.
 *
 * They check their arguments first (22023, 42809: nothing is changed on
 * bad input), then change the rules tables through SPI; the tables'
 * triggers check direct DML the same way and invalidate every backend's
 * cached rules at commit.  They are SECURITY DEFINER in SQL, so that
 * EXECUTE on them is all a rules administrator needs.  record_history
 * and reset_history write shared memory, not a table: they are not
 * transactional.
 *
 * Each call that has done its work writes one admin line to the server
 * log (adminlog.c), with its arguments and result; the tables' log
 * triggers stay quiet while it changes them, so the call is one line.
 * set_baseline_rule also tells the caller (NOTICE) when the rule limits
 * nobody yet: no role it covers has enough history, nor enough peers
 * with history.
 *
 * IDENTIFICATION
 *		src/sql/admin.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "sql/adminlog.h"
#include "sql/args.h"
#include "cache/baseline.h"
#include "base/guc.h"
#include "base/logtext.h"
#include "base/names.h"
#include "shmem/history.h"
#include "base/window.h"

PG_FUNCTION_INFO_V1(ig_set_threshold);
PG_FUNCTION_INFO_V1(ig_drop_threshold);
PG_FUNCTION_INFO_V1(ig_exempt);
PG_FUNCTION_INFO_V1(ig_unexempt);
PG_FUNCTION_INFO_V1(ig_set_baseline_rule);
PG_FUNCTION_INFO_V1(ig_set_novelty_rule);
PG_FUNCTION_INFO_V1(ig_add_peer_group);
PG_FUNCTION_INFO_V1(ig_drop_peer_group);
PG_FUNCTION_INFO_V1(ig_record_history);
PG_FUNCTION_INFO_V1(ig_reset_history);

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

/*
 * One baseline rule per (role, table, window), NULLs equal, and one
 * novelty rule per role: see the index.  Before 0.4.0 the index has no
 * kind (no novelty rules).
 */
#define UPSERT_BASELINE_RULE_HEAD \
	"INSERT INTO insider_guard.baseline_rules AS b " \
	"       (role_name, table_name, per, factor, min_rows, compare_to, action) " \
	"VALUES ($1, $2, $3, $4, $5, $6, $7) "
#define BASELINE_RULE_KEY \
	"ON CONFLICT ((COALESCE(role_name::oid, 0::oid)), " \
	"             (COALESCE(table_name::oid, 0::oid)), per, " \
	"             (compare_to = 'novelty')) "
#define BASELINE_RULE_KEY_0_3 \
	"ON CONFLICT ((COALESCE(role_name::oid, 0::oid)), " \
	"             (COALESCE(table_name::oid, 0::oid)), per) "
#define UPSERT_BASELINE_RULE_TAIL \
	"DO UPDATE SET factor = EXCLUDED.factor, min_rows = EXCLUDED.min_rows, " \
	"              compare_to = EXCLUDED.compare_to, action = EXCLUDED.action, " \
	"              created_at = now(), created_by = session_user " \
	"RETURNING b.rule_id"

/* changed in place, a novelty rule keeps created_at: its learning week */
#define UPSERT_NOVELTY_RULE \
	"INSERT INTO insider_guard.baseline_rules AS b " \
	"       (role_name, table_name, per, factor, min_rows, compare_to, action) " \
	"VALUES ($1, NULL, '1 day', 1, $2, 'novelty', $3) " \
	BASELINE_RULE_KEY \
	"DO UPDATE SET min_rows = EXCLUDED.min_rows, action = EXCLUDED.action, " \
	"              created_by = session_user " \
	"RETURNING b.rule_id"

/*
 * Runs a statement through SPI; returns the first column of its row.  The
 * rules tables' log triggers stay quiet meanwhile (the caller logs the
 * call), also if it fails.
 */
static Datum
run(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
	bool *isnull)
{
	Datum		result = (Datum) 0;
	int			quiet_before = ig_admin_quiet;

	*isnull = true;
	PG_TRY();
	{
		ig_admin_quiet = quiet_before + 1;
		SPI_connect();
		if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0) < 0)
			elog(ERROR, "insider_guard: could not run \"%s\"", sql);
		if (SPI_processed > 0 && SPI_tuptable != NULL)
			result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
								   isnull);
		SPI_finish();
	}
	PG_FINALLY();
	{
		ig_admin_quiet = quiet_before;
	}
	PG_END_TRY();
	return result;
}

/*
 * Stores a rule with an upsert returning its id, logs the call of the
 * function "action" that did it, and returns the id.
 */
static Datum
store_rule(FunctionCallInfo fcinfo, const char *sql, int nargs, Oid *types,
		   Datum *values, const char *nulls, const char *action,
		   const char *const *argnames, const Oid *argtypes)
{
	bool		isnull;
	Datum		id = run(sql, nargs, types, values, nulls, &isnull);

	if (isnull)
		elog(ERROR, "insider_guard: %s stored nothing", action);
	ig_admin_log_call(fcinfo, action, argnames, argtypes, fcinfo->nargs,
					  id, INT8OID);
	return id;
}

/* The argument names of the admin functions, for their log lines. */
static const char *const role_argname[1] = {"role_name"};
static const char *const group_argname[1] = {"group_role"};
static const Oid role_argtype[1] = {REGROLEOID};

/*
 * insider_guard.set_threshold(role_name regrole, max_rows bigint,
 *     per interval DEFAULT '1 hour', action text DEFAULT 'log',
 *     on_table regclass DEFAULT NULL) RETURNS bigint
 */
Datum
ig_set_threshold(PG_FUNCTION_ARGS)
{
	static const char *const argnames[5] = {"role_name", "max_rows", "per",
	"action", "on_table"};
	static const Oid argtypes[5] = {REGROLEOID, INT8OID, INTERVALOID, TEXTOID,
	REGCLASSOID};
	Oid			types[5] = {REGROLEOID, REGCLASSOID, INT8OID, INTERVALOID, TEXTOID};
	Datum		values[5];
	char		nulls[5];

	ig_require_preloaded();
	if (!PG_ARGISNULL(0))
		ig_check_role_arg(PG_GETARG_OID(0), "role_name");
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
	PG_RETURN_DATUM(store_rule(fcinfo, UPSERT_THRESHOLD, 5, types, values, nulls,
							   "set_threshold", argnames, argtypes));
}

/*
 * insider_guard.drop_threshold(threshold_id bigint) RETURNS boolean: drops
 * the threshold or baseline rule of that id (they share one id space).
 */
Datum
ig_drop_threshold(PG_FUNCTION_ARGS)
{
	static const char *const argnames[1] = {"threshold_id"};
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull = true;

	ig_require_preloaded();
	if (!PG_ARGISNULL(0))
	{
		values[0] = PG_GETARG_DATUM(0);
		run("DELETE FROM insider_guard.thresholds WHERE threshold_id = $1 "
			"RETURNING threshold_id", 1, types, values, " ", &isnull);
		if (isnull && ig_baselines_installed())
			run("DELETE FROM insider_guard.baseline_rules WHERE rule_id = $1 "
				"RETURNING rule_id", 1, types, values, " ", &isnull);
	}
	ig_admin_log_call(fcinfo, "drop_threshold", argnames, types, 1,
					  BoolGetDatum(!isnull), BOOLOID);
	PG_RETURN_BOOL(!isnull);
}

/*
 * The role argument of exempt/unexempt: it must exist to be added (one
 * dropped since can still be removed).
 */
static Datum
role_arg(FunctionCallInfo fcinfo, bool adding)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role_name must not be null")));
	if (adding)
		ig_check_role_arg(PG_GETARG_OID(0), "role_name");
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
	values[0] = role_arg(fcinfo, true);
	run("INSERT INTO insider_guard.exemptions (role_name) VALUES ($1) "
		"ON CONFLICT DO NOTHING", 1, types, values, " ", &isnull);
	ig_admin_log_call(fcinfo, "exempt", role_argname, role_argtype, 1,
					  (Datum) 0, InvalidOid);
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
	values[0] = role_arg(fcinfo, false);
	run("DELETE FROM insider_guard.exemptions WHERE role_name = $1",
		1, types, values, " ", &isnull);
	ig_admin_log_call(fcinfo, "unexempt", role_argname, role_argtype, 1,
					  (Datum) 0, InvalidOid);
	PG_RETURN_VOID();
}

/*
 * The roles that can log in a baseline rule for role_name covers (NULL:
 * every role but superusers and exempt ones), ordered by name: the role
 * itself, and its members through any chain but superusers and exempt
 * ones.  As the rules cache matches them (rules_roles.c); only those
 * that can log in read.
 */
#define COVERED_LOGIN_ROLES \
	"SELECT r.oid FROM pg_catalog.pg_roles r " \
	"WHERE r.rolcanlogin " \
	"  AND ($1 IS NULL OR pg_catalog.pg_has_role(r.oid, $1, 'MEMBER')) " \
	"  AND (r.oid = $1 OR (NOT r.rolsuper AND NOT EXISTS " \
	"       (SELECT FROM insider_guard.exemptions e WHERE e.role_name::oid = r.oid))) " \
	"ORDER BY r.rolname"

/*
 * A baseline rule that protects nobody says so when it is set: a NOTICE
 * if no role it covers has a usable limit for its table and window yet
 * (SPEC: own history of 20 active windows on 7 distinct days, or 5 peers
 * with such history; "peers" rules only the latter).  The roles are
 * looked at in name order, until one has a usable limit.  A block rule
 * does protect the roles it covers, with its cold-start limit (min_rows):
 * its NOTICE says that this is the limit they get for now, and why.
 */
static void
notice_if_limits_nobody(bool all_roles, Oid roleid, Oid relid,
						int kind, IgCompareTo compare_to, bool block,
						int64 min_rows)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(roleid)};
	Oid		   *covered = NULL;
	int			ncovered = 0;
	IgLimitProgress first = {0};
	char	   *first_name = NULL;

	SPI_connect();
	if (SPI_execute_with_args(COVERED_LOGIN_ROLES, 1, types, values,
							  all_roles ? "n" : " ", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "insider_guard: could not list the roles a baseline rule covers");
	ncovered = (int) SPI_processed;
	if (ncovered > 0)
		covered = SPI_palloc(sizeof(Oid) * ncovered);
	for (int i = 0; i < ncovered; i++)
	{
		bool		isnull;

		covered[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 1,
													&isnull));
	}
	SPI_finish();

	for (int i = 0; i < ncovered; i++)
	{
		IgLimitProgress progress;

		ig_baseline_progress(covered[i], relid, kind, &progress);
		if (ig_baseline_progress_usable(&progress, compare_to))
			return;
		if (i == 0)
		{
			first = progress;
			first_name = GetUserNameFromId(covered[0], true);
		}
	}

	ereport(NOTICE,
			(ncovered > 0 && block ?
			 errmsg("insider_guard: baseline rule blocks at its cold-start limit of " INT64_FORMAT " rows for now",
					min_rows) :
			 errmsg("insider_guard: baseline rule limits nobody yet"),
			 ncovered == 0 ?
			 errdetail("It covers no role that can log in.") :
			 ncovered == 1 ?
			 errdetail("Role %s has no usable limit%s: %s.",
					   ig_log_quote(first_name ? first_name : "?"),
					   block ? " from history" : "",
					   ig_baseline_no_limit_reason(&first,
												   compare_to != IG_COMPARE_PEERS)) :
			 compare_to == IG_COMPARE_PEERS ?
			 errdetail("None of the %d roles it covers has 5 peers with usable history (20 active windows on 7 distinct days).",
					   ncovered) :
			 errdetail("None of the %d roles it covers has usable history of its own (20 active windows on 7 distinct days), nor 5 peers with such history.",
					   ncovered),
			 errhint("Seed the history with record_history, or register peer groups with add_peer_group.  The baselines view shows why for each role.")));
}

/*
 * insider_guard.set_baseline_rule(role_name regrole, factor float8 DEFAULT
 *     5, per interval DEFAULT '1 hour', min_rows bigint DEFAULT 1000,
 *     compare_to text DEFAULT 'self', action text DEFAULT 'log',
 *     on_table regclass DEFAULT NULL) RETURNS bigint
 */
Datum
ig_set_baseline_rule(PG_FUNCTION_ARGS)
{
	static const char *const argnames[7] = {"role_name", "factor", "per",
	"min_rows", "compare_to", "action", "on_table"};
	static const Oid argtypes[7] = {REGROLEOID, FLOAT8OID, INTERVALOID,
	INT8OID, TEXTOID, TEXTOID, REGCLASSOID};
	Oid			types[7] = {REGROLEOID, REGCLASSOID, INTERVALOID, FLOAT8OID,
	INT8OID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7];
	Datum		id;
	char	   *compare_to;

	ig_require_preloaded();
	if (!PG_ARGISNULL(0))
		ig_check_role_arg(PG_GETARG_OID(0), "role_name");
	ig_check_baseline_rule(PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_FLOAT8(1),
						   PG_ARGISNULL(2) ? NULL : PG_GETARG_INTERVAL_P(2),
						   PG_ARGISNULL(3), PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3),
						   PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4)),
						   PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5)),
						   PG_ARGISNULL(6), PG_ARGISNULL(6) ? InvalidOid : PG_GETARG_OID(6),
						   false);

	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(6);
	values[2] = PG_GETARG_DATUM(2);
	values[3] = PG_GETARG_DATUM(1);
	values[4] = PG_GETARG_DATUM(3);
	values[5] = PG_GETARG_DATUM(4);
	values[6] = PG_GETARG_DATUM(5);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	nulls[1] = PG_ARGISNULL(6) ? 'n' : ' ';
	for (int i = 2; i < 7; i++)
		nulls[i] = ' ';
	id = store_rule(fcinfo, ig_novelty_installed() ?
					UPSERT_BASELINE_RULE_HEAD BASELINE_RULE_KEY UPSERT_BASELINE_RULE_TAIL :
					UPSERT_BASELINE_RULE_HEAD BASELINE_RULE_KEY_0_3 UPSERT_BASELINE_RULE_TAIL,
					7, types, values, nulls, "set_baseline_rule",
					argnames, argtypes);
	compare_to = text_to_cstring(PG_GETARG_TEXT_PP(4));
	notice_if_limits_nobody(PG_ARGISNULL(0),
							PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0),
							PG_ARGISNULL(6) ? InvalidOid : PG_GETARG_OID(6),
							ig_baseline_per_arg(PG_GETARG_INTERVAL_P(2)),
							strcmp(compare_to, "peers") == 0 ? IG_COMPARE_PEERS :
							strcmp(compare_to, "both") == 0 ? IG_COMPARE_BOTH :
							IG_COMPARE_SELF,
							strcmp(text_to_cstring(PG_GETARG_TEXT_PP(5)),
								   "block") == 0,
							PG_GETARG_INT64(3));
	PG_RETURN_DATUM(id);
}

/*
 * insider_guard.set_novelty_rule(role_name regrole, min_rows bigint
 *     DEFAULT 1000, action text DEFAULT 'log') RETURNS bigint: a role
 * reading, within a day, more than max(min_rows, its hourly p50) rows
 * of a table that neither it nor a peer has read breaks it.
 */
Datum
ig_set_novelty_rule(PG_FUNCTION_ARGS)
{
	static const char *const argnames[3] = {"role_name", "min_rows", "action"};
	static const Oid argtypes[3] = {REGROLEOID, INT8OID, TEXTOID};
	Oid			types[3] = {REGROLEOID, INT8OID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	ig_require_preloaded();
	if (!PG_ARGISNULL(0))
		ig_check_role_arg(PG_GETARG_OID(0), "role_name");
	ig_check_min_rows_arg(PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1));
	ig_check_action_arg(PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)));
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	PG_RETURN_DATUM(store_rule(fcinfo, UPSERT_NOVELTY_RULE, 3, types, values,
							   nulls, "set_novelty_rule", argnames, argtypes));
}

/* The group_role argument of add_peer_group/drop_peer_group (likewise). */
static Datum
group_arg(FunctionCallInfo fcinfo, bool adding)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group_role must not be null")));
	if (adding)
		ig_check_role_arg(PG_GETARG_OID(0), "group_role");
	return PG_GETARG_DATUM(0);
}

/*
 * insider_guard.add_peer_group(group_role regrole) RETURNS void: the
 * direct members of the role are each other's peers.
 */
Datum
ig_add_peer_group(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {REGROLEOID};
	Datum		values[1];
	bool		isnull;

	ig_require_preloaded();
	values[0] = group_arg(fcinfo, true);
	run("INSERT INTO insider_guard.peer_group_roles (group_role) VALUES ($1) "
		"ON CONFLICT DO NOTHING", 1, types, values, " ", &isnull);
	ig_admin_log_call(fcinfo, "add_peer_group", group_argname, role_argtype, 1,
					  (Datum) 0, InvalidOid);
	PG_RETURN_VOID();
}

/*
 * insider_guard.drop_peer_group(group_role regrole) RETURNS void
 */
Datum
ig_drop_peer_group(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {REGROLEOID};
	Datum		values[1];
	bool		isnull;

	ig_require_preloaded();
	values[0] = group_arg(fcinfo, false);
	run("DELETE FROM insider_guard.peer_group_roles WHERE group_role = $1",
		1, types, values, " ", &isnull);
	ig_admin_log_call(fcinfo, "drop_peer_group", group_argname, role_argtype, 1,
					  (Datum) 0, InvalidOid);
	PG_RETURN_VOID();
}

/*
 * Raises the error for a window record_history refused (see
 * ig_history_seed): it overlaps the windows the server counted itself into
 * the series, or which windows the series holds were seeded is not known.
 */
static void
seed_refused(const IgSeriesKey *key, IgSeedResult result,
			 TimestampTz window_end, TimestampTz live_from)
{
	char	   *role = ig_role_name(key->roleid, true);
	const char *per = key->kind == IG_HIST_WEEK ? "7-day" :
		key->kind == IG_HIST_DAY ? "daily" : "hourly";
	char	   *of;

	if (OidIsValid(key->relid))
		of = psprintf("table \"%s\"", ig_qualified_name(key->relid));
	else
		of = pstrdup("all tables");
	if (result == IG_SEED_UNKNOWN)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("insider_guard: which windows of role \"%s\"'s %s history of %s were seeded is not known",
						role, per, of),
				 errdetail("The history was kept by an earlier build, or the record of seeded windows was lost: seeding a window again could count it twice."),
				 errhint("Forget the history with insider_guard.reset_history('%s'), then seed it whole again.",
						 role)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("insider_guard: the window ending at %s overlaps the history the server counted itself",
					timestamptz_to_str(window_end)),
			 errdetail("The server has counted role \"%s\"'s %s windows of %s itself from %s on; a seeded window must end by then.",
					   role, per, of, timestamptz_to_str(live_from)),
			 errhint("Seed only the windows before it, or forget the history with insider_guard.reset_history first.")));
}

/*
 * insider_guard.record_history(role_name regrole, on_table regclass,
 *     per interval, window_end timestamptz, rows bigint) RETURNS void:
 * seeds the history with a past window (on_table NULL: all tables) -- the
 * UTC hour or day that holds the instant just before window_end (for
 * per '7 days', the 7 UTC days that end with that day) -- that
 * read "rows" rows.  The same window seeded again is replaced: the last
 * call's rows count, and 0 rows removes it (a window that read nothing is
 * not history).  Windows from the oldest the server counted itself into
 * the series on are refused.  Not transactional.
 */
Datum
ig_record_history(PG_FUNCTION_ARGS)
{
	static const char *const argnames[5] = {"role_name", "on_table", "per",
	"window_end", "rows"};
	static const Oid argtypes[5] = {REGROLEOID, REGCLASSOID, INTERVALOID,
	TIMESTAMPTZOID, INT8OID};
	IgSeriesKey key;
	TimestampTz window_end;
	TimestampTz live_from = 0;
	int64		rows;
	IgSeedResult result;

	ig_require_preloaded();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role_name must not be null")));
	ig_check_role_arg(PG_GETARG_OID(0), "role_name");
	if (!PG_ARGISNULL(1))
		ig_check_table_arg(PG_GETARG_OID(1), "on_table");
	key.kind = ig_baseline_per_arg(PG_ARGISNULL(2) ? NULL : PG_GETARG_INTERVAL_P(2));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_end must not be null")));
	window_end = PG_GETARG_TIMESTAMPTZ(3);
	if (TIMESTAMP_NOT_FINITE(window_end) || window_end > ig_now())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_end must be a finite time in the past")));

	/*
	 * The window in progress is counted as it is read: a seeded window may
	 * not end inside it, or its rows would be counted twice.
	 */
	if (window_end > ig_floor_div(ig_now(), ig_hist_kind_length(key.kind)) *
		ig_hist_kind_length(key.kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_end must not be later than the start of the current window"),
				 errhint("Windows are UTC hours and days (7-day totals end with a day): seed those ending at date_trunc('%s', now(), 'UTC') or before.",
						 key.kind == IG_HIST_HOUR ? "hour" : "day")));
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rows must not be null")));
	rows = PG_GETARG_INT64(4);
	if (rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rows must not be negative")));

	key.dbid = MyDatabaseId;
	key.roleid = PG_GETARG_OID(0);
	key.relid = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	result = ig_history_seed(&key, window_end, rows, &live_from);
	if (result == IG_SEED_OVERLAPS || result == IG_SEED_UNKNOWN)
		seed_refused(&key, result,
					 ig_floor_div(window_end - 1, ig_hist_kind_length(key.kind)) *
					 ig_hist_kind_length(key.kind) + ig_hist_kind_length(key.kind),
					 live_from);
	if (result == IG_SEED_NO_ROOM)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("insider_guard: no shared memory left for another history series")));
	ig_admin_log_call(fcinfo, "record_history", argnames, argtypes, 5,
					  (Datum) 0, InvalidOid);
	PG_RETURN_VOID();
}

/*
 * insider_guard.reset_history(role_name regrole DEFAULT NULL) RETURNS
 * bigint: forgets the history of a role (every role if NULL) in this
 * database -- for a role that changed job, whose old normal no longer
 * applies; until it builds up again, "self" rules fall back to its new
 * peers.  Returns how many series were removed.  Not transactional.
 */
Datum
ig_reset_history(PG_FUNCTION_ARGS)
{
	int64		removed;

	ig_require_preloaded();
	removed = ig_history_reset(MyDatabaseId,
							   PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0));
	ig_admin_log_call(fcinfo, "reset_history", role_argname, role_argtype, 1,
					  Int64GetDatum(removed), INT8OID);
	PG_RETURN_INT64(removed);
}
