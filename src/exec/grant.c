/*-------------------------------------------------------------------------
 *
 * grant.c
 *		The rows granted to each counted node of a running statement, the
 *		rows its keys reserve in shared memory, and settling: moving what
 *		the nodes read into shared memory and checking the rules against
 *		the fresh counts.
 *
 * A node's trampoline may hand out "granted" rows before it calls back
 * (ig_tramp_exhausted).  With no threshold on its keys the grant never
 * runs out.  Otherwise it is the smallest "rows left" of its keys, less
 * what other nodes of this backend hold on them (of this statement, and
 * of every other running statement of the same session user: open
 * cursors and portals, statements nested in functions), and less than
 * insider_guard.batch_rows: when it runs out, the rows are settled with
 * shared memory, the rules are checked against the fresh counts, and a
 * new grant is made.  So in one process a block rule stops the statement
 * at exactly the row that exceeds it.  When a node finds nothing left
 * while another node of the backend holds rows on the same key, it takes
 * them back first, so only real reads break a rule.
 *
 * Across processes, a key with a block rule reserves its rows in shared
 * memory before granting them (IgReservation, counters.h): its pool.
 * Reservations are exchanged with every settle, under the counter's
 * spinlock that the settle takes anyway, and given back when the
 * executor run ends; so the rows granted to all processes together never
 * exceed what the block rule leaves, and each process overshoots by at
 * most the one row that finds its grant used up.  A node that finds
 * nothing left because other processes hold it waits a little for them
 * to give some back, then is stopped.
 *
 * Rows are settled after every ExecutorRun (each FETCH counts when it
 * runs) and when the executor state is freed (statement.c) -- a
 * memory-context callback that also runs on error, cancel and abort, when
 * nothing may raise an error or read the catalogs.
 *
 * The one-step path (ig_stmt_simple, statement.c) grants and settles its
 * lone node itself, the same way, without the loops over nodes and keys.
 *
 * IDENTIFICATION
 *		src/exec/grant.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"

#include "exec/lease.h"
#include "exec/statement_internal.h"

IgStmt	   *ig_running_stmts = NULL;

/*
 * How many rows a key reserves at a time: IG_RESERVE_FIRST at first, then
 * doubling while each reservation is read within IG_RESERVE_QUICK, and
 * shrinking to what was read in that time when it is read more slowly --
 * so that a slow reader (a filter that sleeps, a client that reads slowly)
 * holds only what it reads in about IG_RESERVE_QUICK, and other processes
 * of the role that find the rest used up get some back soon.  At most
 * "most" (a batch).
 */
#define IG_RESERVE_FIRST	16
#define IG_RESERVE_QUICK	(10 * 1000) /* microseconds */

static inline int64
reserve_size(IgKeyRules *kr, int64 most, TimestampTz now)
{
	int64		size = kr->res_size;
	int64		elapsed = now - kr->res_at;

	if (size <= 0)
		size = IG_RESERVE_FIRST;
	else if (elapsed <= IG_RESERVE_QUICK)
		size *= 2;
	else
		size = Max(size * IG_RESERVE_QUICK / elapsed, IG_RESERVE_FIRST);
	kr->res_size = size = Min(size, most);
	kr->res_at = now;
	return size;
}

/*
 * Moves what a node's trampoline counted to its keys; what is left of its
 * grant stays granted.  Returns true if it had counted anything.
 */
static inline bool
collect_node(IgCountedNode *node)
{
	IgStmt	   *stmt = node->stmt;
	int64		consumed;

	/* a node whose setup failed (an error while its keys were looked up) */
	if (unlikely(node->tramp == NULL))
		return false;
	consumed = node->granted - node->tramp->left;
	if (consumed <= 0)
		return false;
	for (int i = 0; i < node->nkeys; i++)
		stmt->keys[node->keys[i]].pending += consumed;
	/* the row that ran a grant out is counted in consumed */
	node->granted = node->tramp->left = Max(node->tramp->left, 0);
	return true;
}

/* Does a threshold cover any key of the node? */
static bool
node_ruled(const IgStmt *stmt, const IgCountedNode *node)
{
	for (int i = 0; i < node->nkeys; i++)
		if (stmt->key_rules[node->keys[i]] != NULL)
			return true;
	return false;
}

/* Does a node count towards a relation's key? */
static bool
node_reads(const IgStmt *stmt, const IgCountedNode *node, Oid relid)
{
	for (int i = 0; i < node->nkeys; i++)
		if (stmt->keys[node->keys[i]].relid == relid)
			return true;
	return false;
}

