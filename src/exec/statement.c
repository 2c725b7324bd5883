/*-------------------------------------------------------------------------
 *
 * statement.c
 *		The state insider_guard keeps for a running statement: the tables
 *		it reads ("keys": each table, its ancestors, and all tables), the
 *		counted nodes, and the rows granted to each node.
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
 * runs) and when the executor state is freed -- a memory-context callback
 * that also runs on error, cancel and abort, when nothing may raise an
 * error or read the catalogs.
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
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "cache/baseline.h"
#include "shmem/counters.h"
#include "exec/enforce.h"
#include "base/guc.h"
#include "shmem/history.h"
#include "base/names.h"
#include "cache/relinfo.h"
#include "cache/rules.h"
#include "exec/statement.h"
#include "exec/tally.h"
#include "exec/tramp.h"
#include "shmem/violations.h"

static IgStmt *running = NULL;

/* statements kept for reuse, so that most statements allocate nothing */
#define IG_SPARE_STMTS 8
static IgStmt *spare_stmts[IG_SPARE_STMTS];
static int	nspare_stmts = 0;

static void stmt_release(void *arg);

/* The most rows a node may be granted at once. */
static inline int64
batch_grant(void)
{
	return Max((int64) ig_batch_rows - 1, 1);
}

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
 * Brings a key's rule list up to date for a statement: baseline limits
 * (fixed at statement start, from the history as it is then) and the
 * history its counter keeps.  Returns true if the list has rules to
 * enforce (a peer's list may only keep history).
 */
static inline bool
key_list_setup(IgStmt *stmt, IgTally *tally, IgRuleList *list)
{
	/* what a record written while the transaction fails would name */
	if (unlikely(list->names_gen != ig_names_gen) && list->nrules > 0)
	{
		ig_names_remember(stmt->userid, list->relid);
		list->names_gen = ig_names_gen;
	}
	if (unlikely(list->nbaseline > 0 || list->hist_wanted != 0))
	{
		if (list->nbaseline > 0)
		{
			if (!stmt->has_baselines)
			{
				/* the history its limits are of, for a cursor's next FETCH */
				stmt->has_baselines = true;
				stmt->hist_gen = ig_history_generation();
			}
			/* as ig_baseline_refresh, with the generation read once */
			if (list->hist_gen != stmt->hist_gen)
				ig_baseline_compute(list, stmt->userid);
		}
		if (list->hist_wanted != 0)
			ig_tally_history(tally, list);
	}
	return list->nrules > 0;
}

/* Per-statement rule state for a key: inline if it fits. */
static IgKeyRules *
key_rules_new(IgStmt *stmt, IgRuleList *list, int key)
{
	MemoryContext cxt = stmt->estate->es_query_cxt;
	IgKeyRules *kr;

	if (key < IG_INLINE_KEYS)
		kr = &stmt->inline_rules[key];
	else
		kr = MemoryContextAlloc(cxt, sizeof(IgKeyRules));
	ig_enforce_init(kr, list,
					key < IG_INLINE_KEYS && list->nrules <= IG_INLINE_RULES ?
					stmt->inline_sums[key] :
					MemoryContextAlloc(cxt, sizeof(uint64) * list->nrules));
	return kr;
}

/* Doubles a statement's key arrays. */
static pg_noinline void
grow_keys(IgStmt *stmt)
{
	MemoryContext cxt = stmt->estate->es_query_cxt;
	IgTally    *keys = MemoryContextAlloc(cxt, sizeof(IgTally) * stmt->maxkeys * 2);
	IgKeyRules **rules = MemoryContextAlloc(cxt, sizeof(IgKeyRules *) * stmt->maxkeys * 2);

	memcpy(keys, stmt->keys, sizeof(IgTally) * stmt->nkeys);
	memcpy(rules, stmt->key_rules, sizeof(IgKeyRules *) * stmt->nkeys);
	if (stmt->keys != stmt->inline_keys)
	{
		pfree(stmt->keys);
		pfree(stmt->key_rules);
	}
	stmt->keys = keys;
	stmt->key_rules = rules;
	stmt->maxkeys *= 2;
}

/*
 * The part of stmt_key that looks things up: a key not taken over from
 * the last statement (see stmt_key), or one with rules.
 */
static pg_noinline int
stmt_key_slow(IgStmt *stmt, Oid relid, int k)
{
	IgTally    *tally;
	IgRuleList *list = NULL;
	IgKeyRules *kr = NULL;

	if (unlikely(k == stmt->maxkeys))
		grow_keys(stmt);
	tally = &stmt->keys[k];
	if (k < stmt->nbuilt && tally->relid == relid)
		list = stmt->inline_lists[k];
	else
	{
		ig_tally_init(tally, stmt->userid, relid);
		if (stmt->covered)
			list = ig_rules_for_relation(stmt->userid, relid);
		if (k < IG_INLINE_KEYS)
		{
			stmt->inline_lists[k] = list;
			stmt->nbuilt = Max(stmt->nbuilt, k + 1);
		}
	}
	ig_tally_reset(tally);

	if (list != NULL && key_list_setup(stmt, tally, list))
	{
		kr = key_rules_new(stmt, list, k);
		stmt->enforcing = true;
		ig_enforce_begin(kr, tally, stmt->userid);
	}
	stmt->key_rules[k] = kr;
	return stmt->nkeys++;
}

/*
 * The index of a key in the statement, added if new.  A new key gets the
 * rules covering the session user for it, whose counts are read now.
 *
 * An inline key left by the last statement run in this IgStmt, for the
 * same session user and rules, is taken over with its counter memo and
 * its rules: consecutive statements mostly read the same tables.
 */
static inline int
stmt_key(IgStmt *stmt, Oid relid)
{
	int			k;
	IgTally    *tally;

	for (k = 0; k < stmt->nkeys; k++)
		if (stmt->keys[k].relid == relid)
			return k;

	/* the last statement's key: nothing to look up */
	if (likely(k < stmt->nbuilt) &&
		likely((tally = &stmt->inline_keys[k])->relid == relid))
	{
		IgRuleList *list = stmt->inline_lists[k];
		IgKeyRules *kr = NULL;

		ig_tally_reset(tally);
		if (list != NULL && key_list_setup(stmt, tally, list))
		{
			kr = &stmt->inline_rules[k];
			ig_enforce_init(kr, list,
							list->nrules <= IG_INLINE_RULES ?
							stmt->inline_sums[k] :
							MemoryContextAlloc(stmt->estate->es_query_cxt,
											   sizeof(uint64) * list->nrules));
			stmt->enforcing = true;
			ig_enforce_begin(kr, tally, stmt->userid);
		}
		stmt->key_rules[k] = kr;
		return stmt->nkeys++;
	}
	return stmt_key_slow(stmt, relid, k);
}

/* Adds a key index to a node, once. */
static inline void
node_add_key(IgNode *node, int key)
{
	for (int i = 0; i < node->nkeys; i++)
		if (node->keys[i] == key)
			return;
	if (node->nkeys < (int) lengthof(node->keys))
		node->keys[node->nkeys++] = key;
}

/* node_add_relation for a relation with ancestors. */
static pg_noinline void
node_add_relation_ancestors(IgNode *node, Oid relid, const IgRelInfo *info)
{
	Oid			ancestors[IG_MAX_ANCESTORS];
	int			nancestors;

	/* copy first: catalog access may free the entry */
	nancestors = info->nancestors;
	memcpy(ancestors, info->ancestors, sizeof(Oid) * nancestors);
	node_add_key(node, stmt_key(node->stmt, relid));
	for (int i = 0; i < nancestors; i++)
		node_add_key(node, stmt_key(node->stmt, ancestors[i]));
}

/*
 * Adds the keys reading a counted relation counts towards (it and its
 * ancestors) to a node.
 */
static inline void
node_add_counted(IgNode *node, Oid relid, const IgRelInfo *info)
{
	if (!OidIsValid(node->relid))
		node->relid = relid;
	if (likely(info->nancestors == 0))
		node_add_key(node, stmt_key(node->stmt, relid));
	else
		node_add_relation_ancestors(node, relid, info);
}

/*
 * Adds the keys reading relid counts towards (it and its ancestors) to a
 * node.  Returns false if the relation is not counted.
 */
static inline bool
node_add_relation(IgNode *node, Oid relid)
{
	const IgRelInfo *info = ig_relinfo_get(relid);

	if (!info->countable)
		return false;
	node_add_counted(node, relid, info);
	return true;
}

/* As node_add_relation, for callers outside this file. */
bool
ig_node_add_relation(IgNode *node, Oid relid)
{
	return node_add_relation(node, relid);
}

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
	stmt->has_baselines = false;
	stmt->nkeys = 0;
	stmt->nnodes = 0;
	if (stmt->built_userid != userid || stmt->built_gen != ig_rules_gen)
		stmt->nbuilt = 0;

	/* released with the executor state, also on error */
	MemoryContextRegisterResetCallback(estate->es_query_cxt, &stmt->callback);
	stmt->next = running;
	running = stmt;

	stmt_key(stmt, InvalidOid);
	return stmt;
}

