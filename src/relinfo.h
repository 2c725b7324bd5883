/*-------------------------------------------------------------------------
 *
 * relinfo.h
 *		Backend-local cache of what reading a relation counts towards.
 *
 * src/relinfo.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_RELINFO_H
#define IG_RELINFO_H

#include "counters.h"

/* The most ancestors (partition and inheritance parents) a table counts for */
#define IG_MAX_ANCESTORS 32

typedef struct IgRelInfo
{
	Oid			relid;			/* hash key */
	bool		countable;		/* reads of it are counted */
	int			nancestors;
	Oid			ancestors[IG_MAX_ANCESTORS];	/* parents at every level */
	IgCounterRef ref;			/* memo of its counter for the session user */
} IgRelInfo;

extern void ig_relinfo_init(void);
extern void ig_relinfo_set_user(Oid userid);
extern const IgRelInfo *ig_relinfo_get(Oid relid);
extern void ig_relinfo_remember(Oid relid, const IgCounterRef *ref);
extern IgCounterRef *ig_relinfo_all_tables_ref(void);

#endif							/* IG_RELINFO_H */
