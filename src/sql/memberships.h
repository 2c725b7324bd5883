/*-------------------------------------------------------------------------
 *
 * memberships.h
 *		Role memberships a statement changed: noted and logged.
 *
 * src/sql/memberships.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_MEMBERSHIPS_H
#define IG_MEMBERSHIPS_H

#include "nodes/nodes.h"

typedef struct IgMemberships IgMemberships;

extern bool ig_memberships_may_change(Node *parsetree);
extern IgMemberships *ig_memberships_read(bool own_changes);
extern void ig_memberships_changed(IgMemberships *before);

#endif							/* IG_MEMBERSHIPS_H */
