/*-------------------------------------------------------------------------
 *
 * copy.h
 *		Counting COPY table TO, which bypasses the executor.
 *
 * src/copy.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_COPY_H
#define IG_COPY_H

extern void ig_copy_init(void);

#endif							/* IG_COPY_H */
