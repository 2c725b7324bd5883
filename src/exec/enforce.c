/*-------------------------------------------------------------------------
 *
 * enforce.c
 *		Thresholds applied to one table (or all tables) of a statement:
 *		how many rows are left, and what happens when a rule breaks.
 *
 * At statement start the window counts of every rule covering a key are
 * read from its counter (created and pinned if need be: a counter a block
 * rule needs that cannot be created fails the statement with 53200).  The
 * executor hands out rows to scan nodes in grants that never exceed the
 * smallest "rows left" of their keys, nor insider_guard.batch_rows; when
 * a grant runs out it settles with shared memory, reads the counts back
 * under the same spinlock, and asks ig_enforce_check what broke.
 *
 * A block rule breaks when its window count exceeds max_rows: the
 * statement is recorded and stopped with 42501.  A log rule is crossed
 * when an addition takes its window count from max_rows or below to above
 * it.  Additions to a counter are serialized by its spinlock and raise
 * every window by the rows added, so exactly one process sees each
 * crossing, and a rule whose window count has fallen back is crossed
 * again the next time it goes over.  Each crossing is a record (for a
 * 7-day baseline rule, crossings within 7 days of each other are one),
 * and leaves an incident on the counter, so that a statement that reads
 * over a log limit it did not cross -- lowered, or switched from block,
 * while the count was above it -- is a record too, once (record_log).
 *
 * IDENTIFICATION
 *		src/exec/enforce.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "cache/baseline.h"
#include "cache/budget.h"
#include "shmem/counters.h"
#include "exec/enforce.h"
#include "base/event.h"
#include "base/guc.h"
#include "shmem/history.h"
#include "base/logtext.h"
#include "base/names.h"
#include "cache/citus_session.h"
#include "cache/rules.h"
#include "exec/lease.h"
#include "shmem/violations.h"

/*
 * The rules covering the session user for a relation (InvalidOid: all
 * tables), copied into cxt, for counts taken outside a statement (COPY t
 * TO); NULL if none.
 */
IgKeyRules *
ig_enforce_copy(Oid userid, Oid relid, MemoryContext cxt)
{
	IgRuleList *list = ig_rules_for_relation(userid, relid);
	IgRuleList *copy;
	IgKeyRules *kr;
	int			n;

	if (list == NULL || list->nrules == 0)
		return NULL;
	ig_names_remember(userid, list->relid);
	ig_budget_apply(list);
	ig_baseline_refresh(list, userid);
	n = list->nrules;
	copy = MemoryContextAlloc(cxt, sizeof(IgRuleList));
	*copy = *list;
	copy->rules = MemoryContextAlloc(cxt, sizeof(IgRule) * n);
	memcpy(copy->rules, list->rules, sizeof(IgRule) * n);
	copy->rings = MemoryContextAlloc(cxt, sizeof(int) * n);
	memcpy(copy->rings, list->rings, sizeof(int) * n);
	copy->lengths = MemoryContextAlloc(cxt, sizeof(int64) * n);
	memcpy(copy->lengths, list->lengths, sizeof(int64) * n);
	copy->maxes = MemoryContextAlloc(cxt, sizeof(int64) * n);
	memcpy(copy->maxes, list->maxes, sizeof(int64) * n);
	copy->blocks = MemoryContextAlloc(cxt, sizeof(bool) * n);
	memcpy(copy->blocks, list->blocks, sizeof(bool) * n);
	if (list->nlive > 0)
	{
		copy->live = MemoryContextAlloc(cxt, sizeof(IgLiveRule) * list->nlive);
		memcpy(copy->live, list->live, sizeof(IgLiveRule) * list->nlive);
	}
	kr = MemoryContextAlloc(cxt, sizeof(IgKeyRules));
	/* with a memo of its own: the cache's may be dropped while COPY runs */
	ig_enforce_init(kr, copy, MemoryContextAllocZero(cxt, sizeof(uint64) * n));
	return kr;
}

/* Rows left before a rule breaks or is crossed, from the last counts. */
static void
update_limit(IgKeyRules *kr)
{
	if (likely(!kr->query.over))
	{
		ig_enforce_limit_within(kr);
		return;
	}

	/* some count is over: the sums are exact */
	kr->limiting = false;
	kr->blocked = false;
	kr->limit = PG_INT64_MAX;
	for (int i = 0; i < kr->list->nrules; i++)
	{
		const IgRule *rule = &kr->list->rules[i];
		int64		count = (int64) kr->query.sum[i];

		if (rule->block)
		{
			kr->limiting = true;
			kr->limit = Min(kr->limit, rule->max_rows - count);
			if (count > rule->max_rows)
				kr->blocked = true;
		}
		else if (count <= rule->max_rows)
		{
			/* stop at the row that crosses it, to record exactly there */
			kr->limiting = true;
			kr->limit = Min(kr->limit, rule->max_rows - count);
		}
	}
}

