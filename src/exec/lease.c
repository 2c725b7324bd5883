/*-------------------------------------------------------------------------
 *
 * lease.c
 *		On a Citus worker with insider_guard.citus_budget = lease: the rows
 *		a Citus connection's block-ruled keys may read, leased from the
 *		node that runs the session, so that one limit holds for the reads
 *		of all nodes together.
 *
 * A key with a block rule reserves rows in shared memory before its scan
 * nodes may read them (grant.c, IgReservation); here those rows are also
 * leased from the session's node, which reserves them out of the session
 * user's count there the same way, for every worker asking
 * (citus_leases.c): the rows all workers may read never exceed what the
 * tightest block rule leaves on the session's node.  At each exchange of
 * the local reservation, the rows read since the last lease are reported
 * (the session's node counts them for the session user) and, when what is
 * leased would not cover the local pool, more is asked for; the pool is
 * cut to what is leased.  Leases are given back, with the rows read,
 * when the transaction commits; after an abort, once the failed
 * statement's last rows have settled; at the latest when the backend
 * exits.  (Kept across transactions, the leases of a role's many idle
 * pooled connections could hold its whole limit while its active
 * sessions were stopped.)
 *
 * When the node says the cluster's limit is broken, the statement stops
 * with insider_guard's 42501 naming the table (the node keeps the
 * record); when it cannot be asked, the statement stops too: fail closed.
 *
 * A block rule that breaks on the worker itself (its own count over the
 * limit: reads of one worker alone) is recorded by the session's node,
 * not here (ig_lease_record): one record an incident in the cluster.
 *
 * Block rules lease; keys with log rules only report their reads with the
 * give-backs (ig_lease_note), and a worker leaves the records of log rules
 * crossed to the node of the session, which counts every node's reads.
 *
 * IDENTIFICATION
 *		src/exec/lease.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "base/guc.h"
#include "base/logtext.h"
#include "base/names.h"
#include "cache/citus.h"
#include "cache/citus_session.h"
#include "exec/enforce.h"
#include "exec/lease.h"

/* keys a backend leases for at once: tables read in one transaction */
#define IG_MAX_LEASES 32

/* how long a scan waits for rows other holders give back, then stops */
#define IG_LEASE_WAITS		50
#define IG_LEASE_WAIT_MS	2

typedef struct IgLease
{
	Oid			relid;			/* InvalidOid: all tables */
	Oid			userid;
	bool		session;		/* for a Citus connection's session (else
								 * for a client's own reads on a worker) */
	char	   *schema;			/* names the node knows the table by */
	char	   *table;
	int64		leased;			/* rows the node holds for this backend */
	int64		read;			/* rows read since the last lease */
	bool		closing;		/* its transaction aborted: give it back
								 * once its statement's last rows settle */
} IgLease;

static IgLease leases[IG_MAX_LEASES];
static int	nleases = 0;
static bool callback_registered = false;

static void lease_xact_callback(XactEvent event, void *arg);
static void give_back_all(bool wait);
static void give_back(IgLease *lease, bool wait);
static void give_back_closing(void);
static void lease_exit(int code, Datum arg);

/* This backend's lease of the key, made if need be; NULL if none fits. */
static IgLease *
lease_of(Oid userid, Oid relid, bool session, bool make)
{
	IgLease    *lease;

	for (int i = 0; i < nleases; i++)
		if (leases[i].relid == relid && leases[i].userid == userid &&
			leases[i].session == session)
			return &leases[i];
	if (!make || nleases >= IG_MAX_LEASES)
		return NULL;
	if (!callback_registered)
	{
		RegisterXactCallback(lease_xact_callback, NULL);
		before_shmem_exit(lease_exit, (Datum) 0);
		callback_registered = true;
	}
	lease = &leases[nleases];
	memset(lease, 0, sizeof(*lease));
	lease->relid = relid;
	lease->userid = userid;
	lease->session = session;
	if (OidIsValid(relid))
	{
		char	   *schema = get_namespace_name(get_rel_namespace(relid));
		char	   *table = get_rel_name(relid);
		int64		shard = ig_citus_table_shard(relid);

		if (schema == NULL || table == NULL)
			return NULL;

		/*
		 * A Citus table by a shard id of its: the owner may rename it on a
		 * worker alone, and a name the coordinator does not know would be
		 * a table without rules there.
		 */
		if (shard > 0)
		{
			schema = IG_CITUS_SHARD_SCHEMA;
			table = psprintf(INT64_FORMAT, shard);
		}
		lease->schema = MemoryContextStrdup(TopMemoryContext, schema);
		lease->table = MemoryContextStrdup(TopMemoryContext, table);
	}
	nleases++;
	return lease;
}

