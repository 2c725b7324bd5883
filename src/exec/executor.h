/*-------------------------------------------------------------------------
 *
 * executor.h
 *		Executor hooks: find each statement's scans of user tables and put
 *		a counter on each.
 *
 * src/exec/executor.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_EXECUTOR_H
#define IG_EXECUTOR_H

extern void ig_executor_init(void);
extern bool ig_in_foreign_key_query(void);

#endif							/* IG_EXECUTOR_H */
