/*-------------------------------------------------------------------------
 *
 * baseline.c
 *		The limits of behavioural baseline rules: computed from the user's
 *		own history and its peers', for the rule list it was matched to.
 *
 * A baseline rule is a threshold whose max_rows moves: the limit in force
 * (stats.c) for the session user.  While neither its own history nor its
 * peers' gives a usable limit, a block rule applies its cold-start limit,
 * min_rows ("never a break at or below"), so that a new role or one whose
 * history was reset is not unlimited; a log rule, which only alerts, has
 * none (IG_RULE_INERT).  The limits of a rule list are computed when a statement first
 * needs them, and again only after the history changed (its generation
 * moved: a window was added somewhere, about once an hour per series), so
 * that a statement pays a compare of generations, and its rows a compare
 * each, as for any threshold.
 *
 * The peers of a user are the other members of the peer groups it
 * belongs to directly (rules_roles.c lists them); each group's windows are
 * pooled, and the highest limit of the groups counts.
 *
 * IDENTIFICATION
 *		src/cache/baseline.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "cache/baseline.h"
#include "base/guc.h"
#include "shmem/history.h"
#include "cache/rules.h"
#include "base/stats.h"

/*
 * The pools of whole peer groups (the user's peers and the user) last
 * computed, while neither the history nor the memberships changed: the
 * members of a group share it, each taking itself out.
 */
typedef struct IgGroupPool
{
	bool		valid;
	Oid			groupid;
	Oid			relid;
	int			kind;
	uint32		history_gen;	/* ig_history_gen() then */
	uint32		rules_gen;		/* ig_rules_gen then */
	TimestampTz at;				/* the weights are brought to then */
	IgHistPool	pool;
} IgGroupPool;

#define IG_GROUP_POOLS 16

static IgGroupPool group_pools[IG_GROUP_POOLS];
static int	next_group_pool = 0;

static IgGroupPool *
find_group_pool(Oid groupid, Oid relid, int kind, uint32 history_gen)
{
	for (int i = 0; i < IG_GROUP_POOLS; i++)
	{
		IgGroupPool *gp = &group_pools[i];

		if (gp->valid && gp->groupid == groupid && gp->relid == relid &&
			gp->kind == kind && gp->history_gen == history_gen &&
			gp->rules_gen == ig_rules_gen)
			return gp;
	}
	return NULL;
}

/*
 * Pools the peers' series of one group for a relation and kind.  With
 * "own", the user's own series as the history had it at generation
 * own_gen: from the group's pool, less the user, while the history is
 * still at that generation -- the peers' series are read once per group
 * while it does not change.  Without, from the peers' series.
 */
static void
pool_group(IgHistPool *pool, const IgPeerGroup *group, Oid relid, int kind,
		   const IgHistogram *own, uint32 own_gen, TimestampTz now)
{
	IgSeriesKey key;
	IgHistogram hist;
	IgGroupPool *gp;

	if (own != NULL && ig_history_gen() != own_gen)
		own = NULL;				/* it may have changed since */
	if (own != NULL &&
		(gp = find_group_pool(group->groupid, relid, kind, own_gen)) != NULL)
	{
		*pool = gp->pool;
		ig_pool_remove(pool, own, gp->at);
		return;
	}

	ig_pool_init(pool);
	key.dbid = MyDatabaseId;
	key.relid = relid;
	key.kind = kind;
	for (int m = 0; m < group->nmembers; m++)
	{
		key.roleid = group->members[m];
		if (ig_history_get(&key, &hist, false))
			ig_pool_add(pool, &hist, now);
	}

	/* the group's: the peers' and the user's; unless the history moved */
	if (own == NULL || ig_history_gen() != own_gen)
		return;
	gp = &group_pools[next_group_pool];
	next_group_pool = (next_group_pool + 1) % IG_GROUP_POOLS;
	gp->pool = *pool;
	ig_pool_add(&gp->pool, own, now);
	gp->groupid = group->groupid;
	gp->relid = relid;
	gp->kind = kind;
	gp->history_gen = own_gen;
	gp->rules_gen = ig_rules_gen;
	gp->at = now;
	gp->valid = true;
}

