/*-------------------------------------------------------------------------
 *
 * tramp.c
 *		Per-row counting trampolines.
 *
 * This is the only code insider_guard runs per row.  A scan node's
 * ExecProcNodeReal is replaced, right after ExecutorStart, by a trampoline
 * that calls the real function and, when a row comes back, decrements its
 * budget; an expression's evalfunc (a filter that passes rows to a
 * function that is not leakproof, an ON CONFLICT clause) is replaced by
 * one that decrements before the row reaches the expression.  Only when
 * the budget goes below zero is anything else called.
 *
 * To make that a decrement and a compare, each trampoline is a separate
 * function bound at compile time to one entry of a static table of
 * budgets (IgTramp), which it addresses directly.  There are IG_POOL_SIZE of each kind; a
 * statement that needs more at once (a scan of hundreds of partitions, or
 * many open cursors) gets generic trampolines that find their budget in a
 * hash table, a little slower.
 *
 * A sequential scan with neither filter nor projection (count(*), SELECT
 * * FROM t) is the cheapest scan per row, where even a wrapper shows.
 * For those, the trampoline takes the place of ExecSeqScan instead of
 * wrapping it: it does what ExecSeqScan -> ExecScan -> ExecScanFetch ->
 * SeqNext do in that case (check for interrupts, reset the per-tuple
 * context, get the next tuple from the table AM) and counts, so counting
 * costs less than the calls it saves.  Anything unusual (scan not begun
 * yet, an EvalPlanQual recheck) goes through the real ExecSeqScan.  It is
 * used only when the node's function is core's own (not another
 * extension's wrapper).
 *
 * An index-only scan with neither filter nor projection (count(*) as the
 * planner plans it on a vacuumed table) gets the same treatment, where
 * compat.h enables it: a forward scan of an index without ORDER BY
 * operators or name columns, already begun, outside EvalPlanQual.  The
 * trampoline does what ExecIndexOnlyScan -> ExecScan -> IndexOnlyNext do
 * there, with the same calls in the same order (visibility map, heap
 * fetch when the page is not all-visible, index tuple into the scan slot,
 * lossy-index recheck, predicate lock), so visibility is exactly core's;
 * anything else goes through the real function.
 *
 * Replacing ExecProcNodeReal (not ExecProcNode) right after
 * standard_ExecutorStart works for both the plain and the instrumented
 * (EXPLAIN ANALYZE) paths: every node still points at ExecProcNodeFirst,
 * which installs ExecProcNodeReal, or ExecProcNodeInstr that calls it.
 * An expression's evaluator replaces itself on first call
 * (ExecInterpExprStillValid, JIT); the trampoline notices and re-installs
 * itself.
 *
 * Trampolines are released when the executor state that owns the wrapped node
 * is freed; nothing calls the node after that.
 *
 * IDENTIFICATION
 *		src/exec/tramp.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dlfcn.h>

#include "access/genam.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "catalog/pg_am.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/predicate.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "base/compat.h"
#include "exec/tramp.h"

#define IG_POOL_SIZE 64

static IgTramp exec_tramps[IG_POOL_SIZE];
static IgTramp expr_tramps[IG_POOL_SIZE];
static IgExhaustedFn exhausted = NULL;

/* stacks of free pool indexes */
static int16 exec_free[IG_POOL_SIZE];
static int16 expr_free[IG_POOL_SIZE];
static int	exec_nfree = 0;
static int	expr_nfree = 0;

/* generic trampolines, by the pointer they wrap */
typedef struct GenericEntry
{
	void	   *owner;			/* hash key */
	IgTramp	   *tramp;
} GenericEntry;

static HTAB *generic_tramps = NULL;

/*
 * The pooled trampolines.  Two octal digits name each one: exec_tramp_17
 * serves exec_tramps[017].
 */
