/*-------------------------------------------------------------------------
 *
 * citus_leases.c
 *		On the node that runs a Citus session (the coordinator): leases
 *		the rows a block rule leaves the session's user to the workers
 *		that read for it, so that one limit holds for the whole cluster
 *		(insider_guard.citus_budget = lease; docs/citus-notes.md).
 *
 * A worker reading for a session under a block rule calls
 * insider_guard._citus_lease(gpid, schema, table, read, keep, want) on a
 * connection of its own (lease.c), as the role Citus connected as.  This
 * backend -- one per such worker backend -- then stands for the worker:
 * the rows it read since its last call are counted for the session user
 * here, and its reservation on the session user's counter of the table
 * (IgReservation, as a statement's key holds one) is exchanged: "keep"
 * rows it still holds and up to "want" fresh ones, of which it gets at
 * most half of what is left beyond every other holder's (counters.c).
 * So the rows leased to all workers, and reserved by this node's own
 * statements, never exceed what the tightest block rule leaves.  The
 * rules are checked on the fresh count as for a statement: a crossed log
 * rule is recorded here, and a broken block rule too -- one record per
 * incident, with the client's application and query -- and the call
 * answers minus the record's id: the worker stops the statement.
 *
 * The session must act as the caller, as for _citus_session.  A client
 * connected to a worker itself leases for its own login (gpid 0): the
 * worker connects here as that login.  A lease is
 * given back when the worker's transaction ends (keep and want 0), and
 * when this backend exits: a worker that vanishes holds nothing.
 *
 * IDENTIFICATION
 *		src/sql/citus_leases.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "base/guc.h"
#include "cache/citus.h"
#include "cache/citus_session.h"
#include "cache/rules.h"
#include "exec/enforce.h"
#include "exec/tally.h"
#include "shmem/counters.h"
#include "sql/citus_sessions.h"

PG_FUNCTION_INFO_V1(ig_citus_lease_rows);

/* keys one worker backend leases at once */
#define IG_MAX_HELD 32


/* rows a worker may report beyond its lease: one a scan node, at most */
#define IG_LEASE_SLACK 64

/* Citus' global pid: node id * 10^10 + pid */
#define IG_GPID_NODE_FACTOR INT64CONST(10000000000)

/* a lease held here for the worker on the other end of this session */
typedef struct IgHeld
{
	Oid			userid;
	Oid			relid;			/* InvalidOid: all tables */
	IgTally		tally;
	IgReservation res;
	bool		late_done;		/* its late call was made (see below) */
} IgHeld;

static IgHeld held[IG_MAX_HELD];

/*
 * The session this backend leased for last, checked once (it acted as the
 * caller then): a worker gives its lease back, and reports the rows read
 * on it, when its transaction ends -- maybe after the session's statement
 * ended, or the session itself.  What it may report is bounded by what
 * it was leased.
 */
static int64 verified_gpid = 0;
static Oid	verified_userid = InvalidOid;

/*
 * Whether this backend's last call was for the caller's own login or for
 * a session of this node that then acted as the caller: what it holds at
 * exit counts as read then (see give_back_all).
 */
static bool last_live = false;

/*
 * The session's client's application and query, in TopMemoryContext: as
 * the worker told them when the session is a worker's (a query planned
 * there), else as last seen here while the session ran.
 */
static bool verified_remote = false;
static char *verified_application = NULL;
static char *verified_query = NULL;
static int	nheld = 0;
static bool exit_registered = false;

/* Gives a lease's rows back (with none read): no error, no catalog. */
static void
give_back(IgHeld *h, int64 read)
{
	IgWindowQuery query;

	if (h->res.held == 0)
		return;
	memset(&query, 0, sizeof(query));
	query.res = &h->res;
	h->res.keep = 0;
	h->res.want = 0;
	h->tally.pending = (uint64) read;
	h->tally.query = &query;
	ig_counters_settle(MyDatabaseId, h->userid, &h->tally, 1, false, false,
					   ig_now());
	h->tally.query = NULL;
}

/*
 * This backend exits: the worker it stood for holds nothing any more.  A
 * worker gives everything back before it closes its connection; rows
 * still held here were leased to a worker backend that ended without
 * (killed, crashed) or whose answer this backend was ended before it gave
 * (pg_terminate_backend, the lease connection logs in as the reader):
 * they count as read -- the worker may have read them, and never reports
 * more than 64 of them to another backend (attacker round 6: killing the
 * lease backends between transactions let 1,100 rows through a limit of
 * 1,000).  More, never less.
 */
