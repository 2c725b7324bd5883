/*-------------------------------------------------------------------------
 *
 * reader.h
 *		Who reads: whether this process counts, and the role its reads
 *		count for.
 *
 * src/exec/reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_READER_H
#define IG_READER_H

#include "miscadmin.h"

#include "base/guc.h"

extern int	ig_process_counts;

extern void ig_reader_init(void);
extern bool ig_counting_active_slow(void);

/*
 * True if this process counts reads right now.  Called for every
 * statement: what does not change in a process is looked at once.
 */
static inline bool
ig_counting_active(void)
{
	if (unlikely(ig_process_counts < 0))
		return ig_counting_active_slow();
	return ig_enabled && ig_process_counts;
}

extern Oid	ig_reader_id(void);
extern void ig_reader_note(void);
extern int	ig_foreign_key_filter(Oid *relids, int nrelids);

#endif							/* IG_READER_H */
