/*-------------------------------------------------------------------------
 *
 * history.c
 *		History series of behavioural baselines in shared memory: one
 *		histogram (stats.c) per (database, role, table, hours, days or 7-day totals),
 *		bounded by insider_guard.max_history (empty, then short, then
 *		usable series evicted, least recently used first).  Windows the
 *		server counted are fed here; seeded ones in history_seeds.c; the
 *		file is history_file.c's.
 *
 * Locking (shmem/locks.h has the whole protocol): the history's LWLock,
 * SHARED to look a series up and copy it, EXCLUSIVE to add a window to a
 * series or to create or evict series.  last_used is atomic: readers
 * under the shared lock mark a series as used, so a series that limits
 * are computed from stays.
 *
 * Windows are added when they close (counter_rings.c notices, and the
 * background worker sweeps idle counters), and by record_history
 * (history_seeds.c): at most a few per series an hour, never per row or
 * per statement.  A window the server counted is not added if it is no
 * later than the newest window seeded into its series (the seeded one
 * stands for it: it closed just after the seeding), and marks where the
 * server's own windows begin, before which alone seeding is allowed.
 *
 * A change bumps "generation", which is how backends know that the limits
 * they computed from the history may have moved.  Windows that close bump it
 * at most once a second (IG_WINDOWS_SPACING): after an hour boundary
 * every active series gets a window within a minute or so, and a bump
 * for each would have every statement under a baseline rule recompute
 * its limits all that time.  Their bump waits in windows_pending, and is
 * made by the next feed or generation read a second on.  Other changes
 * (record_history, reset_history, eviction, loading) bump it at once.
 *
 * IDENTIFICATION
 *		src/shmem/history.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"

#include "base/compat.h"
#include "base/event.h"
#include "base/guc.h"
#include "shmem/history_internal.h"
#include "shmem/locks.h"
#include "base/stats.h"

/*
 * A series and its hash overhead (element head, bucket) stay within the
 * 256 bytes of shared memory SPEC allows.
 */
StaticAssertDecl(sizeof(IgSeriesEntry) <= 256 - 32,
				 "a history series takes at most 256 bytes");

IgHistoryShared *ig_history = NULL;
HTAB	   *ig_series_index = NULL;

/*
 * Shared memory needed: a header and the series.
 */
Size
ig_history_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(IgHistoryShared)),
					hash_estimate_size(ig_max_history, sizeof(IgSeriesEntry)));
}

/*
 * Creates or attaches to the history; with AddinShmemInitLock held.
 */
void
ig_history_shmem_init(bool created)
{
	bool		found;
	HASHCTL		info;

	ig_history = ShmemInitStruct("insider_guard history",
								 sizeof(IgHistoryShared), &found);
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(IgSeriesKey);
	info.entrysize = sizeof(IgSeriesEntry);
	ig_series_index = ig_shmem_init_hash("insider_guard history series",
										 ig_max_history,
										 &info, HASH_ELEM | HASH_BLOBS);
	if (found)
		return;

	/* [2] of the tranche: the counters have [0], the violations [1] */
	ig_history->lock = ig_lwlock(IG_LWLOCK_HISTORY);
	ig_history->max_series = ig_max_history;
	pg_atomic_init_u32(&ig_history->gen, 1);
	pg_atomic_init_u32(&ig_history->windows_pending, 0);
	pg_atomic_init_u64(&ig_history->bumped_at, 0);
	pg_atomic_init_u32(&ig_history->dirty, 0);
	pg_atomic_init_u64(&ig_history->evicted, 0);
	ig_history->last_eviction_log = 0;
	ig_history->evicted_unlogged = 0;
	ig_history->seeds_usable = false;
	ig_history->seeds_seq = 0;
	pg_atomic_init_u64(&ig_history->seeds_len, 0);
	ig_history->seeds_synced = 0;
	ig_history->loaded = IG_LOADED_NOTHING;
	ig_history->loaded_seq = 0;
	ig_history->nyoung = 0;
	ig_history->overflow_until = 0;
}

/* at least this long between the bumps for windows that closed */
#define IG_WINDOWS_SPACING USECS_PER_SEC

static void
bump(TimestampTz now)
{
	pg_atomic_write_u64(&ig_history->bumped_at, (uint64) now);
	pg_atomic_fetch_add_u32(&ig_history->gen, 1);
}

/* Bumps the generation for windows added, if the last bump is old enough. */
static void
bump_for_windows(TimestampTz now)
{
	int64		since = now - (TimestampTz) pg_atomic_read_u64(&ig_history->bumped_at);

	/* (a test clock set back counts as time gone by) */
	if ((since >= IG_WINDOWS_SPACING || since < 0) &&
		pg_atomic_exchange_u32(&ig_history->windows_pending, 0) != 0)
		bump(now);
}

/*
 * The generation of the history: changes whenever any series does (for
 * windows that closed, at most once a second).
 */
uint32
ig_history_gen(void)
{
	if (unlikely(pg_atomic_read_u32(&ig_history->windows_pending) != 0))
		bump_for_windows(ig_now());
	return pg_atomic_read_u32(&ig_history->gen);
}

