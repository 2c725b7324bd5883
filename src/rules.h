/*-------------------------------------------------------------------------
 *
 * rules.h
 *		Backend-local cache of this database's thresholds and exemptions,
 *		and of which of them cover the session user.
 *
 * src/rules.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_RULES_H
#define IG_RULES_H

#include "datatype/timestamp.h"

#include "counters.h"

/* One threshold. */
typedef struct IgRule
{
	int64		id;
	Oid			roleid;			/* InvalidOid: every role but superusers */
	Oid			relid;			/* InvalidOid: all tables */
	int64		max_rows;
	int64		per;			/* window length, microseconds */
	bool		block;			/* else log */
	int			window;			/* the counter ring that answers per */
} IgRule;

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
	int		   *slots;			/* rules[i].window, for counter queries */
	int64	   *lengths;		/* rules[i].per, likewise */
	int64	   *maxes;			/* rules[i].max_rows, likewise */
	IgQueryMemo memo;			/* the sums last read for them */
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
extern uint32 ig_rules_gen;

extern void ig_rules_init(void);
extern bool ig_rules_cover_slow(Oid userid);
extern IgRuleList *ig_rules_for_relation(Oid userid, Oid relid);
extern Oid	ig_rules_table_oid(void);
extern void ig_rules_free_retired_slow(void);

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

/* Frees the rules of statements that have ended; called when none runs. */
static inline void
ig_rules_free_retired(void)
{
	if (unlikely(ig_rules_have_retired))
		ig_rules_free_retired_slow();
}

#endif							/* IG_RULES_H */
