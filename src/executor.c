/*-------------------------------------------------------------------------
 *
 * executor.c
 *		Executor hooks: find each statement's scans of user tables, count
 *		the rows they hand out, settle the counts with shared memory.
 *
 * At ExecutorStart (after the standard one) the plan-state tree and every
 * subplan are walked once.  Each scan node on a counted relation gets a
 * trampoline (tramp.c) where a row first meets code of the query: in
 * front of its filter when the filter passes rows to a function that is
 * not leakproof (every row it looks at counts), else in front of its
 * projection when it projects (ExecScan projects a row before handing it
 * out), else in front of its ExecProcNodeReal.  So no function of the
 * query sees a row before it is counted, and a row that makes the
 * statement fail has been counted.  An INSERT ... ON
 * CONFLICT DO UPDATE gets one in front of its SET projection (or its
 * leaky WHERE), counting each existing row it reaches, attributed to the
 * partition the row is in.
 *
 * Rows are kept per statement and per key (a table, each of its
 * ancestors, and the all-tables total) and settled with shared memory
 * after every ExecutorRun (so each FETCH and MOVE counts when it runs)
 * and when the executor state is freed, which a memory-context callback
 * catches on success, error, cancel and subtransaction abort alike: rows
 * read by a statement that fails still count.
 *
 * Not counted: EXPLAIN without ANALYZE, foreign-key checks
 * (InNoForceRLSOperation), autovacuum, logical replication workers,
 * binary upgrade, and everything while insider_guard.enabled is off.
 *
 * IDENTIFICATION
 *		src/executor.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "postmaster/autovacuum.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "compat.h"
#include "counters.h"
#include "executor.h"
#include "guc.h"
#include "relinfo.h"
#include "tramp.h"

/* a budget that never runs out */
#define IG_UNLIMITED	(PG_INT64_MAX / 2)

/* the all-tables key is always first */
#define IG_ALL_TABLES_KEY 0

/* One table (or the all-tables total) a statement reads from. */
typedef IgTally IgKey;

typedef enum IgNodeKind
{
	IG_NODE_SCAN,				/* counts rows a scan node hands out */
	IG_NODE_PROJECT,			/* counts rows a scan node projects */
	IG_NODE_FILTER,				/* counts rows a leaky filter sees */
	IG_NODE_CONFLICT			/* counts rows ON CONFLICT DO UPDATE reaches */
} IgNodeKind;

struct IgStmt;

/* One wrapped node or expression. */
typedef struct IgNode
{
	struct IgStmt *stmt;
	IgSlot	   *slot;
	IgNodeKind	kind;
	int64		granted;		/* slot->left as last set */
	Oid			last_relid;		/* IG_NODE_CONFLICT: relation of keys[] */
	int			nkeys;
	int16		keys[IG_MAX_ANCESTORS + 2]; /* indexes into stmt->keys */
} IgNode;

/* keys and nodes most statements need fit in the statement itself */
#define IG_INLINE_KEYS	6
#define IG_INLINE_NODES 3

/* A running statement: one executor state. */
typedef struct IgStmt
{
	EState	   *estate;
	struct IgStmt *next;		/* this backend's running statements */
	MemoryContextCallback callback;
	Oid			userid;			/* session user when the statement started */
	bool		in_worker;		/* a parallel worker's part of a query */
	bool		has_pending;	/* keys have pending rows (ON CONFLICT) */
	int			nkeys;
	int			maxkeys;
	IgKey	   *keys;
	int			nnodes;
	int			maxnodes;
	IgNode	  **nodes;
	IgKey		inline_keys[IG_INLINE_KEYS];
	IgNode	   *inline_node_list[IG_INLINE_NODES];
	IgNode		inline_nodes[IG_INLINE_NODES];
} IgStmt;

/* Context of the walk over a new statement's plan-state tree. */
typedef struct IgWalk
{
	QueryDesc  *query;
	Oid			userid;			/* the session user */
	IgStmt	   *stmt;			/* made on the first counted node */
	Bitmapset  *seen;			/* plan_node_ids visited, with subplans */
	bool		track_seen;
} IgWalk;

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;

static IgStmt *running = NULL;

/* statements kept for reuse, so that most statements allocate nothing */
#define IG_SPARE_STMTS 8
static IgStmt *spare_stmts[IG_SPARE_STMTS];
static int	nspare_stmts = 0;

static void slot_exhausted(IgSlot *slot, ExprContext *econtext);

