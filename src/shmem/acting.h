/*-------------------------------------------------------------------------
 *
 * acting.h
 *		The role each backend's running statement acts as, published for
 *		other processes (see acting.c).
 *
 * src/shmem/acting.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_ACTING_H
#define IG_ACTING_H

#include "storage/proc.h"

extern Size ig_acting_shmem_size(void);
extern void ig_acting_shmem_init(void);
extern Oid	ig_acting_publish(Oid roleid);
extern void ig_acting_restore(Oid before);
extern Oid	ig_acting_of(PGPROC *proc);

#endif							/* IG_ACTING_H */
