/*-------------------------------------------------------------------------
 *
 * adminlog.c
 *		The server log line of every admin action, so that removing
 *		evidence leaves a trace: the SQL functions that change rules,
 *		counts, history or violation records, and direct DML (a restore
 *		too) on the rules tables thresholds, exemptions, baseline_rules
 *		and peer_group_roles.
 *
 * Each action writes one LOG_SERVER_ONLY line (no client sees it, and a
 * role cannot hide it with client_min_messages), as text or, with
 * insider_guard.log_format = json, as the JSON event "admin" (event.c;
 * the same values, typed, its arguments in an object):
 *
 *	insider_guard: admin ACTION by session user "ROLE" in database "DB":
 *		NAME "VALUE", NAME "VALUE", ...[; result "VALUE"]
 *
 * (on one line).  ACTION is the function's name, or INSERT, UPDATE,
 * DELETE or TRUNCATE for direct DML; then come the function's arguments
 * and its result, or the table, the row deleted ("old row (...)") and/or
 * written ("new row (...)"), or the rows a TRUNCATE removed.  Every value
 * is quoted by ig_log_quote, so that no role or table name can start a
 * new log line; an SQL NULL is written NULL, unquoted, and says what it
 * means for a role ("every role") or a table ("all tables").  Roles and
 * tables are written by name (tables schema-qualified), or by OID if they
 * no longer exist.
 *
 * The functions write their line when they have done their work, with its
 * result, also when that was nothing (drop_threshold of an id that does
 * not exist); a call that fails on bad input changed nothing and writes
 * none.  Direct DML is logged by triggers on the rules tables: AFTER ...
 * FOR EACH ROW for INSERT, UPDATE and DELETE (one line per row, as it
 * was stored), BEFORE TRUNCATE FOR EACH STATEMENT (the rows still there
 * to count).  The functions change the tables through SPI: while they do
 * (ig_admin_quiet), the triggers stay quiet, so that a call writes one
 * line, its own.
 *
 * IDENTIFICATION
 *		src/sql/adminlog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "base/compat.h"
#include "sql/adminlog.h"
#include "base/logtext.h"
#include "base/names.h"
#include "cache/rules.h"
#include "shmem/violations.h"

PG_FUNCTION_INFO_V1(ig_log_rule_change_trigger);

int			ig_admin_quiet = 0;

/*
 * A time or an interval as text in one style, whatever the session's
 * settings: ISO times in UTC ("2026-12-01 15:00:00+00"), intervals as
 * the violation lines write them ("01:00:00", "1 day").
 */