static void
give_back_all(int code, Datum arg)
{
	/*
	 * Only for a session of this node that still acts as the caller (or
	 * the caller's own reads): rows leased for another role's session in
	 * the window in which the caller could pose as it must not, once the
	 * window closed, make that role's count (attacker rounds 7 and 8: a
	 * false block).  A worker's session is not asked at exit: its rows go
	 * back unread.
	 */
	bool		as_read = last_live &&
		(verified_gpid == 0 ||
		 (!verified_remote &&
		  ig_citus_session_user(verified_gpid) == verified_userid));

	for (int i = 0; i < nheld; i++)
		give_back(&held[i], as_read ? held[i].res.held : 0);
	nheld = 0;
}

/* Replaces a kept text with a copy of another, in TopMemoryContext. */
static void
keep_text(char **kept, const char *value)
{
	if (*kept != NULL)
		pfree(*kept);
	*kept = MemoryContextStrdup(TopMemoryContext, value ? value : "");
}

static IgHeld *
held_of(Oid userid, Oid relid)
{
	IgHeld	   *h;

	for (int i = 0; i < nheld; i++)
		if (held[i].userid == userid && held[i].relid == relid)
			return &held[i];
	if (nheld >= IG_MAX_HELD)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("insider_guard: a worker may lease rows of at most %d tables at once",
						IG_MAX_HELD)));
	if (!exit_registered)
	{
		before_shmem_exit(give_back_all, (Datum) 0);
		exit_registered = true;
	}
	h = &held[nheld++];
	memset(h, 0, sizeof(*h));
	h->userid = userid;
	h->relid = relid;
	ig_tally_init(&h->tally, userid, relid);
	ig_tally_reset(&h->tally);
	return h;
}

/*
 * The block rule of the list with the fewest rows left, by the exact
 * counts just read, or -1 if none.
 */
static int
tightest_block_rule(const IgKeyRules *kr)
{
	int			tightest = -1;
	int64		least = PG_INT64_MAX;

	for (int i = 0; i < kr->list->nrules; i++)
	{
		const IgRule *rule = &kr->list->rules[i];
		int64		left;

		if (!rule->block)
			continue;
		left = rule->max_rows - (int64) kr->query.sum[i];
		if (left < least)
		{
			least = left;
			tightest = i;
		}
	}
	return tightest;
}

/*
 * insider_guard._citus_lease(gpid bigint, table_schema text, table_name
 * text, read bigint, keep bigint, want bigint, client_application text,
 * client_query text) RETURNS bigint: counts "read" rows for the session's
 * user (gpid 0: for the caller's login, a client's own reads on a worker,
 * whose application and query the last two give) on the table (NULLs: all
 * tables),
 * exchanges the caller's lease (see the file's header) and returns the
 * fresh rows leased; a large number if no block rule of the user limits
 * the table here; minus a violation id (PG_INT64_MIN + 2 without one) if one is broken;
 * PG_INT64_MIN + 1 if other holders hold every row left (the worker waits
 * for some, then stops, calling with want -1: the stop is recorded).  0 when the limit is reached: the worker's next
 * row breaks it, and its report makes the record.
 */
