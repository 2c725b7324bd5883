/*-------------------------------------------------------------------------
 *
 * tramp.c
 *		Per-row counting trampolines.
 *
 * This is the only code insider_guard runs per row.  A scan node's
 * ExecProcNodeReal is replaced, right after ExecutorStart, by a trampoline
 * that calls the real function and, when a row comes back, decrements the
 * slot's budget; an expression's evalfunc (a filter that passes rows to a
 * function that is not leakproof, an ON CONFLICT clause) is replaced by
 * one that decrements before the row reaches the expression.  Only when
 * the budget goes below zero is anything else called.
 *
 * To make that a decrement and a compare, each trampoline is a separate
 * function bound at compile time to one entry of a static slot table,
 * which it addresses directly.  There are IG_POOL_SIZE of each kind; a
 * statement that needs more at once (a scan of hundreds of partitions, or
 * many open cursors) gets generic trampolines that find their slot in a
 * hash table, a little slower.
 *
 * Replacing ExecProcNodeReal (not ExecProcNode) right after
 * standard_ExecutorStart works for both the plain and the instrumented
 * (EXPLAIN ANALYZE) paths: every node still points at ExecProcNodeFirst,
 * which installs ExecProcNodeReal, or ExecProcNodeInstr that calls it.
 * An expression's evaluator replaces itself on first call
 * (ExecInterpExprStillValid, JIT); the trampoline notices and re-installs
 * itself.
 *
 * Slots are released when the executor state that owns the wrapped node
 * is freed; nothing calls the node after that.
 *
 * IDENTIFICATION
 *		src/tramp.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/tuptable.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "tramp.h"

#define IG_POOL_SIZE 64

static IgSlot exec_slots[IG_POOL_SIZE];
static IgSlot expr_slots[IG_POOL_SIZE];
static IgExhaustedFn exhausted = NULL;

/* stacks of free pool indexes */
static int16 exec_free[IG_POOL_SIZE];
static int16 expr_free[IG_POOL_SIZE];
static int	exec_nfree = 0;
static int	expr_nfree = 0;

/* generic slots, by the pointer they wrap */
typedef struct GenericEntry
{
	void	   *owner;			/* hash key */
	IgSlot	   *slot;
} GenericEntry;

static HTAB *generic_slots = NULL;

/*
 * The pooled trampolines.  Two octal digits name each one: exec_tramp_17
 * serves exec_slots[017].
 */