/*
 * The highest p99 of a user's peer groups with enough peers, or -1: what
 * its peer limits come from (the highest over the groups, as the limit is
 * monotonic in the p99).
 */
static int64
peer_high(const IgRuleList *list, int kind, const IgHistogram *own,
		  uint32 generation, TimestampTz now)
{
	int64		high = -1;

	for (int g = 0; g < list->npeer_groups; g++)
	{
		IgHistPool	pool;

		if (list->peer_groups[g].counts_from > now)
			continue;			/* a membership younger than 14 days */
		pool_group(&pool, &list->peer_groups[g], list->relid, kind, own,
				   generation, now);
		if (pool.members >= IG_PEERS_NEEDED)
			high = Max(high, (int64) ig_pool_quantile(&pool, IG_HIGH_QUANTILE));
	}
	return high;
}

/*
 * The peers' p99 in force for the user: "high", but no more than its
 * rise allows (ig_rise_high), noted in the user's series in shared memory
 * when that changes what was noted -- about once in 7 days, or when the
 * peers' p99 goes down -- so that every backend caps it alike.
 */
static int64
peers_in_force(const IgRuleList *list, Oid userid, int kind, IgHistogram *own,
			   uint64 high, TimestampTz now)
{
	IgRise		before = own->rise;
	uint64		in_force = ig_rise_take(own, IG_RISE_PEERS, high, now);

	if (memcmp(&before, &own->rise, sizeof(IgRise)) != 0)
	{
		IgSeriesKey key;

		key.dbid = MyDatabaseId;
		key.roleid = userid;
		key.relid = list->relid;
		key.kind = kind;
		ig_history_note_peers(&key, high, now);
	}
	return (int64) in_force;
}

/*
 * Computes the limit of every baseline rule of a list for the user, and
 * the lowest limit per kind (which caps the windows the user's history is
 * fed).  Reads the history: takes its lock (shared), a few times.
 */
void
ig_baseline_compute(IgRuleList *list, Oid userid)
{
	uint32		generation = ig_history_gen();
	TimestampTz now = ig_now();
	IgHistogram own[IG_HIST_KINDS];
	bool		have_own[IG_HIST_KINDS] = {false};
	bool		have_peers[IG_HIST_KINDS] = {false};
	int64		peers_high[IG_HIST_KINDS];
	int64		cap[IG_HIST_KINDS];

	for (int k = 0; k < IG_HIST_KINDS; k++)
	{
		cap[k] = IG_NO_LIMIT;
		peers_high[k] = -1;
	}
	/* computed again when the first group left out for now counts */
	list->young_until = 0;
	for (int g = 0; g < list->npeer_groups; g++)
	{
		TimestampTz from = list->peer_groups[g].counts_from;

		if (from > now && (list->young_until == 0 || from < list->young_until))
			list->young_until = from;
	}

	for (int i = 0; i < list->nrules; i++)
	{
		IgRule	   *rule = &list->rules[i];
		int			k = rule->hist_kind;
		int64		own_limit = IG_NO_LIMIT;
		int64		peers = IG_NO_LIMIT;
		int64		limit;

		if (!rule->baseline)
			continue;
		if (!have_own[k])
		{
			IgSeriesKey key;

			key.dbid = MyDatabaseId;
			key.roleid = userid;
			key.relid = list->relid;
			key.kind = k;
			/* made if missing, so that the baselines view shows it */
			ig_history_get(&key, &own[k], true);
			have_own[k] = true;
		}
		if (rule->compare_to != IG_COMPARE_PEERS)
			own_limit = ig_limit_own(&own[k], rule->factor, rule->min_rows,
									 now);
		if ((rule->compare_to != IG_COMPARE_SELF || own_limit < 0) &&
			list->npeer_groups > 0)
		{
			if (!have_peers[k])
			{
				peers_high[k] = peer_high(list, k, &own[k], generation, now);
				have_peers[k] = true;
				if (peers_high[k] >= 0)
					peers_high[k] = peers_in_force(list, userid, k, &own[k],
												   (uint64) peers_high[k], now);
			}
			if (peers_high[k] >= 0)
				peers = ig_limit_of((uint64) peers_high[k], rule->factor,
									rule->min_rows);
		}
		limit = ig_limit_combine(rule->compare_to, own_limit, peers);
		/* the cold-start limit, which caps the history's windows as any */
		rule->cold_start = limit < 0 && rule->block;
		if (rule->cold_start)
			limit = rule->min_rows;
		rule->max_rows = limit >= 0 ? Min(limit, IG_RULE_INERT) : IG_RULE_INERT;
		list->maxes[i] = rule->max_rows;
		if (limit >= 0 && (cap[k] < 0 || limit < cap[k]))
			cap[k] = limit;
	}
	/* the memo's room before the nearest limit was of the old limits */
	list->memo.valid = false;
	/*
	 * and no more than a bin above the p99 the limits come from (the own,
	 * or before it is usable the peers'): no fast training
	 */
	for (int k = 0; k < IG_HIST_KINDS; k++)
		list->hist_cap[k] = have_own[k] ?
			ig_hist_cap(&own[k], cap[k], peers_high[k], now) : cap[k];
	list->hist_gen = generation;
}