/*
 * True if this process counts reads right now.
 */
bool
ig_counting_active(void)
{
	/* what does not change in a process is looked at once */
	static int	process_counts = -1;

	if (unlikely(process_counts < 0))
	{
		if (!OidIsValid(MyDatabaseId))
			return false;
		process_counts = ig_counters_ready() &&
			!IsBinaryUpgrade &&
			!IsAutoVacuumWorkerProcess() &&
			!ig_is_logical_worker();
	}
	return ig_enabled && process_counts && !InNoForceRLSOperation();
}

/* Starts a tally for a relation (InvalidOid: all tables). */
static inline void
tally_init(IgTally *tally, Oid userid, Oid relid)
{
	tally->relid = relid;
	tally->counted = false;
	tally->ref_moved = false;
	tally->ref = ig_ref_lookup(userid, relid);
	tally->pending = 0;
	tally->statement_rows = 0;
}

/* Remembers where a tally's counter turned out to be. */
static inline void
tally_remember(IgTally *tally, Oid userid)
{
	if (tally->ref_moved)
		ig_ref_remember(userid, tally->relid, &tally->ref);
}

/* The index of a key in the statement, added if new. */
static int
stmt_key(IgStmt *stmt, Oid relid)
{
	IgKey	   *key;

	for (int i = 0; i < stmt->nkeys; i++)
		if (stmt->keys[i].relid == relid)
			return i;

	if (stmt->nkeys == stmt->maxkeys)
	{
		IgKey	   *keys;

		keys = MemoryContextAlloc(stmt->estate->es_query_cxt,
								  sizeof(IgKey) * stmt->maxkeys * 2);
		memcpy(keys, stmt->keys, sizeof(IgKey) * stmt->nkeys);
		if (stmt->keys != stmt->inline_keys)
			pfree(stmt->keys);
		stmt->keys = keys;
		stmt->maxkeys *= 2;
	}
	key = &stmt->keys[stmt->nkeys];
	tally_init(key, stmt->userid, relid);
	return stmt->nkeys++;
}

/* Adds a key index to a node, once. */
static void
node_add_key(IgNode *node, int key)
{
	for (int i = 0; i < node->nkeys; i++)
		if (node->keys[i] == key)
			return;
	if (node->nkeys < (int) lengthof(node->keys))
		node->keys[node->nkeys++] = key;
}

/*
 * Adds the keys reading relid counts towards (it and its ancestors) to a
 * node.  Returns false if the relation is not counted.
 */
static bool
node_add_relation(IgNode *node, Oid relid)
{
	const IgRelInfo *info = ig_relinfo_get(relid);
	Oid			ancestors[IG_MAX_ANCESTORS];
	int			nancestors;

	if (!info->countable)
		return false;
	node_add_key(node, stmt_key(node->stmt, relid));
	if (info->nancestors == 0)
		return true;

	/* copy: catalog access may free the entry */
	nancestors = info->nancestors;
	memcpy(ancestors, info->ancestors, sizeof(Oid) * nancestors);
	for (int i = 0; i < nancestors; i++)
		node_add_key(node, stmt_key(node->stmt, ancestors[i]));
	return true;
}

/* Memory-context callback: the statement's executor state is going away. */
static void
stmt_release(void *arg);

/* The statement for the walk, made on first need. */
static IgStmt *
walk_stmt(IgWalk *walk)
{
	EState	   *estate = walk->query->estate;
	IgStmt	   *stmt;

	if (walk->stmt != NULL)
		return walk->stmt;

	if (nspare_stmts > 0)
		stmt = spare_stmts[--nspare_stmts];
	else
		stmt = MemoryContextAlloc(TopMemoryContext, sizeof(IgStmt));
	stmt->estate = estate;
	stmt->userid = walk->userid;
	stmt->in_worker = IsParallelWorker();
	stmt->has_pending = false;
	stmt->nkeys = 0;
	stmt->maxkeys = IG_INLINE_KEYS;
	stmt->keys = stmt->inline_keys;
	stmt->nnodes = 0;
	stmt->maxnodes = IG_INLINE_NODES;
	stmt->nodes = stmt->inline_node_list;

	stmt_key(stmt, InvalidOid);

	stmt->callback.func = stmt_release;
	stmt->callback.arg = stmt;
	MemoryContextRegisterResetCallback(estate->es_query_cxt, &stmt->callback);
	stmt->next = running;
	running = stmt;

	walk->stmt = stmt;
	return stmt;
}

