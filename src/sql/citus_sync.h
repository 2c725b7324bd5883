/*-------------------------------------------------------------------------
 *
 * citus_sync.h
 *		Keeping the Citus workers' rules current in the background (see
 *		citus_sync.c).
 *
 * src/sql/citus_sync.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_CITUS_SYNC_H
#define IG_CITUS_SYNC_H

extern void ig_citus_sync_register_launcher(void);

#endif							/* IG_CITUS_SYNC_H */