/*
 * A give-back sent at commit without waiting for the answer (lease.c's
 * give_back): its lease and the rows it reported, until the answer is
 * read -- if the node did not take it (its backend was ended meanwhile),
 * the rows are reported again, not lost.
 */
static IgLease *unconfirmed = NULL;
static int64 unconfirmed_read = 0;

/* Reads the answer of a give-back sent without waiting. No error. */
static void
confirm_give_back(void)
{
	if (unconfirmed == NULL)
		return;
	if (!ig_citus_give_back_taken())
		unconfirmed->read += unconfirmed_read;
	unconfirmed = NULL;
	unconfirmed_read = 0;
}

/*
 * A call to the coordinator for a lease (or, without "wait", a give-back
 * sent without waiting); if the connection had to be made anew, the
 * leases held by the backend gone are held no more.  No error.
 */
static int64
lease_call(IgLease *lease, bool session, int64 read, int64 keep, int64 want,
		   bool wait, char **why)
{
	int64		answer;

	answer = wait ?
		ig_citus_lease(session, lease->schema, lease->table, read, keep, want,
					   why) :
		ig_citus_give_back(session, lease->schema, lease->table, read, why);
	if (ig_citus_reconnected())
		for (int i = 0; i < nleases; i++)
			leases[i].leased = 0;
	return answer;
}

/*
 * True if the key's block rules lease their rows (citus_budget = lease):
 * in a Citus connection whose session's node answered for it, or in a
 * client's own connection to a worker.
 */
bool
ig_lease_applies(void)
{
	bool		session;

	return ig_citus_budget == IG_CITUS_BUDGET_LEASE &&
		ig_citus_lease_ready(&session);
}

/* Stops the statement: the cluster's limit, or no node to ask. */
static void
lease_stop(Oid userid, Oid relid, int64 answer, const char *why)
{
	char	   *role = ig_role_name(userid, true);
	char	   *table = OidIsValid(relid) ? ig_table_name(relid, true) : NULL;

	if (answer == IG_LEASE_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("insider_guard: role %s may not read more rows from table %s",
						ig_log_quote(role), ig_log_quote(table ? table : "all tables")),
				 errdetail("The limit is the cluster's, and the node of the session cannot be asked for rows: %s",
						   why ? why : "unknown")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("insider_guard: role %s may not read more rows from table %s",
					ig_log_quote(role), ig_log_quote(table ? table : "all tables")),
			 IG_LEASE_RECORD_ID(answer) > 0 ?
			 errdetail_log("The limit is the cluster's: the node of the session recorded violation %lld.",
						   (long long) IG_LEASE_RECORD_ID(answer)) :
			 errdetail_log("The limit is the cluster's: the node of the session has no rows left for it.")));
}

/*
 * After the key's reservation was exchanged (kr->pool is what it may
 * grant) and "added" rows it read were settled: counts them towards its
 * lease and, if the
 * lease does not cover the pool, reports them and asks for more; cuts the
 * pool to the lease.  With may_raise, a refusal stops the statement;
 * without, the pool is left empty (the next exchange asks again).
 */
