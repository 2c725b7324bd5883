/*-------------------------------------------------------------------------
 *
 * enforce.h
 *		Thresholds applied to one table (or all tables) of a statement.
 *
 * src/enforce.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_ENFORCE_H
#define IG_ENFORCE_H

#include "counters.h"
#include "rules.h"

/*
 * The rules covering the session user for one key of a statement, with
 * the window counts last read for them.  The rule list belongs to the
 * rules cache, which keeps it while the statement runs.
 */
typedef struct IgKeyRules
{
	IgRuleList *list;
	IgWindowQuery query;		/* window i answers rule i */
	bool		limiting;		/* some rule limits the rows left */
	int64		limit;			/* rows that may still be read before a block
								 * rule is broken or a log rule crossed */
	bool		blocked;		/* a block rule is broken */
} IgKeyRules;

extern void ig_enforce_init(IgKeyRules *kr, IgRuleList *list,
							uint64 *sums);
extern IgKeyRules *ig_enforce_copy(Oid userid, Oid relid, MemoryContext cxt);
extern void ig_enforce_begin(IgKeyRules *kr, IgTally *tally, Oid userid);
extern void ig_enforce_check(IgKeyRules *kr, IgTally *tally, Oid userid,
							 uint64 added, Oid read_relid,
							 uint64 parallel_query, bool catalog_ok,
							 bool may_raise);
extern TimestampTz ig_enforce_pin(IgKeyRules *kr, TimestampTz now);

#endif							/* IG_ENFORCE_H */