Datum
ig_citus_lease_rows(PG_FUNCTION_ARGS)
{
	int64		gpid;
	int64		read;
	int64		keep;
	int64		want;
	Oid			userid;
	Oid			relid = InvalidOid;
	IgHeld	   *h;
	IgKeyRules *kr = NULL;
	TimestampTz now;
	int64		answer;
	bool		late;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(3) || PG_ARGISNULL(4) ||
		PG_ARGISNULL(5) || PG_ARGISNULL(1) != PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("insider_guard: _citus_lease takes a gpid, a table (or NULLs: all tables) and three counts")));
	if (PG_GETARG_INT64(0) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("insider_guard: _citus_lease's gpid must not be negative")));
	gpid = PG_GETARG_INT64(0);
	read = PG_GETARG_INT64(3);
	keep = PG_GETARG_INT64(4);
	want = PG_GETARG_INT64(5);
	if (read < 0 || keep < 0 || want < -1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("insider_guard: _citus_lease's counts must not be negative")));

	/*
	 * gpid 0: a client's own reads on a worker, for the login it uses here.
	 * Never from within the session itself (a function or view it runs):
	 * the worker asks from a backend of its own, never over a Citus
	 * connection (a session's own, to this node).
	 */
	if (ig_citus_connection())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("insider_guard: a Citus connection cannot lease rows")));
	late = false;
	if (gpid == 0)
		userid = GetSessionUserId();
	else if (gpid == verified_gpid && verified_remote)
	{
		Oid			live = InvalidOid;
		char	   *application = NULL;
		char	   *query = NULL;

		/*
		 * A worker's session: asked there again at every call, as below
		 * (attacker round 8: asked once, it stood for the backend's life)
		 * -- a round trip from here to that worker.
		 */
		userid = verified_userid;
		(void) ig_citus_worker_session(gpid, GetSessionUserId(), &live,
									   &application, &query);
		late = live != verified_userid;
		if (!late)
		{
			keep_text(&verified_application, application);
			keep_text(&verified_query, query);
		}
	}
	else if (gpid == verified_gpid)
	{
		/*
		 * A session of this node checked before: it must still act as the
		 * caller, or this is a late call -- a worker's give-back after the
		 * session's statement (or the session) ended -- which takes no new
		 * rows and reports at most what this backend held for it, once a
		 * table, if it held any (attacker round 7: a check kept for the
		 * backend's life let a role charge another's count without limit
		 * after the window in which it could pose as that session; round
		 * 8: one late call of 64 rows from each of 30 backends named in
		 * the window).
		 */
		userid = verified_userid;
		late = ig_citus_session_user(gpid) != verified_userid;
	}
	else
	{
		char	   *application = NULL;
		char	   *query = NULL;

		/* a session of a worker (a query planned there), asked there */
		if (ig_citus_worker_session(gpid, GetSessionUserId(), &userid,
									&application, &query))
		{
			keep_text(&verified_application, application);
			keep_text(&verified_query, query);
			verified_remote = true;
		}
		else
		{
			if (gpid % IG_GPID_NODE_FACTOR == MyProcPid)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("insider_guard: a session cannot lease rows for itself")));
			userid = ig_citus_session_user(gpid);
			verified_remote = false;
			/* another session's: as seen at its own calls */
			if (verified_application != NULL)
				pfree(verified_application);
			if (verified_query != NULL)
				pfree(verified_query);
			verified_application = verified_query = NULL;
		}
		if (OidIsValid(userid))
		{
			verified_gpid = gpid;
			verified_userid = userid;
		}
	}
	if (!OidIsValid(userid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("insider_guard: no session of gpid " INT64_FORMAT " acts as the caller",
						gpid)));
	if (!PG_ARGISNULL(1))
	{
		char	   *schema = text_to_cstring(PG_GETARG_TEXT_PP(1));
		char	   *table = text_to_cstring(PG_GETARG_TEXT_PP(2));
		Oid			nspid = get_namespace_oid(schema, true);
		int64		shard;
		char	   *end;

		/* a Citus table, by a shard id of its (lease.c) */
		if (strcmp(schema, IG_CITUS_SHARD_SCHEMA) == 0)
		{
			errno = 0;
			shard = strtoi64(table, &end, 10);
			if (errno == 0 && *end == '\0' && end != table && shard > 0)
				relid = ig_citus_table_of_shard(shard);
		}
		else if (OidIsValid(nspid))
			relid = get_relname_relid(table, nspid);
		/* a table this node lacks has no rule here: nothing to lease */
		if (!OidIsValid(relid))
			PG_RETURN_INT64(PG_INT64_MAX / 4);
	}

	h = held_of(userid, relid);
	if (late)
	{
		if (h->late_done || h->res.held == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("insider_guard: the session of gpid " INT64_FORMAT " no longer acts as the caller",
							gpid)));
		h->late_done = true;
		want = 0;
		keep = 0;
	}
	else
		h->late_done = false;
	last_live = !late;

	if (ig_rules_cover(userid))
		kr = ig_enforce_copy(userid, relid, CurrentMemoryContext);

	/*
	 * Under a block rule a worker reads only what it was leased, and each
	 * of its scans the one row that finds its grant used up: nobody can
	 * report more, so as to make another role's session seem to have read
	 * it.  Under log rules only, nothing is leased, and a worker reports
	 * what it read: a session acting as the caller (see the file's header)
	 * can be reported any count -- as the caller could read for it.
	 */
	if (late)
		read = Min(read, h->res.held);
	else if (kr == NULL || kr->list->any_block)
		read = Min(read, h->res.held + IG_LEASE_SLACK);
	now = ig_now();
	if (kr == NULL || !kr->list->any_block)
	{
		/* no block rule: nothing is held (rules may have changed) */
		give_back(h, 0);
	}
	h->tally.pending = (uint64) read;
	h->tally.query = NULL;
	if (kr == NULL)
	{
		/* no rule: the reads are counted */
		if (read > 0)
			ig_counters_settle(MyDatabaseId, userid, &h->tally, 1, false,
							   false, now);
		ig_tally_remember(&h->tally, userid);
		PG_RETURN_INT64(PG_INT64_MAX / 4);
	}
	if (kr->list->hist_wanted != 0)
		ig_tally_history(&h->tally, kr->list);
	if (kr->list->any_block)
	{
		kr->query.res = &h->res;
		if (want < 0)
			kr->query.memo = NULL;	/* the sums, exact, for the record */
		h->res.keep = keep;
		h->res.want = Max(want, 0);
	}
	else
	{
		/* log rules only: the reads of every node are checked here */
		kr->query.res = NULL;
		want = 0;
	}
	h->tally.query = &kr->query;
	ig_counters_settle(MyDatabaseId, userid, &h->tally, 1, false, false, now);
	h->tally.query = NULL;

	/* records made now show the client's application and query */
	{
		char	   *application = "";
		char	   *query = "";

		if (gpid != 0 && verified_remote)
		{
			/*
			 * A worker's session: asked again when this call may record
			 * (its statement now, not the one the lease began in), else
			 * as that worker last said.
			 */
			if ((want < 0 || kr->query.over) &&
				ig_citus_worker_client(gpid, GetSessionUserId(), userid,
									   &application, &query))
			{
				keep_text(&verified_application, application);
				keep_text(&verified_query, query);
			}
			application = verified_application;
			query = verified_query;
		}
		else if (gpid != 0)
		{
			/*
			 * The session's, now; once it has ended (a task of its failed
			 * statement reporting late), as seen at this backend's last
			 * call, during its statement.
			 */
			if (ig_citus_session_activity(gpid, &application, &query))
			{
				keep_text(&verified_application, application);
				keep_text(&verified_query, query);
			}
			else if (verified_application != NULL)
			{
				application = verified_application;
				query = verified_query;
			}
		}
		else
		{
			/* the worker's client: as the worker says (it reads as that login) */
			if (PG_NARGS() > 6 && !PG_ARGISNULL(6))
				application = text_to_cstring(PG_GETARG_TEXT_PP(6));
			if (PG_NARGS() > 7 && !PG_ARGISNULL(7))
				query = text_to_cstring(PG_GETARG_TEXT_PP(7));
		}
		ig_citus_override_begin(application, query);
		PG_TRY();
		{
			/* may_raise: it leaves the rule to stop for in stop_rule */
			ig_enforce_check(kr, &h->tally, userid, h->tally.added, relid, 0,
							 true, true);
			/*
			 * want -1: a worker stops because every row left is held (by
			 * the statement's other tasks, mostly): a stop at the limit,
			 * recorded under the tightest block rule
			 */
			if (want < 0 && kr->stop_rule < 0)
				kr->stop_rule = tightest_block_rule(kr);
			if (kr->stop_rule >= 0)
				ig_enforce_record_stop(kr, &h->tally, userid, relid, 0);
		}
		PG_FINALLY();
		{
			ig_citus_override_end();
		}
		PG_END_TRY();
	}
	ig_tally_remember(&h->tally, userid);

	if (!kr->list->any_block)
		PG_RETURN_INT64(PG_INT64_MAX / 4);
	if (kr->blocked || want < 0)
	{
		/* nothing more for this worker: what it holds goes back */
		give_back(h, 0);
		answer = kr->block_violation > 0 ? -kr->block_violation :
			IG_LEASE_UNRECORDED;
	}
	else if (h->res.fresh == 0 && want > 0 && h->res.others > 0)
		answer = IG_LEASE_CROWDED;	/* others hold what is left */
	else
		answer = h->res.fresh;
	PG_RETURN_INT64(answer);
}
