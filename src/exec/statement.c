/*-------------------------------------------------------------------------
 *
 * statement.c
 *		The lifecycle of the state insider_guard keeps for a running
 *		statement (an IgStmt, one per executor state): started with its
 *		first counted node, checked again before each later run of a
 *		cursor or portal, settled and released with the executor state,
 *		and kept for the next statement.
 *
 * A statement starts the general way (ig_stmt_start, ig_stmt_scan): its
 * keys and nodes are added as the walk of the plan finds them
 * (statement_keys.c), and the rows granted to its nodes are settled with
 * shared memory as they run out and when it ends (grant.c).
 *
 * The common statement -- whose only counted node is a lone scan of one
 * table -- takes the one-step path instead (ig_stmt_simple): when the
 * last statement run in the spare state on top was of the same shape
 * (same table, session user and rules), its keys, node and rule state
 * are taken over as they are, and at the end it is settled without a
 * loop.  A general statement that ends in that shape leaves its state
 * for the path (stmt_reusable_as_simple).
 *
 * Statement states are kept for reuse (spare_stmts), so that most
 * statements allocate nothing; what grew beyond their inline arrays goes
 * with the executor state's memory.  A statement is released by a
 * memory-context callback of the executor state (stmt_release), which
 * also runs on error, cancel and abort, when nothing may raise an error
 * or read the catalogs.
 *
 * IDENTIFICATION
 *		src/exec/statement.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "shmem/violations.h"
#include "exec/lease.h"
#include "exec/statement_internal.h"

/* statements kept for reuse, so that most statements allocate nothing */
#define IG_SPARE_STMTS 8
static IgStmt *spare_stmts[IG_SPARE_STMTS];
static int	nspare_stmts = 0;

static void stmt_release(void *arg);


/*
 * Starting a statement, the general way
 */

/* A new statement state, for the spares. */
static pg_noinline IgStmt *
stmt_alloc(void)
{
	IgStmt	   *stmt = MemoryContextAllocZero(TopMemoryContext, sizeof(IgStmt));

	stmt->in_worker = IsParallelWorker();
	stmt->maxkeys = IG_INLINE_KEYS;
	stmt->keys = stmt->inline_keys;
	stmt->key_rules = stmt->inline_key_rules;
	stmt->maxnodes = IG_INLINE_NODES;
	stmt->nodes = stmt->inline_node_list;
	stmt->callback.func = stmt_release;
	stmt->callback.arg = stmt;
	return stmt;
}

/* The key of a parallel query a statement belongs to (see violations.c). */
static pg_noinline uint64
stmt_parallel_query(IgStmt *stmt)
{
	return ig_parallel_query_key(!stmt->in_worker);
}

/*
 * Makes a statement one of the running ones, released with its executor
 * state (also on error).
 */
static inline void
stmt_link(IgStmt *stmt, EState *estate)
{
	MemoryContextRegisterResetCallback(estate->es_query_cxt, &stmt->callback);
	stmt->next = ig_running_stmts;
	ig_running_stmts = stmt;
}

/*
 * Starts counting a statement: called for its first counted node.
 */
static inline IgStmt *
stmt_start(EState *estate, Oid userid, bool covered)
{
	IgStmt	   *stmt;

	if (likely(nspare_stmts > 0))
		stmt = spare_stmts[--nspare_stmts];
	else
		stmt = stmt_alloc();
	stmt->estate = estate;
	stmt->userid = userid;
	stmt->parallel_query = 0;
	if (unlikely(stmt->in_worker ||
				 estate->es_plannedstmt->parallelModeNeeded))
		stmt->parallel_query = stmt_parallel_query(stmt);
	stmt->covered = covered;
	/* a parallel query counts once, by its leader; a recheck not at all */
	stmt->counts_statements = !stmt->in_worker && estate->es_epq_active == NULL;
	stmt->enforcing = false;
	stmt->reserving = false;
	stmt->has_pending = false;
	stmt->simple = false;
	stmt->rules_gen = ig_rules_gen;
	stmt->rules_gen_last = ig_rules_gen;
	stmt->has_baselines = false;
	stmt->nkeys = 0;
	stmt->nnodes = 0;
	/* the inline keys built for another user or other rules are not kept */
	if (stmt->built_userid != userid || stmt->built_gen != ig_rules_gen)
		stmt->nbuilt = 0;

	stmt_link(stmt, estate);

	(void) ig_stmt_key(stmt, InvalidOid);	/* all tables: IG_ALL_TABLES_KEY */
	return stmt;
}