/*
 * The JSON event of a statement that found no room in shared memory for a
 * counter its rules need: "fail_closed" (stopped with 53200: a block rule
 * needed it) or "checks_skipped" (its log rules were not checked).  Its
 * statement context is that of a violation.
 */
static void
log_no_room_event(const char *event, Oid userid, bool catalog_ok,
				  uint64 suppressed)
{
	IgEvent		ev;
	char	   *query;
	char	   *client_addr;
	char	   *application;
	int32		pid;

	ig_statement_context(&query, &client_addr, &application, &pid);
	ig_event_begin(&ev, event, ig_now());
	ig_event_string(&ev, "database", ig_database_name(catalog_ok));
	ig_event_int(&ev, "database_oid", MyDatabaseId);
	ig_event_string(&ev, "role", ig_role_name(userid, catalog_ok));
	ig_event_int(&ev, "role_oid", userid);
	ig_event_int(&ev, "max_tracked", ig_max_tracked);
	if (suppressed != PG_UINT64_MAX)
		ig_event_uint(&ev, "suppressed_lines", suppressed);
	ig_event_int(&ev, "backend_pid", pid);
	ig_event_string(&ev, "application", application);
	ig_event_keyword(&ev, "client_addr", client_addr[0] ? client_addr : NULL);
	ig_event_string_cut_first(&ev, "query", query);
	ig_event_emit(&ev, LOG_SERVER_ONLY);
}

/*
 * Fails the statement when a counter a block rule needs cannot exist
 * (with JSON events, a "fail_closed" event comes first: the ERROR's text
 * is the client's); else logs, at most once a second, that the rules
 * were not checked.
 */
static void
no_room(IgKeyRules *kr, Oid userid, bool may_raise)
{
	uint64		suppressed;
	bool		fail_closed = kr->list->any_block && may_raise;

	/* counted for the info view, before the error */
	ig_counters_note_no_room(fail_closed);
	if (fail_closed && ig_event_json())
		log_no_room_event("fail_closed", userid, may_raise, PG_UINT64_MAX);
	if (fail_closed)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("insider_guard: no room in shared memory to track the reads of role %s",
						ig_log_quote(ig_role_name(userid, may_raise))),
				 errdetail("Every counter is in use by a threshold."),
				 errhint("Increase insider_guard.max_tracked.")));
	if (ig_counters_log_allowed(IG_LOG_NO_ROOM, &suppressed))
	{
		if (ig_event_json())
			log_no_room_event("checks_skipped", userid, may_raise, suppressed);
		else
			ereport(LOG,
					(errmsg("insider_guard: no room in shared memory to check the thresholds of role %s",
							ig_log_quote(ig_role_name(userid, may_raise))),
					 suppressed > 0 ?
					 errdetail("%llu more such lines were suppressed in the last second or more.",
							   (unsigned long long) suppressed) : 0,
					 errhint("Increase insider_guard.max_tracked."),
					 errhidestmt(true)));
	}
	kr->limiting = false;
}

/*
 * ig_enforce_begin for a counter that must be read: created and pinned if
 * need be.
 */
void
ig_enforce_begin_slow(IgKeyRules *kr, IgTally *tally, Oid userid)
{
	TimestampTz now = ig_now();

	if (!ig_counters_query(MyDatabaseId, userid, tally, now))
	{
		no_room(kr, userid, true);
		return;
	}
	update_limit(kr);
}

/*
 * Reads a block-ruled key's counts and (re)takes its reservation: the
 * rows its nodes still hold (kr->res.keep) and up to kr->res.want fresh
 * ones, which become its pool.  A counter that cannot be made fails the
 * statement with 53200.
 */
void
ig_enforce_reserve(IgKeyRules *kr, IgTally *tally, Oid userid, TimestampTz now)
{
	kr->query.valid = false;
	kr->query.over = false;
	kr->pool = 0;
	if (!ig_counters_query(MyDatabaseId, userid, tally, now))
	{
		no_room(kr, userid, true);
		return;
	}
	update_limit(kr);
	kr->pool = kr->res.fresh;
	ig_lease_pool(kr, tally, userid, 0, true);
}