void
ig_lease_cap(IgKeyRules *kr, IgTally *tally, Oid userid, uint64 added,
			 bool may_raise)
{
	bool		session;
	IgLease    *lease;
	int64		left;
	int64		answer;
	char	   *why;

	confirm_give_back();
	(void) ig_citus_lease_ready(&session);
	lease = lease_of(userid, tally->relid, session, may_raise);
	if (lease == NULL)
	{
		/* no lease can be kept (too many tables, a name gone): nothing */
		if (may_raise)
			lease_stop(userid, tally->relid, IG_LEASE_FAILED,
					   "too many tables leased at once");
		kr->pool = 0;
		return;
	}
	lease->read += added;
	if (lease->closing && kr->pool == 0 && kr->res.keep == 0)
	{
		/* an aborted statement's last settle: now the count is whole */
		give_back(lease, false);
		return;
	}
	if (may_raise)
		give_back_closing();
	left = lease->leased - lease->read - kr->res.keep;
	if (kr->pool <= left)
		return;
	if (kr->pool > 0 && may_raise)
	{
		answer = lease_call(lease, session, lease->read, kr->res.keep,
							kr->pool, true, &why);

		/*
		 * Nothing leased because other workers (or the coordinator's
		 * statements) hold what is left.  As for the
		 * role's processes on one server (grant.c, wait_for_room): wait a
		 * little for some to be given back, then stop -- never read on
		 * without a lease, a row at a time.
		 */
		for (int wait = 0; answer == IG_LEASE_CROWDED && wait < IG_LEASE_WAITS; wait++)
		{
			lease->leased = kr->res.keep;
			lease->read = 0;
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 IG_LEASE_WAIT_MS, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			answer = lease_call(lease, session, 0, kr->res.keep, kr->pool,
								true, &why);
		}
		/*
		 * Still nothing: the role's rows are all read or held -- often by
		 * the other tasks of this very statement, which the stop cancels
		 * before they break the limit.  The coordinator records the stop
		 * (want -1), so that every stop by the cluster's limit is on
		 * record.
		 */
		if (answer == IG_LEASE_CROWDED)
		{
			answer = lease_call(lease, session, 0, 0, -1, true, &why);
			if (answer >= 0 || answer == IG_LEASE_CROWDED)
				answer = IG_LEASE_UNRECORDED;
		}
		if (answer < 0)
		{
			lease->leased = kr->res.keep;
			lease->read = 0;
			kr->pool = 0;
			lease_stop(userid, tally->relid, answer, why);
		}
		lease->leased = kr->res.keep + answer;
		lease->read = 0;
		left = answer;
	}
	kr->pool = Max(Min(kr->pool, left), 0);
}

/*
 * A block rule of a leasing key broke here: has the node that holds the
 * cluster's budget record the stop instead (reporting the rows read, and
 * giving the lease back), so that an incident has one record in the
 * cluster -- that node makes one when its own count breaks the limit
 * too.  Returns the node's record id; 0 if the key has no lease or the
 * node could not record it (the caller records here).  No catalog access,
 * no error of its own.
 */
int64
ig_lease_record(Oid userid, Oid relid)
{
	bool		session;
	IgLease    *lease;
	int64		answer;
	char	   *why;

	if (!ig_lease_applies())
		return 0;
	confirm_give_back();
	(void) ig_citus_lease_ready(&session);
	lease = lease_of(userid, relid, session, false);
	if (lease == NULL)
		return 0;
	answer = lease_call(lease, session, lease->read, 0, -1, true, &why);
	if (answer == IG_LEASE_FAILED)
		return 0;
	/* a stop gives back what the node held for this backend */
	lease->leased = 0;
	lease->read = 0;
	return IG_LEASE_RECORD_ID(answer);
}

