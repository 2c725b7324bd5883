/*-------------------------------------------------------------------------
 *
 * citus.h
 *		Which Citus table a shard belongs to (see citus.c).
 *
 * src/cache/citus.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_CITUS_H
#define IG_CITUS_H

extern Oid	ig_citus_shard_table(Oid relid, bool *unresolved);

#endif							/* IG_CITUS_H */
