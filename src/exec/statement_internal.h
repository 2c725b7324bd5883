/*-------------------------------------------------------------------------
 *
 * statement_internal.h
 *		What the files of a running statement's state share, and nothing
 *		else includes: statement.h is the interface for the rest.
 *
 * The state is kept by three files, each calling only those below it:
 *
 *	statement.c			the lifecycle: starting a statement (the general way
 *						and the one-step path), rechecks before a FETCH,
 *						releasing it and keeping it for reuse
 *	grant.c				grants, reservations and settling: the rows each
 *						node may read, moved to shared memory when they run
 *						out and when the statement settles
 *	statement_keys.c	the keys (the tables read, their ancestors, all
 *						tables) with their rules, and the counted nodes
 *
 * What the per-statement path needs from a file below its own is a static
 * inline here where a call would cost.
 *
 * src/exec/statement_internal.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_STATEMENT_INTERNAL_H
#define IG_STATEMENT_INTERNAL_H

#include "base/private.h"
#include "base/guc.h"
#include "base/names.h"
#include "shmem/history.h"
#include "cache/baseline.h"
#include "cache/budget.h"
#include "cache/relinfo.h"
#include "cache/rules.h"
#include "exec/enforce.h"
#include "exec/statement.h"
#include "exec/tally.h"

/*
 * This backend's running statements, innermost first (grant.c): linked
 * and unlinked by statement.c.  The nodes of those of one session user
 * share the rows left (see grant.c).
 */
extern IG_PRIVATE IgStmt *ig_running_stmts;

/* statement_keys.c */
extern IG_PRIVATE int	ig_stmt_key(IgStmt *stmt, Oid relid);
extern IG_PRIVATE IgCountedNode *ig_stmt_scan_node(IgStmt *stmt, Oid relid,
												   const IgRelInfo *info);
extern IG_PRIVATE bool ig_node_add_relation(IgCountedNode *node, Oid relid);
extern IG_PRIVATE void ig_stmt_match_rules(IgStmt *stmt);

/* grant.c */
extern IG_PRIVATE int64 ig_held_by_others_slow(const IgStmt *stmt, const IgCountedNode *node,
											   Oid relid);
extern IG_PRIVATE void ig_stmt_settle(IgStmt *stmt, bool final);

/* The most rows a node may be granted at once. */
static inline int64
batch_grant(void)
{
	return Max((int64) ig_batch_rows - 1, 1);
}

/*
 * Brings a key's rule list up to date for a statement: the thresholds'
 * share on a Citus node, baseline limits (fixed at statement start, from
 * the history as it is then) and the history its counter keeps.  Returns true if the list has rules to
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
	/* on Citus, the part of the limits this node applies (budget.c) */
	ig_budget_apply(list);
	if (unlikely(list->nbaseline > 0 || list->hist_wanted != 0))
	{
		if (list->nbaseline > 0)
		{
			if (!stmt->has_baselines)
			{
				/* the history its limits are of, for a cursor's next FETCH */
				stmt->has_baselines = true;
				stmt->hist_gen = ig_history_gen();
			}
			/* as ig_baseline_refresh, with the generation read once */
			if (ig_baseline_stale(list, stmt->hist_gen))
				ig_baseline_compute(list, stmt->userid);
		}
		if (list->hist_wanted != 0)
			ig_tally_history(tally, list);
	}
	return list->nrules > 0;
}

/*
 * Rows the other nodes of this backend hold on a relation's key (see
 * ig_held_by_others_slow): mostly none, a lone node of the only statement
 * running.
 */
static inline int64
held_by_others(const IgStmt *stmt, const IgCountedNode *node, Oid relid)
{
	if (likely(ig_running_stmts == stmt && stmt->next == NULL &&
			   stmt->nnodes <= 1))
		return 0;
	return ig_held_by_others_slow(stmt, node, relid);
}

/*
 * Does any key of the statement hold rows reserved in shared memory?  (At
 * the end of a statement that reserved, on the one-step path too.)
 */
static inline bool
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

#endif							/* IG_STATEMENT_INTERNAL_H */