/*
 * Reads of a key with log rules only (ig_lease_note): reported at once,
 * at each settle, waiting for the answer -- so that the node has them
 * while the session's statement runs: a report reaching it after the
 * session's statement, or the session, ended is a late call, which
 * reports nothing with nothing leased (attacker round 7: 2,000 rows read
 * in a transaction rolled back were never counted when reported at
 * commit; sent without waiting, a loaded machine still lost 427 of them).
 * A lease is made only where the catalog may be read; none fits: they
 * count here only.  No error.
 */
void
ig_lease_note_slow(Oid userid, Oid relid, uint64 added)
{
	bool		session;
	IgLease    *lease;

	(void) ig_citus_lease_ready(&session);
	lease = lease_of(userid, relid, session, IsTransactionState());
	if (lease == NULL)
		return;
	lease->read += added;
	give_back(lease, true);
}

/*
 * A log rule of a key crossed on this worker's count: true if the node
 * holding the cluster's budget has its reads, or will (rows it leased are
 * reported at the next exchange or give-back), and records the crossing
 * on its count of all nodes' reads -- the caller records nothing: one
 * record in the cluster.  Reads not reported, with nothing leased, are
 * reported now; false if the node cannot take them (the caller records
 * here).  No catalog access, no error of its own.
 */
bool
ig_lease_log_elsewhere(Oid userid, Oid relid)
{
	bool		session;
	IgLease    *lease;
	char	   *why;

	if (!ig_lease_applies())
		return false;
	confirm_give_back();
	(void) ig_citus_lease_ready(&session);
	lease = lease_of(userid, relid, session, false);
	if (lease == NULL)
		return false;
	if (lease->leased > 0)
		return true;
	if (lease_call(lease, session, lease->read, 0, 0, true, &why) ==
		IG_LEASE_FAILED)
		return false;
	lease->read = 0;
	return true;
}

/*
 * At the end of a transaction: gives every lease back to the node, with
 * the rows read since it was taken.  No error, no catalog access.
 */
static void
lease_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			/* its statements have settled: the counts are whole */
			give_back_all(false);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:

			/*
			 * A failed statement settles after this (its executor's memory
			 * is freed later): its last rows, and those of a scan Citus
			 * cancelled, are reported then, with the lease given back --
			 * the Citus connection may stay idle for long.
			 */
			for (int i = 0; i < nleases; i++)
				if (leases[i].leased != 0 || leases[i].read != 0)
					leases[i].closing = true;
			break;
		default:
			break;
	}
}

/*
 * Gives a lease back with the rows read on it; without "wait", the answer
 * is read at the next call (citus_session.c).  No error, no catalog.
 */
static void
give_back(IgLease *lease, bool wait)
{
	char	   *why;
	int64		answer;

	confirm_give_back();
	if (lease->leased != 0 || lease->read != 0)
	{
		int64		sent = lease->read;

		answer = lease_call(lease, lease->session, sent, 0, 0, wait, &why);
		if (answer != IG_LEASE_FAILED)
		{
			if (!wait)
			{
				unconfirmed = lease;
				unconfirmed_read = sent;
			}
			lease->leased = lease->read = 0;
		}
		else
			ereport(LOG,
					(errmsg("insider_guard: the lease of %lld rows (%lld read) of table %s could not be given back: %s",
							(long long) lease->leased, (long long) lease->read,
							lease->table ? lease->table : "all tables",
							why ? why : "unknown"),
					 errhidestmt(true)));
	}
	lease->closing = false;
}

/* Gives back the leases of an aborted transaction not given back yet. */
static void
give_back_closing(void)
{
	for (int i = 0; i < nleases; i++)
		if (leases[i].closing)
			give_back(&leases[i], true);
}

/*
 * Gives every lease back, reporting the rows read since it was taken: when
 * a transaction commits (not waiting for the answers) and when the
 * backend exits.  No error, no catalog access.
 */
static void
give_back_all(bool wait)
{
	for (int i = 0; i < nleases; i++)
		give_back(&leases[i], wait);
}

static void
lease_exit(int code, Datum arg)
{
	give_back_all(true);
}
