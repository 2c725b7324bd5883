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
 * the window counts last read for them.
 */
typedef struct IgKeyRules
{
	int			nrules;
	IgRule	   *rules;			/* copies: the cache may be rebuilt meanwhile */
	IgWindowQuery query;		/* window i answers rule i */
	bool		any_block;
	int64		longest;		/* longest window, microseconds */
	bool		limiting;		/* some rule limits the rows left */
	int64		limit;			/* rows that may still be read before a block
								 * rule is broken or a log rule crossed */
	bool		blocked;		/* a block rule is broken */
} IgKeyRules;

extern IgKeyRules *ig_enforce_rules(Oid relid, MemoryContext cxt);
extern void ig_enforce_begin(IgKeyRules *kr, IgTally *tally, Oid userid,
							 TimestampTz now);
extern void ig_enforce_check(IgKeyRules *kr, IgTally *tally, Oid userid,
							 uint64 added, Oid read_relid,
							 uint64 parallel_query, bool may_record,
							 bool may_raise);
extern TimestampTz ig_enforce_pin(IgKeyRules *kr, TimestampTz now);

#endif							/* IG_ENFORCE_H */
