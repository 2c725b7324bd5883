/*-------------------------------------------------------------------------
 *
 * citus.h
 *		Which Citus table a shard belongs to, and whether a relation is a
 *		Citus table (see citus.c).
 *
 * src/cache/citus.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_CITUS_H
#define IG_CITUS_H

#include "access/tupdesc.h"

extern AttrNumber ig_citus_column(TupleDesc desc, const char *name, Oid type1,
								  Oid type2);
extern Oid	ig_citus_shard_table(Oid relid, bool *unresolved);
extern bool ig_citus_is_table(Oid relid);
extern Oid	ig_citus_table_of_shard(int64 shardid);
extern int64 ig_citus_table_shard(Oid relid);

/*
 * The schema a lease names a Citus table by, with its least shard id as
 * the table's name: no schema may be called pg_* but the system's.
 */
#define IG_CITUS_SHARD_SCHEMA "pg_dist_shard"
extern int32 ig_citus_local_group(void);
extern bool ig_citus_rename_keeps_shard(Oid relid, const char *newname);

#endif							/* IG_CITUS_H */