/* As stmt_start, for callers outside this file. */
IgStmt *
ig_stmt_start(EState *estate, Oid userid, bool covered)
{
	return stmt_start(estate, userid, covered);
}

/* Doubles a statement's node list. */
static pg_noinline void
grow_nodes(IgStmt *stmt)
{
	IgNode	  **nodes;

	nodes = MemoryContextAlloc(stmt->estate->es_query_cxt,
							   sizeof(IgNode *) * stmt->maxnodes * 2);
	memcpy(nodes, stmt->nodes, sizeof(IgNode *) * stmt->nnodes);
	if (stmt->nodes != stmt->inline_node_list)
		pfree(stmt->nodes);
	stmt->nodes = nodes;
	stmt->maxnodes *= 2;
}

/* A new counted node of the statement, counting towards all tables. */
static inline IgNode *
stmt_node(IgStmt *stmt, IgNodeKind kind)
{
	IgNode	   *node;

	if (unlikely(stmt->nnodes == stmt->maxnodes))
		grow_nodes(stmt);
	if (likely(stmt->nnodes < IG_INLINE_NODES))
		node = &stmt->inline_nodes[stmt->nnodes];
	else
		node = MemoryContextAlloc(stmt->estate->es_query_cxt, sizeof(IgNode));
	stmt->nodes[stmt->nnodes++] = node;

	node->stmt = stmt;
	node->tramp = NULL;
	node->kind = kind;
	node->granted = IG_UNLIMITED;
	node->relid = InvalidOid;
	node->nkeys = 1;
	node->keys[0] = IG_ALL_TABLES_KEY;
	return node;
}

