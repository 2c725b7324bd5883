/*-------------------------------------------------------------------------
 *
 * budget.h
 *		The part of a threshold's limit this node applies on a Citus
 *		cluster (see budget.c).
 *
 * src/cache/budget.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_BUDGET_H
#define IG_BUDGET_H

#include "base/guc.h"
#include "cache/rules.h"

extern void ig_budget_apply_slow(IgRuleList *list);
extern int64 ig_budget_share_of(int64 set_rows, int32 local, int32 total);

/*
 * Brings the limits of a rule list up to date with
 * insider_guard.citus_budget and this node's share of the list's table:
 * a compare, unless the setting or the relations cache changed since the
 * list was last scaled.  May need catalog access then.
 */
static inline void
ig_budget_apply(IgRuleList *list)
{
	if (unlikely(list->budget_gen != ig_citus_budget_gen))
		ig_budget_apply_slow(list);
}

#endif							/* IG_BUDGET_H */
