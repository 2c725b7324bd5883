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
	int8		share_state;	/* IG_SHARE_*: this node's share of its
								 * shard placements, once asked */
	int32		share_local;	/* with IG_SHARE_KNOWN: placements here ... */
	int32		share_total;	/* ... of all of the table's */
	int			nancestors;
	Oid			ancestors[IG_MAX_ANCESTORS];	/* parents at every level */
} IgRelInfo;

/* IgRelInfo.share_state */
#define IG_SHARE_UNKNOWN	0	/* not asked yet */
#define IG_SHARE_NONE		1	/* not a Citus table whose rows are split */
#define IG_SHARE_KNOWN		2

extern IgRelInfo *ig_relinfo_last;

extern void ig_relinfo_init(void);
extern const IgRelInfo *ig_relinfo_get_slow(Oid relid);
extern IgCounterRef ig_ref_lookup(Oid userid, Oid relid);
extern void ig_ref_remember(Oid userid, Oid relid, const IgCounterRef *ref);
extern bool ig_relinfo_extension_table(Oid relid, Oid nspid);
extern bool ig_relinfo_share(Oid relid, int32 *local, int32 *total);

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