/* As stmt_node, for callers outside this file. */
IgNode *
ig_stmt_node(IgStmt *stmt, IgNodeKind kind)
{
	return stmt_node(stmt, kind);
}

/*
 * A counted node for a scan of the given relations, or NULL if none of
 * them is counted.  The statement (*stmtp) is started on first need.
 */
IgNode *
ig_stmt_scan(IgStmt **stmtp, EState *estate, Oid userid, bool covered,
			 const Oid *relids, int nrelids)
{
	IgNode	   *node;
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
		node = stmt_node(*stmtp, IG_NODE_SCAN);
		node_add_counted(node, relids[0], info);
		return node;
	}

	for (int i = 0; i < nrelids && !counted; i++)
		counted = ig_relinfo_get(relids[i])->countable;
	if (!counted)
		return NULL;
	if (*stmtp == NULL)
		*stmtp = stmt_start(estate, userid, covered);
	node = stmt_node(*stmtp, IG_NODE_SCAN);
	for (int i = 0; i < nrelids; i++)
		node_add_relation(node, relids[i]);
	return node;
}

/*
 * The common case in one step: a statement whose only counted node is a
 * lone scan of relid (counted, without ancestors), by a session user no
 * rule covers, outside parallel query.  When the last statement run in
 * the spare state on top was the same (same relation, user and rules),
 * its keys and node are taken over as they are: only what a statement
 * changes is reset.  Returns the node, or NULL if the caller must take
 * the general way (ig_stmt_scan).
 */
/*
 * ig_stmt_simple for keys with rules: their per-statement rule state, as
 * the last statement set it up for the same rule lists, reads the counts
 * again; the node is granted its rows.
 */
static int64 held_by_others_slow(const IgStmt *stmt, const IgNode *node, Oid relid);

/*
 * Rows the other nodes of this backend hold on a relation's key (see
 * held_by_others_slow): mostly none, a lone node of the only statement
 * running.
 */
static inline int64
held_by_others(const IgStmt *stmt, const IgNode *node, Oid relid)
{
	if (likely(running == stmt && stmt->next == NULL && stmt->nnodes <= 1))
		return 0;
	return held_by_others_slow(stmt, node, relid);
}