/* As stmt_start, for callers outside this file. */
IgStmt *
ig_stmt_start(EState *estate, Oid userid, bool covered)
{
	return stmt_start(estate, userid, covered);
}

/*
 * A counted node for a scan of the given relations, or NULL if none of
 * them is counted.  The statement (*stmtp) is started on first need.
 */
IgCountedNode *
ig_stmt_scan(IgStmt **stmtp, EState *estate, Oid userid, bool covered,
			 const Oid *relids, int nrelids)
{
	IgCountedNode *node;
	bool		counted = false;

	if (likely(nrelids == 1))
	{
		/* most scans read one relation; a catalog needs no statement */
		const IgRelInfo *info = ig_relinfo_get(relids[0]);

		if (!info->countable)
			return NULL;
		if (*stmtp == NULL)
		{
			*stmtp = stmt_start(estate, userid, covered);
			/* reading the rules' counts may have looked at the catalogs */
			info = ig_relinfo_get(relids[0]);
		}
		return ig_stmt_scan_node(*stmtp, relids[0], info);
	}

	for (int i = 0; i < nrelids && !counted; i++)
		counted = ig_relinfo_get(relids[i])->countable;
	if (!counted)
		return NULL;
	if (*stmtp == NULL)
		*stmtp = stmt_start(estate, userid, covered);
	node = ig_stmt_node(*stmtp, IG_COUNTED_SCAN);
	for (int i = 0; i < nrelids; i++)
		(void) ig_node_add_relation(node, relids[i]);
	return node;
}


/*
 * The one-step path
 *
 * A statement whose only counted node is a lone scan of relid (counted,
 * without ancestors), outside parallel query, run in the spare state that
 * the last statement of the same shape left: keys [all tables, relid]
 * and their node are taken over as they are, and only what a statement
 * changes is reset.  Rules (if the user has them on either key) read
 * their counts again and grant the node its rows, as the general way
 * does for one node.
 */

/*
 * Can the spare statement state on top take a statement on the one-step
 * path?  Only if the last statement run in it ended in that shape
 * (stmt_reusable_as_simple) as a lone scan of the same relation, by the
 * same session user and under the same rules; and if this one is not a
 * parallel query.
 */
static inline bool
simple_fits(const IgStmt *stmt, const EState *estate, Oid userid, Oid relid)
{
	return stmt->simple_relid == relid &&
		stmt->built_userid == userid &&
		stmt->built_gen == ig_rules_gen &&
		likely(!estate->es_plannedstmt->parallelModeNeeded);
}

/*
 * ig_stmt_simple for keys with rules: their per-statement rule state, as
 * the last statement set it up for the same rule lists, reads the counts
 * again; the node is granted its rows.
 */
static pg_noinline void
simple_begin_rules(IgStmt *stmt, IgCountedNode *node)
{
	int64		grant = IG_UNLIMITED;

	for (int k = 0; k < 2; k++)
	{
		IgKeyRules *kr = stmt->key_rules[k];

		if (kr == NULL)
			continue;
		(void) key_list_setup(stmt, &stmt->inline_keys[k], kr->list);
		kr->query.valid = false;
		kr->query.over = false;
		kr->block_violation = 0;
		kr->log_noted = 0;
		kr->stop_rule = -1;
		ig_enforce_begin(kr, &stmt->inline_keys[k], stmt->userid);
		if (kr->query.res != NULL)
		{
			/* as ig_stmt_begin_enforcing, for the one node */
			stmt->reserving = true;
			kr->res_size = 0;
			kr->res.keep = 0;
			kr->res.want = 1;
			ig_enforce_reserve(kr, &stmt->inline_keys[k], stmt->userid, ig_now());
			grant = Min(grant, kr->pool);
		}
		if (kr->limiting)
			grant = Min(grant, kr->limit -
						held_by_others(stmt, node, stmt->inline_keys[k].relid));
	}
	/* as node_grant (grant.c), with no other node of the statement */
	node->granted = Max(Min(grant, batch_grant()), 0);
	for (int k = 0; k < 2; k++)
	{
		IgKeyRules *kr = stmt->key_rules[k];

		if (kr != NULL && kr->query.res != NULL)
			kr->pool -= node->granted;
	}
}