/*
 * The most peers with usable history for a relation and kind in one of
 * the peer groups: what a peer limit needs IG_PEERS_NEEDED of.
 */
static int
usable_peers(const IgPeerGroup *groups, int ngroups, Oid relid, int kind)
{
	IgSeriesKey key;
	IgHistogram hist;
	int			most = 0;

	key.dbid = MyDatabaseId;
	key.relid = relid;
	key.kind = kind;
	for (int g = 0; g < ngroups; g++)
	{
		int			usable = 0;

		if (groups[g].counts_from > ig_now())
			continue;			/* a membership younger than 14 days */
		for (int m = 0; m < groups[g].nmembers; m++)
		{
			key.roleid = groups[g].members[m];
			if (ig_history_get(&key, &hist, false) && ig_hist_usable(&hist))
				usable++;
		}
		most = Max(most, usable);
	}
	return most;
}

/* how many of the groups the user joined less than 14 days ago */
static int
young_groups(const IgPeerGroup *groups, int ngroups)
{
	TimestampTz now = ig_now();
	int			young = 0;

	for (int g = 0; g < ngroups; g++)
		if (groups[g].counts_from > now)
			young++;
	return young;
}

/*
 * How far a role is from a usable limit for a relation (InvalidOid: all
 * tables) and kind: its own history, and the peers with usable history
 * in each of its peer groups.  Reads the history (shared lock) and the
 * peer groups: catalog access.
 */
void
ig_baseline_progress(Oid roleid, Oid relid, int kind, IgLimitProgress *progress)
{
	IgSeriesKey key;
	IgHistogram hist;
	IgPeerGroup *groups;

	key.dbid = MyDatabaseId;
	key.roleid = roleid;
	key.relid = relid;
	key.kind = kind;
	memset(progress, 0, sizeof(*progress));
	if (ig_history_get(&key, &hist, false))
	{
		progress->windows = hist.windows;
		progress->days = hist.days;
	}
	groups = ig_rules_peer_groups(roleid, &progress->ngroups);
	progress->peers = usable_peers(groups, progress->ngroups, relid, kind);
	progress->young = young_groups(groups, progress->ngroups);
}

/*
 * Whether a rule comparing as compare_to has a usable limit: "self" and
 * "both" with the own history or the peers', "peers" with the peers'.
 */
bool
ig_baseline_progress_usable(const IgLimitProgress *progress,
							IgCompareTo compare_to)
{
	bool		own = progress->windows >= IG_USABLE_WINDOWS &&
		progress->days >= IG_USABLE_DAYS;

	return (own && compare_to != IG_COMPARE_PEERS) ||
		progress->peers >= IG_PEERS_NEEDED;
}

/*
 * Why there is no usable limit, for people: what the own history lacks
 * (with own_side: some rule may use it), then what the peers lack; parts
 * separated by "; ".  palloc'd.
 */
