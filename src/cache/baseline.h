/*-------------------------------------------------------------------------
 *
 * baseline.h
 *		The limits of behavioural baseline rules, computed from the history
 *		series for the user they were matched to.
 *
 * src/cache/baseline.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_BASELINE_H
#define IG_BASELINE_H

#include "base/guc.h"
#include "shmem/history.h"
#include "cache/rules.h"

/*
 * How far a role's history, and its peers', are from a usable baseline
 * limit for one relation and window kind: the own limit needs
 * IG_USABLE_WINDOWS active windows on IG_USABLE_DAYS distinct days, a
 * peer limit IG_PEERS_NEEDED peers with such history in one of its peer
 * groups.
 */
typedef struct IgLimitProgress
{
	uint32		windows;		/* own active windows */
	uint32		days;			/* on so many distinct days */
	int			ngroups;		/* registered peer groups it is in directly */
	int			peers;			/* the most peers with usable history in one */
	int			young;			/* of the groups, those it joined less than
								 * 14 days ago: they count for nothing yet */
} IgLimitProgress;

/* What the baselines view shows of one series. */
typedef struct IgBaselineView
{
	bool		usable;			/* own history usable */
	uint64		typical;		/* p50, if there is any history */
	uint64		high;			/* p99, likewise */
	int64		peer_high;		/* p99 of the peers, or -1 */
	int64		limit_now;		/* strictest limit in force, or -1 */
	char	   *no_limit_reason;	/* why limit_now is -1, or is a block
									 * rule's cold-start limit ("cold start:
									 * " and why; palloc'd), or NULL */
} IgBaselineView;

extern void ig_baseline_compute(IgRuleList *list, Oid userid);
extern void ig_baseline_progress(Oid roleid, Oid relid, int kind,
								 IgLimitProgress *progress);
extern bool ig_baseline_progress_usable(const IgLimitProgress *progress,
										IgCompareTo compare_to);
extern char *ig_baseline_no_limit_reason(const IgLimitProgress *progress,
										 bool own_side);
extern void ig_baseline_describe(const IgSeriesCopy *series,
								 IgBaselineView *view);

/*
 * Whether a rule list's baseline limits are out of date: the history
 * moved on from "generation", or a peer group left out for a young
 * membership now counts.
 */
static inline bool
ig_baseline_stale(const IgRuleList *list, uint32 generation)
{
	return list->hist_gen != generation ||
		(unlikely(list->recompute_at != 0) && ig_now() >= list->recompute_at);
}

/*
 * Brings a rule list's baseline limits up to date with the history: a
 * compare of generations unless some series changed.
 */
static inline void
ig_baseline_refresh(IgRuleList *list, Oid userid)
{
	if (list->nbaseline > 0 && ig_baseline_stale(list, ig_history_gen()))
		ig_baseline_compute(list, userid);
}

#endif							/* IG_BASELINE_H */
