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
 * For two kinds of scan node, while insider_guard.fast_scans is on, the
 * trampoline takes the place of core's function instead of wrapping it,
 * doing what core does there and counting (the fast paths: a sequential
 * scan or an index-only scan with neither filter nor projection, where
 * even a wrapper shows; fastscan_seq.c, fastscan_ios.c).  They share the
 * pool's budgets and the way back to core with this file through
 * tramp_pool.c, which all of them call down to; only this file asks the
 * fast paths for a trampoline.  The setting is read here, when a node is
 * wrapped -- when a statement's executor starts, or a recheck plan of
 * EvalPlanQual does -- so a change applies from the next statement, and a
 * cursor keeps what it was opened with; nothing per row looks at it.
 * Off, every node gets the plain trampoline around core's own function.
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

#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "base/guc.h"
#include "exec/fastscan.h"
#include "exec/tramp_pool.h"

static IgTramp expr_tramps[IG_POOL_SIZE];

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
 * serves ig_exec_tramps[017].
 */
#define EXEC_TRAMPOLINE(n) \
static TupleTableSlot * \
exec_tramp_##n(PlanState *ps) \
{ \
	TupleTableSlot *result = ig_exec_tramps[0##n].real.exec(ps); \
\
	if (likely(!TupIsNull(result)) && unlikely(--ig_exec_tramps[0##n].left < 0)) \
		ig_exhausted(&ig_exec_tramps[0##n], NULL); \
	return result; \
}

#define EXPR_TRAMPOLINE(n) \
static Datum \
expr_tramp_##n(ExprState *state, ExprContext *econtext, bool *isnull) \
{ \
	Datum		result; \
\
	if (unlikely(--expr_tramps[0##n].left < 0)) \
		ig_exhausted(&expr_tramps[0##n], econtext); \
	result = expr_tramps[0##n].real.expr(state, econtext, isnull); \
	if (unlikely(state->evalfunc != expr_tramp_##n)) \
	{ \
		expr_tramps[0##n].real.expr = state->evalfunc; \
		state->evalfunc = expr_tramp_##n; \
	} \
	return result; \
}

IG_OCTAL64(EXEC_TRAMPOLINE)
IG_OCTAL64(EXPR_TRAMPOLINE)

#define EXEC_NAME(n) exec_tramp_##n,
#define EXPR_NAME(n) expr_tramp_##n,

static const ExecProcNodeMtd exec_trampolines[IG_POOL_SIZE] = {
	IG_OCTAL64(EXEC_NAME)
};

static const ExprStateEvalFunc expr_trampolines[IG_POOL_SIZE] = {
	IG_OCTAL64(EXPR_NAME)
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
		ig_exhausted(tramp, NULL);
	return result;
}

static Datum
expr_generic(ExprState *state, ExprContext *econtext, bool *isnull)
{
	IgTramp	   *tramp = generic_tramp(state);
	Datum		result;

	if (unlikely(--tramp->left < 0))
		ig_exhausted(tramp, econtext);
	result = tramp->real.expr(state, econtext, isnull);
	if (unlikely(state->evalfunc != expr_generic))
	{
		tramp->real.expr = state->evalfunc;
		state->evalfunc = expr_generic;
	}
	return result;
}

/*
 * The pooled trampoline for a plan node: a fast path's, standing in for
 * core's function, if insider_guard.fast_scans is on and one accepts the
 * node; else the plain one around the node's function.
 */
static inline ExecProcNodeMtd
pooled_exec_fn(PlanState *ps, int index)
{
	ExecProcNodeMtd fast = NULL;

	if (ig_fast_scans)
	{
		if (IsA(ps, SeqScanState))
			fast = ig_fastscan_seq(ps, index);
		else if (IsA(ps, IndexOnlyScanState))
			fast = ig_fastscan_ios(ps, index);
	}
	return fast != NULL ? fast : exec_trampolines[index];
}

/*
 * Sets up the pools and the callback; once per backend.
 */
void
ig_tramp_init(IgExhaustedFn fn)
{
	HASHCTL		ctl;

	ig_exhausted = fn;
	ig_fastscan_seq_init();
	ig_fastscan_ios_init();
	for (int i = 0; i < IG_POOL_SIZE; i++)
	{
		ig_exec_tramps[i].index = expr_tramps[i].index = i;
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
		tramp = &ig_exec_tramps[exec_free[--exec_nfree]];
		tramp->real.exec = ps->ExecProcNodeReal;
		ps->ExecProcNodeReal = pooled_exec_fn(ps, tramp->index);
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
	else if (tramp >= ig_exec_tramps && tramp < ig_exec_tramps + IG_POOL_SIZE)
		exec_free[exec_nfree++] = tramp->index;
	else
		expr_free[expr_nfree++] = tramp->index;
}