/*
 * The common case in one step (see above).  Returns the node, or NULL if
 * the caller must take the general way (ig_stmt_scan).
 */
IgCountedNode *
ig_stmt_simple(EState *estate, Oid userid, Oid relid)
{
	IgStmt	   *stmt;
	IgCountedNode *node;

	if (unlikely(nspare_stmts == 0))
		return NULL;
	stmt = spare_stmts[nspare_stmts - 1];
	if (!simple_fits(stmt, estate, userid, relid))
		return NULL;
	nspare_stmts--;

	/* keys [all tables, relid] and their node are as the last one left them */
	stmt->estate = estate;
	stmt->has_pending = false;
	stmt->simple = true;
	stmt->counts_statements = true;
	stmt->rules_gen = ig_rules_gen;
	stmt->rules_gen_last = ig_rules_gen;
	stmt->has_baselines = false;
	ig_tally_reset(&stmt->inline_keys[0]);
	ig_tally_reset(&stmt->inline_keys[1]);
	node = &stmt->inline_nodes[0];
	node->tramp = NULL;
	node->kind = IG_COUNTED_SCAN;
	node->granted = IG_UNLIMITED;

	stmt_link(stmt, estate);

	stmt->enforcing = (stmt->key_rules[0] != NULL || stmt->key_rules[1] != NULL);
	stmt->reserving = false;
	if (unlikely(stmt->enforcing))
		simple_begin_rules(stmt, node);
	return node;
}

/* True if a key's rules have something to check after a settle. */
static inline bool
simple_key_unsettled(const IgKeyRules *kr)
{
	return kr != NULL && (!kr->query.valid || kr->query.over);
}

/*
 * After the last settle of ig_stmt_simple's statement: records the log
 * rules its rows crossed, as settle_keys (grant.c) does (a key whose
 * counts all stayed within their limits has nothing to record).
 */
static pg_noinline void
simple_check_rules(IgStmt *stmt, Oid read_relid)
{
	for (int k = 0; k < 2; k++)
	{
		IgKeyRules *kr = stmt->key_rules[k];

		if (kr == NULL || (kr->query.valid && !kr->query.over))
			continue;
		ig_enforce_check(kr, &stmt->inline_keys[k], stmt->userid,
						 stmt->inline_keys[k].added, read_relid,
						 stmt->parallel_query, IsTransactionState(), false);
	}
}

/*
 * Before the last settle of ig_stmt_simple's statement: its reservations
 * are all given back.
 */
static pg_noinline void
simple_give_back(IgStmt *stmt)
{
	for (int k = 0; k < 2; k++)
	{
		IgKeyRules *kr = stmt->key_rules[k];

		if (kr != NULL && kr->query.res != NULL)
		{
			kr->res.keep = 0;
			kr->res.want = 0;
			kr->pool = 0;
		}
	}
}

/*
 * stmt_release for ig_stmt_simple's statement (one node, keys [all
 * tables, relid]): settles both keys at once, and leaves keys, node and
 * rule state as they are for the next statement of the same shape.
 */