/*
 * Rows a node holds that shared memory does not know of: what it may
 * still read and what it read since it was last collected, for a node
 * under rules; what it read since, for one that counts only.
 */
static int64
node_held(const IgStmt *stmt, const IgCountedNode *node)
{
	if (stmt->enforcing && node_ruled(stmt, node))
		return Max(node->granted, 0);
	return Max(node->granted - node->tramp->left, 0);
}

/*
 * The nodes of a statement that count towards a key, and the rows they
 * are still granted (what its reservation must keep when exchanged).
 */
static int
key_nodes(const IgStmt *stmt, int key, int64 *granted)
{
	int			n = 0;

	*granted = 0;
	for (int i = 0; i < stmt->nnodes; i++)
	{
		const IgCountedNode *node = stmt->nodes[i];

		if (node->kind == IG_COUNTED_CONFLICT || node->tramp == NULL)
			continue;
		for (int j = 0; j < node->nkeys; j++)
			if (node->keys[j] == key)
			{
				n++;
				*granted += Max(node->granted, 0);
				break;
			}
	}
	return n;
}

/* The rows a statement's nodes are still granted on a key. */
static inline int64
key_granted(const IgStmt *stmt, int key)
{
	int64		granted;

	(void) key_nodes(stmt, key, &granted);
	return granted;
}

/*
 * Rows the other nodes of this backend hold on a relation's key: of this
 * statement, and of every other statement of the same session user that
 * is running (open cursors and portals, statements nested in functions),
 * so that no number of them can read more than the rows left.
 */
int64
ig_held_by_others_slow(const IgStmt *stmt, const IgCountedNode *node, Oid relid)
{
	int64		held = 0;

	for (IgStmt *s = ig_running_stmts; s != NULL; s = s->next)
	{
		if (s->userid != stmt->userid)
			continue;
		for (int i = 0; i < s->nnodes; i++)
		{
			const IgCountedNode *other = s->nodes[i];

			if (other == node || other->kind == IG_COUNTED_CONFLICT ||
				other->tramp == NULL || !node_reads(s, other, relid))
				continue;
			held += node_held(s, other);
		}
	}
	return held;
}

/*
 * The rows a node may hand out before it must settle; they are taken out
 * of the pools of its keys that reserve.
 */
static int64
node_grant(const IgStmt *stmt, const IgCountedNode *node)
{
	int64		grant = IG_UNLIMITED;
	bool		ruled = false;

	for (int i = 0; i < node->nkeys; i++)
	{
		IgKeyRules *kr = stmt->key_rules[node->keys[i]];

		if (kr == NULL)
			continue;
		ruled = true;
		if (kr->limiting)
			grant = Min(grant, kr->limit -
						held_by_others(stmt, node, stmt->keys[node->keys[i]].relid));
		if (kr->query.res != NULL)
			grant = Min(grant, kr->pool);
	}
	if (!ruled)
		return IG_UNLIMITED;

	/*
	 * The row after the grant settles: so a process reads at most batch_rows
	 * rows that shared memory does not know of.
	 */
	grant = Max(Min(grant, (int64) ig_batch_rows - 1), 0);
	for (int i = 0; i < node->nkeys; i++)
	{
		IgKeyRules *kr = stmt->key_rules[node->keys[i]];

		if (kr != NULL && kr->query.res != NULL)
			kr->pool -= grant;
	}
	return grant;
}

/*
 * True if a node got no rows only because other processes of the role
 * hold, reserved, what a block rule of one of its keys leaves.
 */
static bool
node_crowded(const IgStmt *stmt, const IgCountedNode *node)
{
	for (int i = 0; i < node->nkeys; i++)
	{
		IgKeyRules *kr = stmt->key_rules[node->keys[i]];

		if (kr != NULL && kr->query.res != NULL && !kr->blocked &&
			kr->pool <= 0 && kr->res.others > 0)
			return true;
	}
	return false;
}

/* Does the node count towards a relation whose rules limit the rows left? */
static bool
node_limits(const IgStmt *stmt, const IgCountedNode *node, Oid relid)
{
	for (int i = 0; i < node->nkeys; i++)
	{
		int			key = node->keys[i];

		if (stmt->keys[key].relid == relid && stmt->key_rules[key] != NULL &&
			stmt->key_rules[key]->limiting)
			return true;
	}
	return false;
}