#define EXEC_TRAMPOLINE(n) \
static TupleTableSlot * \
exec_tramp_##n(PlanState *ps) \
{ \
	TupleTableSlot *result = exec_tramps[0##n].real.exec(ps); \
\
	if (likely(!TupIsNull(result)) && unlikely(--exec_tramps[0##n].left < 0)) \
		exhausted(&exec_tramps[0##n], NULL); \
	return result; \
}

#define EXPR_TRAMPOLINE(n) \
static Datum \
expr_tramp_##n(ExprState *state, ExprContext *econtext, bool *isnull) \
{ \
	Datum		result; \
\
	if (unlikely(--expr_tramps[0##n].left < 0)) \
		exhausted(&expr_tramps[0##n], econtext); \
	result = expr_tramps[0##n].real.expr(state, econtext, isnull); \
	if (unlikely(state->evalfunc != expr_tramp_##n)) \
	{ \
		expr_tramps[0##n].real.expr = state->evalfunc; \
		state->evalfunc = expr_tramp_##n; \
	} \
	return result; \
}

/*
 * A sequential scan with no filter and no projection, in place of
 * ExecSeqScan.  The slow path handles the first call, which begins the
 * scan, and EvalPlanQual.
 */
static pg_noinline TupleTableSlot *
seq_slow(IgTramp *tramp, PlanState *ps)
{
	TupleTableSlot *result = tramp->real.exec(ps);

	if (!TupIsNull(result) && --tramp->left < 0)
		exhausted(tramp, NULL);
	return result;
}

#define SEQ_TRAMPOLINE(n) \
static TupleTableSlot * \
seq_tramp_##n(PlanState *ps) \
{ \
	SeqScanState *node = (SeqScanState *) ps; \
	TableScanDesc scan = node->ss.ss_currentScanDesc; \
	TupleTableSlot *result = node->ss.ss_ScanTupleSlot; \
\
	CHECK_FOR_INTERRUPTS(); \
	if (unlikely(scan == NULL || ps->state->es_epq_active != NULL)) \
		return seq_slow(&exec_tramps[0##n], ps); \
	ResetExprContext(ps->ps_ExprContext); \
	if (!table_scan_getnextslot(scan, ps->state->es_direction, result)) \
		return NULL; \
	if (unlikely(--exec_tramps[0##n].left < 0)) \
		exhausted(&exec_tramps[0##n], NULL); \
	return result; \
}

#ifdef IG_INDEXONLYSCAN_FAST_PATH
/*
 * The next row of an index-only scan that ios_fast_path accepted, or an
 * empty scan slot at the end; counted against the trampoline's budget.
 * The slow path (the real ExecIndexOnlyScan) begins the scan, sets up
 * runtime keys, and runs backward scans and EvalPlanQual.
 */
static pg_attribute_always_inline TupleTableSlot *
ios_next(PlanState *ps, IgTramp *tramp)
{
	IndexOnlyScanState *node = (IndexOnlyScanState *) ps;
	EState	   *estate = ps->state;
	IndexScanDesc scan = node->ioss_ScanDesc;
	TupleTableSlot *result = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = ps->ps_ExprContext;

	if (unlikely(scan == NULL || estate->es_epq_active != NULL ||
				 estate->es_direction != ForwardScanDirection ||
				 (node->ioss_NumRuntimeKeys != 0 && !node->ioss_RuntimeKeysReady)))
		return seq_slow(tramp, ps);

	/* what ExecScan and ExecScanFetch do before asking for a row */
	ResetExprContext(econtext);
	CHECK_FOR_INTERRUPTS();

	for (;;)
	{
		ItemPointer tid = index_getnext_tid(scan, ForwardScanDirection);
		bool		heap_visited = false;

		if (tid == NULL)
			return ExecClearTuple(result);	/* the end */
		CHECK_FOR_INTERRUPTS();

		/* a page not all-visible: the heap decides whether the row is seen */
		if (!VM_ALL_VISIBLE(scan->heapRelation, ItemPointerGetBlockNumber(tid),
							&node->ioss_VMBuffer))
		{
			InstrCountTuples2(node, 1);
			if (!index_fetch_heap(scan, node->ioss_TableSlot))
				continue;
			ExecClearTuple(node->ioss_TableSlot);
			if (scan->xs_heap_continue)
				elog(ERROR, "non-MVCC snapshots are not supported in index-only scans");
			heap_visited = true;
		}

		/* the row, from the index */
		if (scan->xs_hitup != NULL)
			ExecForceStoreHeapTuple(scan->xs_hitup, result, false);
		else if (scan->xs_itup != NULL)
		{
			ExecClearTuple(result);
			index_deform_tuple(scan->xs_itup, scan->xs_itupdesc,
							   result->tts_values, result->tts_isnull);
			ExecStoreVirtualTuple(result);
		}
		else
			elog(ERROR, "no data returned for index-only scan");

		/* a lossy index: its conditions are checked again */
		if (scan->xs_recheck)
		{
			econtext->ecxt_scantuple = result;
			if (!ExecQualAndReset(node->recheckqual, econtext))
			{
				InstrCountFiltered2(node, 1);
				continue;
			}
		}

		/* serializable: the heap page counts as read */
		if (!heap_visited)
			PredicateLockPage(scan->heapRelation,
							  ItemPointerGetBlockNumber(tid),
							  estate->es_snapshot);

		if (unlikely(--tramp->left < 0))
			exhausted(tramp, NULL);
		return result;
	}
}

#define IOS_TRAMPOLINE(n) \
static TupleTableSlot * \
ios_tramp_##n(PlanState *ps) \
{ \
	return ios_next(ps, &exec_tramps[0##n]); \
}
#endif

#define OCTAL8(M, d) M(d##0) M(d##1) M(d##2) M(d##3) M(d##4) M(d##5) M(d##6) M(d##7)
#define OCTAL64(M) OCTAL8(M, 0) OCTAL8(M, 1) OCTAL8(M, 2) OCTAL8(M, 3) \
	OCTAL8(M, 4) OCTAL8(M, 5) OCTAL8(M, 6) OCTAL8(M, 7)

OCTAL64(EXEC_TRAMPOLINE)
OCTAL64(SEQ_TRAMPOLINE)
OCTAL64(EXPR_TRAMPOLINE)
#ifdef IG_INDEXONLYSCAN_FAST_PATH
OCTAL64(IOS_TRAMPOLINE)
#endif

#define EXEC_NAME(n) exec_tramp_##n,
#define SEQ_NAME(n) seq_tramp_##n,
#define EXPR_NAME(n) expr_tramp_##n,

static const ExecProcNodeMtd exec_trampolines[IG_POOL_SIZE] = {
	OCTAL64(EXEC_NAME)
};

static const ExecProcNodeMtd seq_trampolines[IG_POOL_SIZE] = {
	OCTAL64(SEQ_NAME)
};

#ifdef IG_INDEXONLYSCAN_FAST_PATH
#define IOS_NAME(n) ios_tramp_##n,

static const ExecProcNodeMtd ios_trampolines[IG_POOL_SIZE] = {
	OCTAL64(IOS_NAME)
};
#endif

/*
 * A core node function, once seen: the function of a node of that type
 * that lives in the postgres executable itself (checked with dladdr), not
 * in an extension that wrapped it.  The first function seen for the type
 * decides.
 */
typedef struct IgCoreFn
{
	ExecProcNodeMtd fn;
	bool		checked;
} IgCoreFn;

static IgCoreFn core_seqscan;
#ifdef IG_INDEXONLYSCAN_FAST_PATH
static IgCoreFn core_indexonlyscan;
#endif

static bool
is_core_fn(IgCoreFn *core, ExecProcNodeMtd fn)
{
	Dl_info		fn_info;
	Dl_info		core_info;

	if (fn == core->fn)
		return true;
	if (core->checked)
		return false;
	core->checked = true;
	if (dladdr((void *) fn, &fn_info) == 0 ||
		dladdr((void *) ExecScan, &core_info) == 0 ||
		fn_info.dli_fbase != core_info.dli_fbase)
		return false;
	core->fn = fn;
	return true;
}

/* A scan that the SeqScan fast path can stand in for. */
static bool
seq_fast_path(PlanState *ps)
{
#ifndef IG_SEQSCAN_FAST_PATH
	return false;
#endif
	return IsA(ps, SeqScanState) &&
		ps->qual == NULL &&
		ps->ps_ProjInfo == NULL &&
		is_core_fn(&core_seqscan, ps->ExecProcNodeReal);
}

#ifdef IG_INDEXONLYSCAN_FAST_PATH
/*
 * True if the server is the release this was built for: the fast path
 * reads fields a minor release may have added to IndexOnlyScanState.
 */
static bool
server_is_build_release(void)
{
	static int	same = -1;

	if (same < 0)
	{
		const char *version = GetConfigOption("server_version_num", true, false);

		same = (version != NULL && atoi(version) == PG_VERSION_NUM);
	}
	return same;
}
#endif

#ifdef IG_INDEXONLYSCAN_FAST_PATH
/* An index-only scan that its fast path can stand in for. */
static bool
ios_fast_path(PlanState *ps)
{
	IndexOnlyScanState *node = (IndexOnlyScanState *) ps;

	return IsA(ps, IndexOnlyScanState) &&
		ps->qual == NULL &&
		ps->ps_ProjInfo == NULL &&
		node->ioss_NumOrderByKeys == 0 &&
		node->ioss_NameCStringAttNums == NULL &&
		((IndexOnlyScan *) ps->plan)->indexorderdir != BackwardScanDirection &&
		server_is_build_release() &&
		is_core_fn(&core_indexonlyscan, ps->ExecProcNodeReal);
}
#endif

static const ExprStateEvalFunc expr_trampolines[IG_POOL_SIZE] = {
	OCTAL64(EXPR_NAME)
};

/* The budget of a generic trampoline's node or expression. */
static inline IgTramp *
generic_tramp(void *owner)
{
	GenericEntry *entry = hash_search(generic_tramps, &owner, HASH_FIND, NULL);

	Assert(entry != NULL);
	return entry->tramp;
}

static TupleTableSlot *
exec_generic(PlanState *ps)
{
	IgTramp	   *tramp = generic_tramp(ps);
	TupleTableSlot *result = tramp->real.exec(ps);

	if (likely(!TupIsNull(result)) && unlikely(--tramp->left < 0))
		exhausted(tramp, NULL);
	return result;
}

static Datum
expr_generic(ExprState *state, ExprContext *econtext, bool *isnull)
{
	IgTramp	   *tramp = generic_tramp(state);
	Datum		result;

	if (unlikely(--tramp->left < 0))
		exhausted(tramp, econtext);
	result = tramp->real.expr(state, econtext, isnull);
	if (unlikely(state->evalfunc != expr_generic))
	{
		tramp->real.expr = state->evalfunc;
		state->evalfunc = expr_generic;
	}
	return result;
}

/*
 * Sets up the pools and the callback; once per backend.
 */
void
ig_tramp_init(IgExhaustedFn fn)
{
	HASHCTL		ctl;

	exhausted = fn;
	for (int i = 0; i < IG_POOL_SIZE; i++)
	{
		exec_tramps[i].index = expr_tramps[i].index = i;
		exec_free[i] = expr_free[i] = IG_POOL_SIZE - 1 - i;
	}
	exec_nfree = expr_nfree = IG_POOL_SIZE;

	ctl.keysize = sizeof(void *);
	ctl.entrysize = sizeof(GenericEntry);
	ctl.hcxt = TopMemoryContext;
	generic_tramps = hash_create("insider_guard generic trampolines", 64,
								&ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* A trampoline budget outside the pools, found by hash lookup. */
static pg_noinline IgTramp *
generic_take(void *owner)
{
	GenericEntry *entry;
	bool		found;
	IgTramp	   *tramp = MemoryContextAllocZero(TopMemoryContext, sizeof(IgTramp));

	entry = hash_search(generic_tramps, &owner, HASH_ENTER, &found);
	entry->tramp = tramp;
	tramp->index = -1;
	return tramp;
}

/* A generic trampoline in front of a plan node: the pool is used up. */
static pg_noinline IgTramp *
wrap_exec_generic(PlanState *ps)
{
	IgTramp	   *tramp = generic_take(ps);

	tramp->real.exec = ps->ExecProcNodeReal;
	ps->ExecProcNodeReal = exec_generic;
	return tramp;
}

/* A generic trampoline in front of an expression: the pool is used up. */
static pg_noinline IgTramp *
wrap_expr_generic(ExprState *state)
{
	IgTramp	   *tramp = generic_take(state);

	tramp->real.expr = state->evalfunc;
	state->evalfunc = expr_generic;
	return tramp;
}

/*
 * Puts a trampoline in front of a plan node.
 */
IgTramp *
ig_wrap_exec(PlanState *ps, void *node, int64 left)
{
	IgTramp	   *tramp;

	if (likely(exec_nfree > 0))
	{
		tramp = &exec_tramps[exec_free[--exec_nfree]];
		tramp->real.exec = ps->ExecProcNodeReal;
		if (seq_fast_path(ps))
			ps->ExecProcNodeReal = seq_trampolines[tramp->index];
#ifdef IG_INDEXONLYSCAN_FAST_PATH
		else if (ios_fast_path(ps))
			ps->ExecProcNodeReal = ios_trampolines[tramp->index];
#endif
		else
			ps->ExecProcNodeReal = exec_trampolines[tramp->index];
	}
	else
		tramp = wrap_exec_generic(ps);
	tramp->left = left;
	tramp->owner = ps;
	tramp->node = node;
	tramp->in_use = true;
	return tramp;
}

/*
 * Puts a trampoline in front of an expression.
 */
IgTramp *
ig_wrap_expr(ExprState *state, void *node, int64 left)
{
	IgTramp	   *tramp;

	if (likely(expr_nfree > 0))
	{
		tramp = &expr_tramps[expr_free[--expr_nfree]];
		tramp->real.expr = state->evalfunc;
		state->evalfunc = expr_trampolines[tramp->index];
	}
	else
		tramp = wrap_expr_generic(state);
	tramp->left = left;
	tramp->owner = state;
	tramp->node = node;
	tramp->in_use = true;
	return tramp;
}

/* Releases a generic trampoline. */
static pg_noinline void
unwrap_generic(IgTramp *tramp)
{
	void	   *owner = tramp->owner;

	hash_search(generic_tramps, &owner, HASH_REMOVE, NULL);
	pfree(tramp);
}

/*
 * Releases a trampoline: its node or expression is being freed.
 */
void
ig_unwrap(IgTramp *tramp)
{
	if (!tramp->in_use)
		return;
	tramp->in_use = false;
	if (unlikely(tramp->index < 0))
		unwrap_generic(tramp);
	else if (tramp >= exec_tramps && tramp < exec_tramps + IG_POOL_SIZE)
		exec_free[exec_nfree++] = tramp->index;
	else
		expr_free[expr_nfree++] = tramp->index;
}