static inline void
simple_release(IgStmt *stmt)
{
	IgCountedNode *node = &stmt->inline_nodes[0];
	IgTally    *keys = stmt->inline_keys;

	if (likely(node->tramp != NULL))
	{
		int64		consumed = node->granted - node->tramp->left;

		if (consumed > 0 ||
			(unlikely(stmt->reserving) && stmt_holds_reserved(stmt)))
		{
			keys[0].pending += Max(consumed, 0);
			keys[1].pending += Max(consumed, 0);
			if (unlikely(stmt->reserving))
				simple_give_back(stmt);
			ig_counters_settle_pair(MyDatabaseId, stmt->userid, keys,
									ig_now());
			ig_lease_note(stmt->key_rules[0], &keys[0], stmt->userid,
						  keys[0].added);
			ig_lease_note(stmt->key_rules[1], &keys[1], stmt->userid,
						  keys[1].added);
			if (unlikely(stmt->enforcing) &&
				(simple_key_unsettled(stmt->key_rules[0]) ||
				 simple_key_unsettled(stmt->key_rules[1])))
				simple_check_rules(stmt, node->relid);
		}
		ig_unwrap(node->tramp);
	}
	if (unlikely(keys[0].ref_moved | keys[1].ref_moved))
	{
		ig_tally_remember(&keys[0], stmt->userid);
		ig_tally_remember(&keys[1], stmt->userid);
	}
}


/*
 * Between the runs of a statement (a cursor's FETCHes, a portal run with
 * a row limit)
 */

/*
 * Whether a running statement may point into the rules matched while
 * ig_rules_gen was between first_gen and last_gen: each points into those
 * of generations rules_gen to rules_gen_last.
 */
static bool
stmt_gens_in_use(uint32 first_gen, uint32 last_gen)
{
	for (IgStmt *s = ig_running_stmts; s != NULL; s = s->next)
		if ((int32) (first_gen - s->rules_gen_last) <= 0 &&
			(int32) (s->rules_gen - last_gen) <= 0)
			return true;
	return false;
}

/*
 * Frees the rules dropped by changes to rules or roles that no running
 * statement points into: all of them when none runs, else those of no
 * running statement's generations -- so that changing roles again and
 * again under an open cursor keeps the cursor's rules, not one copy per
 * change.
 */
void
ig_stmt_free_retired_rules(void)
{
	if (ig_running_stmts == NULL)
		ig_rules_free_retired_slow(NULL);
	else if (ig_rules_retired_unswept)
		ig_rules_free_retired_slow(stmt_gens_in_use);
}

/* Is any statement running in this backend? */
bool
ig_stmt_running(void)
{
	return ig_running_stmts != NULL;
}

/* The running statement of an executor state, or NULL. */
IgStmt *
ig_stmt_find(EState *estate)
{
	for (IgStmt *stmt = ig_running_stmts; stmt != NULL; stmt = stmt->next)
		if (stmt->estate == estate)
			return stmt;
	return NULL;
}

/* Is an executor state an EvalPlanQual recheck of another's (at any depth)? */
static bool
rechecks(const EState *estate, const EState *parent)
{
	for (const EPQState *epq = estate->es_epq_active; epq != NULL;
		 epq = epq->parentestate->es_epq_active)
		if (epq->parentestate == parent)
			return true;
	return false;
}

/*
 * After an executor run that may not be the last (a FETCH): settles the
 * statement of an executor state (stmt, if known) and those of its
 * EvalPlanQual rechecks, which live on until the statement ends (a
 * cursor FOR UPDATE) -- each FETCH counts when it runs, and what they
 * reserved goes back.
 */
void
ig_stmt_settle_run(EState *estate, IgStmt *stmt)
{
	if (stmt != NULL)
		ig_stmt_settle(stmt, false);
	for (IgStmt *s = ig_running_stmts; s != NULL; s = s->next)
		if (s != stmt && s->estate->es_epq_active != NULL &&
			rechecks(s->estate, estate))
			ig_stmt_settle(s, false);
}

static bool stmt_rules_moved(const IgStmt *stmt);
static void stmt_refresh_rules(IgStmt *stmt);
static void stmt_recheck(IgStmt *stmt);

/* Before a run of a statement that ran before: its rules, as they are now. */
static void
refresh_before_run(IgStmt *stmt)
{
	if (stmt_rules_moved(stmt))
		stmt_refresh_rules(stmt);
	else if (stmt->enforcing)
		stmt_recheck(stmt);
}

