/*-------------------------------------------------------------------------
 *
 * executor.h
 *		Executor hooks: find each statement's scans of user tables and put
 *		a counter on each.
 *
 * src/executor.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_EXECUTOR_H
#define IG_EXECUTOR_H

extern void ig_executor_init(void);
extern bool ig_counting_active(void);
extern Oid	ig_reader_id(void);
extern bool ig_in_foreign_key_query(void);
extern int	ig_foreign_key_filter(Oid *relids, int nrelids);

#endif							/* IG_EXECUTOR_H */