static char *
fixed_style_text(Datum value, Oid type)
{
	int			nest_level = NewGUCNestLevel();
	Oid			output;
	bool		varlena;
	char	   *text;

	(void) set_config_option("datestyle", "ISO, YMD", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("timezone", "UTC", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	getTypeOutputInfo(type, &output, &varlena);
	text = OidOutputFunctionCall(output, value);
	AtEOXact_GUC(true, nest_level);
	return text;
}

/*
 * A value as text for the log, before quoting: roles and tables by name
 * (or OID, if gone), booleans as true and false, times and intervals in
 * one style, anything else by its type's output function.
 */
static char *
value_text(Datum value, Oid type)
{
	Oid			output;
	bool		varlena;
	char	   *text;

	switch (type)
	{
		case REGROLEOID:
			text = GetUserNameFromId(DatumGetObjectId(value), true);
			return text ? text : psprintf("%u", DatumGetObjectId(value));
		case REGCLASSOID:
			text = ig_qualified_name(DatumGetObjectId(value));
			return text ? text : psprintf("%u", DatumGetObjectId(value));
		case CSTRINGOID:
			return DatumGetCString(value);
		case BOOLOID:
			return pstrdup(DatumGetBool(value) ? "true" : "false");
		case TIMESTAMPTZOID:
		case INTERVALOID:
			return fixed_style_text(value, type);
		default:
			getTypeOutputInfo(type, &output, &varlena);
			return OidOutputFunctionCall(output, value);
	}
}

/*
 * Appends NAME "VALUE" (or NAME NULL ...).  A name that is not a plain
 * lower-case identifier (a renamed column) is quoted too.
 */
static void
append_value(StringInfo buf, const char *name, Datum value, Oid type,
			 bool isnull)
{
	bool		plain = name[0] != '\0';

	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			plain = false;
	appendStringInfoString(buf, plain ? name : ig_log_quote(name));
	appendStringInfoChar(buf, ' ');

	if (!isnull)
		appendStringInfoString(buf, ig_log_quote(value_text(value, type)));
	else if (type == REGROLEOID)
		appendStringInfoString(buf, "NULL (every role)");
	else if (type == REGCLASSOID)
		appendStringInfoString(buf, "NULL (all tables)");
	else
		appendStringInfoString(buf, "NULL");
}

/*
 * A value as a JSON field: integers and finite floats as numbers, booleans
 * as true and false, times as RFC 3339 in UTC, an SQL NULL as null,
 * anything else as value_text writes it.
 */
static void
event_value(IgEvent *ev, const char *name, Datum value, Oid type, bool isnull)
{
	if (isnull)
		ig_event_null(ev, name);
	else if (type == INT2OID || type == INT4OID || type == INT8OID ||
			 type == OIDOID || type == FLOAT4OID || type == FLOAT8OID ||
			 type == NUMERICOID)
		ig_event_number_text(ev, name, value_text(value, type));
	else if (type == BOOLOID)
		ig_event_bool(ev, name, DatumGetBool(value));
	else if (type == TIMESTAMPTZOID)
		ig_event_time(ev, name, DatumGetTimestampTz(value));
	else
		ig_event_string(ev, name, value_text(value, type));
}

/* Closes the event's "arguments" object, if open. */
static void
end_arguments(IgAdminLine *line)
{
	if (line->in_arguments)
		ig_event_end(&line->event);
	line->in_arguments = false;
}

/*
 * Starts a line: the action, the session user and the database.
 */
void
ig_admin_line_start(IgAdminLine *line, const char *action)
{
	Oid			session_user = GetSessionUserId();
	char	   *database = get_database_name(MyDatabaseId);
	char	   *role = value_text(ObjectIdGetDatum(session_user), REGROLEOID);

	line->json = ig_event_json();
	line->separator = "";
	line->in_arguments = false;
	if (line->json)
	{
		ig_event_begin(&line->event, "admin", ig_now());
		ig_event_string(&line->event, "database", database);
		ig_event_int(&line->event, "database_oid", MyDatabaseId);
		ig_event_string(&line->event, "role", role);
		ig_event_int(&line->event, "role_oid", session_user);
		ig_event_keyword(&line->event, "action", action);
		ig_event_object(&line->event, "arguments");
		line->in_arguments = true;
		return;
	}
	initStringInfo(&line->text);
	appendStringInfo(&line->text,
					 "insider_guard: admin %s by session user %s in database %s: ",
					 action, ig_log_quote(role),
					 ig_log_quote(database ? database :
								  psprintf("%u", MyDatabaseId)));
}

/* Appends a named value (an argument, a column, a count). */
void
ig_admin_line_value(IgAdminLine *line, const char *name, Datum value,
					Oid type, bool isnull)
{
	if (line->json)
	{
		event_value(&line->event, name, value, type, isnull);
		return;
	}
	appendStringInfoString(&line->text, line->separator);
	append_value(&line->text, name, value, type, isnull);
	line->separator = ", ";
}

/* Appends a function's result. */
void
ig_admin_line_result(IgAdminLine *line, Datum value, Oid type, bool isnull)
{
	if (line->json)
	{
		end_arguments(line);
		event_value(&line->event, "result", value, type, isnull);
		return;
	}
	appendStringInfoString(&line->text, "; ");
	append_value(&line->text, "result", value, type, isnull);
	line->separator = ", ";
}

/*
 * Appends every column of a row of a rules table: label (NAME "VALUE",
 * ...), in JSON the object key {"NAME": VALUE, ...}.
 */
static void
append_row(IgAdminLine *line, const char *label, const char *key,
		   HeapTuple tuple, TupleDesc desc)
{
	const char *inner = "";

	if (line->json)
	{
		end_arguments(line);
		ig_event_object(&line->event, key);
	}
	else
		appendStringInfo(&line->text, "%s%s (", line->separator, label);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		isnull;
		Datum		value;

		if (att->attisdropped)
			continue;
		value = heap_getattr(tuple, i + 1, desc, &isnull);
		if (line->json)
		{
			event_value(&line->event, NameStr(att->attname), value,
						att->atttypid, isnull);
			continue;
		}
		appendStringInfoString(&line->text, inner);
		append_value(&line->text, NameStr(att->attname), value,
					 att->atttypid, isnull);
		inner = ", ";
	}
	if (line->json)
		ig_event_end(&line->event);
	else
		appendStringInfoChar(&line->text, ')');
	line->separator = ", ";
}

/* Writes the line to the server log only, and frees it. */
void
ig_admin_line_emit(IgAdminLine *line)
{
	if (line->json)
	{
		end_arguments(line);
		ig_event_emit(&line->event, LOG_SERVER_ONLY);
		return;
	}
	ereport(LOG_SERVER_ONLY,
			(errmsg_internal("%s", line->text.data),
			 errhidestmt(true), errhidecontext(true)));
	pfree(line->text.data);
}

/*
 * The line of an admin function's call: its arguments, by the names
 * given, and its result (result_type InvalidOid: it returns void).
 */
void
ig_admin_log_call(FunctionCallInfo fcinfo, const char *action,
				  const char *const *argnames, const Oid *argtypes,
				  int nargs, Datum result, Oid result_type)
{
	IgAdminLine line;

	ig_admin_line_start(&line, action);
	for (int i = 0; i < nargs && i < PG_NARGS(); i++)
		ig_admin_line_value(&line, argnames[i],
							PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i),
							argtypes[i], PG_ARGISNULL(i));
	if (OidIsValid(result_type))
		ig_admin_line_result(&line, result, result_type, false);
	ig_admin_line_emit(&line);
}

