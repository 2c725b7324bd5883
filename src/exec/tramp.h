/*-------------------------------------------------------------------------
 *
 * tramp.h
 *		Per-row counting: small functions put in place of a scan node's
 *		ExecProcNode, or of an expression's evaluator, that count each row
 *		against a budget and call back when the budget runs out.
 *
 * src/exec/tramp.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_TRAMP_H
#define IG_TRAMP_H

#include "nodes/execnodes.h"

/*
 * A trampoline's budget: one wrapped node or expression.  "left" is how many more rows it may
 * pass before calling the exhausted callback: the row that takes it below
 * zero calls it (and has already been counted in it).
 */
typedef struct IgTramp
{
	int64		left;
	union
	{
		ExecProcNodeMtd exec;
		ExprStateEvalFunc expr;
	}			real;			/* the function it stands in for */
	void	   *owner;			/* the PlanState or ExprState wrapped */
	void	   *node;			/* the caller's state for it */
	int16		index;			/* pool index, or -1 if not pooled */
	bool		in_use;
} IgTramp;

/*
 * Called when a trampoline's budget runs out, from inside the executor: may
 * count, settle, grant more (by setting tramp->left), or ereport(ERROR).
 * econtext is the expression's context for an expression's trampoline,
 * else NULL.
 */
typedef void (*IgExhaustedFn) (IgTramp *tramp, ExprContext *econtext);

extern void ig_tramp_init(IgExhaustedFn fn);
extern IgTramp *ig_wrap_exec(PlanState *ps, void *node, int64 left);
extern IgTramp *ig_wrap_expr(ExprState *state, void *node, int64 left);
extern void ig_unwrap(IgTramp *tramp);

#endif							/* IG_TRAMP_H */
