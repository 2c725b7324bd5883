/*-------------------------------------------------------------------------
 *
 * counters_internal.h
 *		What the files of the counters share: the layout of the counters in
 *		shared memory, this backend's view of them, and the small functions
 *		every path takes a counter through.  Nothing outside src/shmem/
 *		includes it; the interface is counters.h.
 *
 * The counters are split by job, each file calling only those before it:
 *
 *	counters_shmem.c	the shared memory, the window definitions and this
 *						backend's copy of them, log rate limits
 *	counter_rings.c		one locked counter's time: its buffer, its rings,
 *						its hourly and daily history windows
 *	counters_lookup.c	a key's counter: found, made, evicted, reset
 *	counters.c			the per-statement path: settle, query, reserve
 *	counters_incidents.c	block incidents and their records
 *	counters_read.c		reads outside statements: views, one key's rows,
 *						the worker's sweep, the restore floor
 *	counters_file.c		the counts file: save and load
 *
 * Locking: shmem/locks.h.
 *
 * IDENTIFICATION
 *		src/shmem/counters_internal.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef IG_COUNTERS_INTERNAL_H
#define IG_COUNTERS_INTERNAL_H

#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"

#include "base/private.h"
#include "base/window.h"
#include "shmem/counters.h"

/* A window every counter keeps a ring for. */
typedef struct IgWindowDef
{
	int64		length;			/* microseconds; 0 = ring unused */
	int64		width;			/* bucket width, microseconds */
	uint32		gen;			/* generation of this definition */
	TimestampTz last_wanted;	/* a rule last asked for it (custom rings) */
} IgWindowDef;

/*
 * A window of a baseline's history (an hour or a day, aligned; for 7-day
 * totals the day that ends one): the one being counted, or one closed and
 * not yet added to its series.
 */
typedef struct IgHistWindow
{
	int32		number;			/* time / length */
	bool		wanted;			/* a baseline keeps this history */
	bool		broke;			/* it broke a baseline rule */
	bool		closed;			/* closed, waiting to be added */
	uint64		rows;
	int64		cap;			/* lowest limit in force, IG_NO_LIMIT if none */
} IgHistWindow;

/* An incident of a block rule (see counters.h); rule_id 0: unused. */
typedef struct IgIncident
{
	int64		rule_id;
	int64		violation_id;	/* its record; 0 while it is being written */
	int64		repeats;		/* later stops while open */
	int64		written;		/* repeats written to the violations log */
	TimestampTz last_seen;		/* the latest stop */
	bool		open;			/* else closed, kept until written */
	bool		crossings;		/* of a log rule's crossings, never open
								 * (0 in files of earlier builds: padding) */
	uint32		stamp;			/* the rule's version (IgRule.stamp; 0 in
								 * files of earlier builds: none matches) */
} IgIncident;

/* incidents a counter tracks at once; more are recorded each time */
#define IG_COUNTER_INCIDENTS 4

typedef struct IgCounter
{
	slock_t		mutex;
	bool		in_use;
	int32		next_free;		/* free list link, when not in use */
	uint64		incarnation;	/* changes whenever the counter changes key */
	uint64		rows_gen;		/* changes whenever rows are added */
	IgCounterKey key;
	uint32		windows_gen;	/* window definitions the rings follow */
	int64		statements;		/* statements that read through it */
	TimestampTz last_used;		/* last update, for LRU eviction */
	TimestampTz last_read;		/* last time rows were added */
	TimestampTz pinned_until;	/* not evicted before then */
	int64		reserved;		/* rows reserved by running statements */
	bool		has_open_incident;	/* some incident is open */
	IgIncident	incidents[IG_COUNTER_INCIDENTS];
	uint64		pending_rows;	/* rows read before pending_until ... */
	TimestampTz pending_until;	/* ... not yet added to the rings */
	IgHistWindow hist_open[IG_HIST_KINDS];	/* hour, day, 7-day total's day
											 * being counted */
	IgHistWindow hist_closed[IG_HIST_KINDS];	/* closed, to be added */
	TimestampTz over_recorded;	/* the last record of a log rule read over
								 * without a crossing (IG_OF_OVER): at most
								 * one a minute */
	IgRing		rings[FLEXIBLE_ARRAY_MEMBER];	/* one per window */
} IgCounter;

typedef struct IgIndexEntry
{
	IgCounterKey key;
	int32		pos;
} IgIndexEntry;

typedef struct IgCounterShared
{
	LWLock	   *lock;
	int			max_counters;
	int			nwindows;		/* rings per counter */
	Size		counter_size;
	int32		free_head;
	int32		nused;
	uint64		next_incarnation;
	uint32		next_gen;
	pg_atomic_uint32 windows_gen;
	pg_atomic_uint32 dirty;		/* changed since last saved */
	pg_atomic_uint64 evicted;
	/* what the info view shows (see ig_counters_info), since stats_reset */
	pg_atomic_uint64 fail_closed;	/* statements failed: no room (53200) */
	pg_atomic_uint64 checks_skipped;	/* rule checks skipped: no room */
	pg_atomic_uint64 last_save; /* TimestampTz of the saver's last save, 0:
								 * none yet */
	TimestampTz stats_reset;	/* when these (and evicted) were zeroed:
								 * shared memory made */
	/* log lines that a flood repeats: at most one a second of each */
	pg_atomic_uint64 log_last[IG_LOG_KINDS];	/* second of the last */
	pg_atomic_uint64 log_suppressed[IG_LOG_KINDS];	/* since then */
	pg_atomic_uint64 history_lost;	/* closed windows overwritten */
	IgWindowDef windows[IG_MAX_WINDOWS];
} IgCounterShared;