/* settle_keys for a statement with rules. */
static pg_noinline void
settle_keys_enforcing(IgStmt *stmt, bool final, bool may_raise,
					  Oid read_relid, int64 want, TimestampTz now)
{
	int			catalog_ok = -1;	/* not asked yet */
	int			stop_key = -1;	/* a key whose block rule stops it */

	/* reservations are exchanged as the rows go in: what to take again */
	if (stmt->reserving)
		for (int i = 0; i < stmt->nkeys; i++)
		{
			IgKeyRules *kr = stmt->key_rules[i];

			if (kr == NULL || kr->query.res == NULL)
				continue;
			kr->res.keep = final ? 0 : key_granted(stmt, i);
			kr->res.want = final || want <= 0 ? 0 : reserve_size(kr, want, now);
		}

	ig_counters_settle(MyDatabaseId, stmt->userid, stmt->keys, stmt->nkeys,
					   stmt->counts_statements,
					   final && stmt->estate->es_use_parallel_mode, now);

	for (int i = 0; i < stmt->nkeys; i++)
	{
		IgKeyRules *kr = stmt->key_rules[i];

		if (kr == NULL)
			continue;
		if (kr->query.res != NULL)
		{
			kr->pool = kr->res.fresh;
			ig_lease_pool(kr, &stmt->keys[i], stmt->userid,
						  stmt->keys[i].added, may_raise);
		}
		else
			ig_lease_note(kr, &stmt->keys[i], stmt->userid,
						  stmt->keys[i].added);
		if (likely(kr->query.valid && !kr->query.over))
		{
			/* nothing crossed or broken; at the end, nothing more to do */
			if (!final)
				ig_enforce_limit_within(kr);
			continue;
		}
		if (catalog_ok < 0)
			catalog_ok = IsTransactionState();
		ig_enforce_check(kr, &stmt->keys[i], stmt->userid,
						 stmt->keys[i].added, read_relid,
						 stmt->parallel_query, catalog_ok, may_raise);
		if (kr->stop_rule >= 0 && stop_key < 0 && may_raise)
			stop_key = i;
	}

	/*
	 * every key's crossings are recorded, and the block rules the rows
	 * broke on other keys: now a block may stop it
	 */
	if (stop_key >= 0)
	{
		for (int i = stop_key + 1; i < stmt->nkeys; i++)
			if (stmt->key_rules[i] != NULL && stmt->key_rules[i]->stop_rule >= 0)
				ig_enforce_record_stop(stmt->key_rules[i], &stmt->keys[i],
									   stmt->userid, read_relid,
									   stmt->parallel_query);
		ig_enforce_stop(stmt->key_rules[stop_key], &stmt->keys[stop_key],
						stmt->userid, read_relid, stmt->parallel_query);
	}
}

/*
 * Puts every key's pending rows into shared memory and, for keys with
 * rules, checks them against the counts read back: may record crossings
 * and, with may_raise, stop the statement.  read_relid names the table
 * being read, for all-tables rules.  Keys that reserve keep what their
 * nodes are still granted and take up to "want" fresh rows into their
 * pools (with "final", nothing: all is given back).
 *
 * The first rows of a statement count it; a parallel query counts once,
 * by its leader, even if only the workers read.
 */
static inline void
settle_keys(IgStmt *stmt, bool final, bool may_raise, Oid read_relid,
			int64 want)
{
	TimestampTz now = ig_now();

	stmt->has_pending = false;
	if (likely(!stmt->enforcing))
		ig_counters_settle(MyDatabaseId, stmt->userid, stmt->keys, stmt->nkeys,
						   stmt->counts_statements,
						   final && stmt->estate->es_use_parallel_mode, now);
	else
		settle_keys_enforcing(stmt, final, may_raise, read_relid, want, now);
}

/*
 * Takes back what other nodes of this backend hold on the node's limiting
 * keys -- of this statement and of the session user's other running
 * statements -- counting what they read: those of other statements are
 * settled with shared memory at once.  Their next row asks again.
 * Returns true if there was anything to take.
 */
static bool
reclaim_grants(IgStmt *stmt, IgCountedNode *node)
{
	bool		reclaimed = false;

	for (IgStmt *s = ig_running_stmts; s != NULL; s = s->next)
	{
		bool		collected = false;

		if (s->userid != stmt->userid)
			continue;
		for (int i = 0; i < s->nnodes; i++)
		{
			IgCountedNode *other = s->nodes[i];
			bool		shares = false;

			if (other == node || other->kind == IG_COUNTED_CONFLICT ||
				other->tramp == NULL || node_held(s, other) <= 0)
				continue;
			for (int k = 0; k < node->nkeys && !shares; k++)
				shares = node_limits(stmt, node, stmt->keys[node->keys[k]].relid) &&
					node_reads(s, other, stmt->keys[node->keys[k]].relid);
			if (!shares)
				continue;
			collected |= collect_node(other);
			if (s->enforcing && node_ruled(s, other))
				other->granted = other->tramp->left = 0;
			reclaimed = true;
		}
		/* another statement's reservations go back with its rows */
		if (s != stmt &&
			(collected || (s->reserving && stmt_holds_reserved(s))))
		{
			s->has_pending |= collected;
			settle_keys(s, false, false,
						s->nnodes > 0 ? s->nodes[0]->relid : InvalidOid, 0);
		}
	}
	return reclaimed;
}

