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

#include <math.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

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
	int			nmembers;		/* the group's members then, but the user
								 * (one left out while young may count) */
	TimestampTz at;				/* the weights are brought to then */
	IgHistPool	pool;
} IgGroupPool;

#define IG_GROUP_POOLS 16

static IgGroupPool group_pools[IG_GROUP_POOLS];
static int	next_group_pool = 0;

static IgGroupPool *
find_group_pool(Oid groupid, int nmembers, Oid relid, int kind,
				uint32 history_gen)
{
	for (int i = 0; i < IG_GROUP_POOLS; i++)
	{
		IgGroupPool *gp = &group_pools[i];

		if (gp->valid && gp->groupid == groupid && gp->nmembers == nmembers &&
			gp->relid == relid &&
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
		(gp = find_group_pool(group->groupid, group->nmembers, relid, kind,
							  own_gen)) != NULL)
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
	gp->nmembers = group->nmembers;
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
 * Whether a role has read a relation, as a novelty rule sees it: its own
 * series of it (of any kind) holds windows on IG_NOVELTY_KNOWN_DAYS
 * distinct days -- one small read does not make a table the user's -- or,
 * for a peer ("peer"), is usable history (20 windows on 7 days).
 */
static bool
has_read(Oid roleid, Oid relid, bool peer)
{
	IgSeriesKey key;
	IgHistogram hist;

	key.dbid = MyDatabaseId;
	key.roleid = roleid;
	key.relid = relid;
	for (int k = 0; k < IG_HIST_KINDS; k++)
	{
		key.kind = k;
		/* the user's daily one made if missing: novelty rules feed it */
		if (!ig_history_get(&key, &hist, !peer && k == IG_HIST_DAY))
			continue;
		if (peer ? ig_hist_usable(&hist) : hist.days >= IG_NOVELTY_KNOWN_DAYS)
			return true;
	}
	return false;
}

/*
 * The limit of a list's novelty rules but min_rows, or IG_NO_LIMIT: the
 * user's own hourly p50 of all tables (0 until that history is usable) if
 * the relation is new to it and to its peers (has_read), else none.  Peers of a group joined less than 14 days ago do not count.
 */
static int64
novelty_limit(const IgRuleList *list, Oid userid, TimestampTz now)
{
	IgSeriesKey key;
	IgHistogram all_hours;

	if (has_read(userid, list->relid, false))
		return IG_NO_LIMIT;
	for (int g = 0; g < list->npeer_groups; g++)
	{
		const IgPeerGroup *group = &list->peer_groups[g];

		if (group->counts_from > now)
			continue;			/* a membership younger than 14 days */
		for (int m = 0; m < group->nmembers; m++)
			if (has_read(group->members[m], list->relid, true))
				return IG_NO_LIMIT;
	}
	key.dbid = MyDatabaseId;
	key.roleid = userid;
	key.relid = InvalidOid;
	key.kind = IG_HIST_HOUR;
	/* a p50 from usable history only: a short one is trained in an hour */
	if (!ig_history_get(&key, &all_hours, false) || !ig_hist_usable(&all_hours))
		return 0;
	return (int64) ig_hist_quantile(&all_hours, IG_TYPICAL_QUANTILE);
}

/*
 * What the limits of one kind come from for the user: the p99s in force,
 * noted in its series (ig_rise_take) as they are taken.
 */
typedef struct IgKindState
{
	bool		have_own;
	IgHistogram own;			/* the user's series (a copy) */
	uint64		own_raw;		/* own p99, if usable; else 0 */
	bool		own_used;		/* a rule's limit came from it */
	bool		have_peers;
	int64		peer_raw;		/* the peers' p99, or -1 */
	bool		peers_used;		/* a rule's limit came from it */
	bool		peers_fallback; /* from a "both" rule, whose limit was its
								 * own before the peers' was usable */
	int64		peer_high;		/* the peers' p99 in force, or -1 */
	uint64		floor;			/* p99 a cold-start limit stands for, or 0 */
	int64		cap;			/* the lowest limit in force */
} IgKindState;

/* The user's own side of a kind: its series, and its p99 if usable. */
static void
read_own(IgKindState *ks, const IgRuleList *list, Oid userid, int kind)
{
	IgSeriesKey key;

	key.dbid = MyDatabaseId;
	key.roleid = userid;
	key.relid = list->relid;
	key.kind = kind;
	/* made if missing, so that the baselines view shows it */
	ig_history_get(&key, &ks->own, true);
	ks->own_raw = ig_hist_usable(&ks->own) ?
		ig_hist_quantile(&ks->own, IG_HIGH_QUANTILE) : 0;
	ks->have_own = true;
}

/*
 * Notes in force what the limits of a kind came from -- the own p99, the
 * peers', a cold start's -- in the user's series, and writes the notes
 * to shared memory if that changed anything (about once in 7 days, or
 * when a limit goes down): the same notes, made on the series as it is
 * there, so that every backend caps the limits alike.
 */
static void
note_rise(IgKindState *ks, const IgRuleList *list, Oid userid, int kind,
		  TimestampTz now)
{
	IgRise		before = ks->own.rise;
	uint64		own_high = ks->own_used ? ks->own_raw : 0;
	int64		peer_high = ks->peers_used ? ks->peer_raw : -1;
	IgSeriesKey key;

	/* as the rise stood when the limits were computed: what they used */
	ig_rise_take_as_of(&ks->own, &before, IG_RISE_OWN, own_high, now, true);
	if (peer_high >= 0)
		ig_rise_take_as_of(&ks->own, &before, IG_RISE_PEERS, (uint64) peer_high,
						   now, ks->peers_fallback);
	ig_rise_floor(&ks->own, ks->floor, now);
	if (memcmp(&before, &ks->own.rise, sizeof(IgRise)) == 0)
		return;
	key.dbid = MyDatabaseId;
	key.roleid = userid;
	key.relid = list->relid;
	key.kind = kind;
	ig_history_note_rise(&key, own_high, peer_high, ks->peers_fallback,
						 ks->floor, now);
}

/*
 * Computes the limit of every baseline rule of a list for the user, and
 * the lowest limit per kind (which caps the windows the user's history is
 * fed).  Reads the history: takes its lock (shared), a few times; and
 * exclusive when a limit's rise is to be noted.
 */
void
ig_baseline_compute(IgRuleList *list, Oid userid)
{
	uint32		generation = ig_history_gen();
	TimestampTz now = ig_now();
	IgKindState kinds[IG_HIST_KINDS];
	int64		novel = IG_NO_LIMIT;
	bool		have_novel = false;

	for (int k = 0; k < IG_HIST_KINDS; k++)
	{
		kinds[k].have_own = false;
		kinds[k].own_used = false;
		kinds[k].have_peers = false;
		kinds[k].peers_used = false;
		kinds[k].peers_fallback = false;
		kinds[k].peer_raw = -1;
		kinds[k].peer_high = -1;
		kinds[k].floor = 0;
		kinds[k].cap = IG_NO_LIMIT;
	}
	/* computed again when the first group or peer left out for now counts */
	list->recompute_at = 0;
	for (int g = 0; g < list->npeer_groups; g++)
	{
		TimestampTz when[2] = {list->peer_groups[g].counts_from,
		list->peer_groups[g].members_from};

		for (int w = 0; w < 2; w++)
			if (when[w] > now &&
				(list->recompute_at == 0 || when[w] < list->recompute_at))
				list->recompute_at = when[w];
	}

	for (int i = 0; i < list->nrules; i++)
	{
		IgRule	   *rule = &list->rules[i];
		int			k = rule->hist_kind;
		IgKindState *ks = &kinds[k];
		int64		own_limit = IG_NO_LIMIT;
		int64		peers = IG_NO_LIMIT;
		int64		limit;

		if (!rule->baseline)
			continue;
		if (rule->novelty)
		{
			/* decided once a list: a relation new to the user and peers */
			if (!have_novel)
			{
				novel = novelty_limit(list, userid, now);
				have_novel = true;
			}
			limit = novel >= 0 ? Max(novel, rule->min_rows) : IG_NO_LIMIT;
			/* none while it learns; computed again when it has learnt */
			if (now < rule->since + IG_NOVELTY_LEARNING_US)
			{
				limit = IG_NO_LIMIT;
				if (list->recompute_at == 0 ||
					rule->since + IG_NOVELTY_LEARNING_US < list->recompute_at)
					list->recompute_at = rule->since + IG_NOVELTY_LEARNING_US;
			}
			rule->cold_start = false;
			rule->max_rows = limit >= 0 ? Min(limit, IG_RULE_INERT) : IG_RULE_INERT;
			list->maxes[i] = rule->max_rows;
			if (limit >= 0 && (ks->cap < 0 || limit < ks->cap))
				ks->cap = limit;
			continue;
		}
		if (!ks->have_own)
			read_own(ks, list, userid, k);
		/* each side as far as it may have risen (ig_rise_high) */
		if (rule->compare_to != IG_COMPARE_PEERS && ks->own_raw > 0)
		{
			own_limit = ig_limit_of(ig_rise_high(&ks->own, IG_RISE_OWN,
												 ks->own_raw, now, true),
									rule->factor, rule->min_rows);
			ks->own_used = true;
		}
		if ((rule->compare_to != IG_COMPARE_SELF || own_limit < 0) &&
			list->npeer_groups > 0)
		{
			bool		fallback = rule->compare_to == IG_COMPARE_BOTH;

			if (!ks->have_peers)
			{
				ks->peer_raw = peer_high(list, k, &ks->own, generation, now);
				ks->have_peers = true;
			}
			if (ks->peer_raw >= 0)
			{
				uint64		high = ig_rise_high(&ks->own, IG_RISE_PEERS,
												(uint64) ks->peer_raw, now,
												fallback);

				peers = ig_limit_of(high, rule->factor, rule->min_rows);
				ks->peers_used = true;
				ks->peers_fallback |= fallback;
				ks->peer_high = Max(ks->peer_high, (int64) high);
			}
		}
		limit = ig_limit_combine(rule->compare_to, own_limit, peers);
		/* the cold-start limit, which caps the history's windows as any */
		rule->cold_start = limit < 0 && rule->block;
		if (rule->cold_start)
		{
			uint64		stands_for = (uint64) Max(floor(rule->min_rows / rule->factor), 1);

			limit = rule->min_rows;
			/* and holds the first limit from history: the lowest */
			if (ks->floor == 0 || stands_for < ks->floor)
				ks->floor = stands_for;
		}
		rule->max_rows = limit >= 0 ? Min(limit, IG_RULE_INERT) : IG_RULE_INERT;
		list->maxes[i] = rule->max_rows;
		if (limit >= 0 && (ks->cap < 0 || limit < ks->cap))
			ks->cap = limit;
	}
	/* the memo's room before the nearest limit was of the old limits */
	list->memo.valid = false;
	for (int k = 0; k < IG_HIST_KINDS; k++)
	{
		IgKindState *ks = &kinds[k];

		if (!ks->have_own)
		{
			list->hist_cap[k] = ks->cap;
			continue;
		}
		note_rise(ks, list, userid, k, now);

		/*
		 * and no more than a bin above the p99 the limits come from (the
		 * own, or before it is usable the peers'): no fast training
		 */
		list->hist_cap[k] = ig_hist_cap(&ks->own, ks->cap, ks->peer_high, now);
	}
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
	bool		read_before = false;
	TimestampTz learning_until = 0;
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
				if (rule->novelty && rule->max_rows >= IG_RULE_INERT)
				{
					/* no limit: learning, or not new */
					if (now < rule->since + IG_NOVELTY_LEARNING_US)
						learning_until = rule->since + IG_NOVELTY_LEARNING_US;
					else
						read_before = true;
					continue;
				}
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
		view->no_limit_reason =
			learning_until != 0 ?
			psprintf("novelty rule learning until %s",
					 timestamptz_to_str(learning_until)) :
			pstrdup(read_before ?
					"read before by the role or a peer (novelty rule)" :
					"no baseline rule");
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
