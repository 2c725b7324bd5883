/*-------------------------------------------------------------------------
 *
 * citus_rules.h
 *		Rules on a Citus cluster: pushed from the coordinator, taken by the
 *		workers from the coordinator only.
 *
 * src/sql/citus_rules.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_CITUS_RULES_H
#define IG_CITUS_RULES_H

#include "nodes/pg_list.h"

typedef enum IgCitusNode
{
	IG_CITUS_NONE,				/* no Citus in this database */
	IG_CITUS_COORDINATOR,		/* group 0 */
	IG_CITUS_WORKER				/* any other group */
} IgCitusNode;

/* what one worker answered to a push of the rule set */
typedef struct IgPushResult
{
	char	   *node;			/* its name and port in pg_dist_node */
	int			port;
	bool		ok;				/* it took the set */
	bool		skipped_known;
	int64		skipped;		/* rules it could not resolve */
	char	   *result;			/* its answer, or the error */
} IgPushResult;

/* the rule set as jsonb text, roles and tables by name (one row) */
extern const char *const ig_citus_rule_set_sql;

extern void ig_citus_rules_changed(void);
extern IgCitusNode ig_citus_node(void);
extern bool ig_citus_rules_installed(void);
extern Oid	ig_citus_extension_owner(void);
extern List *ig_citus_push_rules(void);
extern void ig_citus_warn_push(List *results);

#endif							/* IG_CITUS_RULES_H */