/* Marks the history as changed since the last save. */
void
ig_history_mark_dirty(void)
{
	if (pg_atomic_read_u32(&ig_history->dirty) == 0)
		pg_atomic_write_u32(&ig_history->dirty, 1);
}

/* A series changed: limits computed from the history may move. */
void
ig_history_changed(void)
{
	bump(ig_now());
	ig_history_mark_dirty();
}

/*
 * Evicts a series to make room; exclusive lock held.  Series with the
 * least to lose go first: empty ones, then those too short to give a
 * limit, then usable ones -- each class least recently used first -- so
 * that new, empty series (made when a rule first covers a role) never push
 * out the history limits are computed from.  Logs at most once a minute,
 * with a running total.
 */
static void
evict_one(TimestampTz now)
{
	HASH_SEQ_STATUS status;
	IgSeriesEntry *entry;
	IgSeriesKey victim[3];
	TimestampTz oldest[3];
	bool		have[3] = {false, false, false};

	hash_seq_init(&status, ig_series_index);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		TimestampTz used = (TimestampTz) pg_atomic_read_u64(&entry->last_used);
		int			class = entry->hist.windows == 0 ? 0 :
			!ig_hist_usable(&entry->hist) ? 1 : 2;

		if (!have[class] || used < oldest[class])
		{
			oldest[class] = used;
			victim[class] = entry->key;
			have[class] = true;
		}
	}
	for (int class = 0; class < 3; class++)
	{
		if (!have[class])
			continue;
		hash_search(ig_series_index, &victim[class], HASH_REMOVE, NULL);
		break;
	}
	if (!have[0] && !have[1] && !have[2])
		return;
	ig_history_changed();
	pg_atomic_fetch_add_u64(&ig_history->evicted, 1);
	ig_history->evicted_unlogged++;
	if (now - ig_history->last_eviction_log >= USECS_PER_MINUTE && ig_event_json())
	{
		IgEvent		ev;

		ig_event_begin(&ev, "history_eviction", now);
		ig_event_uint(&ev, "evicted", ig_history->evicted_unlogged);
		ig_event_uint(&ev, "evicted_total", pg_atomic_read_u64(&ig_history->evicted));
		ig_event_int(&ev, "max_history", ig_history->max_series);
		ig_event_emit(&ev, LOG);
		ig_history->last_eviction_log = now;
		ig_history->evicted_unlogged = 0;
	}
	else if (now - ig_history->last_eviction_log >= USECS_PER_MINUTE)
	{
		ereport(LOG,
				(errmsg("insider_guard: evicted %llu history series to make room",
						(unsigned long long) ig_history->evicted_unlogged),
				 errdetail("insider_guard.max_history is %d; %llu series evicted since the server started.",
						   ig_history->max_series,
						   (unsigned long long) pg_atomic_read_u64(&ig_history->evicted)),
				 errhint("A role whose history was evicted falls back to its peers' limit, or to none; increase insider_guard.max_history.")));
		ig_history->last_eviction_log = now;
		ig_history->evicted_unlogged = 0;
	}
}

/*
 * The series of a key, made (empty) if need be; exclusive lock held.
 * NULL only if shared memory has no room at all.  A new series owns the
 * seeded-window records numbered from the next one on.
 */
