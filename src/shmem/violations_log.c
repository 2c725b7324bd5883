/*-------------------------------------------------------------------------
 *
 * violations_log.c
 *		The server log lines of violation records and of their incidents'
 *		repeats, as text or (insider_guard.log_format = json) as JSON
 *		events.
 *
 * A record's line is written when the record is made (violations.c),
 * LOG_SERVER_ONLY so that no client sees it (a watched role can SET
 * client_min_messages):
 *
 *	insider_guard: violation 2: role "terry" (current role "terry") was
 *		stopped reading table "public.customers": threshold 2 allows 5000
 *		rows per 01:00:00 (block); 5001 rows in the window, 3998 read by
 *		the statement; pid 28948, application "psql", client local,
 *		query "..."
 *
 * (on one line), every string quoted by ig_log_quote; in JSON, the event
 * "violation".  The later stops of a block rule's incident are counted
 * in shared memory and written to the store lazily (violations.c,
 * ig_violations_write_repeats); each incident whose count was written
 * gets one line then, "violation N of database D: R repeats, the last at
 * T", in JSON the event "violation_repeats": at most one line per
 * incident per save_interval however fast its role is stopped.
 *
 * IDENTIFICATION
 *		src/shmem/violations_log.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "base/event.h"
#include "base/logtext.h"
#include "base/names.h"
#include "shmem/counters.h"
#include "shmem/violations.h"

/* A window length for people, as interval_out writes it: "01:00:00", "1 day". */
static char *
window_text(int64 per)
{
	Interval	interval;

	interval.month = 0;
	interval.day = per / USECS_PER_DAY;
	interval.time = per % USECS_PER_DAY;
	return DatumGetCString(DirectFunctionCall1(interval_out,
											   IntervalPGetDatum(&interval)));
}

/* A record's line as text: every string quoted by ig_log_quote. */
static void
log_text(const IgViolation *v, const IgBreak *brk, bool written)
{
	ereport(LOG_SERVER_ONLY,
			(errmsg("insider_guard: violation %lld%s: role %s (current role %s) %s table %s: %s %lld allows %lld rows per %s%s (%s); %lld rows in the window, %lld read by the statement; pid %d, application %s, client %s, query %s",
					(long long) v->facts.violation_id,
					written ? "" : " (not written to disk)",
					ig_log_quote(v->role_name), ig_log_quote(v->current_role_name),
					brk->stopped ? "was stopped reading" :
					brk->block ? "read past the block limit on" :
					brk->novelty ? "read past its novelty rule on" :
					brk->baseline ? "read past its baseline on" : "read past its threshold on",
					ig_log_quote(v->table_name),
					brk->novelty ? "novelty rule" :
					brk->baseline ? "baseline rule" : "threshold",
					(long long) brk->threshold_id,
					(long long) brk->max_rows, window_text(brk->per),
					brk->baseline ? " now" : "",
					brk->block ? "block" : "log",
					(long long) brk->rows_in_window, (long long) brk->statement_rows,
					v->facts.backend_pid, ig_log_quote(v->application_name),
					v->client_addr[0] ? v->client_addr : "local",
					ig_log_quote(v->query)),
			 errhidestmt(true), errhidecontext(true)));
}

/* A record's line as the JSON event "violation" (docs/events.md). */
static void
log_json(const IgViolation *v, const IgBreak *brk, bool written)
{
	IgEvent		ev;
	bool		has_table = OidIsValid(v->facts.table_oid);

	ig_event_begin(&ev, "violation", v->facts.occurred_at);
	ig_event_int(&ev, "violation_id", v->facts.violation_id);
	ig_event_bool(&ev, "written", written);
	ig_event_string(&ev, "database", ig_database_name(brk->catalog_ok));
	ig_event_int(&ev, "database_oid", v->facts.dbid);
	ig_event_string(&ev, "role", v->role_name);
	ig_event_int(&ev, "role_oid", v->facts.roleid);
	ig_event_string(&ev, "current_role", v->current_role_name);
	ig_event_string(&ev, "table", has_table ? v->table_name : NULL);
	if (has_table)
		ig_event_int(&ev, "table_oid", v->facts.table_oid);
	else
		ig_event_null(&ev, "table_oid");
	ig_event_keyword(&ev, "rule_kind", brk->novelty ? "novelty" :
					 brk->baseline ? "baseline" : "threshold");
	ig_event_int(&ev, "rule_id", brk->threshold_id);
	ig_event_keyword(&ev, "action", brk->block ? "block" : "log");
	ig_event_bool(&ev, "stopped", brk->stopped);
	ig_event_int(&ev, "max_rows", brk->max_rows);
	ig_event_interval(&ev, "per", "per_seconds", brk->per);
	ig_event_int(&ev, "rows_in_window", brk->rows_in_window);
	ig_event_int(&ev, "statement_rows", brk->statement_rows);
	ig_event_int(&ev, "repeats", v->repeats);
	ig_event_int(&ev, "backend_pid", v->facts.backend_pid);
	ig_event_string(&ev, "application", v->application_name);
	ig_event_keyword(&ev, "client_addr", v->client_addr[0] ? v->client_addr : NULL);
	ig_event_string_cut_first(&ev, "query", v->query);
	ig_event_emit(&ev, LOG_SERVER_ONLY);
}

/*
 * The line of a record just made (written: to disk), from the record as
 * it will be read back and the break it records.
 */
void
ig_violation_log(const IgViolation *v, const IgBreak *brk, bool written)
{
	if (ig_event_json())
		log_json(v, brk, written);
	else
		log_text(v, brk, written);
}

/* The line of an incident whose repeats were just written to the store. */
void
ig_violation_log_repeats(const IgIncidentChange *change)
{
	IgEvent		ev;

	if (!ig_event_json())
	{
		ereport(LOG_SERVER_ONLY,
				(errmsg("insider_guard: violation %lld of database %u: %lld repeats, the last at %s",
						(long long) change->violation_id, change->dbid,
						(long long) change->repeats,
						ig_event_time_text(change->last_seen)),
				 errhidestmt(true), errhidecontext(true)));
		return;
	}
	ig_event_begin(&ev, "violation_repeats", ig_now());
	ig_event_int(&ev, "violation_id", change->violation_id);
	ig_event_int(&ev, "database_oid", change->dbid);
	ig_event_int(&ev, "repeats", change->repeats);
	ig_event_time(&ev, "last_seen_at", change->last_seen);
	ig_event_emit(&ev, LOG_SERVER_ONLY);
}