#define EXEC_TRAMPOLINE(n) \
static TupleTableSlot * \
exec_tramp_##n(PlanState *ps) \
{ \
	TupleTableSlot *result = exec_slots[0##n].real.exec(ps); \
\
	if (likely(!TupIsNull(result)) && unlikely(--exec_slots[0##n].left < 0)) \
		exhausted(&exec_slots[0##n], NULL); \
	return result; \
}

#define EXPR_TRAMPOLINE(n) \
static Datum \
expr_tramp_##n(ExprState *state, ExprContext *econtext, bool *isnull) \
{ \
	Datum		result; \
\
	if (unlikely(--expr_slots[0##n].left < 0)) \
		exhausted(&expr_slots[0##n], econtext); \
	result = expr_slots[0##n].real.expr(state, econtext, isnull); \
	if (unlikely(state->evalfunc != expr_tramp_##n)) \
	{ \
		expr_slots[0##n].real.expr = state->evalfunc; \
		state->evalfunc = expr_tramp_##n; \
	} \
	return result; \
}

#define OCTAL8(M, d) M(d##0) M(d##1) M(d##2) M(d##3) M(d##4) M(d##5) M(d##6) M(d##7)
#define OCTAL64(M) OCTAL8(M, 0) OCTAL8(M, 1) OCTAL8(M, 2) OCTAL8(M, 3) \
	OCTAL8(M, 4) OCTAL8(M, 5) OCTAL8(M, 6) OCTAL8(M, 7)

OCTAL64(EXEC_TRAMPOLINE)
OCTAL64(EXPR_TRAMPOLINE)

#define EXEC_NAME(n) exec_tramp_##n,
#define EXPR_NAME(n) expr_tramp_##n,

static const ExecProcNodeMtd exec_trampolines[IG_POOL_SIZE] = {
	OCTAL64(EXEC_NAME)
};

static const ExprStateEvalFunc expr_trampolines[IG_POOL_SIZE] = {
	OCTAL64(EXPR_NAME)
};

/* The slot of a generic trampoline's node or expression. */
static inline IgSlot *
generic_slot(void *owner)
{
	GenericEntry *entry = hash_search(generic_slots, &owner, HASH_FIND, NULL);

	Assert(entry != NULL);
	return entry->slot;
}

static TupleTableSlot *
exec_generic(PlanState *ps)
{
	IgSlot	   *slot = generic_slot(ps);
	TupleTableSlot *result = slot->real.exec(ps);

	if (likely(!TupIsNull(result)) && unlikely(--slot->left < 0))
		exhausted(slot, NULL);
	return result;
}

static Datum
expr_generic(ExprState *state, ExprContext *econtext, bool *isnull)
{
	IgSlot	   *slot = generic_slot(state);
	Datum		result;

	if (unlikely(--slot->left < 0))
		exhausted(slot, econtext);
	result = slot->real.expr(state, econtext, isnull);
	if (unlikely(state->evalfunc != expr_generic))
	{
		slot->real.expr = state->evalfunc;
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
		exec_slots[i].index = expr_slots[i].index = i;
		exec_free[i] = expr_free[i] = IG_POOL_SIZE - 1 - i;
	}
	exec_nfree = expr_nfree = IG_POOL_SIZE;

	ctl.keysize = sizeof(void *);
	ctl.entrysize = sizeof(GenericEntry);
	ctl.hcxt = TopMemoryContext;
	generic_slots = hash_create("insider_guard generic trampolines", 64,
								&ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* A slot outside the pools, found by hash lookup. */
static IgSlot *
generic_take(void *owner)
{
	GenericEntry *entry;
	bool		found;
	IgSlot	   *slot = MemoryContextAllocZero(TopMemoryContext, sizeof(IgSlot));

	entry = hash_search(generic_slots, &owner, HASH_ENTER, &found);
	entry->slot = slot;
	slot->index = -1;
	return slot;
}

/*
 * Puts a trampoline in front of a plan node.
 */
IgSlot *
ig_wrap_exec(PlanState *ps, void *node, int64 left)
{
	IgSlot	   *slot;

	if (exec_nfree > 0)
	{
		slot = &exec_slots[exec_free[--exec_nfree]];
		slot->real.exec = ps->ExecProcNodeReal;
		ps->ExecProcNodeReal = exec_trampolines[slot->index];
	}
	else
	{
		slot = generic_take(ps);
		slot->real.exec = ps->ExecProcNodeReal;
		ps->ExecProcNodeReal = exec_generic;
	}
	slot->left = left;
	slot->owner = ps;
	slot->node = node;
	slot->in_use = true;
	return slot;
}

/*
 * Puts a trampoline in front of an expression.
 */
IgSlot *
ig_wrap_expr(ExprState *state, void *node, int64 left)
{
	IgSlot	   *slot;

	if (expr_nfree > 0)
	{
		slot = &expr_slots[expr_free[--expr_nfree]];
		slot->real.expr = state->evalfunc;
		state->evalfunc = expr_trampolines[slot->index];
	}
	else
	{
		slot = generic_take(state);
		slot->real.expr = state->evalfunc;
		state->evalfunc = expr_generic;
	}
	slot->left = left;
	slot->owner = state;
	slot->node = node;
	slot->in_use = true;
	return slot;
}

/*
 * Releases a slot: its node or expression is being freed.
 */
void
ig_unwrap(IgSlot *slot)
{
	if (!slot->in_use)
		return;
	slot->in_use = false;
	if (slot->index < 0)
	{
		void	   *owner = slot->owner;

		hash_search(generic_slots, &owner, HASH_REMOVE, NULL);
		pfree(slot);
		return;
	}
	if (slot >= exec_slots && slot < exec_slots + IG_POOL_SIZE)
		exec_free[exec_nfree++] = slot->index;
	else
		expr_free[expr_nfree++] = slot->index;
}
