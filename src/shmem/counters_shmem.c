/*-------------------------------------------------------------------------
 *
 * counters_shmem.c
 *		The counters' shared memory: a fixed array of max_tracked counters,
 *		the index that maps keys to them, and the window definitions --
 *		with this backend's copy of them, and the rate limit of the log
 *		lines a flood repeats.
 *
 * Layout: each counter is a small header and one ring of buckets
 * (window.c) per defined window; a counter never moves, and when it is
 * given to another key its incarnation changes.
 *
 * Window definitions (length, bucket width, generation) are changed under
 * the exclusive lock, and windows_gen is bumped; backends keep a copy and
 * refresh it when windows_gen moves.  Each ring is stamped with the
 * generation it was built for; a ring whose window was (re)defined after
 * it was filled is rebuilt from the 30-day ring, conservatively
 * (counter_rings.c).
 *
 * IDENTIFICATION
 *		src/shmem/counters_shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/shmem.h"

#include "base/compat.h"
#include "base/guc.h"
#include "shmem/counters_internal.h"
#include "shmem/locks.h"

IgCounterShared *counter_table = NULL;
char	   *counter_array = NULL;
Size		counter_stride = 0;	/* counter_table->counter_size, a local copy */
HTAB	   *counter_index = NULL;

/* this backend's copy of the window definitions */
IgWindowDef local_windows[IG_MAX_WINDOWS];
uint32		local_windows_gen = 0;

/* the built-in windows: 1 minute, 1 hour, 1 day, 30 days */
static const int64 builtin_lengths[IG_BUILTIN_WINDOWS] = {
	INT64CONST(60) * USECS_PER_SEC,
	INT64CONST(3600) * USECS_PER_SEC,
	INT64CONST(86400) * USECS_PER_SEC,
	INT64CONST(30) * 86400 * USECS_PER_SEC
};

static int
counter_windows(void)
{
	return IG_BUILTIN_WINDOWS + ig_custom_windows;
}

static Size
counter_size(void)
{
	return MAXALIGN(offsetof(IgCounter, rings) +
					sizeof(IgRing) * counter_windows());
}

/*
 * Shared memory needed: header, counter array, index.
 */
Size
ig_counters_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(IgCounterShared));

	size = add_size(size, mul_size(counter_size(), ig_max_tracked));
	size = add_size(size, hash_estimate_size(ig_max_tracked,
											 sizeof(IgIndexEntry)));
	return size;
}

/*
 * Creates or attaches to the counters.  Called with AddinShmemInitLock
 * held, in the postmaster and (EXEC_BACKEND) in every backend.  Returns
 * true if it created them.
 */
bool
ig_counters_shmem_init(void)
{
	bool		found;
	bool		array_found;
	HASHCTL		info;

	counter_table = ShmemInitStruct("insider_guard counters",
						 sizeof(IgCounterShared), &found);
	counter_array = ShmemInitStruct("insider_guard counter array",
									   mul_size(counter_size(), ig_max_tracked),
									   &array_found);

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(IgCounterKey);
	info.entrysize = sizeof(IgIndexEntry);
	counter_index = ig_shmem_init_hash("insider_guard counter index",
									   ig_max_tracked,
									   &info, HASH_ELEM | HASH_BLOBS);
	counter_stride = counter_size();

	if (found)
		return false;

	counter_table->lock = ig_lwlock(IG_LWLOCK_COUNTERS);
	counter_table->max_counters = ig_max_tracked;
	counter_table->nwindows = counter_windows();
	counter_table->counter_size = counter_size();
	counter_table->nused = 0;
	counter_table->next_incarnation = 1;
	counter_table->next_gen = 1;
	pg_atomic_init_u32(&counter_table->windows_gen, 1);
	pg_atomic_init_u32(&counter_table->dirty, 0);
	pg_atomic_init_u64(&counter_table->evicted, 0);
	pg_atomic_init_u64(&counter_table->fail_closed, 0);
	pg_atomic_init_u64(&counter_table->checks_skipped, 0);
	pg_atomic_init_u64(&counter_table->last_save, 0);
	counter_table->stats_reset = GetCurrentTimestamp();
	for (int k = 0; k < IG_LOG_KINDS; k++)
	{
		pg_atomic_init_u64(&counter_table->log_last[k], 0);
		pg_atomic_init_u64(&counter_table->log_suppressed[k], 0);
	}
	pg_atomic_init_u64(&counter_table->history_lost, 0);

	memset(counter_table->windows, 0, sizeof(counter_table->windows));
	for (int w = 0; w < IG_BUILTIN_WINDOWS; w++)
	{
		counter_table->windows[w].length = builtin_lengths[w];
		counter_table->windows[w].width = ig_window_width(builtin_lengths[w]);
		counter_table->windows[w].gen = 0;
	}

	/* chain every counter into the free list, the first first */
	for (int32 pos = 0; pos < counter_table->max_counters; pos++)
	{
		IgCounter  *counter = counter_at(pos);

		memset(counter, 0, counter_table->counter_size);
		SpinLockInit(&counter->mutex);
		counter->in_use = false;
		counter->next_free = (pos + 1 < counter_table->max_counters) ? pos + 1 : -1;
	}
	counter_table->free_head = 0;
	return true;
}

/* True once shared memory is set up (the library was preloaded). */
bool
ig_counters_ready(void)
{
	return counter_table != NULL;
}

