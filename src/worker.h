/*-------------------------------------------------------------------------
 *
 * worker.h
 *		The background worker that saves the counters to disk.
 *
 * src/worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_WORKER_H
#define IG_WORKER_H

extern void ig_worker_register(void);
extern void ig_save_counts(void);
extern void ig_load_counts(void);

#endif							/* IG_WORKER_H */
