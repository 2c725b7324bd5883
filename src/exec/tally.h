/*-------------------------------------------------------------------------
 *
 * tally.h
 *		A key's tally (IgTally, counters.h) as a statement, or a COPY that
 *		bypasses the executor, keeps it: pointed at its counter, cleared
 *		for a statement, told what history to keep, its counter's place
 *		remembered for the next statement.
 *
 * src/exec/tally.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_TALLY_H
#define IG_TALLY_H

#include "shmem/counters.h"
#include "cache/relinfo.h"
#include "cache/rules.h"

/* Points a tally at a relation's counter (InvalidOid: all tables). */
static inline void
ig_tally_init(IgTally *tally, Oid userid, Oid relid)
{
	tally->relid = relid;
	tally->ref = ig_ref_lookup(userid, relid);
}

/* Clears what a tally counted for a statement. */
static inline void
ig_tally_reset(IgTally *tally)
{
	tally->counted = false;
	tally->ref_moved = false;
	tally->pending = 0;
	tally->statement_rows = 0;
	tally->query = NULL;
	tally->hist_wanted = 0;
}

/* What a rule list says of the history a tally's counter keeps. */
static inline void
ig_tally_history(IgTally *tally, const IgRuleList *list)
{
	tally->hist_wanted = list->hist_wanted;
	for (int k = 0; k < IG_HIST_KINDS; k++)
		tally->hist_cap[k] = list->hist_cap[k];
}

/* Remembers where a tally's counter turned out to be. */
static inline void
ig_tally_remember(IgTally *tally, Oid userid)
{
	if (tally->ref_moved)
		ig_ref_remember(userid, tally->relid, &tally->ref);
}

#endif							/* IG_TALLY_H */