/* A new node of the statement, counting towards the all-tables key. */
static IgNode *
new_node(IgStmt *stmt, IgNodeKind kind)
{
	IgNode	   *node;

	if (stmt->nnodes < IG_INLINE_NODES)
		node = &stmt->inline_nodes[stmt->nnodes];
	else
		node = MemoryContextAlloc(stmt->estate->es_query_cxt, sizeof(IgNode));
	node->stmt = stmt;
	node->slot = NULL;
	node->kind = kind;
	node->granted = 0;
	node->last_relid = InvalidOid;
	node->nkeys = 0;
	node->keys[node->nkeys++] = IG_ALL_TABLES_KEY;

	if (stmt->nnodes == stmt->maxnodes)
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
	stmt->nodes[stmt->nnodes++] = node;
	return node;
}

/* Forgets a node that turned out to count nothing (the last one made). */
static void
drop_last_node(IgStmt *stmt)
{
	IgNode	   *node = stmt->nodes[--stmt->nnodes];

	if (stmt->nnodes >= IG_INLINE_NODES)
		pfree(node);
}

/*
 * Puts a counter on a scan node reading the given relations.
 */
static void
wrap_scan(IgWalk *walk, PlanState *ps, const Oid *relids, int nrelids)
{
	IgStmt	   *stmt = walk_stmt(walk);
	IgNode	   *node = new_node(stmt, IG_NODE_SCAN);
	bool		counted = false;

	for (int i = 0; i < nrelids; i++)
		counted |= node_add_relation(node, relids[i]);
	if (!counted)
	{
		drop_last_node(stmt);
		return;
	}

	/*
	 * Count each row before any function of the query sees it: at the
	 * filter if it is leaky (every row it looks at counts), else at the
	 * projection if the node projects (ExecScan projects a row before
	 * handing it out, so select-list functions would see it first), else
	 * as the node hands rows out.
	 */
	node->granted = IG_UNLIMITED;
	if (ps->qual != NULL && contain_leaked_vars((Node *) ps->plan->qual))
	{
		node->kind = IG_NODE_FILTER;
		node->slot = ig_wrap_expr(ps->qual, node, node->granted);
	}
	else if (ps->ps_ProjInfo != NULL && !IsA(ps, CustomScanState))
	{
		node->kind = IG_NODE_PROJECT;
		node->slot = ig_wrap_expr(&ps->ps_ProjInfo->pi_state, node,
								  node->granted);
	}
	else
		node->slot = ig_wrap_exec(ps, node, node->granted);
}

/*
 * INSERT ... ON CONFLICT DO UPDATE reads each existing row it updates:
 * count when the SET projection (or, if it is leaky, the WHERE clause)
 * reaches it.  The row's partition is known only then, so every row goes
 * through slot_exhausted.
 */
static void
wrap_on_conflict(IgWalk *walk, ModifyTableState *mt)
{
	ModifyTable *plan = (ModifyTable *) mt->ps.plan;
	OnConflictSetState *oc;
	IgNode	   *node;
	ExprState  *target;

	if (mt->operation != CMD_INSERT ||
		plan->onConflictAction != ONCONFLICT_UPDATE ||
		mt->resultRelInfo == NULL ||
		mt->resultRelInfo->ri_onConflict == NULL)
		return;
	oc = mt->resultRelInfo->ri_onConflict;

	if (oc->oc_WhereClause != NULL &&
		contain_leaked_vars((Node *) plan->onConflictWhere))
		target = oc->oc_WhereClause;
	else if (oc->oc_ProjInfo != NULL)
		target = &oc->oc_ProjInfo->pi_state;
	else
		return;

	node = new_node(walk_stmt(walk), IG_NODE_CONFLICT);
	node->granted = 0;
	node->slot = ig_wrap_expr(target, node, 0);
}

/* The relations a scan node reads (usually one). */
static int
scan_relids(PlanState *ps, Oid *relids, int max)
{
	Relation	rel = ((ScanState *) ps)->ss_currentRelation;
	Bitmapset  *rtis = NULL;
	int			n = 0;
	int			rti = -1;

	if (rel != NULL)
	{
		relids[0] = RelationGetRelid(rel);
		return 1;
	}

	/* a foreign or custom scan that joins remotely */
	if (IsA(ps, ForeignScanState))
		rtis = ((ForeignScan *) ps->plan)->fs_relids;
	else if (IsA(ps, CustomScanState))
		rtis = ((CustomScan *) ps->plan)->custom_relids;
	while ((rti = bms_next_member(rtis, rti)) >= 0 && n < max)
	{
		RangeTblEntry *rte = exec_rt_fetch(rti, ps->state);

		if (rte->rtekind == RTE_RELATION)
			relids[n++] = rte->relid;
	}
	return n;
}

