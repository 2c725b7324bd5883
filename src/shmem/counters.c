/*-------------------------------------------------------------------------
 *
 * counters.c
 *		Rows read per (database, role, table) in rolling windows, kept in
 *		shared memory and bounded by insider_guard.max_tracked.
 *
 * Layout: a fixed array of max_tracked counters, each a small header and
 * one ring of buckets (window.c) per defined window, plus a shared hash
 * that maps keys to array slots.  A slot never moves; when it is given to
 * another key its incarnation changes.
 *
 * Locking protocol:
 *
 *	- ig->lock, SHARED: look a key up in the index.
 *	- ig->lock, EXCLUSIVE: add or remove keys (insert, evict, reset),
 *	  change the window definitions.
 *	- counter->mutex (spinlock): every field of that counter.  A counter's
 *	  key and in_use change only together with its incarnation, under both
 *	  the exclusive lock and the mutex.  "reserved" (the rows running
 *	  statements of block rules were granted and have not settled) is
 *	  exchanged under the mutex with every read of a key's counts; it is
 *	  never saved, and a counter that holds any is never evicted.
 *
 * So a backend that remembers (slot, incarnation) for a key may update the
 * counter holding only its mutex, after checking the incarnation: that is
 * the per-statement path, with no LWLock at all.  Only a miss takes the
 * LWLock.  Nothing here is touched per row.
 *
 * Window definitions (length, bucket width, generation) are changed under
 * the exclusive lock, and windows_gen is bumped; backends keep a copy and
 * refresh it when windows_gen moves.  Each ring is stamped with the
 * generation it was built for; a ring whose window was (re)defined after
 * it was filled is rebuilt from the 30-day ring, conservatively.
 *
 * Rows are first added to a per-counter buffer, pending_rows, valid until
 * pending_until: the next instant at which any ring's current bucket
 * changes.  Until then every ring would put the rows in the same bucket,
 * so an update is an addition under the mutex; the buffer is emptied into
 * the rings when time passes pending_until (about once a second for a busy
 * counter) and before any read.
 *
 * Eviction: when the array is full, the least recently used counters that
 * are not pinned (a threshold needs them until pinned_until) are evicted,
 * a twentieth of the array at a time, and the eviction is logged.
 *
 * IDENTIFICATION
 *		src/shmem/counters.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"

#include "shmem/counters.h"
#include "base/guc.h"
#include "shmem/history.h"
#include "base/persist.h"
#include "base/window.h"

/* A window every counter keeps a ring for. */
typedef struct IgWindowDef
{
	int64		length;			/* microseconds; 0 = slot not defined */
	int64		width;			/* bucket width, microseconds */
	uint32		gen;			/* generation of this definition */
	TimestampTz last_wanted;	/* a rule last asked for it (custom slots) */
} IgWindowDef;

/*
 * A window of a baseline's history (an hour or a day, aligned): the one
 * being counted, or one closed and not yet added to its series.
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

/* An incident of a block rule (see counters.h); rule_id 0: a free slot. */
typedef struct IgIncident
{
	int64		rule_id;
	int64		violation_id;	/* its record; 0 while it is being written */
	int64		repeats;		/* later stops while open */
	int64		written;		/* repeats written to the violations log */
	TimestampTz last_seen;		/* the latest stop */
	bool		open;			/* else closed, kept until written */
} IgIncident;

/* incidents a counter tracks at once; more are recorded each time */
#define IG_COUNTER_INCIDENTS 2

typedef struct IgCounter
{
	slock_t		mutex;
	bool		in_use;
	int32		next_free;		/* free list link, when not in use */
	uint64		incarnation;	/* changes whenever the slot changes key */
	uint64		version;		/* changes whenever rows are added */
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
	IgHistWindow hist_open[IG_HIST_KINDS];	/* hour and day being counted */
	IgHistWindow hist_closed[IG_HIST_KINDS];	/* closed, to be added */
	IgRing		rings[FLEXIBLE_ARRAY_MEMBER];	/* one per window */
} IgCounter;

typedef struct IgIndexEntry
{
	IgCounterKey key;
	int32		slot;
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
	/* log lines that a flood repeats: at most one a second of each */
	pg_atomic_uint64 log_last[IG_LOG_KINDS];	/* second of the last */
	pg_atomic_uint64 log_suppressed[IG_LOG_KINDS];	/* since then */
	pg_atomic_uint64 history_lost;	/* closed windows overwritten */
	IgWindowDef windows[IG_MAX_WINDOWS];
} IgCounterShared;

static IgCounterShared *ig = NULL;
static char *ig_counter_array = NULL;
static Size counter_stride = 0;	/* ig->counter_size, a local copy */
static HTAB *ig_index = NULL;

/* this backend's copy of the window definitions */
static IgWindowDef local_windows[IG_MAX_WINDOWS];
static uint32 local_windows_gen = 0;

static int	window_for_length(int64 length);

/* the built-in windows: 1 minute, 1 hour, 1 day, 30 days */
static const int64 builtin_lengths[IG_BUILTIN_WINDOWS] = {
	INT64CONST(60) * USECS_PER_SEC,
	INT64CONST(3600) * USECS_PER_SEC,
	INT64CONST(86400) * USECS_PER_SEC,
	INT64CONST(30) * 86400 * USECS_PER_SEC
};

/* evict this many counters at once when full: 5%, at least one */
#define EVICT_BATCH(max)	Max((max) / 20, 1)

static inline IgCounter *
counter_at(int32 slot)
{
	return (IgCounter *) (ig_counter_array + (Size) slot * counter_stride);
}

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

	ig = ShmemInitStruct("insider_guard counters",
						 sizeof(IgCounterShared), &found);
	ig_counter_array = ShmemInitStruct("insider_guard counter array",
									   mul_size(counter_size(), ig_max_tracked),
									   &array_found);

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(IgCounterKey);
	info.entrysize = sizeof(IgIndexEntry);
	ig_index = ShmemInitHash("insider_guard counter index",
							 ig_max_tracked, ig_max_tracked,
							 &info, HASH_ELEM | HASH_BLOBS);
	counter_stride = counter_size();

	if (found)
		return false;

	ig->lock = &(GetNamedLWLockTranche("insider_guard"))->lock;
	ig->max_counters = ig_max_tracked;
	ig->nwindows = counter_windows();
	ig->counter_size = counter_size();
	ig->nused = 0;
	ig->next_incarnation = 1;
	ig->next_gen = 1;
	pg_atomic_init_u32(&ig->windows_gen, 1);
	pg_atomic_init_u32(&ig->dirty, 0);
	pg_atomic_init_u64(&ig->evicted, 0);
	for (int k = 0; k < IG_LOG_KINDS; k++)
	{
		pg_atomic_init_u64(&ig->log_last[k], 0);
		pg_atomic_init_u64(&ig->log_suppressed[k], 0);
	}
	pg_atomic_init_u64(&ig->history_lost, 0);

	memset(ig->windows, 0, sizeof(ig->windows));
	for (int w = 0; w < IG_BUILTIN_WINDOWS; w++)
	{
		ig->windows[w].length = builtin_lengths[w];
		ig->windows[w].width = ig_window_width(builtin_lengths[w]);
		ig->windows[w].gen = 0;
	}

	/* chain every slot into the free list, slot 0 first */
	for (int32 slot = 0; slot < ig->max_counters; slot++)
	{
		IgCounter  *counter = counter_at(slot);

		memset(counter, 0, ig->counter_size);
		SpinLockInit(&counter->mutex);
		counter->in_use = false;
		counter->next_free = (slot + 1 < ig->max_counters) ? slot + 1 : -1;
	}
	ig->free_head = 0;
	return true;
}