char *
ig_baseline_no_limit_reason(const IgLimitProgress *progress, bool own_side)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (own_side && progress->windows < IG_USABLE_WINDOWS)
		appendStringInfo(&buf, "too few windows (%u of %d)",
						 progress->windows, IG_USABLE_WINDOWS);
	if (own_side && progress->days < IG_USABLE_DAYS)
		appendStringInfo(&buf, "%stoo few days (%u of %d)",
						 buf.len > 0 ? ", " : "",
						 progress->days, IG_USABLE_DAYS);
	if (progress->ngroups == 0)
		appendStringInfo(&buf, "%sno peer group", buf.len > 0 ? "; " : "");
	else if (progress->young == progress->ngroups)
		appendStringInfo(&buf, "%speer group membership younger than 14 days",
						 buf.len > 0 ? "; " : "");
	else if (progress->peers < IG_PEERS_NEEDED)
		appendStringInfo(&buf, "%stoo few peers with history (%d of %d)",
						 buf.len > 0 ? "; " : "",
						 progress->peers, IG_PEERS_NEEDED);
	return buf.data;
}

/*
 * What the baselines view shows of a series: its own statistics, its
 * peers' p99 (the highest of its groups with enough peers), the
 * strictest limit of the baseline rules that cover the role for that
 * relation and kind, and if none is usable why.  Needs catalog access.
 */
void
ig_baseline_describe(const IgSeriesCopy *series, IgBaselineView *view)
{
	const IgHistogram *hist = &series->hist;
	IgPeerGroup *groups;
	int			ngroups;
	TimestampTz now = ig_now();
	bool		covered = false;
	bool		own_side = false;
	bool		cold_start = false;
	IgLimitProgress progress;
	char	   *reason;

	view->usable = ig_hist_usable(hist);
	view->typical = ig_hist_quantile(hist, IG_TYPICAL_QUANTILE);
	view->high = ig_hist_quantile(hist, IG_HIGH_QUANTILE);

	view->peer_high = -1;
	groups = ig_rules_peer_groups(series->key.roleid, &ngroups);
	for (int g = 0; g < ngroups; g++)
	{
		IgHistPool	pool;

		if (groups[g].counts_from > now)
			continue;			/* a membership younger than 14 days */
		pool_group(&pool, &groups[g], series->key.relid, series->key.kind,
				   NULL, 0, now);
		if (pool.members >= IG_PEERS_NEEDED)
			view->peer_high = Max(view->peer_high,
								  (int64) ig_pool_quantile(&pool, IG_HIGH_QUANTILE));
	}

	view->limit_now = -1;
	view->no_limit_reason = NULL;
	if (ig_rules_cover(series->key.roleid))
	{
		IgRuleList *list = ig_rules_for_relation(series->key.roleid,
												 series->key.relid);

		if (list != NULL)
		{
			ig_baseline_refresh(list, series->key.roleid);
			for (int i = 0; i < list->nrules; i++)
			{
				const IgRule *rule = &list->rules[i];

				if (!rule->baseline || rule->hist_kind != series->key.kind)
					continue;
				covered = true;
				own_side |= rule->compare_to != IG_COMPARE_PEERS;
				if (rule->max_rows >= IG_RULE_INERT)
					continue;
				/* the strictest; of equal ones, one from history */
				if (view->limit_now < 0 || rule->max_rows < view->limit_now)
				{
					view->limit_now = rule->max_rows;
					cold_start = rule->cold_start;
				}
				else if (rule->max_rows == view->limit_now && !rule->cold_start)
					cold_start = false;
			}
		}
	}

	/* a limit from history; else for want of a rule, or of history */
	if (view->limit_now >= 0 && !cold_start)
		return;
	if (!covered)
	{
		view->no_limit_reason = pstrdup("no baseline rule");
		return;
	}
	progress.windows = hist->windows;
	progress.days = hist->days;
	progress.ngroups = ngroups;
	progress.peers = usable_peers(groups, ngroups, series->key.relid,
								  series->key.kind);
	progress.young = young_groups(groups, ngroups);
	reason = ig_baseline_no_limit_reason(&progress, own_side);
	/* a block rule's cold-start limit applies: say so, and why */
	if (cold_start)
		view->no_limit_reason = reason[0] != '\0' ?
			psprintf("cold start: %s", reason) : pstrdup("cold start");
	else
		view->no_limit_reason = reason;
}
