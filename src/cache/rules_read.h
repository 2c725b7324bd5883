/*-------------------------------------------------------------------------
 *
 * rules_read.h
 *		Reading the rows of insider_guard's rule tables into IgRule.
 *
 * src/cache/rules_read.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_RULES_READ_H
#define IG_RULES_READ_H

#include "access/attnum.h"
#include "executor/tuptable.h"
#include "nodes/pg_list.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

#include "cache/rules.h"

/*
 * The tables of the install scripts whose rows insider_guard reads.  Each
 * is used only if it is a member of the extension, a plain table, and its
 * columns that are read have the scripts' types (ig_rules_find_table,
 * ig_rules_table_problem).
 */
typedef enum IgRuleTable
{
	IG_TABLE_THRESHOLDS,
	IG_TABLE_EXEMPTIONS,
	IG_TABLE_BASELINE_RULES,
	IG_TABLE_PEER_GROUP_ROLES
} IgRuleTable;

/* attribute numbers of insider_guard.exemptions and .peer_group_roles */
#define Anum_exemption_role		1
#define Anum_peer_group_role	1

/* attribute numbers of insider_guard.baseline_rules */
#define Anum_baseline_id		1
#define Anum_baseline_role		2
#define Anum_baseline_table		3
#define Anum_baseline_per		4
#define Anum_baseline_factor	5
#define Anum_baseline_min_rows	6
#define Anum_baseline_compare_to 7
#define Anum_baseline_action	8
#define Anum_baseline_created_at 9
#define Natts_baseline_min		9

/* attribute numbers of insider_guard.thresholds */
#define Anum_threshold_id		1
#define Anum_threshold_role		2
#define Anum_threshold_table	3
#define Anum_threshold_max_rows 4
#define Anum_threshold_per		5
#define Anum_threshold_action	6
#define Natts_threshold_min		6

/*
 * The indexes whose first column is COALESCE(role_name::oid, 0): of the
 * thresholds, of the baseline rules.  (The install script's index on the
 * baseline rules' table, baseline_rules_table, is not read: the history
 * kinds of each relation come from one scan of every rule.)
 */
#define IG_ROLE_INDEX_NAME "thresholds_role_table_per"
#define IG_BASELINE_ROLE_INDEX_NAME "baseline_rules_role_table_per_kind"
/* its name before 0.4.0, which told novelty rules apart */
#define IG_BASELINE_ROLE_INDEX_NAME_0_3 "baseline_rules_role_table_per"


/* Rules read for a user, growing as needed. */
typedef struct IgRuleBuf
{
	IgRule	   *rules;
	int			nrules;
	int			allocated;
	TimestampTz now;
} IgRuleBuf;

/* a roleid for ig_rules_read_role: every row, whatever role it names */
#define IG_ANY_ROLE ((Oid) PG_UINT32_MAX)

extern void ig_rules_windows_reset(void);
extern IgRule *ig_rules_baseline_row(TupleTableSlot *slot, Oid roleid,
									 IgRuleBuf *buf);
extern bool ig_rules_baseline_row_kind(TupleTableSlot *slot, Oid *relid,
									   int *kind);
extern void ig_rules_read_role(Relation heap, Relation index,
							   Snapshot snapshot, Oid roleid, bool baseline,
							   IgRuleBuf *buf);
extern void ig_rules_read_roles(Oid heapoid, Oid indexoid, bool baseline,
								Snapshot snapshot, List *roles,
								IgRuleBuf *buf);
extern Oid	ig_rules_find_index(Relation heap, Oid nspid, const char *name,
								AttrNumber column);
extern Oid	ig_rules_find_extension(Oid *nspid);
extern const char *ig_rules_table_name(IgRuleTable which);
extern Oid	ig_rules_find_table(Oid extoid, Oid nspid, IgRuleTable which,
								Oid *named, const char **problem);
extern const char *ig_rules_table_problem(Relation rel, IgRuleTable which);

#endif							/* IG_RULES_READ_H */
