/*-------------------------------------------------------------------------
 *
 * worker.h
 *		The background worker that saves the counters and the history to
 *		disk, and closes the history windows of idle counters.
 *
 * src/worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_WORKER_H
#define IG_WORKER_H

extern void ig_worker_register(void);
extern bool ig_save_counts(void);
extern void ig_load_counts(void);
extern bool ig_save_history(void);
extern void ig_load_history(void);

#endif							/* IG_WORKER_H */
