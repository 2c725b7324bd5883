/*-------------------------------------------------------------------------
 *
 * rules_sync.h
 *		Which databases are Citus coordinators whose workers' rules are
 *		checked in the background, and what each worker was last sent
 *		(see rules_sync.c).
 *
 * src/shmem/rules_sync.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_RULES_SYNC_H
#define IG_RULES_SYNC_H

/* the most coordinator databases checked at once */
#define IG_SYNC_MAX_DATABASES 16

extern Size ig_rules_sync_shmem_size(void);
extern void ig_rules_sync_shmem_init(void);
extern void ig_rules_sync_register(Oid dbid);
extern void ig_rules_sync_forget(Oid dbid);
extern int	ig_rules_sync_databases(Oid *dbids, int max);
extern bool ig_rules_sync_current(Oid dbid, uint64 node, uint64 sent,
								  uint64 seen);
extern void ig_rules_sync_record(Oid dbid, uint64 node, uint64 sent,
								 uint64 seen);

#endif							/* IG_RULES_SYNC_H */