/* True once shared memory is set up (the library was preloaded). */
bool
ig_counters_ready(void)
{
	return ig != NULL;
}

/* Refreshes this backend's copy of the window definitions if they moved. */
static pg_noinline void
refresh_windows_slow(void)
{
	LWLockAcquire(ig->lock, LW_SHARED);
	memcpy(local_windows, ig->windows, sizeof(local_windows));
	local_windows_gen = pg_atomic_read_u32(&ig->windows_gen);
	LWLockRelease(ig->lock);
}

static inline void
refresh_windows(void)
{
	if (unlikely(pg_atomic_read_u32(&ig->windows_gen) != local_windows_gen))
		refresh_windows_slow();
}

/*
 * Makes every ring of a locked counter match the current definitions:
 * a ring filled under an older definition is rebuilt from the 30-day ring.
 * Returns false if the counter was built under definitions newer than this
 * backend's copy (the caller refreshes and retries).
 */
static bool
sync_rings(IgCounter *counter, TimestampTz now)
{
	for (int w = IG_BUILTIN_WINDOWS; w < ig->nwindows; w++)
	{
		IgWindowDef *def = &local_windows[w];
		IgRing	   *ring = &counter->rings[w];

		if (ring->gen == def->gen)
			continue;
		if (ring->gen > def->gen)
			return false;
		if (def->length == 0)
			ig_ring_reset(ring, def->gen);
		else
			ig_ring_rebuild(ring, def->width, def->gen,
							&counter->rings[IG_WINDOW_MONTH],
							local_windows[IG_WINDOW_MONTH].width, now);
	}
	return true;
}

/*
 * History windows.  Every counter sums its rows per aligned hour and day
 * (hist_open), in flush_pending, once a minute at most; when such a
 * window ends and a baseline wants its history, it is closed into
 * hist_closed under the mutex, and added to its series (history.c) right
 * after the mutex is released -- by the backend that noticed, or by the
 * background worker's sweep of idle counters.  The counter a closure
 * happened in is remembered here until then.
 */
static IgCounter *closed_counter = NULL;
static uint64 closed_incarnation = 0;

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

/* Closes a locked counter's open window of a kind, if it is history. */
static void
hist_close(IgCounter *counter, int kind)
{
	IgHistWindow *open = &counter->hist_open[kind];

	if (open->rows > 0 && open->wanted)
	{
		if (counter->hist_closed[kind].closed)
			pg_atomic_fetch_add_u64(&ig->history_lost, 1);
		counter->hist_closed[kind] = *open;
		counter->hist_closed[kind].closed = true;
		closed_counter = counter;
		closed_incarnation = counter->incarnation;
	}
	hist_window_reset(open, open->number);
}

/*
 * Moves a locked counter's open windows to those holding "t", closing
 * those that ended.  Time that goes backwards leaves them where they are:
 * rows land in the newest window.
 */
static inline void
hist_roll(IgCounter *counter, TimestampTz t)
{
	for (int k = 0; k < IG_HIST_KINDS; k++)
	{
		int32		number = hist_number(k, t);

		if (number > counter->hist_open[k].number)
		{
			hist_close(counter, k);
			counter->hist_open[k].number = number;
		}
	}
}

/*
 * Adds the windows closed in a counter to their series.  The counter's
 * mutex is not held; it is taken again briefly to take them.
 */
