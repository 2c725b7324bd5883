/*-------------------------------------------------------------------------
 *
 * locks.h
 *		insider_guard's shared-memory locking protocol, in one place: the
 *		LWLocks, what each protects, the order they may be taken in, and
 *		the reads that take no lock.
 *
 * LWLocks: one named tranche, "insider_guard", of IG_LWLOCKS locks,
 * requested in _PG_init's shmem_request_hook and attached by each
 * structure's shmem_init:
 *
 *	IG_LWLOCK_COUNTERS (shmem/counters*.c)
 *		SHARED: look a key up in the counters' index; copy the window
 *		definitions (refresh_windows_slow, ig_counters_save).
 *		EXCLUSIVE: add or remove keys (make a counter, evict, reset),
 *		(re)define a custom window and bump windows_gen.
 *	IG_LWLOCK_VIOLATIONS (shmem/violations*.c)
 *		SHARED: read the store's bounds to list records.
 *		EXCLUSIVE: take a violation id and append a record, prune or shed
 *		records, rewrite a segment, note a recent block.  The file I/O of
 *		an append happens under it, so records are written in id order.
 *	IG_LWLOCK_HISTORY (shmem/history*.c)
 *		SHARED: look a series up and copy it; the saver flushes the
 *		seeded-window file under it before copying the series it saves.
 *		EXCLUSIVE: add a window to a series, make, evict or reset series,
 *		seed a window.  record_history reads and writes the seeded-window
 *		file under it (a record, no fsync), so that the file and the
 *		series change together.
 *
 * Spinlocks: each counter has its own, counter->mutex, over every field
 * of that counter.  A counter's key and in_use change only together with
 * its incarnation, under both the counters' exclusive LWLock and the
 * mutex.  No spinlock is held across a call that may allocate, raise an
 * error, or take any other lock.
 *
 * Order: no two LWLocks are ever held at once.  A counter's mutex may be
 * taken while holding the counters' LWLock (making, evicting, resetting)
 * or the violations' LWLock (pruned records forget their incidents:
 * ig_counters_forget_incidents), never the other way round.  A backend
 * that closed a history window under a counter's mutex feeds it to its
 * series only after releasing the mutex (release_counter).
 *
 * Reads with no lock:
 *
 *	- The per-statement path: a backend remembers (position, incarnation)
 *	  of each key's counter (IgCounterRef) and updates the counter under
 *	  its mutex alone, after checking the incarnation.  Only a miss takes
 *	  the counters' LWLock.
 *	- The memo read at statement start (ig_counters_query_memo) takes no
 *	  lock at all: it reads the counter's rows_gen, then (after a read
 *	  barrier) its incarnation.  Whoever gives a counter to another key
 *	  writes the new incarnation before rows_gen (with a write barrier
 *	  between), and incarnations never repeat, so a matching incarnation
 *	  read after rows_gen proves rows_gen is this counter's; an
 *	  unchanged rows_gen proves the memoized sums are still upper bounds.
 *	  Only where 8-byte reads are atomic (PG_HAVE_8BYTE_SINGLE_COPY_ATOMICITY).
 *	- Change counters that backends poll to refresh a local copy are
 *	  atomics: windows_gen (window definitions, then copied under the
 *	  SHARED lock), the history's generation, the dirty flags the saver
 *	  exchanges, the log rate limiter's last second and suppressed count.
 *	- A history series' last_used is atomic, so readers under the SHARED
 *	  lock can mark it used.
 *
 * Nothing here is taken per row: trampolines count in backend-local
 * memory, and rows reach shared memory when a statement settles.
 *
 * IDENTIFICATION
 *		src/shmem/locks.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_LOCKS_H
#define IG_LOCKS_H

#include "storage/lwlock.h"

/* the tranche of insider_guard's LWLocks */
#define IG_LWLOCK_TRANCHE "insider_guard"

/* its locks, by index */
typedef enum IgLWLock
{
	IG_LWLOCK_COUNTERS = 0,
	IG_LWLOCK_VIOLATIONS,
	IG_LWLOCK_HISTORY,
	IG_LWLOCKS					/* how many */
} IgLWLock;

/* One of insider_guard's LWLocks; in shmem_startup_hook only. */
static inline LWLock *
ig_lwlock(IgLWLock which)
{
	return &(GetNamedLWLockTranche(IG_LWLOCK_TRANCHE))[which].lock;
}

#endif							/* IG_LOCKS_H */