/*
 * Grants every node of an enforcing statement its rows, once the counts
 * of its keys are known.  A key with a block rule first reads them and
 * reserves one row for each of its nodes (every node's grant has been
 * collected and is given back): enough for a statement that reads one
 * row, and little for one started and not run -- a cursor not fetched
 * from, a parallel leader that leaves the scan to its workers, a subplan
 * never reached -- to hold while other processes of the role need it.
 * More are reserved as they are read (reserve_size).
 */
void
ig_stmt_begin_enforcing(IgStmt *stmt)
{
	TimestampTz now = 0;
	int64		unused;

	stmt->reserving = false;
	for (int i = 0; i < stmt->nnodes; i++)
	{
		IgCountedNode *node = stmt->nodes[i];

		if (node->kind != IG_COUNTED_CONFLICT && node->tramp != NULL)
			node->granted = node->tramp->left = 0;
	}
	for (int k = 0; k < stmt->nkeys; k++)
	{
		IgKeyRules *kr = stmt->key_rules[k];

		if (kr == NULL || kr->query.res == NULL)
			continue;
		if (!stmt->reserving)
			now = ig_now();
		stmt->reserving = true;
		kr->res_size = 0;
		kr->res.keep = 0;
		kr->res.want = key_nodes(stmt, k, &unused);
		ig_enforce_reserve(kr, &stmt->keys[k], stmt->userid, now);
	}
	for (int i = 0; i < stmt->nnodes; i++)
	{
		IgCountedNode *node = stmt->nodes[i];

		if (node->kind != IG_COUNTED_CONFLICT && node->tramp != NULL)
			node->granted = node->tramp->left = node_grant(stmt, node);
	}
}

/*
 * Puts the statement's counted rows into shared memory: after each
 * ExecutorRun and, with "final", when the executor state is freed
 * (possibly in an aborting transaction).  Never stops the statement: a
 * rule broken meanwhile by other sessions stops its next row.  Rows
 * granted and not read, and what is reserved for them, are given back:
 * a node asks again at its next row (the next run of a cursor regrants
 * all, see stmt_recheck).
 */
void
ig_stmt_settle(IgStmt *stmt, bool final)
{
	bool		counted = stmt->has_pending;

	for (int i = 0; i < stmt->nnodes; i++)
		counted |= collect_node(stmt->nodes[i]);
	if (unlikely(stmt->reserving))
	{
		for (int i = 0; i < stmt->nnodes; i++)
		{
			IgCountedNode *node = stmt->nodes[i];

			if (node->kind != IG_COUNTED_CONFLICT && node->tramp != NULL &&
				node_ruled(stmt, node))
				node->granted = node->tramp->left = 0;
		}
		counted |= stmt_holds_reserved(stmt);
	}
	if (!counted && !(final && stmt->estate->es_use_parallel_mode))
		return;

	settle_keys(stmt, final, false,
				stmt->nnodes > 0 ? stmt->nodes[0]->relid : InvalidOid, 0);
	if (stmt->enforcing && !final && !stmt->reserving)
		ig_stmt_begin_enforcing(stmt);
}

/*
 * How long a node that finds every row left reserved by other processes
 * of the role waits for some to be given back (they give back what they
 * do not read at every settle, every batch_rows rows at most, and when
 * their executor run ends), in waits of IG_CROWDED_WAIT_MS.
 */
#define IG_CROWDED_WAITS	50
#define IG_CROWDED_WAIT_MS	2

/*
 * ig_tramp_exhausted for a node that got no rows because other processes
 * of the role hold them: waits for some to be given back, then stops the
 * statement (the row that asked has been counted).  Returns the grant.
 */