/* The table a break is about: the rule's, or for all-tables rules the one read. */
static Oid
break_table(const IgRule *rule, Oid read_relid)
{
	return OidIsValid(rule->relid) ? rule->relid : read_relid;
}

/* A record of a rule broken or crossed by a key's reads. */
static void
make_break(IgBreak *brk, const IgRule *rule, Oid userid, Oid read_relid,
		   int64 rows_in_window, const IgTally *tally, bool block,
		   bool catalog_ok, uint64 parallel_query)
{
	brk->roleid = userid;
	brk->table_oid = break_table(rule, read_relid);
	brk->threshold_id = rule->id;
	brk->max_rows = rule->max_rows;
	brk->per = rule->per;
	brk->rows_in_window = rows_in_window;
	brk->statement_rows = tally->statement_rows;
	brk->block = block;
	brk->stopped = block;
	brk->baseline = rule->baseline;
	brk->novelty = rule->novelty;
	brk->catalog_ok = catalog_ok;
	brk->parallel_query = parallel_query;
	brk->key_relid = rule->relid;
	brk->client_application = NULL;
	brk->client_query = NULL;
	brk->remote_record = false;
}

/*
 * A Citus connection's record shows the client's application and query
 * (of the session it works for, asked again when the catalog may be read:
 * the connection serves the session's statements one after the other),
 * not Citus' shard query: citus_session.c.
 */
static void
note_client(IgBreak *brk)
{
	char	   *application;
	char	   *query;

	if (unlikely(ig_citus_override_set || ig_citus_connection()) &&
		ig_citus_client(brk->catalog_ok, &application, &query))
	{
		brk->client_application = application;
		brk->client_query = query;
	}
}

static void stop_statement(IgKeyRules *kr, IgTally *tally,
						   const IgRule *rule, IgBreak *brk, int64 reserved,
						   bool record);

/*
 * What to ask of the incidents of a rule of a tally's list: the list's
 * block rules are the only ones whose incidents stay open, of those last
 * seen before the statement took them.
 */
static void
incident_ask(IgIncidentAsk *ask, const IgTally *tally, const IgRuleList *list,
			 const IgRule *rule, IgIncidentOf of, TimestampTz since)
{
	ask->rule_id = rule->id;
	ask->stamp = rule->stamp;
	ask->of = of;
	ask->since = since;
	ask->live = list->live;
	ask->nlive = list->nlive;
	/* none known: the asker ends no incident of another rule */
	ask->rules_at = tally->query != NULL ? tally->query->rules_at : 0;
}

/* record_block for one statement: a repeat, or a new record */
static int64
record_block_once(IgTally *tally, const IgRuleList *list, const IgRule *rule,
				  IgBreak *brk)
{
	int64		id;
	IgIncidentKind kind;
	IgIncidentAsk ask;

	incident_ask(&ask, tally, list, rule, IG_OF_BLOCK, DT_NOEND);
	kind = ig_counters_incident(MyDatabaseId, brk->roleid, tally, &ask,
								ig_now(), &id);
	if (kind == IG_INCIDENT_UNTRACKED)
	{
		/* room taken by closed incidents whose repeats are unwritten */
		ig_violations_write_repeats(true);
		kind = ig_counters_incident(MyDatabaseId, brk->roleid, tally, &ask,
									ig_now(), &id);
	}
	if (kind == IG_INCIDENT_REPEAT)
		return id;

	/*
	 * On a Citus worker whose reads lease their rows, the node holding the
	 * cluster's budget records it: one record in the cluster (lease.c).
	 * Its incidents are that node's: none stays open here, and the next
	 * stop asks that node again (a repeat there).
	 */
	if (ig_lease_worker() &&
		(id = ig_lease_record(brk->roleid, tally->relid)) > 0)
	{
		brk->remote_record = true;
		if (kind == IG_INCIDENT_NEW)
			ig_counters_incident_recorded(MyDatabaseId, brk->roleid, tally,
										  rule->id, rule->stamp, 0);
		return id;
	}
	note_client(brk);
	id = ig_violation_report(brk);
	/* a record that could not be written leaves no incident behind */
	if (kind == IG_INCIDENT_NEW)
		ig_counters_incident_recorded(MyDatabaseId, brk->roleid, tally,
									  rule->id, rule->stamp, id);
	return id;
}