static pg_noinline void
stmt_simple_rules(IgStmt *stmt, IgNode *node)
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
	/* as node_grant, with no other node of the statement */
	node->granted = Max(Min(grant, batch_grant()), 0);
	for (int k = 0; k < 2; k++)
	{
		IgKeyRules *kr = stmt->key_rules[k];

		if (kr != NULL && kr->query.res != NULL)
			kr->pool -= node->granted;
	}
}

IgNode *
ig_stmt_simple(EState *estate, Oid userid, Oid relid)
{
	IgStmt	   *stmt;
	IgNode	   *node;

	if (unlikely(nspare_stmts == 0))
		return NULL;
	stmt = spare_stmts[nspare_stmts - 1];
	if (stmt->simple_relid != relid || stmt->built_userid != userid ||
		stmt->built_gen != ig_rules_gen ||
		unlikely(estate->es_plannedstmt->parallelModeNeeded))
		return NULL;
	nspare_stmts--;

	/* keys [all tables, relid] and their node are as the last one left them */
	stmt->estate = estate;
	stmt->has_pending = false;
	stmt->simple = true;
	stmt->counts_statements = true;
	stmt->rules_gen = ig_rules_gen;
	stmt->has_baselines = false;
	ig_tally_reset(&stmt->inline_keys[0]);
	ig_tally_reset(&stmt->inline_keys[1]);
	node = &stmt->inline_nodes[0];
	node->tramp = NULL;
	node->kind = IG_NODE_SCAN;
	node->granted = IG_UNLIMITED;

	/* released with the executor state, also on error */
	MemoryContextRegisterResetCallback(estate->es_query_cxt, &stmt->callback);
	stmt->next = running;
	running = stmt;

	stmt->enforcing = (stmt->key_rules[0] != NULL || stmt->key_rules[1] != NULL);
	stmt->reserving = false;
	if (unlikely(stmt->enforcing))
		stmt_simple_rules(stmt, node);
	return node;
}

/* Is any statement running in this backend? */
bool
ig_stmt_running(void)
{
	return running != NULL;
}

/* The running statement of an executor state, or NULL. */
IgStmt *
ig_stmt_find(EState *estate)
{
	for (IgStmt *stmt = running; stmt != NULL; stmt = stmt->next)
		if (stmt->estate == estate)
			return stmt;
	return NULL;
}

/*
 * Moves what a node's trampoline counted to its keys; what is left of its
 * grant stays granted.  Returns true if it had counted anything.
 */
static inline bool
collect_node(IgNode *node)
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
node_ruled(const IgStmt *stmt, const IgNode *node)
{
	for (int i = 0; i < node->nkeys; i++)
		if (stmt->key_rules[node->keys[i]] != NULL)
			return true;
	return false;
}