/*
 * Before an executor run that is not the first (a FETCH): matches the
 * statement of an executor state and those of its EvalPlanQual rechecks
 * -- which live on with a cursor FOR UPDATE, and read on at each FETCH --
 * to the rules in force now, or reads their counts again.
 */
void
ig_stmt_refresh_run(EState *estate, IgStmt *stmt)
{
	refresh_before_run(stmt);
	for (IgStmt *s = ig_running_stmts; s != NULL; s = s->next)
		if (s != stmt && s->estate->es_epq_active != NULL &&
			rechecks(s->estate, estate))
			refresh_before_run(s);
}

/*
 * True if the rules a running statement was matched to, or the history
 * its baseline limits come from, changed since.
 */
static bool
stmt_rules_moved(const IgStmt *stmt)
{
	return !ig_rules_current(stmt->rules_gen) ||
		(stmt->has_baselines && stmt->hist_gen != ig_history_gen());
}

/*
 * Settles what a running statement read so far; a statement on the
 * one-step path (ig_stmt_simple) leaves it: its keys are those of a
 * general statement from now on.
 */
static void
settle_as_general(IgStmt *stmt)
{
	ig_stmt_settle(stmt, false);
	if (stmt->simple)
	{
		stmt->simple = false;
		stmt->nkeys = 2;
		stmt->nnodes = 1;
	}
}

/*
 * Before a FETCH (or another run of a portal) of an enforcing statement
 * whose rules did not change: reads the counts again, so that what other
 * sessions of the user read since the last run limits this one from its
 * first row.  The counter memos make this a compare unless some other
 * session did read meanwhile.
 */
static void
stmt_recheck(IgStmt *stmt)
{
	settle_as_general(stmt);
	for (int i = 0; i < stmt->nkeys; i++)
	{
		IgKeyRules *kr = stmt->key_rules[i];

		if (kr == NULL)
			continue;
		kr->query.valid = false;
		kr->query.over = false;
		ig_enforce_begin(kr, &stmt->keys[i], stmt->userid);
	}
	ig_stmt_begin_enforcing(stmt);
}

/*
 * Matches a running statement's keys to the rules in force now, with
 * baseline limits from the history as it is now: for a cursor or portal
 * whose rules or history changed since it was opened, before its next
 * FETCH.  What it read so far is settled under the old ones first.  The
 * statement leaves the one-step path (ig_stmt_simple): its keys are those
 * of a general statement from now on.
 */
static void
stmt_refresh_rules(IgStmt *stmt)
{
	settle_as_general(stmt);
	ig_stmt_match_rules(stmt);

	if (stmt->enforcing)
		ig_stmt_begin_enforcing(stmt);
	else
		for (int i = 0; i < stmt->nnodes; i++)
			if (stmt->nodes[i]->kind != IG_COUNTED_CONFLICT && stmt->nodes[i]->tramp != NULL)
				stmt->nodes[i]->granted = stmt->nodes[i]->tramp->left = IG_UNLIMITED;

	/* the rules it was matched to before may have been the last in use */
	if (unlikely(ig_rules_have_retired))
		ig_stmt_free_retired_rules();
}


/*
 * The end of a statement
 */

/*
 * True if a statement is the one-step path's shape: one node, a scan (not
 * ON CONFLICT's), counting towards two keys -- all tables, then the
 * relation it reads -- all in the statement's inline arrays.
 */
static inline bool
stmt_is_lone_scan(const IgStmt *stmt)
{
	const IgCountedNode *node = &stmt->inline_nodes[0];

	/* one node and two keys, in the inline arrays (none grew) */
	if (stmt->nnodes != 1 || stmt->nkeys != 2 ||
		stmt->keys != stmt->inline_keys ||
		stmt->nodes != stmt->inline_node_list ||
		stmt->nodes[0] != node)
		return false;
	/* a scan's node, counting towards keys 0 and 1 (0 is always its first) */
	if (node->kind == IG_COUNTED_CONFLICT || node->nkeys != 2 ||
		node->keys[1] != 1)
		return false;
	/* key 0 is all tables, key 1 the relation the node reads */
	return stmt->inline_keys[0].relid == InvalidOid &&
		node->relid == stmt->inline_keys[1].relid;
}