/* Visits one plan-state node, then its children. */
static bool
walk_planstate(PlanState *ps, IgWalk *walk)
{
	Oid			relids[8];
	int			nrelids;

	if (ps == NULL)
		return false;
	if (walk->track_seen)
	{
		if (bms_is_member(ps->plan->plan_node_id, walk->seen))
			return false;
		walk->seen = bms_add_member(walk->seen, ps->plan->plan_node_id);
	}

	switch (nodeTag(ps))
	{
		case T_SeqScanState:
		case T_SampleScanState:
		case T_IndexScanState:
		case T_IndexOnlyScanState:
		case T_BitmapHeapScanState:
		case T_TidScanState:
		IG_CASE_TID_RANGE_SCAN

		case T_ForeignScanState:
		case T_CustomScanState:
			nrelids = scan_relids(ps, relids, lengthof(relids));
			if (nrelids > 0)
				wrap_scan(walk, ps, relids, nrelids);
			break;
		case T_ModifyTableState:
			wrap_on_conflict(walk, (ModifyTableState *) ps);
			break;
		default:
			break;
	}

	/* most statements are one scan with nothing below it */
	if (ps->lefttree == NULL && ps->righttree == NULL &&
		ps->initPlan == NIL && ps->subPlan == NIL &&
		(IsA(ps, SeqScanState) || IsA(ps, IndexScanState) ||
		 IsA(ps, IndexOnlyScanState)))
		return false;
	return planstate_tree_walker(ps, IG_PLANSTATE_WALKER(walk_planstate), walk);
}

/*
 * Finds the statement's scans and puts counters on them.
 */
static void
stmt_begin(QueryDesc *query)
{
	EState	   *estate = query->estate;
	IgWalk		walk;
	ListCell   *lc;

	walk.userid = GetSessionUserId();

	walk.query = query;
	walk.stmt = NULL;
	walk.seen = NULL;
	/* subplans are reached from the tree and listed again: skip repeats */
	walk.track_seen = (estate->es_subplanstates != NIL);

	walk_planstate(query->planstate, &walk);
	foreach(lc, estate->es_subplanstates)
		walk_planstate((PlanState *) lfirst(lc), &walk);

	if (walk.seen)
		bms_free(walk.seen);
}

/* The running statement of an executor state, or NULL. */
static IgStmt *
find_stmt(EState *estate)
{
	for (IgStmt *stmt = running; stmt != NULL; stmt = stmt->next)
		if (stmt->estate == estate)
			return stmt;
	return NULL;
}

/*
 * Moves what a node's trampoline counted to its keys.  Returns true if it
 * had counted anything.
 */
static inline bool
collect_node(IgNode *node)
{
	IgStmt	   *stmt = node->stmt;
	int64		consumed;

	/* ON CONFLICT nodes count row by row in slot_exhausted */
	consumed = node->granted - node->slot->left;
	if (consumed <= 0 || node->kind == IG_NODE_CONFLICT)
		return false;
	for (int i = 0; i < node->nkeys; i++)
		stmt->keys[node->keys[i]].pending += consumed;
	node->slot->left = node->granted;
	return true;
}

/* Settles every key's pending rows. */
static pg_noinline void
stmt_flush(IgStmt *stmt, bool final)
{
	/*
	 * The first rows of a statement count it; a parallel query counts once,
	 * by its leader, even if only the workers read.
	 */
	stmt->has_pending = false;
	ig_counters_settle(MyDatabaseId, stmt->userid, stmt->keys, stmt->nkeys,
					   !stmt->in_worker,
					   final && stmt->estate->es_use_parallel_mode,
					   ig_now());
}

/*
 * Puts the statement's counted rows into shared memory.  With "final",
 * also the last of them, when the executor state is freed (possibly in an
 * aborting transaction: nothing here may raise an error).
 */
static inline void
stmt_settle(IgStmt *stmt, bool final)
{
	bool		counted = stmt->has_pending;

	for (int i = 0; i < stmt->nnodes; i++)
		counted |= collect_node(stmt->nodes[i]);
	if (counted || (final && stmt->estate->es_use_parallel_mode))
		stmt_flush(stmt, final);
}

