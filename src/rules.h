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
} IgRuleList;

extern void ig_rules_init(void);
extern bool ig_rules_cover(Oid userid);
extern const IgRuleList *ig_rules_for_relation(Oid relid);
extern Oid	ig_rules_table_oid(void);

#endif							/* IG_RULES_H */