static pg_noinline int64
wait_for_room(IgStmt *stmt, IgCountedNode *node)
{
	for (int wait = 0; wait < IG_CROWDED_WAITS; wait++)
	{
		int64		grant;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 IG_CROWDED_WAIT_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		settle_keys(stmt, false, true, node->relid, batch_grant());
		grant = node_grant(stmt, node);
		if (grant > 0 || !node_crowded(stmt, node))
			return grant;
	}
	for (int i = 0; i < node->nkeys; i++)
	{
		int			key = node->keys[i];
		IgKeyRules *kr = stmt->key_rules[key];

		if (kr != NULL && kr->query.res != NULL && !kr->blocked &&
			kr->pool <= 0 && kr->res.others > 0)
			ig_enforce_crowded(kr, &stmt->keys[key], stmt->userid,
							   node->relid, stmt->parallel_query);
	}
	return 0;
}

/*
 * ig_tramp_exhausted for a node's first grant used up, when no key of it
 * has taken more than the row per node reserved at the start this run:
 * only the keys that reserve are settled (the rows are added, their
 * reservation exchanged), which is one lock each; the others keep the
 * rows pending until the statement settles.  Returns false, having done
 * nothing, if this is not the case or no row could be granted (the
 * general way then decides).
 */
static bool
node_first_reserve(IgStmt *stmt, IgCountedNode *node)
{
	TimestampTz now;
	int64		grant;

	for (int i = 0; i < node->nkeys; i++)
	{
		IgKeyRules *kr = stmt->key_rules[node->keys[i]];

		if (kr != NULL && kr->query.res != NULL && kr->res_size != 0)
			return false;
	}
	now = ig_now();
	collect_node(node);
	stmt->has_pending = true;
	for (int i = 0; i < node->nkeys; i++)
	{
		int			k = node->keys[i];
		IgKeyRules *kr = stmt->key_rules[k];
		IgTally    *tally = &stmt->keys[k];

		if (kr == NULL || kr->query.res == NULL)
			continue;
		kr->res.keep = stmt->nnodes > 1 ? key_granted(stmt, k) : 0;
		kr->res.want = reserve_size(kr, batch_grant(), now);
		ig_counters_settle(MyDatabaseId, stmt->userid, tally, 1,
						   stmt->counts_statements, false, now);
		kr->pool = kr->res.fresh;
		ig_lease_pool(kr, tally, stmt->userid, tally->added, true);
		ig_enforce_check(kr, tally, stmt->userid, tally->added, node->relid,
						 stmt->parallel_query, IsTransactionState(), true);
		if (kr->stop_rule >= 0)
			ig_enforce_stop(kr, tally, stmt->userid, node->relid,
							stmt->parallel_query);
	}
	grant = node_grant(stmt, node);
	if (grant == 0)
		return false;
	node->granted = node->tramp->left = grant;
	return true;
}

/*
 * A trampoline's grant ran out (the row that did it is counted).  ON
 * CONFLICT nodes come here for every row, to count it for the partition
 * it is in.
 */
void
ig_tramp_exhausted(IgTramp *tramp, ExprContext *econtext)
{
	IgCountedNode *node = (IgCountedNode *) tramp->node;
	IgStmt	   *stmt = node->stmt;
	int64		grant;

	if (node->kind == IG_COUNTED_CONFLICT)
	{
		TupleTableSlot *existing = econtext ? econtext->ecxt_scantuple : NULL;
		Oid			relid = existing ? existing->tts_tableOid : InvalidOid;

		tramp->left = 0;
		if (!OidIsValid(relid))
			return;
		if (relid != node->relid)
		{
			node->nkeys = 1;	/* the all-tables key */
			node->relid = InvalidOid;
			if (!ig_node_add_relation(node, relid))
				node->nkeys = 0;
			node->relid = relid;
		}
		for (int i = 0; i < node->nkeys; i++)
			stmt->keys[node->keys[i]].pending++;
		stmt->has_pending = true;
		if (stmt->enforcing && node_ruled(stmt, node))
			settle_keys(stmt, false, true, relid, 0);
		return;
	}

	if (!stmt->enforcing || !node_ruled(stmt, node))
	{
		/* counting only: collect and grant again */
		collect_node(node);
		node->granted = tramp->left = IG_UNLIMITED;
		return;
	}

	/* most statements under a block rule come here once: their first row */
	if (stmt->reserving && node_first_reserve(stmt, node))
		return;

	collect_node(node);
	for (int attempt = 0;; attempt++)
	{
		settle_keys(stmt, false, true, node->relid, batch_grant());
		grant = node_grant(stmt, node);
		if (grant > 0 || attempt > 0 || !reclaim_grants(stmt, node))
			break;
	}
	if (unlikely(grant == 0) && node_crowded(stmt, node))
		grant = wait_for_room(stmt, node);
	node->granted = tramp->left = grant;
}
