/*-------------------------------------------------------------------------
 *
 * tramp_pool.h
 *		The pool of plan-node trampolines, as tramp.c shares it with the
 *		fast paths (fastscan_seq.c, fastscan_ios.c): the budgets each
 *		pooled trampoline is bound to at compile time, the callback for an
 *		exhausted budget, and the way back to core's own function; defined
 *		in tramp_pool.c.
 *
 * Not for other modules: they use tramp.h.  What is shared is
 * IG_PRIVATE (hidden), so that a trampoline in any of these files reaches
 * its budget directly, PC-relative (no lookup through the global offset
 * table): the per-row cost stays a decrement and a compare.
 *
 * src/exec/tramp_pool.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_TRAMP_POOL_H
#define IG_TRAMP_POOL_H

#include "base/private.h"
#include "exec/tramp.h"

#define IG_POOL_SIZE 64

/* the budgets of the pooled plan-node trampolines, by pool index */
extern IG_PRIVATE IgTramp ig_exec_tramps[IG_POOL_SIZE];

/* called when a budget runs out (ig_tramp_init) */
extern IG_PRIVATE IgExhaustedFn ig_exhausted;

/*
 * Calls the function a trampoline stands in for and counts the row it
 * returns: a fast path's way back to core for anything unusual.
 */
extern IG_PRIVATE TupleTableSlot *ig_tramp_slow(IgTramp *tramp, PlanState *ps);

/*
 * A core node function, once seen: the function of a node of one type
 * that lives in the postgres executable itself (checked with dladdr), not
 * in an extension that wrapped it.  The first function seen for the type
 * decides.
 */
typedef struct IgCoreFn
{
	ExecProcNodeMtd fn;
	bool		checked;
} IgCoreFn;

extern IG_PRIVATE bool ig_is_core_fn(IgCoreFn *core, ExecProcNodeMtd fn);

/*
 * True if the server runs one of a fast path's checked releases
 * (server_version_num values); else logs once that it is off.
 */
extern IG_PRIVATE bool ig_fastscan_release_checked(const char *what,
												  const int *checked,
												  int nchecked);

/*
 * Expands M(nn) for the 64 pool indexes, as two octal digits: the
 * trampoline M(17) serves ig_exec_tramps[017].
 */
#define IG_OCTAL8(M, d) M(d##0) M(d##1) M(d##2) M(d##3) M(d##4) M(d##5) M(d##6) M(d##7)
#define IG_OCTAL64(M) IG_OCTAL8(M, 0) IG_OCTAL8(M, 1) IG_OCTAL8(M, 2) IG_OCTAL8(M, 3) \
	IG_OCTAL8(M, 4) IG_OCTAL8(M, 5) IG_OCTAL8(M, 6) IG_OCTAL8(M, 7)

#endif							/* IG_TRAMP_POOL_H */