IgSeriesEntry *
ig_history_enter(const IgSeriesKey *key, TimestampTz now)
{
	IgSeriesEntry *entry;
	bool		found;

	entry = hash_search(ig_series_index, key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;
	if (hash_get_num_entries(ig_series_index) >= ig_history->max_series)
		evict_one(now);
	entry = hash_search(ig_series_index, key, HASH_ENTER_NULL, &found);
	if (entry == NULL)
		return NULL;
	if (!found)
	{
		pg_atomic_init_u64(&entry->last_used, (uint64) now);
		entry->born_seq = ig_history->seeds_seq + 1;
		entry->live_from = IG_LIVE_NONE;
		entry->seeded_to = IG_SEEDED_NONE;
		ig_hist_init(&entry->hist);
	}
	return entry;
}

/*
 * Adds a window the server counted, which just closed, to its series (see
 * ig_hist_feed): made if need be.  A window that read nothing changes
 * nothing; one that broke a rule adds nothing but marks where the
 * server's own windows begin (if its series exists); one no later than
 * the newest window seeded into the series is left out, the seeded one
 * standing for it.  Limits move within a second.  Never raises an error:
 * runs while statements are being cleaned up.
 */
void
ig_history_feed(const IgSeriesKey *key, int64 window_end, uint64 rows,
				int64 cap, bool broke)
{
	TimestampTz now = ig_now();
	int32		number = ig_history_number(key->kind, window_end);
	IgSeriesEntry *entry;

	if (rows == 0)
		return;
	LWLockAcquire(ig_history->lock, LW_EXCLUSIVE);
	if (broke)
		entry = hash_search(ig_series_index, key, HASH_FIND, NULL);
	else
		entry = ig_history_enter(key, now);
	if (entry != NULL && number > entry->seeded_to)
	{
		if (number < entry->live_from)
		{
			entry->live_from = number;
			ig_history_mark_dirty();
		}
		if (!broke)
		{
			ig_hist_feed(&entry->hist, window_end, rows, cap, broke);
			pg_atomic_write_u64(&entry->last_used, (uint64) now);
			pg_atomic_write_u32(&ig_history->windows_pending, 1);
			ig_history_mark_dirty();
			bump_for_windows(now);
		}
	}
	LWLockRelease(ig_history->lock);
}

/*
 * Notes in a key's series, if it is there, the p99s a backend found in
 * force (ig_rise_take: the own p99 if a limit came from it, else 0; the
 * peers', or -1, held by the own notes with peers_fallback)
 * and the p99 a cold start stands for (ig_rise_floor; 0: none), as the
 * backend noted them in its copy: how fast the user's limits may rise.
 * Changes no limit in force: the generation stays.
 */
void
ig_history_note_rise(const IgSeriesKey *key, uint64 own_high, int64 peer_high,
					 bool peers_fallback, uint64 floor_high, TimestampTz now)
{
	IgSeriesEntry *entry;

	LWLockAcquire(ig_history->lock, LW_EXCLUSIVE);
	entry = hash_search(ig_series_index, key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		IgRise		before = entry->hist.rise;

		ig_rise_take_as_of(&entry->hist, &before, IG_RISE_OWN, own_high, now,
						   true);
		if (peer_high >= 0)
			ig_rise_take_as_of(&entry->hist, &before, IG_RISE_PEERS,
							   (uint64) peer_high, now, peers_fallback);
		ig_rise_floor(&entry->hist, floor_high, now);
		ig_history_mark_dirty();
	}
	LWLockRelease(ig_history->lock);
}

/*
 * Copies a key's series into *hist.  If there is none: with "create",
 * makes an empty one (so that the baselines view shows it); either way
 * *hist is empty and the result false.
 */
bool
ig_history_get(const IgSeriesKey *key, IgHistogram *hist, bool create)
{
	TimestampTz now = ig_now();
	IgSeriesEntry *entry;

	LWLockAcquire(ig_history->lock, LW_SHARED);
	entry = hash_search(ig_series_index, key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*hist = entry->hist;
		pg_atomic_write_u64(&entry->last_used, (uint64) now);
	}
	LWLockRelease(ig_history->lock);
	if (entry != NULL)
		return true;

	ig_hist_init(hist);
	if (create)
	{
		/* an empty series changes no limit: the generation stays */
		LWLockAcquire(ig_history->lock, LW_EXCLUSIVE);
		if (ig_history_enter(key, now) != NULL)
			ig_history_mark_dirty();
		LWLockRelease(ig_history->lock);
	}
	return false;
}

/*
 * Removes the series of a role (every role if roleid is InvalidOid) in a
 * database; returns how many.
 */
int64
ig_history_reset(Oid dbid, Oid roleid)
{
	HASH_SEQ_STATUS status;
	IgSeriesEntry *entry;
	int64		removed = 0;

	LWLockAcquire(ig_history->lock, LW_EXCLUSIVE);
	hash_seq_init(&status, ig_series_index);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.dbid != dbid ||
			(OidIsValid(roleid) && entry->key.roleid != roleid))
			continue;
		/* dynahash allows removing the entry just returned */
		hash_search(ig_series_index, &entry->key, HASH_REMOVE, NULL);
		removed++;
	}
	if (removed > 0)
		ig_history_changed();
	LWLockRelease(ig_history->lock);
	return removed;
}

/*
 * Copies of a database's series, palloc'd; *count is set.
 */
IgSeriesCopy *
ig_history_list(Oid dbid, int *count)
{
	HASH_SEQ_STATUS status;
	IgSeriesEntry *entry;
	IgSeriesCopy *result;
	int			n = 0;

	result = palloc(sizeof(IgSeriesCopy) * Max(ig_history->max_series, 1));
	LWLockAcquire(ig_history->lock, LW_SHARED);
	hash_seq_init(&status, ig_series_index);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.dbid != dbid || n >= ig_history->max_series)
			continue;
		result[n].key = entry->key;
		result[n].hist = entry->hist;
		n++;
	}
	LWLockRelease(ig_history->lock);
	*count = n;
	return result;
}

/*
 * What the info view shows of the history: the series in memory (all
 * databases) and the most there may be (insider_guard.max_history).
 */
void
ig_history_info(int64 *in_use, int64 *max_series)
{
	LWLockAcquire(ig_history->lock, LW_SHARED);
	*in_use = (int64) hash_get_num_entries(ig_series_index);
	LWLockRelease(ig_history->lock);
	*max_series = ig_history->max_series;
}

/* True if anything changed since the last call; clears the flag. */
bool
ig_history_take_dirty(void)
{
	return pg_atomic_exchange_u32(&ig_history->dirty, 0) != 0;
}