/* Refreshes this backend's copy of the window definitions if they moved. */
void
refresh_windows_slow(void)
{
	LWLockAcquire(counter_table->lock, LW_SHARED);
	memcpy(local_windows, counter_table->windows, sizeof(local_windows));
	local_windows_gen = pg_atomic_read_u32(&counter_table->windows_gen);
	LWLockRelease(counter_table->lock);
}

/*
 * May a log line of this kind be written now?  At most one a second, the
 * whole server together; *suppressed is set to how many were not since
 * the last one (to be said in it).
 */
bool
ig_counters_log_allowed(IgLogKind kind, uint64 *suppressed)
{
	uint64		second = (uint64) (GetCurrentTimestamp() / USECS_PER_SEC);
	uint64		last = pg_atomic_read_u64(&counter_table->log_last[kind]);

	if (last == second ||
		!pg_atomic_compare_exchange_u64(&counter_table->log_last[kind], &last, second))
	{
		pg_atomic_fetch_add_u64(&counter_table->log_suppressed[kind], 1);
		return false;
	}
	*suppressed = pg_atomic_exchange_u64(&counter_table->log_suppressed[kind], 0);
	return true;
}

/*
 * The ring that answers a window length for thresholds: a built-in or
 * custom window of exactly that length; else a free custom ring, defined
 * now for it (every counter's ring for it is rebuilt on first use from its
 * 30-day ring, conservatively); else a custom ring no rule has asked for
 * in a day, redefined; else the shortest longer window, whose coarser
 * buckets err towards counting more.
 */
int
ig_counters_window_ring(int64 length, TimestampTz now)
{
	int			pos = -1;
	int			stale = -1;

	refresh_windows();
	for (int w = 0; w < counter_table->nwindows; w++)
	{
		if (local_windows[w].length == length)
		{
			if (w >= IG_BUILTIN_WINDOWS &&
				local_windows[w].last_wanted < now - USECS_PER_HOUR)
			{
				/* say it is still wanted, at most once an hour */
				LWLockAcquire(counter_table->lock, LW_EXCLUSIVE);
				if (counter_table->windows[w].length == length)
					counter_table->windows[w].last_wanted = now;
				local_windows[w].last_wanted = now;
				LWLockRelease(counter_table->lock);
			}
			return w;
		}
	}

	LWLockAcquire(counter_table->lock, LW_EXCLUSIVE);
	for (int w = IG_BUILTIN_WINDOWS; w < counter_table->nwindows && pos < 0; w++)
	{
		if (counter_table->windows[w].length == length)
			pos = w;			/* defined meanwhile by someone else */
		else if (counter_table->windows[w].length == 0)
			pos = w;
		else if (counter_table->windows[w].last_wanted < now - USECS_PER_DAY &&
				 (stale < 0 ||
				  counter_table->windows[w].last_wanted < counter_table->windows[stale].last_wanted))
			stale = w;
	}
	if (pos < 0)
		pos = stale;
	if (pos >= 0 && counter_table->windows[pos].length != length)
	{
		counter_table->windows[pos].length = length;
		counter_table->windows[pos].width = ig_window_width(length);
		counter_table->windows[pos].gen = counter_table->next_gen++;
		counter_table->windows[pos].last_wanted = now;
		pg_atomic_fetch_add_u32(&counter_table->windows_gen, 1);
	}
	LWLockRelease(counter_table->lock);
	refresh_windows();

	if (pos >= 0)
		return pos;
	return window_for_length(length);
}

/*
 * The window that answers for a length: one defined with exactly that
 * length, else the shortest longer one (whose coarser buckets make the
 * answer err towards counting more).
 */
int
window_for_length(int64 length)
{
	int			best = IG_WINDOW_MONTH;

	for (int w = 0; w < counter_table->nwindows; w++)
	{
		int64		l = local_windows[w].length;

		if (l == length)
			return w;
		if (l > length && l < local_windows[best].length)
			best = w;
	}
	return best;
}

/* True if anything changed since the last call; clears the flag. */
bool
ig_counters_take_dirty(void)
{
	return pg_atomic_exchange_u32(&counter_table->dirty, 0) != 0;
}

/*
 * Counts a rule check that found no room for a counter it needed: a
 * statement failed closed (53200, a block rule's counter) or a check
 * skipped (no block rule, or the statement was ending).  The rare path:
 * at most once a settle, never per row.
 */
void
ig_counters_note_no_room(bool failed_closed)
{
	pg_atomic_fetch_add_u64(failed_closed ? &counter_table->fail_closed :
							&counter_table->checks_skipped, 1);
}

/* The saver brought the counts and history files up to date at "at". */
void
ig_counters_note_saved(TimestampTz at)
{
	pg_atomic_write_u64(&counter_table->last_save, (uint64) at);
}

/*
 * What the info view shows of the counters: how many are in use, the
 * totals since the shared memory was made (a start, or a restart after a
 * crash), and the last save.
 */
void
ig_counters_info(IgCountersInfo *info)
{
	LWLockAcquire(counter_table->lock, LW_SHARED);
	info->in_use = counter_table->nused;
	LWLockRelease(counter_table->lock);
	info->max_tracked = counter_table->max_counters;
	info->evictions = pg_atomic_read_u64(&counter_table->evicted);
	info->fail_closed = pg_atomic_read_u64(&counter_table->fail_closed);
	info->checks_skipped = pg_atomic_read_u64(&counter_table->checks_skipped);
	info->last_save = (TimestampTz) pg_atomic_read_u64(&counter_table->last_save);
	info->stats_reset = counter_table->stats_reset;
}