/*
 * Records a block rule stopping the role (or read past): a repeat of the
 * rule's open incident on the key's counter, or a new record -- once per
 * parallel query, whose leader and workers may each be stopped.  Returns
 * its id.
 */
static int64
record_block(IgTally *tally, const IgRuleList *list, const IgRule *rule,
			 IgBreak *brk)
{
	int64		id;

	if (brk->parallel_query == 0)
		return record_block_once(tally, list, rule, brk);
	if (ig_violation_claim(brk, &id))
	{
		id = record_block_once(tally, list, rule, brk);
		ig_violation_claim_done(brk, id);
		return id;
	}
	/* another process of the query is recording it: its id, if it comes */
	for (int waited = 0; id == 0 && waited < 100; waited++)
	{
		pg_usleep(1000L);
		(void) ig_violation_claim(brk, &id);
	}
	return id;
}

/*
 * Records a log rule a statement read over: crossed (the count went from
 * max_rows or below to above it), or already over, when the limit went
 * down or the rule became a log rule meanwhile.  A crossing is a record
 * -- but for a 7-day baseline rule, whose window holds a crossing's rows
 * for 7 days while its limit may rise above them and be crossed again:
 * such crossings, each within 7 days of the one before, are repeats of
 * the first (one record per incident).  A read over without crossing is
 * a record only if this version of the rule has no incident of the key
 * seen within its window (a crossing, or an earlier such read): one
 * record per episode, not one a statement (and at most one a minute for
 * the key: see ig_counters_incident).
 */
static void
record_log(IgTally *tally, const IgRuleList *list, const IgRule *rule,
		   IgBreak *brk, bool crossed)
{
	TimestampTz now = ig_now();
	bool		week = rule->baseline && rule->hist_kind == IG_HIST_WEEK;
	IgIncidentKind kind;
	IgIncidentAsk ask;
	int64		id;

	/*
	 * On a Citus worker whose reads lease their rows, the node holding the
	 * cluster's budget counts every node's reads and records the crossing
	 * on that count (lease.c): one record in the cluster.
	 */
	if (ig_lease_worker() && ig_lease_log_elsewhere(brk->roleid, tally->relid))
		return;

	/*
	 * On the node holding a Citus cluster's budget, the workers' reports
	 * reach the count over several backends at once: two of them can each
	 * see their rows cross the limit.  There a crossing within a second of
	 * the episode's last sight is the same episode -- no longer: over a
	 * rule's whole window, reads kept just over the limit hid every later
	 * crossing (attacker round 9, M1).
	 */
	incident_ask(&ask, tally, list, rule, crossed ? IG_OF_CROSSING : IG_OF_OVER,
				 !crossed || week ? now - rule->per :
				 ig_citus_override_set ? now - USECS_PER_SEC : DT_NOEND);
	kind = ig_counters_incident(MyDatabaseId, brk->roleid, tally, &ask, now,
								&id);
	if (kind == IG_INCIDENT_REPEAT || kind == IG_INCIDENT_LATER)
		return;
	/*
	 * a parallel query's processes each see the count over: one records
	 * (a worker may see it over before the leader's crossing is noted)
	 */
	if (brk->parallel_query != 0 && !ig_violation_claim(brk, &id))
		return;
	note_client(brk);
	id = ig_violation_report(brk);
	if (brk->parallel_query != 0)
		ig_violation_claim_done(brk, id);
	if (kind == IG_INCIDENT_NEW)
		ig_counters_incident_recorded(MyDatabaseId, brk->roleid, tally,
									  rule->id, rule->stamp, id);
}

/*
 * ig_enforce_check when some count may be over its max, or the counter
 * could not be read.
 */
