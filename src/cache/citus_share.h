/*-------------------------------------------------------------------------
 *
 * citus_share.h
 *		Which share of a distributed table's shard placements this Citus
 *		node holds (see citus_share.c).
 *
 * src/cache/citus_share.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_CITUS_SHARE_H
#define IG_CITUS_SHARE_H

extern bool ig_citus_placement_share(Oid relid, int32 *local, int32 *total);

#endif							/* IG_CITUS_SHARE_H */
