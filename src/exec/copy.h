/*-------------------------------------------------------------------------
 *
 * copy.h
 *		Counting COPY table TO, which bypasses the executor.
 *
 * src/exec/copy.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_COPY_H
#define IG_COPY_H

#include "tcop/utility.h"

#include "base/compat.h"

/* runs a utility statement: the next ProcessUtility hook, or core's */
typedef void (*IgRunUtility) (IG_PROCESS_UTILITY_ARGS);

extern bool ig_copy_counts(Node *parsetree);
extern void ig_copy_to_table(IgRunUtility run, IG_PROCESS_UTILITY_ARGS);

#endif							/* IG_COPY_H */