void
ig_enforce_check_slow(IgKeyRules *kr, IgTally *tally, Oid userid, uint64 added,
					  Oid read_relid, uint64 parallel_query, bool catalog_ok,
					  bool may_raise)
{
	int			broken = -1;

	kr->stop_rule = -1;
	if (!kr->query.valid)
	{
		no_room(kr, userid, may_raise);
		return;
	}
	if (!kr->query.over)
	{
		/* no count above its max: nothing crossed, nothing broken */
		update_limit(kr);
		return;
	}

	for (int i = 0; i < kr->list->nrules; i++)
	{
		const IgRule *rule = &kr->list->rules[i];
		int64		count = (int64) kr->query.sum[i];
		int64		before = count - (int64) added;

		/* a window in which a baseline rule is broken does not feed it */
		if (rule->baseline && count > rule->max_rows)
			ig_counters_note_break(MyDatabaseId, userid, tally,
								   rule->hist_kind, ig_now());

		if (rule->block)
		{
			if (count > rule->max_rows && broken < 0)
				broken = i;
		}
		else if (added > 0 && count > rule->max_rows)
		{
			bool		crossed = before <= rule->max_rows;
			uint64		bit = i < 64 ? UINT64CONST(1) << i : 0;
			IgBreak		brk;

			/* over, not crossed: the statement's first settle says it all */
			if (!crossed && (kr->log_noted & bit) != 0)
				continue;
			kr->log_noted |= bit;
			make_break(&brk, rule, userid, read_relid, count, tally, false,
					   catalog_ok, parallel_query);
			record_log(tally, kr->list, rule, &brk, crossed);
		}
	}
	update_limit(kr);

	/*
	 * Every other block rule the same rows broke gets its record too (a
	 * repeat of its incident if it is open), once a statement: the
	 * statement is stopped, or recorded, by the first.
	 */
	if (broken >= 0 && added > 0 && kr->block_violation == 0)
	{
		for (int j = broken + 1; j < kr->list->nrules; j++)
		{
			const IgRule *other = &kr->list->rules[j];
			IgBreak		brk;

			if (!other->block || (int64) kr->query.sum[j] <= other->max_rows)
				continue;
			make_break(&brk, other, userid, read_relid,
					   (int64) kr->query.sum[j], tally, true, catalog_ok,
					   parallel_query);
			brk.stopped = may_raise && catalog_ok;
			(void) record_block(tally, kr->list, other, &brk);
		}
	}

	/*
	 * Rows added to a broken block rule by a settle that cannot stop the
	 * statement: its rows were within what it was granted at its start (or
	 * last check), but other sessions of the user read meanwhile.  The
	 * statement is over; it is recorded, and the role's next one is
	 * stopped.
	 */
	if (broken >= 0 && added > 0 && !(may_raise && catalog_ok) &&
		kr->block_violation == 0)
	{
		const IgRule *rule = &kr->list->rules[broken];
		IgBreak		brk;

		make_break(&brk, rule, userid, read_relid,
				   (int64) kr->query.sum[broken], tally, true, catalog_ok,
				   parallel_query);
		brk.stopped = false;
		kr->block_violation = record_block(tally, kr->list, rule, &brk);
	}

	/* the caller stops the statement, once every key has been checked */
	kr->stop_rule = (broken >= 0 && may_raise && catalog_ok) ? broken : -1;
}

/*
 * The break of the block rule ig_enforce_check found broken
 * (kr->stop_rule), which is cleared.
 */
static const IgRule *
take_stop(IgKeyRules *kr, IgTally *tally, Oid userid, Oid read_relid,
		  uint64 parallel_query, IgBreak *brk)
{
	const IgRule *rule = &kr->list->rules[kr->stop_rule];

	make_break(brk, rule, userid, read_relid,
			   (int64) kr->query.sum[kr->stop_rule], tally, true, true,
			   parallel_query);
	kr->stop_rule = -1;
	return rule;
}

/*
 * Stops the statement for the block rule ig_enforce_check found broken
 * (kr->stop_rule).
 */
void
ig_enforce_stop(IgKeyRules *kr, IgTally *tally, Oid userid, Oid read_relid,
				uint64 parallel_query)
{
	IgBreak		brk;
	const IgRule *rule = take_stop(kr, tally, userid, read_relid,
								   parallel_query, &brk);

	stop_statement(kr, tally, rule, &brk, 0, true);
}

/*
 * Records, without stopping the statement, the block rule ig_enforce_check
 * found broken on a key other than the one the statement is stopped for:
 * every rule the rows broke gets its record.
 */
void
ig_enforce_record_stop(IgKeyRules *kr, IgTally *tally, Oid userid,
					   Oid read_relid, uint64 parallel_query)
{
	IgBreak		brk;
	const IgRule *rule = take_stop(kr, tally, userid, read_relid,
								   parallel_query, &brk);

	if (kr->block_violation == 0)
		kr->block_violation = record_block(tally, kr->list, rule, &brk);
}

/*
 * Stops the statement for a broken block rule, with its record: the one
 * already made for the statement (a cursor recorded when an earlier FETCH
 * read past), else the incident's (record_block).  Without "record" (a
 * statement crowded out, see ig_enforce_crowded) nothing is recorded.
 * "reserved" rows were held by the role's other running statements.
 */