/*
 * The rows a table holds now, read without the caller's privileges (a
 * role may TRUNCATE a table it may not SELECT from).  TRUNCATE has locked
 * the table: the latest snapshot sees every row it removes.
 */
static int64
count_rows(Relation rel)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan = ig_table_beginscan(rel, snapshot, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	int64		rows = 0;

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		rows++;
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	return rows;
}

/*
 * insider_guard._log_rule_change(): the trigger that logs direct DML on a
 * rules table, AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW (the
 * rows as stored), and BEFORE TRUNCATE ... FOR EACH STATEMENT (how many
 * rows it removes).  Quiet while an admin function changes the table:
 * that function logs the call.
 */
Datum
ig_log_rule_change_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent event;
	Relation	rel;
	TupleDesc	desc;
	IgAdminLine line;
	char	   *table;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "not called as a trigger");
	if (ig_admin_quiet > 0)
		return PointerGetDatum(NULL);
	event = trigdata->tg_event;
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	if (!TRIGGER_FIRED_BY_TRUNCATE(event) && !TRIGGER_FIRED_FOR_ROW(event))
		elog(ERROR, "insider_guard._log_rule_change must be a row trigger for INSERT, UPDATE and DELETE");
	table = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									   RelationGetRelationName(rel));

	if (TRIGGER_FIRED_BY_TRUNCATE(event))
	{
		ig_admin_line_start(&line, "TRUNCATE");
		ig_admin_line_value(&line, "table", CStringGetDatum(table), CSTRINGOID, false);
		ig_admin_line_value(&line, "rows", Int64GetDatum(count_rows(rel)),
							INT8OID, false);
	}
	else if (TRIGGER_FIRED_BY_INSERT(event))
	{
		ig_admin_line_start(&line, "INSERT");
		ig_admin_line_value(&line, "table", CStringGetDatum(table), CSTRINGOID, false);
		append_row(&line, "new row", "new_row", trigdata->tg_trigtuple, desc);
	}
	else if (TRIGGER_FIRED_BY_UPDATE(event))
	{
		ig_admin_line_start(&line, "UPDATE");
		ig_admin_line_value(&line, "table", CStringGetDatum(table), CSTRINGOID, false);
		append_row(&line, "old row", "old_row", trigdata->tg_trigtuple, desc);
		append_row(&line, "new row", "new_row", trigdata->tg_newtuple, desc);
	}
	else
	{
		ig_admin_line_start(&line, "DELETE");
		ig_admin_line_value(&line, "table", CStringGetDatum(table), CSTRINGOID, false);
		append_row(&line, "old row", "old_row", trigdata->tg_trigtuple, desc);
	}
	ig_admin_line_emit(&line);
	return PointerGetDatum(NULL);
}

/*
 * A role membership granted or revoked, in any database (memberships.c):
 * a line each.  In a database that registers the group as a peer group,
 * it says so -- changing a group's members changes its members' peer
 * limits -- and otherwise "role membership": a rule may cover either role
 * here or in another database (coverage follows memberships).
 */
void
ig_admin_log_membership(Oid groupid, Oid member, bool granted)
{
	IgAdminLine line;
	bool		peer_group = ig_rules_is_peer_group(groupid);

	ig_admin_line_start(&line, peer_group ?
						(granted ? "GRANT peer group membership" :
						 "REVOKE peer group membership") :
						(granted ? "GRANT role membership" :
						 "REVOKE role membership"));
	ig_admin_line_value(&line, "group_role", ObjectIdGetDatum(groupid),
						REGROLEOID, false);
	ig_admin_line_value(&line, "member", ObjectIdGetDatum(member),
						REGROLEOID, false);
	ig_admin_line_emit(&line);
}
