/*-------------------------------------------------------------------------
 *
 * executor.h
 *		Executor hooks: find the scans of each statement, count the rows
 *		they hand out, settle the counts with shared memory.
 *
 * src/executor.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_EXECUTOR_H
#define IG_EXECUTOR_H

#include "relinfo.h"

/* The counters that rows read outside the executor count towards. */
typedef struct IgDirectCount
{
	Oid			userid;
	int			ntallies;
	IgTally		tallies[IG_MAX_ANCESTORS + 2];
} IgDirectCount;

extern void ig_executor_init(void);
extern bool ig_counting_active(void);
extern bool ig_direct_prepare(Oid relid, IgDirectCount *direct);
extern void ig_direct_commit(IgDirectCount *direct, uint64 rows);

#endif							/* IG_EXECUTOR_H */