static void
stop_statement(IgKeyRules *kr, IgTally *tally, const IgRule *rule,
			   IgBreak *brk, int64 reserved, bool record)
{
	int64		id = 0;
	char	   *role = ig_role_name(brk->roleid, true);
	char	   *table;

	if (kr->block_violation != 0)
		id = kr->block_violation;
	else if (record)
		id = kr->block_violation = record_block(tally, kr->list, rule, brk);

	/* the query is in the record's log line: not again as STATEMENT */
	table = OidIsValid(brk->table_oid) ? ig_table_name(brk->table_oid, true) : NULL;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errhidestmt(record),
			 errmsg("insider_guard: role %s may not read more rows from table %s",
					ig_log_quote(role), ig_log_quote(table ? table : "?")),
			 record ?
			 errdetail_log("%s %lld allows %lld rows per window of %lld seconds; %lld rows read in the window, %lld by this statement, %lld reserved by other running statements of the role; %s.",
						   rule->novelty ? "Novelty rule" :
						   rule->baseline ? "Baseline rule" : "Threshold",
						   (long long) rule->id, (long long) rule->max_rows,
						   (long long) (rule->per / USECS_PER_SEC),
						   (long long) brk->rows_in_window,
						   (long long) brk->statement_rows,
						   (long long) reserved,
						   id != 0 ? psprintf(brk->remote_record ?
											  "violation %lld of the node of the session (the cluster's budget)" :
											  "violation %lld", (long long) id) :
						   "no violation id yet: another session of the role is writing the record of this incident, or it could not be written (logged)") :
			 errdetail_log("%s %lld allows %lld rows per window of %lld seconds; %lld rows read in the window, %lld by this statement, and the %lld left are reserved by other running statements of the role: not a violation, not recorded.",
						   rule->novelty ? "Novelty rule" :
						   rule->baseline ? "Baseline rule" : "Threshold",
						   (long long) rule->id, (long long) rule->max_rows,
						   (long long) (rule->per / USECS_PER_SEC),
						   (long long) brk->rows_in_window,
						   (long long) brk->statement_rows,
						   (long long) reserved)));
}

/*
 * Stops a statement that may not be granted a row although no block rule
 * is broken yet: the role's other running statements (in other processes)
 * hold, reserved, every row the tightest block rule leaves, and did not
 * give any back while the caller waited.  The row that asked has been
 * counted.  No rule is broken: not recorded (the server log has the
 * error), unless the count went over meanwhile.
 */
void
ig_enforce_crowded(IgKeyRules *kr, IgTally *tally, Oid userid,
				   Oid read_relid, uint64 parallel_query)
{
	IgQueryMemo *memo = kr->query.memo;
	int64		reserved = kr->res.others;
	int			tightest = -1;
	int64		room = PG_INT64_MAX;
	bool		read;
	IgBreak		brk;

	/* exact counts, for the record; this key gives its rows back */
	kr->res.keep = 0;
	kr->res.want = 0;
	kr->query.memo = NULL;
	kr->query.valid = false;
	read = ig_counters_query(MyDatabaseId, userid, tally, ig_now());
	kr->query.memo = memo;
	if (memo != NULL)
		memo->valid = false;
	if (!read)
	{
		no_room(kr, userid, true);
		return;
	}
	for (int i = 0; i < kr->list->nrules; i++)
	{
		const IgRule *rule = &kr->list->rules[i];

		if (rule->block && rule->max_rows - (int64) kr->query.sum[i] < room)
		{
			room = rule->max_rows - (int64) kr->query.sum[i];
			tightest = i;
		}
	}
	if (tightest < 0)
		return;
	make_break(&brk, &kr->list->rules[tightest], userid, read_relid,
			   (int64) kr->query.sum[tightest], tally, true, true,
			   parallel_query);
	/*
	 * Over by now (the others read what they held): a block like any.  On
	 * a Citus worker that leases, the holders are mostly the statement's
	 * own other tasks, and the node of the cluster's budget records the
	 * stop (record_block_once), as when it has no rows left to lease
	 * (lease.c): every stop by the cluster's limit is on record.
	 */
	stop_statement(kr, tally, &kr->list->rules[tightest], &brk,
				   Max(reserved, kr->res.others),
				   room < 0 || ig_lease_worker());
}
