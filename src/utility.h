/*-------------------------------------------------------------------------
 *
 * utility.h
 *		The ProcessUtility hook.
 *
 * src/utility.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_UTILITY_H
#define IG_UTILITY_H

extern void ig_utility_init(void);

#endif							/* IG_UTILITY_H */
