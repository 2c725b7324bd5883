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

extern void ig_citus_rules_changed(void);

#endif							/* IG_CITUS_RULES_H */