/*
 * True if key k's rule state can serve the next statement of the same
 * shape as it is: no rules, or its inline state for its rule list.
 */
static inline bool
key_rules_reusable(const IgStmt *stmt, int k)
{
	const IgKeyRules *kr = stmt->key_rules[k];

	if (kr == NULL)
		return stmt->inline_lists[k] == NULL;
	return kr == &stmt->inline_rules[k] &&
		kr->list == stmt->inline_lists[k] &&
		kr->query.sum == stmt->inline_sums[k];
}

/*
 * True if the rule state of both keys can serve the next statement of the
 * same shape: the inline keys remember their rule lists (nbuilt), and
 * neither key's rule state is other than its inline one for its list.
 */
static inline bool
stmt_rules_reusable(const IgStmt *stmt)
{
	return stmt->nbuilt >= 2 &&
		key_rules_reusable(stmt, 0) && key_rules_reusable(stmt, 1);
}

/*
 * Whether the next statement may take a general statement's state over
 * as it is, on the one-step path (simple_fits): whether it ended in the
 * shape that path leaves a statement in.  It may not if
 *
 *	- it was not a lone scan of one table, all in the inline arrays
 *	  (stmt_is_lone_scan);
 *	- the rule state of its keys is not what the next statement's would
 *	  be (stmt_rules_reusable);
 *	- it was part of a parallel query (a worker's, or a leader's).
 */
static inline bool
stmt_reusable_as_simple(const IgStmt *stmt)
{
	return stmt_is_lone_scan(stmt) &&
		stmt_rules_reusable(stmt) &&
		!stmt->in_worker && stmt->parallel_query == 0;
}

/*
 * stmt_release for a general statement: settles it, and leaves its inline
 * keys for the next statement (in the one-step path's shape, if it ended
 * so).
 */
static pg_noinline void
general_release(IgStmt *stmt)
{
	ig_stmt_settle(stmt, true);

	for (int i = 0; i < stmt->nnodes; i++)
		if (stmt->nodes[i]->tramp != NULL)
			ig_unwrap(stmt->nodes[i]->tramp);
	for (int i = 0; i < stmt->nkeys; i++)
		ig_tally_remember(&stmt->keys[i], stmt->userid);

	/* the next statement may take this one's shape over as it is */
	stmt->simple_relid = stmt_reusable_as_simple(stmt) ?
		stmt->inline_keys[1].relid : InvalidOid;

	/* what grew beyond the inline arrays goes with es_query_cxt */
	if (unlikely(stmt->keys != stmt->inline_keys))
	{
		stmt->maxkeys = IG_INLINE_KEYS;
		stmt->keys = stmt->inline_keys;
		stmt->key_rules = stmt->inline_key_rules;
	}
	if (unlikely(stmt->nodes != stmt->inline_node_list))
	{
		stmt->maxnodes = IG_INLINE_NODES;
		stmt->nodes = stmt->inline_node_list;
	}
	stmt->built_userid = stmt->userid;
	stmt->built_gen = stmt->rules_gen;
}

/*
 * The executor state is being freed (ExecutorEnd, or an abort): settle,
 * release the trampolines, remember where the counters are, and keep the
 * state for the next statement.
 */
static void
stmt_release(void *arg)
{
	IgStmt	   *stmt = (IgStmt *) arg;

	if (likely(stmt->simple))
		simple_release(stmt);
	else
		general_release(stmt);

	/* usually the innermost statement ends first */
	if (likely(ig_running_stmts == stmt))
		ig_running_stmts = stmt->next;
	else
	{
		for (IgStmt **link = &ig_running_stmts; *link != NULL;
			 link = &(*link)->next)
		{
			if (*link == stmt)
			{
				*link = stmt->next;
				break;
			}
		}
	}
	if (unlikely(ig_rules_have_retired))
		ig_stmt_free_retired_rules();

	if (nspare_stmts < IG_SPARE_STMTS)
		spare_stmts[nspare_stmts++] = stmt;
	else
		pfree(stmt);
}
