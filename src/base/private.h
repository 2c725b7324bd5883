/*-------------------------------------------------------------------------
 *
 * private.h
 *		IG_PRIVATE: marks a variable or function that the files of one
 *		module share (declared in its *_internal.h) and nothing else may
 *		use.
 *
 * Such symbols are given hidden visibility: they are not exported from
 * insider_guard.so, and code in the library reaches them directly rather
 * than through the global offset table or the PLT -- a load or a jump
 * less on the per-statement path, where the counters' and statements'
 * files call each other.
 *
 * IDENTIFICATION
 *		src/base/private.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_PRIVATE_H
#define IG_PRIVATE_H

#if defined(__GNUC__)
#define IG_PRIVATE __attribute__((visibility("hidden")))
#else
#define IG_PRIVATE
#endif

#endif							/* IG_PRIVATE_H */