/* Does a node count towards a relation's key? */
static bool
node_reads(const IgStmt *stmt, const IgNode *node, Oid relid)
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
node_held(const IgStmt *stmt, const IgNode *node)
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
		const IgNode *node = stmt->nodes[i];

		if (node->kind == IG_NODE_CONFLICT || node->tramp == NULL)
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
static int64
held_by_others_slow(const IgStmt *stmt, const IgNode *node, Oid relid)
{
	int64		held = 0;

	for (IgStmt *s = running; s != NULL; s = s->next)
	{
		if (s->userid != stmt->userid)
			continue;
		for (int i = 0; i < s->nnodes; i++)
		{
			const IgNode *other = s->nodes[i];

			if (other == node || other->kind == IG_NODE_CONFLICT ||
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
node_grant(const IgStmt *stmt, const IgNode *node)
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
node_crowded(const IgStmt *stmt, const IgNode *node)
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
node_limits(const IgStmt *stmt, const IgNode *node, Oid relid)
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

static void settle_keys(IgStmt *stmt, bool final, bool may_raise,
						Oid read_relid, int64 want);
static bool stmt_holds_reserved(const IgStmt *stmt);

/*
 * Takes back what other nodes of this backend hold on the node's limiting
 * keys -- of this statement and of the session user's other running
 * statements -- counting what they read: those of other statements are
 * settled with shared memory at once.  Their next row asks again.
 * Returns true if there was anything to take.
 */
static bool
reclaim_grants(IgStmt *stmt, IgNode *node)
{
	bool		reclaimed = false;

	for (IgStmt *s = running; s != NULL; s = s->next)
	{
		bool		collected = false;

		if (s->userid != stmt->userid)
			continue;
		for (int i = 0; i < s->nnodes; i++)
		{
			IgNode	   *other = s->nodes[i];
			bool		shares = false;

			if (other == node || other->kind == IG_NODE_CONFLICT ||
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
		if (s != stmt && (collected || (s->reserving && stmt_holds_reserved(s))))
		{
			s->has_pending |= collected;
			settle_keys(s, false, false,
						s->nnodes > 0 ? s->nodes[0]->relid : InvalidOid, 0);
		}
	}
	return reclaimed;
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
			kr->pool = kr->res.fresh;
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

	/* every key's crossings are recorded: now a block may stop it */
	if (stop_key >= 0)
		ig_enforce_stop(stmt->key_rules[stop_key], &stmt->keys[stop_key],
						stmt->userid, read_relid, stmt->parallel_query);
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

/* Does any key of the statement hold rows reserved in shared memory? */
static bool
stmt_holds_reserved(const IgStmt *stmt)
{
	for (int i = 0; i < stmt->nkeys; i++)
	{
		const IgKeyRules *kr = stmt->key_rules[i];

		if (kr != NULL && kr->query.res != NULL && kr->res.held > 0)
			return true;
	}
	return false;
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
		IgNode	   *node = stmt->nodes[i];

		if (node->kind != IG_NODE_CONFLICT && node->tramp != NULL)
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
		IgNode	   *node = stmt->nodes[i];

		if (node->kind != IG_NODE_CONFLICT && node->tramp != NULL)
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
 * all, see ig_stmt_recheck).
 */
static inline void
stmt_settle(IgStmt *stmt, bool final)
{
	bool		counted = stmt->has_pending;

	for (int i = 0; i < stmt->nnodes; i++)
		counted |= collect_node(stmt->nodes[i]);
	if (unlikely(stmt->reserving))
	{
		for (int i = 0; i < stmt->nnodes; i++)
		{
			IgNode	   *node = stmt->nodes[i];

			if (node->kind != IG_NODE_CONFLICT && node->tramp != NULL &&
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

/* As stmt_settle, for callers outside this file. */
void
ig_stmt_settle(IgStmt *stmt, bool final)
{
	stmt_settle(stmt, final);
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
		stmt_settle(stmt, false);
	for (IgStmt *s = running; s != NULL; s = s->next)
		if (s != stmt && s->estate->es_epq_active != NULL &&
			rechecks(s->estate, estate))
			stmt_settle(s, false);
}

/*
 * True if the rules a running statement was matched to, or the history
 * its baseline limits come from, changed since.
 */
bool
ig_stmt_rules_moved(const IgStmt *stmt)
{
	return !ig_rules_current(stmt->rules_gen) ||
		(stmt->has_baselines && stmt->hist_gen != ig_history_generation());
}

/*
 * Settles what a running statement read so far; a statement on the
 * one-step path (ig_stmt_simple) leaves it: its keys are those of a
 * general statement from now on.
 */
static void
settle_as_general(IgStmt *stmt)
{
	stmt_settle(stmt, false);
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
void
ig_stmt_recheck(IgStmt *stmt)
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
void
ig_stmt_refresh_rules(IgStmt *stmt)
{
	settle_as_general(stmt);

	stmt->covered = ig_rules_cover(stmt->userid);
	stmt->enforcing = false;
	stmt->has_baselines = false;
	for (int i = 0; i < stmt->nkeys; i++)
	{
		IgTally    *tally = &stmt->keys[i];
		IgRuleList *list = NULL;
		IgKeyRules *kr = NULL;

		tally->query = NULL;
		tally->hist_wanted = 0;
		if (stmt->covered)
			list = ig_rules_for_relation(stmt->userid, tally->relid);
		if (i < IG_INLINE_KEYS && stmt->keys == stmt->inline_keys)
			stmt->inline_lists[i] = list;
		if (list != NULL && key_list_setup(stmt, tally, list))
			kr = key_rules_new(stmt, list, i);
		stmt->key_rules[i] = kr;
		if (kr != NULL)
		{
			stmt->enforcing = true;
			ig_enforce_begin(kr, tally, stmt->userid);
		}
	}
	stmt->rules_gen = ig_rules_gen;
	stmt->nbuilt = 0;			/* not to be taken over by the next one */

	if (stmt->enforcing)
		ig_stmt_begin_enforcing(stmt);
	else
		for (int i = 0; i < stmt->nnodes; i++)
			if (stmt->nodes[i]->kind != IG_NODE_CONFLICT && stmt->nodes[i]->tramp != NULL)
				stmt->nodes[i]->granted = stmt->nodes[i]->tramp->left = IG_UNLIMITED;
}

/*
 * The executor state is being freed (ExecutorEnd, or an abort): settle,
 * release the trampolines, remember where the counters are.
 */
/* True if a key's rules have something to check after a settle. */
static inline bool
simple_key_unsettled(const IgKeyRules *kr)
{
	return kr != NULL && (!kr->query.valid || kr->query.over);
}

/*
 * After the last settle of ig_stmt_simple's statement: records the log
 * rules its rows crossed, as settle_keys does (a key whose counts all
 * stayed within their limits has nothing to record).
 */
static pg_noinline void
stmt_simple_check(IgStmt *stmt, Oid read_relid)
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
 * True if key k's rule state can serve the next statement of the same
 * shape as it is: no rules, or its inline state for its rule list.
 */
static inline bool
simple_key_rules(const IgStmt *stmt, int k)
{
	const IgKeyRules *kr = stmt->key_rules[k];

	if (kr == NULL)
		return stmt->inline_lists[k] == NULL;
	return kr == &stmt->inline_rules[k] &&
		kr->list == stmt->inline_lists[k] &&
		kr->query.sum == stmt->inline_sums[k];
}

static void
stmt_release(void *arg)
{
	IgStmt	   *stmt = (IgStmt *) arg;

	if (likely(stmt->simple))
	{
		/* ig_stmt_simple's statement: one node, keys [all tables, relid] */
		IgNode	   *node = &stmt->inline_nodes[0];
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
				if (unlikely(stmt->enforcing) &&
					(simple_key_unsettled(stmt->key_rules[0]) ||
					 simple_key_unsettled(stmt->key_rules[1])))
					stmt_simple_check(stmt, node->relid);
			}
			ig_unwrap(node->tramp);
		}
		if (unlikely(keys[0].ref_moved | keys[1].ref_moved))
		{
			ig_tally_remember(&keys[0], stmt->userid);
			ig_tally_remember(&keys[1], stmt->userid);
		}
	}
	else
	{
		stmt_settle(stmt, true);

		for (int i = 0; i < stmt->nnodes; i++)
			if (stmt->nodes[i]->tramp != NULL)
				ig_unwrap(stmt->nodes[i]->tramp);
		for (int i = 0; i < stmt->nkeys; i++)
			ig_tally_remember(&stmt->keys[i], stmt->userid);

		/* the next statement may take this one's shape over as it is */
		stmt->simple_relid = InvalidOid;
		if (stmt->nnodes == 1 && stmt->nkeys == 2 &&
			stmt->keys == stmt->inline_keys &&
			stmt->nodes == stmt->inline_node_list &&
			stmt->nodes[0] == &stmt->inline_nodes[0] &&
			stmt->inline_nodes[0].kind != IG_NODE_CONFLICT &&
			stmt->inline_nodes[0].nkeys == 2 &&
			stmt->inline_nodes[0].keys[1] == 1 &&
			simple_key_rules(stmt, 0) && simple_key_rules(stmt, 1) &&
			stmt->nbuilt >= 2 && !stmt->in_worker &&
			stmt->parallel_query == 0 &&
			stmt->inline_keys[0].relid == InvalidOid &&
			stmt->inline_nodes[0].relid == stmt->inline_keys[1].relid)
			stmt->simple_relid = stmt->inline_keys[1].relid;

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

	/* usually the innermost statement ends first */
	if (likely(running == stmt))
		running = stmt->next;
	else
	{
		for (IgStmt **link = &running; *link != NULL; link = &(*link)->next)
		{
			if (*link == stmt)
			{
				*link = stmt->next;
				break;
			}
		}
	}
	if (running == NULL)
		ig_rules_free_retired();

	if (nspare_stmts < IG_SPARE_STMTS)
		spare_stmts[nspare_stmts++] = stmt;
	else
		pfree(stmt);
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
wait_for_room(IgStmt *stmt, IgNode *node)
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
node_first_reserve(IgStmt *stmt, IgNode *node)
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
	IgNode	   *node = (IgNode *) tramp->node;
	IgStmt	   *stmt = node->stmt;
	int64		grant;

	if (node->kind == IG_NODE_CONFLICT)
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