/*
 * The executor state is being freed (ExecutorEnd, or an abort): settle,
 * release the trampolines, remember where the counters are.
 */
static void
stmt_release(void *arg)
{
	IgStmt	   *stmt = (IgStmt *) arg;
	IgStmt	  **link;

	stmt_settle(stmt, true);

	for (int i = 0; i < stmt->nnodes; i++)
		ig_unwrap(stmt->nodes[i]->slot);

	for (int i = 0; i < stmt->nkeys; i++)
		tally_remember(&stmt->keys[i], stmt->userid);

	for (link = &running; *link != NULL; link = &(*link)->next)
	{
		if (*link == stmt)
		{
			*link = stmt->next;
			break;
		}
	}

	/* keys and nodes beyond the inline ones go with es_query_cxt */
	if (nspare_stmts < IG_SPARE_STMTS)
		spare_stmts[nspare_stmts++] = stmt;
	else
		pfree(stmt);
}

/*
 * A trampoline's budget ran out.  ON CONFLICT nodes come here for every
 * row, to count it for the partition it is in.
 */
static void
slot_exhausted(IgSlot *slot, ExprContext *econtext)
{
	IgNode	   *node = (IgNode *) slot->node;
	IgStmt	   *stmt = node->stmt;

	if (node->kind == IG_NODE_CONFLICT)
	{
		TupleTableSlot *existing = econtext ? econtext->ecxt_scantuple : NULL;
		Oid			relid = existing ? existing->tts_tableOid : InvalidOid;

		slot->left = 0;
		if (!OidIsValid(relid))
			return;
		if (relid != node->last_relid)
		{
			node->nkeys = 0;
			node->keys[node->nkeys++] = IG_ALL_TABLES_KEY;
			if (!node_add_relation(node, relid))
				node->nkeys = 0;
			node->last_relid = relid;
		}
		for (int i = 0; i < node->nkeys; i++)
			stmt->keys[node->keys[i]].pending++;
		stmt->has_pending = true;
		return;
	}

	/*
	 * Counting only: collect (the row that ran the budget out is counted
	 * in it) and grant again.
	 */
	collect_node(node);
	node->granted = IG_UNLIMITED;
	slot->left = node->granted;
}

/*
 * Prepares to count rows read outside the executor (COPY t TO): looks up,
 * while catalog access is still safe, the keys the relation's rows count
 * towards.  Returns false if its reads are not counted.
 */
bool
ig_direct_prepare(Oid relid, IgDirectCount *direct)
{
	const IgRelInfo *info = ig_relinfo_get(relid);

	if (!info->countable)
		return false;
	direct->userid = GetSessionUserId();
	direct->ntallies = 0;
	tally_init(&direct->tallies[direct->ntallies++], direct->userid, relid);
	for (int i = 0; i < info->nancestors; i++)
		tally_init(&direct->tallies[direct->ntallies++], direct->userid,
				   info->ancestors[i]);
	tally_init(&direct->tallies[direct->ntallies++], direct->userid,
			   InvalidOid);
	return true;
}

/*
 * Counts the rows, as one statement.  Safe in an aborting transaction and
 * at backend exit: no catalog access, no error.
 */
void
ig_direct_commit(IgDirectCount *direct, uint64 rows)
{
	for (int i = 0; i < direct->ntallies; i++)
		direct->tallies[i].pending = rows;
	ig_counters_settle(MyDatabaseId, direct->userid, direct->tallies,
					   direct->ntallies, true, true, ig_now());
	for (int i = 0; i < direct->ntallies; i++)
		tally_remember(&direct->tallies[i], direct->userid);
}

static void
ig_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 && ig_counting_active())
		stmt_begin(queryDesc);
}

static void
ig_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
			   bool execute_once)
{
	IgStmt	   *stmt;

	if (prev_ExecutorRun)
		prev_ExecutorRun(queryDesc, direction, count, execute_once);
	else
		standard_ExecutorRun(queryDesc, direction, count, execute_once);

	/* each FETCH, MOVE and portal run counts when it runs */
	stmt = find_stmt(queryDesc->estate);
	if (stmt != NULL)
		stmt_settle(stmt, false);
}

/*
 * Installs the executor hooks; from _PG_init when preloaded.
 */
void
ig_executor_init(void)
{
	ig_tramp_init(slot_exhausted);
	ig_relinfo_init();

	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = ig_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = ig_ExecutorRun;
}