/* counters_shmem.c: the shared state and this backend's copy of it */
extern IG_PRIVATE IgCounterShared *counter_table;
extern IG_PRIVATE char *counter_array;
extern IG_PRIVATE Size counter_stride;
extern IG_PRIVATE HTAB *counter_index;
extern IG_PRIVATE IgWindowDef local_windows[IG_MAX_WINDOWS];
extern IG_PRIVATE uint32 local_windows_gen;

extern IG_PRIVATE pg_noinline void refresh_windows_slow(void);
extern IG_PRIVATE int window_for_length(int64 length);

/* counter_rings.c: the window a counter closed, to feed to its series */
extern IG_PRIVATE IgCounter *closed_counter;
extern IG_PRIVATE uint64 closed_incarnation;

extern IG_PRIVATE pg_noinline void hist_drain(IgCounter *counter,
											  uint64 incarnation);
extern IG_PRIVATE bool flush_pending(IgCounter *counter,
									 TimestampTz now);

/* counters_lookup.c */
extern IG_PRIVATE pg_noinline IgCounter *lock_counter(const IgCounterKey *key,
													  IgCounterRef *ref,
													  bool create,
													  TimestampTz now);
extern IG_PRIVATE pg_noinline IgCounter *lock_tally_slow(Oid dbid, Oid roleid,
														 IgTally *tally,
														 TimestampTz now);
extern IG_PRIVATE pg_noinline void report_lost(uint64 rows);

static inline IgCounter *
counter_at(int32 pos)
{
	return (IgCounter *) (counter_array + (Size) pos * counter_stride);
}

static inline void
refresh_windows(void)
{
	if (unlikely(pg_atomic_read_u32(&counter_table->windows_gen) != local_windows_gen))
		refresh_windows_slow();
}

static inline int32
hist_number(int kind, TimestampTz t)
{
	return (int32) ig_floor_div(t, ig_hist_kind_length(kind));
}

/* Starts an empty history window. */
static inline void
hist_window_reset(IgHistWindow *window, int32 number)
{
	memset(window, 0, sizeof(IgHistWindow));
	window->number = number;
	window->cap = IG_NO_LIMIT;
}

/* Whether a locked counter holds a closed window not yet added. */
static inline bool
hist_any_closed(const IgCounter *counter)
{
	for (int k = 0; k < IG_HIST_KINDS; k++)
		if (counter->hist_closed[k].closed)
			return true;
	return false;
}

/*
 * Releases a counter's mutex, then adds any window closed meanwhile to
 * its series.
 */
static inline void
release_counter(IgCounter *counter)
{
	SpinLockRelease(&counter->mutex);
	if (unlikely(closed_counter != NULL))
	{
		IgCounter  *closed = closed_counter;

		closed_counter = NULL;
		hist_drain(closed, closed_incarnation);
	}
}

/* Notes on a locked counter what a tally says of its history. */
static inline void
hist_note(IgCounter *counter, const IgTally *tally)
{
	for (int k = 0; k < IG_HIST_KINDS; k++)
	{
		IgHistWindow *open = &counter->hist_open[k];
		int64		cap = tally->hist_cap[k];

		if ((tally->hist_wanted & (1 << k)) == 0)
			continue;
		open->wanted = true;
		if (cap >= 0 && (open->cap < 0 || cap < open->cap))
			open->cap = cap;
	}
}

/*
 * The counter a backend's memo points to, with its mutex held, if the memo
 * is still right; else NULL.
 */
static inline IgCounter *
lock_remembered(IgCounterRef *ref)
{
	IgCounter  *counter;

	if (ref->pos < 0)
		return NULL;
	counter = counter_at(ref->pos);
	SpinLockAcquire(&counter->mutex);
	if (likely(counter->in_use && counter->incarnation == ref->incarnation))
		return counter;
	SpinLockRelease(&counter->mutex);
	ref->pos = -1;
	return NULL;
}

/* Marks the counters as changed since the last save. */
static inline void
mark_dirty(void)
{
	if (pg_atomic_read_u32(&counter_table->dirty) == 0)
		pg_atomic_write_u32(&counter_table->dirty, 1);
}

/*
 * The counter for a key, locked and ready to take rows at "now" (its
 * buffer interval open), or NULL if it cannot be made.
 */
static inline IgCounter *
lock_for_update(const IgCounterKey *key, IgCounterRef *ref, TimestampTz now)
{
	for (;;)
	{
		IgCounter  *counter = lock_remembered(ref);

		if (unlikely(counter == NULL))
		{
			counter = lock_counter(key, ref, true, now);
			if (counter == NULL)
				return NULL;
		}
		if (likely(now < counter->pending_until &&
				   counter->windows_gen == local_windows_gen))
			return counter;
		if (flush_pending(counter, now))
			return counter;
		/* built under newer window definitions than ours */
		SpinLockRelease(&counter->mutex);
		local_windows_gen = 0;
		refresh_windows();
	}
}

/*
 * The remembered counter of a tally, locked, if it is still the tally's
 * and its buffer interval is open at "now": the per-statement path.
 * Else NULL, with nothing locked.
 */
static inline IgCounter *
lock_for_update_fast(const IgCounterRef *ref, TimestampTz now)
{
	IgCounter  *counter;

	if (unlikely(ref->pos < 0))
		return NULL;
	counter = counter_at(ref->pos);
	SpinLockAcquire(&counter->mutex);

	/*
	 * A counter not in use has incarnation 0, which no memo holds: the
	 * incarnation alone says the counter is still the tally's.
	 */
	if (likely(counter->incarnation == ref->incarnation &&
			   now < counter->pending_until &&
			   counter->windows_gen == local_windows_gen))
		return counter;
	SpinLockRelease(&counter->mutex);
	return NULL;
}

#endif							/* IG_COUNTERS_INTERNAL_H */
