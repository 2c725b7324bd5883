/*-------------------------------------------------------------------------
 *
 * relinfo.h
 *		Backend-local cache of what reading a relation counts towards.
 *
 * src/cache/relinfo.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_RELINFO_H
#define IG_RELINFO_H

#include "shmem/counters.h"

/* The most ancestors (partition and inheritance parents) a table counts for */
#define IG_MAX_ANCESTORS 32

typedef struct IgRelInfo
{
	Oid			relid;			/* hash key */
	bool		countable;		/* reads of it are counted */
	bool		citus_table;	/* a Citus table: read only through shards */
	int			nancestors;
	Oid			ancestors[IG_MAX_ANCESTORS];	/* parents at every level */
} IgRelInfo;

extern IgRelInfo *ig_relinfo_last;

extern void ig_relinfo_init(void);
extern const IgRelInfo *ig_relinfo_get_slow(Oid relid);
extern IgCounterRef ig_ref_lookup(Oid userid, Oid relid);
extern void ig_ref_remember(Oid userid, Oid relid, const IgCounterRef *ref);
extern bool ig_relinfo_extension_table(Oid relid, Oid nspid);

/*
 * The entry for a relation, built on first use.  The pointer is valid
 * until the next catalog access.
 */
static inline const IgRelInfo *
ig_relinfo_get(Oid relid)
{
	if (likely(ig_relinfo_last != NULL && ig_relinfo_last->relid == relid))
		return ig_relinfo_last;
	return ig_relinfo_get_slow(relid);
}

#endif							/* IG_RELINFO_H */
