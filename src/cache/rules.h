/*-------------------------------------------------------------------------
 *
 * rules.h
 *		Backend-local cache of this database's thresholds, baseline rules,
 *		exemptions and peer groups, and of which rules cover the session
 *		user.
 *
 * The interface the rest of insider_guard uses.  It is implemented by
 * rules_match.c (matching users to rules: ig_rules_cover,
 * ig_rules_for_relation, the peer groups) and rules_load.c (finding the
 * rule tables, the invalidations: ig_rules_init, ig_rules_current), with
 * rules_all.c and rules_roles.c below them (rules_internal.h).
 *
 * src/cache/rules.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_RULES_H
#define IG_RULES_H

#include "datatype/timestamp.h"

#include "shmem/counters.h"
#include "base/stats.h"

/*
 * the max_rows of a baseline rule with no usable limit: never reached (a
 * log rule's; a block rule has its cold-start limit, min_rows, instead)
 */
#define IG_RULE_INERT	(PG_INT64_MAX / 4)

/*
 * One threshold or baseline rule.  A baseline rule's max_rows is the
 * limit it applies now, computed for the user it was matched to.
 */
typedef struct IgRule
{
	int64		id;
	Oid			roleid;			/* InvalidOid: every role but superusers */
	Oid			relid;			/* InvalidOid: all tables */
	int64		max_rows;		/* the limit this node applies: a threshold's
								 * set_rows, or its share of them
								 * (budget.c); a baseline rule's moves */
	int64		set_rows;		/* a threshold's max_rows as set */
	int64		per;			/* window length, microseconds */
	bool		block;			/* else log */
	int			window;			/* the counter ring that answers per */
	bool		baseline;		/* a baseline rule, with: */
	int			hist_kind;		/* IG_HIST_HOUR, _DAY or _WEEK */
	IgCompareTo compare_to;
	double		factor;
	int64		min_rows;
	bool		cold_start;		/* max_rows is the cold-start limit: a block
								 * rule with no usable limit from history */
	bool		novelty;		/* a novelty rule (a baseline rule of
								 * compare_to 'novelty'): one a day on each
								 * table new to the user and its peers */
	TimestampTz since;			/* a novelty rule's created_at: it learns
								 * for IG_NOVELTY_LEARNING_US first */
	uint32		stamp;			/* this version of the rule: a hash of its
								 * id and settings, never 0 -- its
								 * incidents are its own (an id comes back
								 * when the extension is made again) */
} IgRule;

/*
 * A novelty rule learns which tables its roles and their peers read for a
 * week (the per-table history it needs is kept from when it exists)
 * before a table can be new.
 */
#define IG_NOVELTY_LEARNING_US	(7 * USECS_PER_DAY)
/* a table is the user's own once read on this many distinct days */
#define IG_NOVELTY_KNOWN_DAYS	3

/* A peer group a user belongs to directly, and its other members. */
typedef struct IgPeerGroup
{
	Oid			groupid;
	int			nmembers;
	Oid		   *members;
	TimestampTz counts_from;	/* 0, or when the user's membership is 14
								 * days old: until then the group raises
								 * none of its limits */
	TimestampTz members_from;	/* 0, or when the first member left out of
								 * members (its membership younger than 14
								 * days) counts */
} IgPeerGroup;

/* The rules covering the session user for one relation (or all tables). */
typedef struct IgRuleList
{
	Oid			relid;			/* hash key; InvalidOid: all tables */
	int			nrules;
	IgRule	   *rules;
	bool		any_block;
	int64		longest;		/* longest window among them */
	int64		pin_span;		/* how long a counter must outlive its last
								 * read: the longest window and its
								 * precision, and a second */
	int		   *rings;			/* rules[i].window, for counter queries */
	int64	   *lengths;		/* rules[i].per, likewise */
	int64	   *maxes;			/* rules[i].max_rows, likewise */
	bool	   *blocks;			/* rules[i].block, likewise */
	IgLiveRule *live;			/* the block rules' ids and stamps, ordered
								 * (ig_live_rule_cmp): whose incidents its
								 * statements may close */
	int			nlive;
	IgQueryMemo memo;			/* the sums last read for them */
	/* behavioural baselines */
	int			nbaseline;		/* baseline rules among the rules */
	uint32		hist_gen;		/* history generation of their limits */
	uint8		hist_wanted;	/* bit k: keep the user's history kind k */
	bool		history_known;	/* hist_wanted has the kinds its peers'
								 * rules want (see ig_rules_for_relation) */
	int64		hist_cap[IG_HIST_KINDS];	/* the most a window may feed */
	int			npeer_groups;	/* the user's peer groups */
	IgPeerGroup *peer_groups;
	TimestampTz recompute_at;	/* 0, or when a peer group left out of the
								 * limits for a young membership counts, or
								 * a novelty rule ends its learning week:
								 * they are computed again then */
	uint32		names_gen;		/* ig_names_gen when its names were looked
								 * up (0: never) */
	uint32		budget_gen;		/* ig_citus_budget_gen when its thresholds'
								 * limits were scaled (0: never; budget.c) */
} IgRuleList;

/* What ig_rules_cover answered last, valid while no rule or role changes */
typedef struct IgRulesAnswer
{
	bool		valid;
	bool		covered;
	Oid			userid;
} IgRulesAnswer;

extern IgRulesAnswer ig_rules_answer;
extern bool ig_rules_have_retired;
extern bool ig_rules_retired_unswept;
extern uint32 ig_rules_gen;

extern void ig_rules_init(void);
extern bool ig_rules_cover_slow(Oid userid);
extern IgRuleList *ig_rules_for_relation(Oid userid, Oid relid);
extern bool ig_rules_current(uint64 gen);

/*
 * Whether a running statement may point into rules matched while
 * ig_rules_gen was between first_gen and last_gen.
 */
typedef bool (*IgRulesGensInUse) (uint32 first_gen, uint32 last_gen);

extern void ig_rules_free_retired_slow(IgRulesGensInUse in_use);
extern IgPeerGroup *ig_rules_peer_groups(Oid userid, int *count);
extern bool ig_rules_is_peer_group(Oid roleid);

/*
 * Brings the cache up to date and says whether any rule covers the user.
 * Needs catalog access (a transaction) unless nothing changed since the
 * last call for the same user.
 */
static inline bool
ig_rules_cover(Oid userid)
{
	if (likely(ig_rules_answer.valid && ig_rules_answer.userid == userid))
		return ig_rules_answer.covered;
	return ig_rules_cover_slow(userid);
}

#endif							/* IG_RULES_H */
