/*-------------------------------------------------------------------------
 *
 * budget.c
 *		The part of a threshold's limit this node applies on a Citus
 *		cluster: the whole of it (insider_guard.citus_budget = node), or,
 *		with citus_budget = share, on a distributed table, the share of
 *		the table's shard placements this node holds.
 *
 * A Citus statement reads a distributed table's rows where its shards
 * are, each node counting and stopping on its own: with every node
 * applying the whole limit, a cluster of n nodes lets up to n x limit
 * rows through.  With "share", a node holding p of the table's P shard
 * placements applies ceil(limit x p / P), at least 1 row (a limit of 0
 * stays 0), so the nodes together apply about the limit: a read of the
 * whole table is stopped with at most sum(ceil(limit x p_i / P) + 1)
 * rows counted over the cluster (each node counts the row it refuses),
 * which is at most limit + 2n - 1 on n nodes, and limit + n when every
 * node's part divides evenly.  The price: a role whose reads fall on one
 * node only (router queries of one tenant) is stopped there at that
 * node's share -- a false early block, measured in docs/citus-notes.md.
 *
 * Not shared, with their reasons:
 *	- reference tables, Citus local tables and single-shard tables: a
 *	  statement reads such a table whole on one node (a reference table
 *	  on the node the statement runs on), so any share would stop a read
 *	  the rule allows;
 *	- the all-tables limit: it sums tables that are split (distributed)
 *	  and tables read whole on one node (reference tables, tables local to
 *	  the node), so no share of it fits;
 *	- baseline rules: a node's history is of its own reads, so a limit
 *	  computed from it is already this node's (their min_rows floor and
 *	  cold-start limit are per node).
 * Those are applied whole on every node, as with "node".  Log thresholds
 * are shared like block thresholds: each node records the crossing of
 * its share.
 *
 * The share is looked up once per table (relinfo.c keeps it with the
 * table's entry, which Citus' invalidations drop when its shards or
 * placements change) and the scaled limits are kept in the rule list:
 * a statement pays a compare per key with rules (ig_budget_apply), and
 * nothing per row.
 *
 * IDENTIFICATION
 *		src/cache/budget.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cache/budget.h"
#include "cache/relinfo.h"

/*
 * ceil(set_rows x local / total), at least 1; a limit of 0 or less stays.
 * No overflow: local <= total.
 */
int64
ig_budget_share_of(int64 set_rows, int32 local, int32 total)
{
	int64		q;
	int64		r;
	int64		share;

	if (set_rows <= 0 || total <= 0 || local >= total)
		return set_rows;
	if (local < 0)
		local = 0;
	q = set_rows / total;
	r = set_rows % total;
	share = q * local + (r * local + total - 1) / total;
	return Max(share, 1);
}

/*
 * Scales the thresholds of a rule list for the share of its table this
 * node applies (see above), or back to their limits as set.  Catalog
 * access when the share of the list's table is not known yet.
 */
void
ig_budget_apply_slow(IgRuleList *list)
{
	uint32		gen = ig_citus_budget_gen;
	int32		local = 0;
	int32		total = 0;
	bool		shared = false;

	if (ig_citus_budget == IG_CITUS_BUDGET_SHARE && OidIsValid(list->relid))
	{
		for (int i = 0; i < list->nrules && !shared; i++)
			shared = !list->rules[i].baseline;
		if (shared)
			shared = ig_relinfo_share(list->relid, &local, &total);
	}
	for (int i = 0; i < list->nrules; i++)
	{
		IgRule	   *rule = &list->rules[i];
		int64		max_rows;

		if (rule->baseline)
			continue;
		max_rows = shared ?
			ig_budget_share_of(rule->set_rows, local, total) : rule->set_rows;
		if (max_rows != rule->max_rows)
		{
			rule->max_rows = list->maxes[i] = max_rows;
			/* the memo's room before the nearest limit was of the old ones */
			list->memo.valid = false;
		}
	}

	/*
	 * The generation read first: if the lookup dropped the relations
	 * cache, the next statement scales again.
	 */
	list->budget_gen = gen;
}