static pg_noinline void
hist_drain(IgCounter *counter, uint64 incarnation)
{
	IgHistWindow taken[IG_HIST_KINDS];
	IgSeriesKey key;
	bool		any = false;

	SpinLockAcquire(&counter->mutex);
	if (counter->in_use && counter->incarnation == incarnation)
	{
		key.dbid = counter->key.dbid;
		key.roleid = counter->key.roleid;
		key.relid = counter->key.relid;
		for (int k = 0; k < IG_HIST_KINDS; k++)
		{
			taken[k] = counter->hist_closed[k];
			any |= taken[k].closed;
			counter->hist_closed[k].closed = false;
		}
	}
	SpinLockRelease(&counter->mutex);
	if (!any)
		return;
	for (int k = 0; k < IG_HIST_KINDS; k++)
	{
		if (!taken[k].closed)
			continue;
		key.kind = k;
		ig_history_feed(&key,
						((int64) taken[k].number + 1) * ig_hist_kind_length(k),
						taken[k].rows, taken[k].cap, taken[k].broke, false);
	}
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
 * Empties a locked counter's buffer into its rings, brings the rings in
 * line with this backend's window definitions, and opens a new buffer
 * interval at "now".  Returns false if the counter follows definitions
 * newer than this backend's copy (the caller refreshes and retries).
 */
static bool
flush_pending(IgCounter *counter, TimestampTz now)
{
	TimestampTz until = PG_INT64_MAX;

	if (counter->windows_gen != local_windows_gen)
	{
		if (counter->windows_gen > local_windows_gen ||
			!sync_rings(counter, now))
			return false;
		counter->windows_gen = local_windows_gen;
	}

	if (counter->pending_rows > 0)
	{
		/* any instant of the interval falls in the same bucket of each ring */
		TimestampTz at = counter->pending_until - 1;

		/* and in the same hour and day: a bucket boundary is a minute's */
		hist_roll(counter, at);
		for (int k = 0; k < IG_HIST_KINDS; k++)
			counter->hist_open[k].rows += counter->pending_rows;
		for (int w = 0; w < ig->nwindows; w++)
		{
			IgWindowDef *def = &local_windows[w];

			if (def->length != 0)
				ig_ring_add_bucket(&counter->rings[w],
								   ig_window_bucket(def->width, at),
								   counter->pending_rows);
		}
		counter->pending_rows = 0;
	}
	hist_roll(counter, now);

	for (int w = 0; w < ig->nwindows; w++)
	{
		IgWindowDef *def = &local_windows[w];

		if (def->length != 0)
			until = Min(until,
						(ig_window_bucket(def->width, now) + 1) * def->width);
	}
	counter->pending_until = until;
	return true;
}

/*
 * Takes a free slot, evicting least recently used counters if none is
 * free.  Exclusive lock held.  Returns -1 if every counter is pinned.
 * *evicted is set to the number of counters evicted.
 */
static int32
take_free_slot(TimestampTz now, int *evicted)
{
	int32		slot;

	*evicted = 0;
	if (ig->free_head < 0)
	{
		typedef struct
		{
			TimestampTz last_used;
			int32		slot;
		}			Candidate;
		Candidate  *candidates;
		int			ncandidates = 0;
		int			batch = EVICT_BATCH(ig->max_counters);

		candidates = palloc(sizeof(Candidate) * ig->max_counters);
		for (slot = 0; slot < ig->max_counters; slot++)
		{
			IgCounter  *counter = counter_at(slot);
			bool		evictable;
			TimestampTz last_used;

			SpinLockAcquire(&counter->mutex);
			evictable = counter->in_use && counter->pinned_until <= now &&
				counter->reserved == 0;
			last_used = counter->last_used;
			SpinLockRelease(&counter->mutex);
			if (evictable)
			{
				candidates[ncandidates].last_used = last_used;
				candidates[ncandidates].slot = slot;
				ncandidates++;
			}
		}

		/* partial selection of the "batch" oldest */
		for (int i = 0; i < Min(batch, ncandidates); i++)
		{
			int			oldest = i;
			Candidate	tmp;

			for (int j = i + 1; j < ncandidates; j++)
				if (candidates[j].last_used < candidates[oldest].last_used)
					oldest = j;
			tmp = candidates[i];
			candidates[i] = candidates[oldest];
			candidates[oldest] = tmp;
		}

		for (int i = 0; i < Min(batch, ncandidates); i++)
		{
			IgCounter  *counter = counter_at(candidates[i].slot);
			IgCounterKey key;
			bool		still_old;

			SpinLockAcquire(&counter->mutex);
			/* skip it if it was used (or pinned) since we looked */
			still_old = counter->in_use &&
				counter->last_used <= candidates[i].last_used &&
				counter->pinned_until <= now && counter->reserved == 0;
			if (still_old)
			{
				key = counter->key;
				counter->in_use = false;
				counter->incarnation = 0;
				counter->next_free = ig->free_head;
			}
			SpinLockRelease(&counter->mutex);
			if (!still_old)
				continue;

			hash_search(ig_index, &key, HASH_REMOVE, NULL);
			ig->free_head = candidates[i].slot;
			ig->nused--;
			(*evicted)++;
		}
		pfree(candidates);
		if (*evicted > 0)
			pg_atomic_fetch_add_u64(&ig->evicted, *evicted);
	}

	slot = ig->free_head;
	if (slot >= 0)
		ig->free_head = counter_at(slot)->next_free;
	return slot;
}

/*
 * The counter a backend's memo points to, with its mutex held, if the memo
 * is still right; else NULL.
 */
static inline IgCounter *
lock_remembered(IgCounterRef *ref)
{
	IgCounter  *counter;

	if (ref->slot < 0)
		return NULL;
	counter = counter_at(ref->slot);
	SpinLockAcquire(&counter->mutex);
	if (likely(counter->in_use && counter->incarnation == ref->incarnation))
		return counter;
	SpinLockRelease(&counter->mutex);
	ref->slot = -1;
	return NULL;
}

/*
 * Finds (and with "create", makes) the counter for a key; returns it with
 * its mutex held, or NULL.  *ref is the backend's memo for the key.
 */
static pg_noinline IgCounter *
lock_counter(const IgCounterKey *key, IgCounterRef *ref, bool create,
			 TimestampTz now)
{
	/* hashed once: the index is looked at up to three times */
	uint32		hashcode = get_hash_value(ig_index, key);

	for (int attempt = 0; attempt < 10; attempt++)
	{
		IgIndexEntry *entry;
		bool		found;
		int			evicted = 0;
		IgCounter  *counter = lock_remembered(ref);

		if (counter != NULL)
			return counter;

		LWLockAcquire(ig->lock, LW_SHARED);
		entry = hash_search_with_hash_value(ig_index, key, hashcode,
											HASH_FIND, NULL);
		if (entry)
		{
			IgCounter  *counter = counter_at(entry->slot);

			/* key and incarnation cannot change while we hold the lock */
			ref->slot = entry->slot;
			ref->incarnation = counter->incarnation;
		}
		LWLockRelease(ig->lock);
		if (entry)
			continue;			/* verify under the mutex */
		if (!create)
			return NULL;

		LWLockAcquire(ig->lock, LW_EXCLUSIVE);
		entry = hash_search_with_hash_value(ig_index, key, hashcode,
											HASH_FIND, NULL);
		if (!entry)
		{
			int32		slot = take_free_slot(now, &evicted);
			IgCounter  *counter;

			if (slot < 0)
			{
				LWLockRelease(ig->lock);
				return NULL;
			}
			entry = hash_search_with_hash_value(ig_index, key, hashcode,
												HASH_ENTER, &found);
			entry->slot = slot;
			ig->nused++;

			counter = counter_at(slot);
			SpinLockAcquire(&counter->mutex);
			counter->in_use = true;
			counter->incarnation = ig->next_incarnation++;
			/* a lock-free reader that sees the new version sees this too */
			pg_write_barrier();
			counter->version = 0;
			counter->key = *key;
			counter->statements = 0;
			counter->last_used = now;
			counter->last_read = 0;
			counter->pinned_until = 0;
			counter->reserved = 0;
			counter->has_open_incident = false;
			memset(counter->incidents, 0, sizeof(counter->incidents));
			counter->pending_rows = 0;
			counter->pending_until = 0;
			counter->windows_gen = local_windows_gen;
			for (int k = 0; k < IG_HIST_KINDS; k++)
			{
				hist_window_reset(&counter->hist_open[k], hist_number(k, now));
				hist_window_reset(&counter->hist_closed[k], 0);
			}
			/* an all-zero ring is an empty one: one memset for all */
			memset(counter->rings, 0, sizeof(IgRing) * ig->nwindows);
			for (int w = 0; w < ig->nwindows; w++)
				counter->rings[w].gen = local_windows[w].gen;
			SpinLockRelease(&counter->mutex);
		}
		ref->slot = entry->slot;
		ref->incarnation = counter_at(entry->slot)->incarnation;
		LWLockRelease(ig->lock);

		if (evicted > 0)
			ereport(LOG,
					(errmsg("insider_guard: evicted %d least recently used counters to make room",
							evicted),
					 errdetail("insider_guard.max_tracked is %d; %llu counters evicted since the server started.",
							   ig->max_counters,
							   (unsigned long long) pg_atomic_read_u64(&ig->evicted))));
	}
	return NULL;
}

/* Marks the counters as changed since the last save. */
static inline void
mark_dirty(void)
{
	if (pg_atomic_read_u32(&ig->dirty) == 0)
		pg_atomic_write_u32(&ig->dirty, 1);
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
	uint64		last = pg_atomic_read_u64(&ig->log_last[kind]);

	if (last == second ||
		!pg_atomic_compare_exchange_u64(&ig->log_last[kind], &last, second))
	{
		pg_atomic_fetch_add_u64(&ig->log_suppressed[kind], 1);
		return false;
	}
	*suppressed = pg_atomic_exchange_u64(&ig->log_suppressed[kind], 0);
	return true;
}

static pg_noinline void
report_lost(uint64 rows)
{
	uint64		suppressed;

	if (rows == 0 || !ig_counters_log_allowed(IG_LOG_LOST, &suppressed))
		return;
	ereport(LOG,
			(errmsg("insider_guard: could not record %llu rows read: every counter is in use",
					(unsigned long long) rows),
			 suppressed > 0 ?
			 errdetail("%llu more such lines were suppressed in the last second or more.",
					   (unsigned long long) suppressed) : 0,
			 errhint("Increase insider_guard.max_tracked."),
			 errhidestmt(true)));
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

/* Adds rows (and maybe a statement) to a locked counter. */
static inline void
add_rows(IgCounter *counter, uint64 rows, bool new_statement, TimestampTz now)
{
	counter->pending_rows += rows;
	counter->version += (rows > 0);
	counter->statements += new_statement;
	counter->last_used = now;
	if (rows > 0)
		counter->last_read = now;
}

/*
 * Fills a query's window sums from a locked counter (whose buffer is
 * open at "now") and pins it; "added" rows were just added to it.
 *
 * If the backend's memo is of this counter at the version before the
 * addition and its room covers "added", the memo's room less "added" is
 * the answer: no window is over, and no ring is read.  Else the sums are
 * read from the rings: the buffered rows were read in the current bucket
 * of every ring, which every window holds, so they are added to each sum
 * rather than flushed into the rings.
 */
static pg_noinline void
answer_query_exact(IgCounter *counter, int32 slot, IgWindowQuery *query,
				   TimestampTz now)
{
	IgQueryMemo *memo = query->memo;
	bool		over = false;
	int64		headroom = PG_INT64_MAX;
	int64		block_headroom = PG_INT64_MAX;

	for (int i = 0; i < query->nwindows; i++)
	{
		int			w = query->slot[i];
		uint64		sum;

		sum = ig_ring_sum(&counter->rings[w], local_windows[w].width,
						  query->length[i], now) +
			counter->pending_rows;
		query->sum[i] = sum;
		over |= (int64) sum > query->max[i];
		headroom = Min(headroom, query->max[i] - (int64) sum);
		if (query->block != NULL && query->block[i])
			block_headroom = Min(block_headroom, query->max[i] - (int64) sum);
	}
	query->headroom = headroom;
	query->block_headroom = block_headroom;
	query->over = over;
	if (memo != NULL)
	{
		memo->valid = true;
		memo->slot = slot;
		memo->incarnation = counter->incarnation;
		memo->version = counter->version;
		memo->windows_gen = counter->windows_gen;
		memo->headroom = headroom;
		memo->block_headroom = block_headroom;
	}
}

/*
 * Gives back, on a locked counter, what a key holds reserved in it; the
 * rows it read are being added.  A reservation in an earlier incarnation
 * of the slot went with it (the role was reset).
 */
static inline void
reservation_return(IgCounter *counter, IgReservation *res)
{
	if (res->held > 0 && res->incarnation == counter->incarnation)
		counter->reserved -= Min(res->held, counter->reserved);
	res->held = 0;
}

/* Orders violation ids. */
static int
compare_ids(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* Closes a locked counter's open incidents: their rules have room again. */
static pg_noinline void
close_incidents(IgCounter *counter)
{
	for (int i = 0; i < IG_COUNTER_INCIDENTS; i++)
		counter->incidents[i].open = false;
	counter->has_open_incident = false;
}

/*
 * Forgets a reservation whose counter is gone (reset, or none could be
 * made): nothing is held, nothing was taken.
 */
static void
reservation_void(IgReservation *res)
{
	res->held = 0;
	res->fresh = 0;
	res->others = 0;
}

/*
 * Takes a key's reservation again on a locked counter whose block rules
 * leave block_headroom rows: what its nodes still hold, and fresh rows up
 * to "want" -- at most half of what is left beyond every holder's, so
 * that others still find some.
 */
static pg_noinline void
reservation_take(IgCounter *counter, IgReservation *res, int64 block_headroom)
{
	int64		room;
	int64		fresh = 0;

	/* a block rule with rows free again ends the role's incidents */
	if (unlikely(counter->has_open_incident) &&
		block_headroom - counter->reserved > 0)
		close_incidents(counter);
	room = block_headroom - counter->reserved - res->keep;

	if (room > 0 && res->want > 0)
		fresh = Min(res->want, room - room / 2);
	res->held = res->keep + fresh;
	res->fresh = fresh;
	res->others = counter->reserved;
	res->incarnation = counter->incarnation;
	counter->reserved += res->held;
}

static pg_attribute_always_inline void
answer_query(IgCounter *counter, int32 slot, IgWindowQuery *query,
			 uint64 added, TimestampTz now)
{
	IgQueryMemo *memo = query->memo;

	if (unlikely(query->res != NULL))
		reservation_return(counter, query->res);
	if (likely(memo != NULL && memo->valid && memo->slot == slot &&
			   memo->incarnation == counter->incarnation &&
			   memo->version + (added > 0) == counter->version &&
			   memo->windows_gen == counter->windows_gen &&
			   memo->headroom >= 0 && added <= (uint64) memo->headroom))
	{
		memo->version = counter->version;
		memo->headroom -= (int64) added;
		memo->block_headroom -= (int64) added;
		query->headroom = memo->headroom;
		query->block_headroom = memo->block_headroom;
		query->over = false;
	}
	else
		answer_query_exact(counter, slot, query, now);
	if (unlikely(query->res != NULL))
		reservation_take(counter, query->res, query->block_headroom);
	counter->pinned_until = Max(counter->pinned_until, now + query->pin_span);
	query->valid = true;
}

/*
 * At statement start: answers a query from the backend's memo, without
 * any lock, if the counter has not changed since the memo was taken and
 * no memoized sum exceeds its max (then they are upper bounds, and a
 * statement may be granted rows on them).  Returns false if the counter
 * must be read (ig_counters_query).
 *
 * The version is read before the incarnation: a slot's incarnation never
 * returns to an old value, and whoever gives the slot to another key
 * writes the incarnation before the version, so a matching incarnation
 * read after the version proves the version is this counter's.
 */
bool
ig_counters_query_memo(IgWindowQuery *query)
{
#ifdef PG_HAVE_8BYTE_SINGLE_COPY_ATOMICITY
	IgQueryMemo *memo = query->memo;
	IgCounter  *counter;
	uint64		version;

	/* a reservation is taken under the counter's mutex */
	if (memo == NULL || !memo->valid || memo->headroom < 0 ||
		query->res != NULL)
		return false;
	counter = counter_at(memo->slot);
	version = *(volatile uint64 *) &counter->version;
	pg_read_barrier();
	if (*(volatile uint64 *) &counter->incarnation != memo->incarnation ||
		version != memo->version ||
		*(volatile uint32 *) &counter->windows_gen != memo->windows_gen)
		return false;
	query->headroom = memo->headroom;
	query->block_headroom = memo->block_headroom;
	query->valid = true;
	query->over = false;
	return true;
#else
	return false;
#endif
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

	if (unlikely(ref->slot < 0))
		return NULL;
	counter = counter_at(ref->slot);
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

/*
 * The counter of a tally, locked and ready to take rows at "now", found
 * or made the slow way (NULL if it cannot be made).
 */
static pg_noinline IgCounter *
lock_tally_slow(Oid dbid, Oid roleid, IgTally *tally, TimestampTz now)
{
	IgCounterKey key;
	IgCounterRef before = tally->ref;
	IgCounter  *counter;

	key.dbid = dbid;
	key.roleid = roleid;
	key.relid = tally->relid;
	counter = lock_for_update(&key, &tally->ref, now);
	tally->ref_moved |= (tally->ref.slot != before.slot ||
						 tally->ref.incarnation != before.incarnation);
	return counter;
}

/*
 * Settles a statement's tallies: adds each one's pending rows to its
 * counter.  A tally's first settled rows count the statement (if
 * count_statements); at statement_end every tally not yet counted is
 * counted (a parallel leader whose workers did the reading).  Never
 * raises an error: runs in aborting transactions too.
 */
static pg_attribute_always_inline bool
settle_tally(Oid dbid, Oid roleid, IgTally *tally, bool count_statements,
			 bool statement_end, TimestampTz now)
{
	uint64		rows = tally->pending;
	bool		new_statement = count_statements & !tally->counted &
		((rows > 0) | statement_end);
	IgCounter  *counter;
	bool		changed = false;

	if (rows == 0 && !new_statement && tally->query == NULL)
		return false;
	counter = lock_for_update_fast(&tally->ref, now);
	if (unlikely(counter == NULL))
		counter = lock_tally_slow(dbid, roleid, tally, now);
	if (likely(counter != NULL))
	{
		add_rows(counter, rows, new_statement, now);
		if (unlikely(tally->hist_wanted != 0))
			hist_note(counter, tally);
		if (tally->query != NULL)
			answer_query(counter, tally->ref.slot, tally->query,
						 rows, now);
		release_counter(counter);
		changed = true;
	}
	else
	{
		if (tally->query != NULL)
		{
			tally->query->valid = false;
			if (tally->query->res != NULL)
				reservation_void(tally->query->res);
		}
		report_lost(rows);
	}
	tally->added = rows;
	tally->statement_rows += rows;
	tally->pending = 0;
	tally->counted |= new_statement;
	return changed;
}

void
ig_counters_settle(Oid dbid, Oid roleid, IgTally *tallies, int ntallies,
				   bool count_statements, bool statement_end, TimestampTz now)
{
	bool		changed = false;

	refresh_windows();
	for (int i = 0; i < ntallies; i++)
		changed |= settle_tally(dbid, roleid, &tallies[i], count_statements,
								statement_end, now);
	if (changed)
		mark_dirty();
}

/*
 * ig_counters_settle for the two tallies of a lone scan (all tables and
 * its table) at the end of a statement, outside parallel query.
 */
void
ig_counters_settle_pair(Oid dbid, Oid roleid, IgTally *tallies,
						TimestampTz now)
{
	bool		changed;

	refresh_windows();
	changed = settle_tally(dbid, roleid, &tallies[0], true, false, now);
	changed |= settle_tally(dbid, roleid, &tallies[1], true, false, now);
	if (changed)
		mark_dirty();
}

/*
 * Reads a tally's window sums (its query) from its counter, creating and
 * pinning the counter as needed.  Returns false (query->valid false) if the
 * counter cannot be created because every counter is pinned.
 */
bool
ig_counters_query(Oid dbid, Oid roleid, IgTally *tally, TimestampTz now)
{
	IgCounter  *counter;

	refresh_windows();
	counter = lock_for_update_fast(&tally->ref, now);
	if (unlikely(counter == NULL))
		counter = lock_tally_slow(dbid, roleid, tally, now);
	if (counter == NULL)
	{
		tally->query->valid = false;
		if (tally->query->res != NULL)
			reservation_void(tally->query->res);
		return false;
	}
	if (tally->hist_wanted != 0)
		hist_note(counter, tally);
	answer_query(counter, tally->ref.slot, tally->query, 0, now);
	release_counter(counter);
	return true;
}

/*
 * Notes that a tally's counter broke a baseline rule of a kind (hours or
 * days) in the window open now: that window will not feed the history.
 */
void
ig_counters_note_break(Oid dbid, Oid roleid, IgTally *tally, int kind,
					   TimestampTz now)
{
	IgCounterKey key;
	IgCounter  *counter;
	int32		slot = tally->ref.slot;

	key.dbid = dbid;
	key.roleid = roleid;
	key.relid = tally->relid;
	refresh_windows();
	counter = lock_for_update(&key, &tally->ref, now);
	if (counter == NULL)
		return;
	counter->hist_open[kind].broke = true;
	counter->hist_open[kind].wanted = true;
	release_counter(counter);
	tally->ref_moved |= (tally->ref.slot != slot);
}

/*
 * Closes the history windows of idle counters that ended, and adds them
 * to their series: the background worker's sweep.  Each counter's mutex
 * is taken in turn; nothing else is held.
 */
void
ig_counters_sweep(TimestampTz now)
{
	refresh_windows();
	for (int32 slot = 0; slot < ig->max_counters; slot++)
	{
		IgCounter  *counter = counter_at(slot);
		bool		ended = false;

		SpinLockAcquire(&counter->mutex);
		if (counter->in_use)
		{
			for (int k = 0; k < IG_HIST_KINDS; k++)
				ended |= (counter->hist_open[k].rows > 0 ||
						  counter->pending_rows > 0) &&
					hist_number(k, now) > counter->hist_open[k].number;
			ended |= counter->hist_closed[0].closed ||
				counter->hist_closed[1].closed;
		}
		if (ended && !flush_pending(counter, now))
		{
			/* built under newer window definitions: next time */
			SpinLockRelease(&counter->mutex);
			refresh_windows();
			continue;
		}
		if (ended && closed_counter == NULL &&
			(counter->hist_closed[0].closed || counter->hist_closed[1].closed))
		{
			/* closed earlier, not added yet (the backend failed meanwhile) */
			closed_counter = counter;
			closed_incarnation = counter->incarnation;
		}
		release_counter(counter);
	}
}


/*
 * A block rule of a tally's key stops the role: a repeat of its open
 * incident (its record's id in *violation_id), or a new one, which the
 * caller records and then hands its id to ig_counters_incident_recorded.
 * A slot is taken from one that is free, or closed with every repeat
 * written.
 */
IgIncidentKind
ig_counters_incident(Oid dbid, Oid roleid, IgTally *tally, int64 rule_id,
					 TimestampTz now, int64 *violation_id)
{
	IgCounter  *counter;
	IgIncident *free_slot = NULL;
	IgIncidentKind kind = IG_INCIDENT_UNTRACKED;

	*violation_id = 0;
	refresh_windows();
	counter = lock_for_update_fast(&tally->ref, now);
	if (counter == NULL)
		counter = lock_tally_slow(dbid, roleid, tally, now);
	if (counter == NULL)
		return kind;
	for (int i = 0; i < IG_COUNTER_INCIDENTS; i++)
	{
		IgIncident *incident = &counter->incidents[i];

		if (incident->open && incident->rule_id == rule_id)
		{
			incident->repeats++;
			incident->last_seen = Max(incident->last_seen, now);
			*violation_id = incident->violation_id;
			kind = IG_INCIDENT_REPEAT;
			break;
		}
		if (free_slot == NULL &&
			(incident->rule_id == 0 ||
			 (!incident->open && incident->written == incident->repeats)))
			free_slot = incident;
	}
	if (kind != IG_INCIDENT_REPEAT && free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(IgIncident));
		free_slot->rule_id = rule_id;
		free_slot->last_seen = now;
		free_slot->open = true;
		counter->has_open_incident = true;
		kind = IG_INCIDENT_NEW;
	}
	counter->last_used = now;
	release_counter(counter);
	if (kind != IG_INCIDENT_UNTRACKED)
		mark_dirty();
	return kind;
}

/* The record of a new incident (ig_counters_incident) has been written. */
void
ig_counters_incident_recorded(Oid dbid, Oid roleid, IgTally *tally,
							  int64 rule_id, int64 violation_id)
{
	TimestampTz now = ig_now();
	IgCounter  *counter;

	refresh_windows();
	counter = lock_for_update_fast(&tally->ref, now);
	if (counter == NULL)
		counter = lock_tally_slow(dbid, roleid, tally, now);
	if (counter == NULL)
		return;
	for (int i = 0; i < IG_COUNTER_INCIDENTS; i++)
	{
		IgIncident *incident = &counter->incidents[i];

		if (incident->rule_id == rule_id && incident->violation_id == 0 &&
			incident->open)
		{
			incident->violation_id = violation_id;
			/* not written: the next stop records again */
			if (violation_id == 0)
				incident->rule_id = 0;
			break;
		}
	}
	release_counter(counter);
	mark_dirty();
}

/*
 * The repeat counts not yet written to the violations log, palloc'd;
 * *count set.  Each counter's mutex is taken in turn.
 */
IgIncidentChange *
ig_counters_incident_changes(int *count)
{
	int			allocated = 16;
	int			n = 0;
	IgIncidentChange *changes = palloc(sizeof(IgIncidentChange) * allocated);

	for (int32 slot = 0; slot < ig->max_counters; slot++)
	{
		IgCounter  *counter = counter_at(slot);

		/* no palloc under a spinlock: room for a counter's all first */
		if (allocated - n < IG_COUNTER_INCIDENTS)
		{
			allocated *= 2;
			changes = repalloc(changes, sizeof(IgIncidentChange) * allocated);
		}
		SpinLockAcquire(&counter->mutex);
		for (int i = 0; counter->in_use && i < IG_COUNTER_INCIDENTS; i++)
		{
			IgIncident *incident = &counter->incidents[i];

			if (incident->rule_id == 0 || incident->violation_id == 0 ||
				incident->written == incident->repeats)
				continue;
			changes[n].dbid = counter->key.dbid;
			changes[n].violation_id = incident->violation_id;
			changes[n].repeats = incident->repeats;
			changes[n].last_seen = incident->last_seen;
			changes[n].slot = slot;
			changes[n].incarnation = counter->incarnation;
			changes[n].incident = i;
			n++;
		}
		SpinLockRelease(&counter->mutex);
	}
	*count = n;
	return changes;
}

/*
 * Forgets the incidents whose records are gone (pruned, or dropped to
 * make room) -- the violation ids in "ids", sorted -- or, with
 * keep_listed, those whose records are not among them (at start): the
 * next stop of such a role makes a new record.
 */
void
ig_counters_forget_incidents(const int64 *ids, int nids, bool keep_listed)
{
	bool		forgot = false;

	for (int32 slot = 0; slot < ig->max_counters; slot++)
	{
		IgCounter  *counter = counter_at(slot);

		SpinLockAcquire(&counter->mutex);
		for (int i = 0; counter->in_use && i < IG_COUNTER_INCIDENTS; i++)
		{
			IgIncident *incident = &counter->incidents[i];
			bool		listed;

			if (incident->rule_id == 0 || incident->violation_id == 0)
				continue;
			listed = nids > 0 &&
				bsearch(&incident->violation_id, ids, nids, sizeof(int64),
						compare_ids) != NULL;
			if (listed != keep_listed)
			{
				memset(incident, 0, sizeof(IgIncident));
				forgot = true;
			}
		}
		SpinLockRelease(&counter->mutex);
	}
	if (forgot)
		mark_dirty();
}

/*
 * The changes (ig_counters_incident_changes) are in the violations log:
 * their repeats are written, and closed incidents with nothing left to
 * write free their slots.
 */
void
ig_counters_incidents_written(const IgIncidentChange *changes, int count)
{
	for (int c = 0; c < count; c++)
	{
		IgCounter  *counter = counter_at(changes[c].slot);
		IgIncident *incident = &counter->incidents[changes[c].incident];

		SpinLockAcquire(&counter->mutex);
		if (counter->incarnation == changes[c].incarnation &&
			incident->violation_id == changes[c].violation_id)
			incident->written = Max(incident->written, changes[c].repeats);
		SpinLockRelease(&counter->mutex);
	}
}

/*
 * Makes a counter hold at least min_rows read within the window "per"
 * ending now, as rows read at "at" (which must be within it): what a
 * durable violation record proves the role had read, restored at start
 * after a crash lost the counts since the last save.  Postmaster, at
 * start.
 */
void
ig_counters_floor(Oid dbid, Oid roleid, Oid relid, int64 per, uint64 min_rows,
				  TimestampTz at, TimestampTz now)
{
	IgCounterKey key;
	IgCounterRef ref = IG_COUNTER_REF_INIT;
	IgCounter  *counter;
	int			w;
	uint64		rows;

	key.dbid = dbid;
	key.roleid = roleid;
	key.relid = relid;
	refresh_windows();
	counter = lock_counter(&key, &ref, true, now);
	if (counter == NULL)
		return;
	if (!flush_pending(counter, now))
	{
		SpinLockRelease(&counter->mutex);
		return;
	}
	w = window_for_length(per);
	rows = ig_ring_sum(&counter->rings[w], local_windows[w].width, per, now);
	if (rows < min_rows)
	{
		for (int r = 0; r < ig->nwindows; r++)
		{
			IgWindowDef *def = &local_windows[r];

			if (def->length != 0)
				ig_ring_add_past(&counter->rings[r],
								 ig_window_bucket(def->width, at),
								 min_rows - rows);
		}
		counter->version++;
		counter->last_read = Max(counter->last_read, at);
		counter->last_used = Max(counter->last_used, at);
		/* kept while it proves something */
		counter->pinned_until = Max(counter->pinned_until, at + per + USECS_PER_MINUTE);
	}
	release_counter(counter);
	if (rows < min_rows)
		mark_dirty();
}

/*
 * The ring that answers a window length for thresholds: a built-in or
 * custom window of exactly that length; else a free custom slot, defined
 * now for it (every counter's ring for it is rebuilt on first use from its
 * 30-day ring, conservatively); else a custom slot no rule has asked for
 * in a day, redefined; else the shortest longer window, whose coarser
 * buckets err towards counting more.
 */
int
ig_counters_window_slot(int64 length, TimestampTz now)
{
	int			slot = -1;
	int			stale = -1;

	refresh_windows();
	for (int w = 0; w < ig->nwindows; w++)
	{
		if (local_windows[w].length == length)
		{
			if (w >= IG_BUILTIN_WINDOWS &&
				local_windows[w].last_wanted < now - USECS_PER_HOUR)
			{
				/* say it is still wanted, at most once an hour */
				LWLockAcquire(ig->lock, LW_EXCLUSIVE);
				if (ig->windows[w].length == length)
					ig->windows[w].last_wanted = now;
				local_windows[w].last_wanted = now;
				LWLockRelease(ig->lock);
			}
			return w;
		}
	}

	LWLockAcquire(ig->lock, LW_EXCLUSIVE);
	for (int w = IG_BUILTIN_WINDOWS; w < ig->nwindows && slot < 0; w++)
	{
		if (ig->windows[w].length == length)
			slot = w;			/* defined meanwhile by someone else */
		else if (ig->windows[w].length == 0)
			slot = w;
		else if (ig->windows[w].last_wanted < now - USECS_PER_DAY &&
				 (stale < 0 ||
				  ig->windows[w].last_wanted < ig->windows[stale].last_wanted))
			stale = w;
	}
	if (slot < 0)
		slot = stale;
	if (slot >= 0 && ig->windows[slot].length != length)
	{
		ig->windows[slot].length = length;
		ig->windows[slot].width = ig_window_width(length);
		ig->windows[slot].gen = ig->next_gen++;
		ig->windows[slot].last_wanted = now;
		pg_atomic_fetch_add_u32(&ig->windows_gen, 1);
	}
	LWLockRelease(ig->lock);
	refresh_windows();

	if (slot >= 0)
		return slot;
	return window_for_length(length);
}

/*
 * The window that answers for a length: one defined with exactly that
 * length, else the shortest longer one (whose coarser buckets make the
 * answer err towards counting more).
 */
static int
window_for_length(int64 length)
{
	int			best = IG_WINDOW_MONTH;

	for (int w = 0; w < ig->nwindows; w++)
	{
		int64		l = local_windows[w].length;

		if (l == length)
			return w;
		if (l > length && l < local_windows[best].length)
			best = w;
	}
	return best;
}

/*
 * Rows a key read within the last "length" microseconds.
 */
uint64
ig_counters_rows_read(const IgCounterKey *key, int64 length, TimestampTz now)
{
	IgCounterRef ref = IG_COUNTER_REF_INIT;

	for (;;)
	{
		IgCounter  *counter;
		int			w;
		uint64		rows;

		refresh_windows();
		counter = lock_counter(key, &ref, false, now);
		if (counter == NULL)
			return 0;
		if (!flush_pending(counter, now))
		{
			SpinLockRelease(&counter->mutex);
			local_windows_gen = 0;
			continue;
		}
		w = window_for_length(length);
		rows = ig_ring_sum(&counter->rings[w], local_windows[w].width,
						   length, now);
		release_counter(counter);
		return rows;
	}
}

/*
 * Removes the counters of a role (all roles if roleid is InvalidOid) in a
 * database.
 */
void
ig_counters_reset(Oid dbid, Oid roleid)
{
	LWLockAcquire(ig->lock, LW_EXCLUSIVE);
	for (int32 slot = 0; slot < ig->max_counters; slot++)
	{
		IgCounter  *counter = counter_at(slot);
		IgCounterKey key;
		bool		remove;

		SpinLockAcquire(&counter->mutex);
		remove = counter->in_use && counter->key.dbid == dbid &&
			(roleid == InvalidOid || counter->key.roleid == roleid);
		if (remove)
		{
			key = counter->key;
			counter->in_use = false;
			counter->incarnation = 0;
			counter->next_free = ig->free_head;
		}
		SpinLockRelease(&counter->mutex);
		if (remove)
		{
			hash_search(ig_index, &key, HASH_REMOVE, NULL);
			ig->free_head = slot;
			ig->nused--;
		}
	}
	LWLockRelease(ig->lock);
	mark_dirty();
}

/*
 * A snapshot of a database's counters, palloc'd; *count is set.
 */
IgActivity *
ig_counters_activity(Oid dbid, TimestampTz now, int *count)
{
	IgActivity *result;
	int			n = 0;

	refresh_windows();
	result = palloc(sizeof(IgActivity) * Max(ig->max_counters, 1));
	for (int32 slot = 0; slot < ig->max_counters; slot++)
	{
		IgCounter  *counter = counter_at(slot);
		IgActivity *a = &result[n];

		SpinLockAcquire(&counter->mutex);
		if (counter->in_use && counter->key.dbid == dbid &&
			flush_pending(counter, now))
		{
			a->key = counter->key;
			a->rows_minute = ig_ring_sum(&counter->rings[IG_WINDOW_MINUTE],
										 local_windows[IG_WINDOW_MINUTE].width,
										 local_windows[IG_WINDOW_MINUTE].length,
										 now);
			a->rows_hour = ig_ring_sum(&counter->rings[IG_WINDOW_HOUR],
									   local_windows[IG_WINDOW_HOUR].width,
									   local_windows[IG_WINDOW_HOUR].length,
									   now);
			a->rows_day = ig_ring_sum(&counter->rings[IG_WINDOW_DAY],
									  local_windows[IG_WINDOW_DAY].width,
									  local_windows[IG_WINDOW_DAY].length,
									  now);
			a->statements = counter->statements;
			a->last_read = counter->last_read;
			n++;
		}
		release_counter(counter);
	}
	*count = n;
	return result;
}

/* True if anything changed since the last call; clears the flag. */
bool
ig_counters_take_dirty(void)
{
	return pg_atomic_exchange_u32(&ig->dirty, 0) != 0;
}

/*
 * Persistence.  The body of the counts file: a head, the window
 * definitions, then one record per counter in use.  persist.c adds the
 * file header and the CRC, and hands the body back only if both check.
 */
typedef struct IgCounterFileHead
{
	int32		nwindows;
	int32		ring_buckets;
	uint32		next_gen;
	/* the layout: a file of another build is not misread */
	uint16		head_size;
	uint16		window_size;
	uint16		record_size;
	uint16		ring_size;
	/* absent (head_size 20) in files of older builds: dense rings */
	uint16		ring_format;
	uint16		reserved;
} IgCounterFileHead;

/* how the rings follow each record */
#define IG_RINGS_DENSE		0	/* IgRing as in memory */
#define IG_RINGS_SPARSE		1	/* ig_ring_encode */

/* the head of files written before ring_format */
#define IG_COUNTER_FILE_HEAD_V1 offsetof(IgCounterFileHead, ring_format)

typedef struct IgCounterRecord
{
	IgCounterKey key;
	int32		reserved;
	int64		statements;
	TimestampTz last_used;
	TimestampTz last_read;
	TimestampTz pinned_until;
	uint64		pending_rows;
	TimestampTz pending_until;
	IgHistWindow hist_open[IG_HIST_KINDS];
	IgHistWindow hist_closed[IG_HIST_KINDS];
	IgIncident	incidents[IG_COUNTER_INCIDENTS];
	/* IgRing rings[nwindows] follow */
} IgCounterRecord;

/* the records of version 0.1.0 end before the history windows */
#define IG_COUNTER_RECORD_V1 offsetof(IgCounterRecord, hist_open)
/* and those of earlier 0.2.0 builds before the incidents */
#define IG_COUNTER_RECORD_V2 offsetof(IgCounterRecord, incidents)

/*
 * Writes every counter in use, each ring compactly (ig_ring_encode).
 * Takes each counter's mutex in turn, and the LWLock only to copy the
 * definitions, so nobody is held up.
 */
void
ig_counters_save(IgFileWriter *writer)
{
	IgCounterFileHead head;
	IgWindowDef windows[IG_MAX_WINDOWS];
	IgCounter  *copy = palloc(ig->counter_size);
	char	   *buf = palloc(sizeof(IgCounterRecord) +
							 IG_RING_ENCODED_MAX * IG_MAX_WINDOWS);
	IgCounterRecord record;
	int32		nused;

	LWLockAcquire(ig->lock, LW_SHARED);
	memset(&head, 0, sizeof(head));
	head.nwindows = ig->nwindows;
	head.ring_buckets = IG_RING_BUCKETS;
	head.next_gen = ig->next_gen;
	head.head_size = sizeof(IgCounterFileHead);
	head.window_size = sizeof(IgWindowDef);
	head.record_size = sizeof(IgCounterRecord);
	head.ring_size = sizeof(IgRing);
	head.ring_format = IG_RINGS_SPARSE;
	memcpy(windows, ig->windows, sizeof(windows));
	LWLockRelease(ig->lock);

	ig_file_write(writer, &head, sizeof(head));
	ig_file_write(writer, windows, sizeof(IgWindowDef) * head.nwindows);

	memset(&record, 0, sizeof(record));
	nused = ig->nused;
	for (int32 slot = 0; slot < ig->max_counters && nused > 0; slot++)
	{
		IgCounter  *counter = counter_at(slot);
		bool		in_use;

		SpinLockAcquire(&counter->mutex);
		in_use = counter->in_use;
		if (in_use)
			memcpy(copy, counter, ig->counter_size);
		SpinLockRelease(&counter->mutex);
		if (!in_use)
			continue;
		nused--;

		record.key = copy->key;
		record.statements = copy->statements;
		record.last_used = copy->last_used;
		record.last_read = copy->last_read;
		record.pinned_until = copy->pinned_until;
		record.pending_rows = copy->pending_rows;
		record.pending_until = copy->pending_until;
		memcpy(record.hist_open, copy->hist_open, sizeof(record.hist_open));
		memcpy(record.hist_closed, copy->hist_closed, sizeof(record.hist_closed));
		memcpy(record.incidents, copy->incidents, sizeof(record.incidents));
		{
			Size		len = sizeof(record);

			memcpy(buf, &record, sizeof(record));
			for (int w = 0; w < head.nwindows; w++)
				len += ig_ring_encode(&copy->rings[w], buf + len);
			ig_file_write(writer, buf, len);
		}
	}
	pfree(buf);
	pfree(copy);
}

/*
 * Loads a verified counts-file body into empty shared memory (postmaster
 * startup, no concurrency).  A custom window is restored into its slot if
 * the current setting still has that slot; rings of windows not restored
 * start empty.  Returns false if the body is malformed.
 */
bool
ig_counters_load(const char *data, Size len, const char *path)
{
	IgCounterFileHead head;
	const IgWindowDef *file_windows;
	IgRing		rings[IG_MAX_WINDOWS];
	Size		offset;
	int			dropped = 0;

	/* files of older builds have a shorter head, and dense rings */
	if (len < IG_COUNTER_FILE_HEAD_V1)
		return false;
	memset(&head, 0, sizeof(head));
	memcpy(&head, data, IG_COUNTER_FILE_HEAD_V1);
	if (head.head_size == sizeof(IgCounterFileHead) && len >= sizeof(head))
		memcpy(&head, data, sizeof(head));
	else if (head.head_size != IG_COUNTER_FILE_HEAD_V1)
		return false;
	if (head.ring_buckets != IG_RING_BUCKETS ||
		head.window_size != sizeof(IgWindowDef) ||
		(head.record_size != sizeof(IgCounterRecord) &&
		 head.record_size != IG_COUNTER_RECORD_V2 &&
		 head.record_size != IG_COUNTER_RECORD_V1) ||
		head.ring_size != sizeof(IgRing) ||
		(head.ring_format != IG_RINGS_DENSE &&
		 head.ring_format != IG_RINGS_SPARSE) ||
		head.nwindows < IG_BUILTIN_WINDOWS || head.nwindows > IG_MAX_WINDOWS)
		return false;
	offset = head.head_size;
	if (len < offset + sizeof(IgWindowDef) * head.nwindows)
		return false;
	file_windows = (const IgWindowDef *) (data + offset);
	offset += sizeof(IgWindowDef) * head.nwindows;

	/* every record must read whole before anything is loaded */
	for (Size at = offset; at < len;)
	{
		at += head.record_size;
		if (at > len)
			return false;
		for (int w = 0; w < head.nwindows; w++)
		{
			Size		n;

			if (head.ring_format == IG_RINGS_DENSE)
				n = (at + sizeof(IgRing) <= len) ? sizeof(IgRing) : 0;
			else
				n = ig_ring_decode(&rings[0], data + at, len - at);
			if (n == 0)
				return false;
			at += n;
		}
	}

	for (int w = IG_BUILTIN_WINDOWS; w < Min(head.nwindows, ig->nwindows); w++)
		memcpy(&ig->windows[w], &file_windows[w], sizeof(IgWindowDef));
	ig->next_gen = Max(ig->next_gen, head.next_gen);
	pg_atomic_fetch_add_u32(&ig->windows_gen, 1);

	while (offset < len)
	{
		IgCounterRecord record;
		IgIndexEntry *entry;
		IgCounter  *counter;
		int32		slot = ig->free_head;
		bool		found;

		memset(&record, 0, sizeof(record));
		memcpy(&record, data + offset, head.record_size);
		offset += head.record_size;
		for (int w = 0; w < head.nwindows; w++)
		{
			if (head.ring_format == IG_RINGS_DENSE)
			{
				memcpy(&rings[w], data + offset, sizeof(IgRing));
				offset += sizeof(IgRing);
			}
			else
				offset += ig_ring_decode(&rings[w], data + offset, len - offset);
		}

		if (slot < 0)
		{
			dropped++;
			continue;
		}
		entry = hash_search(ig_index, &record.key, HASH_ENTER, &found);
		if (found)
			continue;			/* a duplicate key: keep the first */
		ig->free_head = counter_at(slot)->next_free;
		entry->slot = slot;
		ig->nused++;

		counter = counter_at(slot);
		counter->in_use = true;
		counter->incarnation = ig->next_incarnation++;
		counter->version = 0;
		counter->key = record.key;
		counter->statements = record.statements;
		counter->last_used = record.last_used;
		counter->last_read = record.last_read;
		counter->pinned_until = record.pinned_until;
		counter->reserved = 0;
		memcpy(counter->incidents, record.incidents, sizeof(record.incidents));
		counter->has_open_incident = false;
		for (int i = 0; i < IG_COUNTER_INCIDENTS; i++)
		{
			IgIncident *incident = &counter->incidents[i];

			/* saved while its record was being written: none, maybe */
			if (incident->violation_id == 0)
				memset(incident, 0, sizeof(IgIncident));
			counter->has_open_incident |= (incident->rule_id != 0 &&
										   incident->open);
		}
		counter->pending_rows = record.pending_rows;
		counter->pending_until = record.pending_until;
		memcpy(counter->hist_open, record.hist_open, sizeof(record.hist_open));
		memcpy(counter->hist_closed, record.hist_closed, sizeof(record.hist_closed));
		for (int k = 0; k < IG_HIST_KINDS; k++)
		{
			/* nothing saved (an older file): the window of the last read */
			if (counter->hist_open[k].number == 0)
				hist_window_reset(&counter->hist_open[k],
								  hist_number(k, record.last_read));
		}
		counter->windows_gen = pg_atomic_read_u32(&ig->windows_gen);
		for (int w = 0; w < ig->nwindows; w++)
		{
			if (w < head.nwindows &&
				file_windows[w].length == ig->windows[w].length &&
				file_windows[w].gen == ig->windows[w].gen)
				memcpy(&counter->rings[w], &rings[w], sizeof(IgRing));
			else
				ig_ring_reset(&counter->rings[w], ig->windows[w].gen);
		}
	}

	if (dropped > 0)
		ereport(LOG,
				(errmsg("insider_guard: %d saved counters did not fit in insider_guard.max_tracked = %d and were dropped",
						dropped, ig->max_counters),
				 errdetail("File \"%s\".", path)));
	return true;
}
