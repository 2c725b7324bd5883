/*-------------------------------------------------------------------------
 *
 * history.c
 *		History series of behavioural baselines in shared memory: one
 *		histogram (stats.c) per (database, role, table, hours or days),
 *		bounded by insider_guard.max_history (empty, then short, then
 *		usable series evicted, least recently used first), saved to disk
 *		with the counters.
 *
 * Locking (shmem/locks.h has the whole protocol): the history's LWLock,
 * SHARED to look a series up and copy it, EXCLUSIVE to add a window to a
 * series or to create or evict series.  last_used is atomic: readers
 * under the shared lock mark a series as used, so a series that limits
 * are computed from stays.
 *
 * Windows are added when they close (counter_rings.c notices, and the
 * background worker sweeps idle counters), and by record_history: at most
 * a few per series an hour, never per row or per statement.  A change
 * bumps "generation", which is how backends know that the limits they
 * computed from the history may have moved.  Windows that close bump it
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

#include "base/event.h"
#include "base/guc.h"
#include "shmem/history.h"
#include "shmem/locks.h"
#include "base/persist.h"
#include "base/stats.h"

typedef struct IgSeriesEntry
{
	IgSeriesKey key;			/* hash key */
	pg_atomic_uint64 last_used; /* a TimestampTz */
	IgHistogram hist;
} IgSeriesEntry;

typedef struct IgHistoryShared
{
	LWLock	   *lock;
	int			max_series;
	pg_atomic_uint32 gen;			/* changes whenever any series does */
	pg_atomic_uint32 windows_pending;	/* windows added, generation not
										 * bumped for them yet */
	pg_atomic_uint64 bumped_at; /* TimestampTz of the last bump */
	pg_atomic_uint32 dirty;		/* changed since last saved */
	pg_atomic_uint64 evicted;
	TimestampTz last_eviction_log;
	uint64		evicted_unlogged;
} IgHistoryShared;

static IgHistoryShared *history = NULL;
static HTAB *series_index = NULL;

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

	history = ShmemInitStruct("insider_guard history",
							  sizeof(IgHistoryShared), &found);
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(IgSeriesKey);
	info.entrysize = sizeof(IgSeriesEntry);
	series_index = ShmemInitHash("insider_guard history series",
								 ig_max_history, ig_max_history,
								 &info, HASH_ELEM | HASH_BLOBS);
	if (found)
		return;

	/* [2] of the tranche: the counters have [0], the violations [1] */
	history->lock = ig_lwlock(IG_LWLOCK_HISTORY);
	history->max_series = ig_max_history;
	pg_atomic_init_u32(&history->gen, 1);
	pg_atomic_init_u32(&history->windows_pending, 0);
	pg_atomic_init_u64(&history->bumped_at, 0);
	pg_atomic_init_u32(&history->dirty, 0);
	pg_atomic_init_u64(&history->evicted, 0);
	history->last_eviction_log = 0;
	history->evicted_unlogged = 0;
}

/* at least this long between the bumps for windows that closed */
#define IG_WINDOWS_SPACING USECS_PER_SEC

static void
bump(TimestampTz now)
{
	pg_atomic_write_u64(&history->bumped_at, (uint64) now);
	pg_atomic_fetch_add_u32(&history->gen, 1);
}

/* Bumps the generation for windows added, if the last bump is old enough. */
static void
bump_for_windows(TimestampTz now)
{
	int64		since = now - (TimestampTz) pg_atomic_read_u64(&history->bumped_at);

	/* (a test clock set back counts as time gone by) */
	if ((since >= IG_WINDOWS_SPACING || since < 0) &&
		pg_atomic_exchange_u32(&history->windows_pending, 0) != 0)
		bump(now);
}

/*
 * The generation of the history: changes whenever any series does (for
 * windows that closed, at most once a second).
 */
uint32
ig_history_gen(void)
{
	if (unlikely(pg_atomic_read_u32(&history->windows_pending) != 0))
		bump_for_windows(ig_now());
	return pg_atomic_read_u32(&history->gen);
}

/* Marks the history as changed since the last save. */
static void
mark_dirty(void)
{
	if (pg_atomic_read_u32(&history->dirty) == 0)
		pg_atomic_write_u32(&history->dirty, 1);
}

/* A series changed: limits computed from the history may move. */
static void
changed(void)
{
	bump(ig_now());
	mark_dirty();
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

	hash_seq_init(&status, series_index);
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
		hash_search(series_index, &victim[class], HASH_REMOVE, NULL);
		break;
	}
	if (!have[0] && !have[1] && !have[2])
		return;
	changed();
	pg_atomic_fetch_add_u64(&history->evicted, 1);
	history->evicted_unlogged++;
	if (now - history->last_eviction_log >= USECS_PER_MINUTE && ig_event_json())
	{
		IgEvent		ev;

		ig_event_begin(&ev, "history_eviction", now);
		ig_event_uint(&ev, "evicted", history->evicted_unlogged);
		ig_event_uint(&ev, "evicted_total", pg_atomic_read_u64(&history->evicted));
		ig_event_int(&ev, "max_history", history->max_series);
		ig_event_emit(&ev, LOG);
		history->last_eviction_log = now;
		history->evicted_unlogged = 0;
	}
	else if (now - history->last_eviction_log >= USECS_PER_MINUTE)
	{
		ereport(LOG,
				(errmsg("insider_guard: evicted %llu history series to make room",
						(unsigned long long) history->evicted_unlogged),
				 errdetail("insider_guard.max_history is %d; %llu series evicted since the server started.",
						   history->max_series,
						   (unsigned long long) pg_atomic_read_u64(&history->evicted)),
				 errhint("A role whose history was evicted falls back to its peers' limit, or to none; increase insider_guard.max_history.")));
		history->last_eviction_log = now;
		history->evicted_unlogged = 0;
	}
}

/*
 * The series of a key, made (empty) if need be; exclusive lock held.
 * NULL only if shared memory has no room at all.
 */
static IgSeriesEntry *
enter_series(const IgSeriesKey *key, TimestampTz now)
{
	IgSeriesEntry *entry;
	bool		found;

	entry = hash_search(series_index, key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;
	if (hash_get_num_entries(series_index) >= history->max_series)
		evict_one(now);
	entry = hash_search(series_index, key, HASH_ENTER_NULL, &found);
	if (entry == NULL)
		return NULL;
	if (!found)
	{
		pg_atomic_init_u64(&entry->last_used, (uint64) now);
		ig_hist_init(&entry->hist);
	}
	return entry;
}

/*
 * Adds a completed window to a series (see ig_hist_feed): made if need
 * be.  A window that broke a rule, or read nothing, changes nothing.
 * With at_once (record_history), limits move from the next statement;
 * else (a window that closed) within a second.  Never raises an error:
 * runs while statements are being cleaned up.
 */
void
ig_history_feed(const IgSeriesKey *key, int64 window_end, uint64 rows,
				int64 cap, bool broke, bool at_once)
{
	TimestampTz now = ig_now();
	IgSeriesEntry *entry;

	if (broke || rows == 0)
		return;
	LWLockAcquire(history->lock, LW_EXCLUSIVE);
	entry = enter_series(key, now);
	if (entry != NULL)
	{
		ig_hist_feed(&entry->hist, window_end, rows, cap, broke);
		pg_atomic_write_u64(&entry->last_used, (uint64) now);
		if (at_once)
			changed();
		else
		{
			pg_atomic_write_u32(&history->windows_pending, 1);
			mark_dirty();
			bump_for_windows(now);
		}
	}
	LWLockRelease(history->lock);
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

	LWLockAcquire(history->lock, LW_SHARED);
	entry = hash_search(series_index, key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*hist = entry->hist;
		pg_atomic_write_u64(&entry->last_used, (uint64) now);
	}
	LWLockRelease(history->lock);
	if (entry != NULL)
		return true;

	ig_hist_init(hist);
	if (create)
	{
		/* an empty series changes no limit: the generation stays */
		LWLockAcquire(history->lock, LW_EXCLUSIVE);
		if (enter_series(key, now) != NULL)
			mark_dirty();
		LWLockRelease(history->lock);
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

	LWLockAcquire(history->lock, LW_EXCLUSIVE);
	hash_seq_init(&status, series_index);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.dbid != dbid ||
			(OidIsValid(roleid) && entry->key.roleid != roleid))
			continue;
		/* dynahash allows removing the entry just returned */
		hash_search(series_index, &entry->key, HASH_REMOVE, NULL);
		removed++;
	}
	if (removed > 0)
		changed();
	LWLockRelease(history->lock);
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

	result = palloc(sizeof(IgSeriesCopy) * Max(history->max_series, 1));
	LWLockAcquire(history->lock, LW_SHARED);
	hash_seq_init(&status, series_index);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.dbid != dbid || n >= history->max_series)
			continue;
		result[n].key = entry->key;
		result[n].hist = entry->hist;
		n++;
	}
	LWLockRelease(history->lock);
	*count = n;
	return result;
}

/* True if anything changed since the last call; clears the flag. */
bool
ig_history_take_dirty(void)
{
	return pg_atomic_exchange_u32(&history->dirty, 0) != 0;
}

/*
 * Persistence.  The body of the history file: a head, then one record per
 * series.
 */
typedef struct IgHistoryFileHead
{
	uint32		nseries;
	uint16		record_size;	/* the layout: another build's file is not
								 * misread */
	uint16		bins;
} IgHistoryFileHead;

typedef struct IgSeriesRecord
{
	IgSeriesKey key;
	TimestampTz last_used;
	IgHistogram hist;
} IgSeriesRecord;

/*
 * Writes every series: copied under the shared lock, written after.
 */
void
ig_history_save(IgFileWriter *writer)
{
	HASH_SEQ_STATUS status;
	IgSeriesEntry *entry;
	IgSeriesRecord *records;
	IgHistoryFileHead head;
	uint32		n = 0;

	records = palloc(sizeof(IgSeriesRecord) * Max(history->max_series, 1));
	LWLockAcquire(history->lock, LW_SHARED);
	hash_seq_init(&status, series_index);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (n >= (uint32) history->max_series)
			continue;
		memset(&records[n], 0, sizeof(IgSeriesRecord));
		records[n].key = entry->key;
		records[n].last_used = (TimestampTz) pg_atomic_read_u64(&entry->last_used);
		records[n].hist = entry->hist;
		n++;
	}
	LWLockRelease(history->lock);

	memset(&head, 0, sizeof(head));
	head.nseries = n;
	head.record_size = sizeof(IgSeriesRecord);
	head.bins = IG_HIST_BINS;
	ig_file_write(writer, &head, sizeof(head));
	ig_file_write(writer, records, sizeof(IgSeriesRecord) * n);
	pfree(records);
}

/* newest first */
static int
compare_records_by_use(const void *a, const void *b)
{
	TimestampTz ua = ((const IgSeriesRecord *) a)->last_used;
	TimestampTz ub = ((const IgSeriesRecord *) b)->last_used;

	return (ua < ub) - (ua > ub);
}

/*
 * Loads a verified history-file body into empty shared memory (postmaster
 * startup).  If max_history was lowered, the least recently used series
 * are dropped, and the log says how many.  Returns false if the body is
 * malformed.
 */
bool
ig_history_load(const char *data, Size len, const char *path)
{
	IgHistoryFileHead head;
	IgSeriesRecord *records;
	int			dropped = 0;

	if (len < sizeof(head))
		return false;
	memcpy(&head, data, sizeof(head));
	if (head.record_size != sizeof(IgSeriesRecord) || head.bins != IG_HIST_BINS ||
		len != sizeof(head) + (Size) head.nseries * sizeof(IgSeriesRecord))
		return false;

	records = palloc(sizeof(IgSeriesRecord) * Max(head.nseries, 1));
	memcpy(records, data + sizeof(head), sizeof(IgSeriesRecord) * head.nseries);
	qsort(records, head.nseries, sizeof(IgSeriesRecord), compare_records_by_use);
	for (uint32 i = 0; i < head.nseries; i++)
	{
		IgSeriesEntry *entry;
		bool		found;

		if (hash_get_num_entries(series_index) >= history->max_series ||
			(entry = hash_search(series_index, &records[i].key,
								 HASH_ENTER_NULL, &found)) == NULL)
		{
			dropped++;
			continue;
		}
		if (found)
			continue;			/* a duplicate key: keep the first */
		pg_atomic_init_u64(&entry->last_used, (uint64) records[i].last_used);
		entry->hist = records[i].hist;
	}
	pfree(records);
	pg_atomic_fetch_add_u32(&history->gen, 1);
	if (dropped > 0)
		ig_file_log_dropped(path, "history_dropped", "history series",
							"max_history", dropped, history->max_series);
	return true;
}
