/*-------------------------------------------------------------------------
 *
 * history_seeds.c
 *		Seeding the history (record_history), so that seeding a window
 *		again replaces it instead of adding it twice: the seeded windows
 *		recorded on disk in pg_stat/insider_guard.seeds, and each
 *		backend's index of them.
 *
 * A series keeps no record of its windows in shared memory (a histogram,
 * at most 256 bytes a series), so the windows seeded are recorded in a
 * file: one 48-byte record -- its number, the series, the window's end and
 * its rows, 0 once removed -- for each seeding that changed something,
 * written under the history's exclusive lock at the end of the file, with
 * no fsync: the saver flushes the file before it copies the series to
 * save them (history_file.c), so the history on disk never reflects a
 * record that is not on disk.  A backend that seeds reads the records it
 * has not seen yet into an index of its own: the newest record of each
 * (series, window).  A series owns the records numbered from its
 * born_seq on; those of a series of the same key evicted or reset before
 * it was made are not its own.
 *
 * A window is the UTC hour or day holding the instant just before
 * window_end (a 7-day total: the 7 days ending with that day).  Seeding it:
 *	- is refused if it does not end before the oldest window the server
 *	  counted itself into the series (live_from): the server's windows
 *	  are never replaced nor doubled by seeded ones;
 *	- with the rows it already has, changes nothing and records nothing;
 *	- with rows, for a window so old beside the series' newest that it
 *	  weighs nothing, changes nothing either (it is not history);
 *	- else takes the window seeded before out of the histogram, if any,
 *	  and adds the new one, unless it read nothing (0 rows removes a
 *	  seeded window).  A day stops counting when its last window goes.
 * The server, in turn, leaves out a window it counted that is no later
 * than the newest one seeded into its series (history.c).
 *
 * At start the file is checked against the history loaded and written
 * afresh (history_seeds_file.c).
 *
 * IDENTIFICATION
 *		src/shmem/history_seeds.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "base/event.h"
#include "base/guc.h"
#include "base/persist.h"
#include "shmem/history_internal.h"

/* the backend's index: the newest record of each (series, window) */
typedef struct IgSeedIndexKey
{
	IgSeriesKey key;
	int32		number;
} IgSeedIndexKey;

typedef struct IgSeedIndexEntry
{
	IgSeedIndexKey key;
	uint64		seq;
	int64		rows;
} IgSeedIndexEntry;

static HTAB *seed_index = NULL;
static uint64 index_read = 0;	/* bytes of the file in the index */

/* ---- the backend's index ---- */

/* Adds a record to the index, unless it holds a newer one of the window. */
static void
index_put(const IgSeedRecord *record)
{
	IgSeedIndexKey key;
	IgSeedIndexEntry *entry;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.key = record->key;
	key.number = ig_history_number(record->key.kind, record->window_end);
	entry = hash_search(seed_index, &key, HASH_ENTER, &found);
	if (!found || record->seq > entry->seq)
	{
		entry->seq = record->seq;
		entry->rows = record->rows;
	}
}

/*
 * Reads the records the index lacks, up to "upto" bytes of the file.  An
 * error leaves the index as it was, or with some of them: read again.
 */
static void
index_sync(uint64 upto)
{
	IgSeedRecord records[128];
	int			fd;

	if (seed_index == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(IgSeedIndexKey);
		info.entrysize = sizeof(IgSeedIndexEntry);
		info.hcxt = TopMemoryContext;
		seed_index = hash_create("insider_guard seeded windows", 1024, &info,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		index_read = sizeof(IgSeedsHead);
	}
	if (index_read >= upto)
		return;

	fd = OpenTransientFile(IG_SEEDS_FILE, O_RDONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not open file \"%s\": %m",
						IG_SEEDS_FILE)));
	while (index_read < upto)
	{
		size_t		want = Min(upto - index_read, sizeof(records));
		ssize_t		got = pg_pread(fd, records, want, (off_t) index_read);

		if (got != (ssize_t) want || want % sizeof(IgSeedRecord) != 0)
		{
			int			save_errno = errno;

			CloseTransientFile(fd);
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 got < 0 ?
					 errmsg("insider_guard: could not read file \"%s\": %m",
							IG_SEEDS_FILE) :
					 errmsg("insider_guard: file \"%s\" is shorter than it was written",
							IG_SEEDS_FILE)));
		}
		for (size_t i = 0; i < want / sizeof(IgSeedRecord); i++)
		{
			if (!EQ_CRC32C(ig_seed_record_crc(&records[i]), records[i].crc))
			{
				CloseTransientFile(fd);
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("insider_guard: file \"%s\" is damaged",
								IG_SEEDS_FILE)));
			}
			index_put(&records[i]);
		}
		index_read += want;
	}
	CloseTransientFile(fd);
}

/* The rows a series' own records give a window; 0 if none. */
static int64
index_rows(const IgSeriesEntry *series, int32 number)
{
	IgSeedIndexKey key;
	IgSeedIndexEntry *entry;

	memset(&key, 0, sizeof(key));
	key.key = series->key;
	key.number = number;
	entry = hash_search(seed_index, &key, HASH_FIND, NULL);
	if (entry == NULL || entry->seq < series->born_seq)
		return 0;
	return entry->rows;
}

/*
 * True if a window of a series other than window "number" makes its UTC
 * day active: another seeded window of the day, or one the server counted
 * (its windows begin at live_from, after every seeded one).
 */
static bool
day_has_another(const IgSeriesEntry *series, int32 number)
{
	int64		per_day = USECS_PER_DAY / ig_hist_kind_length(series->key.kind);
	int64		first = number - (((int64) number % per_day) + per_day) % per_day;

	for (int64 n = first; n < first + per_day; n++)
		if (n != number && index_rows(series, (int32) n) > 0)
			return true;
	return series->live_from != IG_LIVE_NONE &&
		(int64) series->live_from < first + per_day;
}

/* Writes a record at "offset"; raises an error if it could not. */
static void
write_record(const IgSeedRecord *record, uint64 offset)
{
	int			fd = OpenTransientFile(IG_SEEDS_FILE, O_WRONLY | PG_BINARY);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not open file \"%s\": %m",
						IG_SEEDS_FILE)));
	errno = 0;
	if (pg_pwrite(fd, record, sizeof(IgSeedRecord), (off_t) offset) !=
		sizeof(IgSeedRecord))
	{
		int			save_errno = errno;

		CloseTransientFile(fd);
		/* a short write sets no errno: most likely no space */
		errno = save_errno ? save_errno : ENOSPC;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not write file \"%s\": %m",
						IG_SEEDS_FILE)));
	}
	if (CloseTransientFile(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not close file \"%s\": %m",
						IG_SEEDS_FILE)));
}

/*
 * Seeds a window of a series (record_history): the UTC hour or day that
 * holds the instant just before window_end read "rows" rows (0: it read
 * nothing, and a window seeded before goes).  Returns what happened; if
 * the window is refused because the server counted windows of the series
 * itself, *live_from is when the oldest of them began.  File errors are
 * raised, with nothing changed.
 */
IgSeedResult
ig_history_seed(const IgSeriesKey *key, TimestampTz window_end, int64 rows,
				TimestampTz *live_from)
{
	TimestampTz now = ig_now();
	int64		length = ig_hist_kind_length(key->kind);
	int32		number = ig_history_number(key->kind, window_end);
	int64		end = ((int64) number + 1) * length;
	IgSeriesEntry *entry;
	IgSeedRecord record;
	int64		before;
	bool		day_active;
	uint64		offset;

	index_sync(pg_atomic_read_u64(&ig_history->seeds_len));
	LWLockAcquire(ig_history->lock, LW_EXCLUSIVE);
	if (!ig_history->seeds_usable)
	{
		LWLockRelease(ig_history->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("insider_guard: seeded windows cannot be recorded"),
				 errdetail("File \"%s\" could not be written when the server started; the server log says why.",
						   IG_SEEDS_FILE)));
	}
	/* what was seeded since the sync above (the lock is held from now on) */
	index_sync(pg_atomic_read_u64(&ig_history->seeds_len));

	if (rows > 0)
		entry = ig_history_enter(key, now);
	else
		entry = hash_search(ig_series_index, key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		LWLockRelease(ig_history->lock);
		return rows > 0 ? IG_SEED_NO_ROOM : IG_SEED_UNCHANGED;
	}
	if (number >= entry->live_from)
	{
		IgSeedResult result = entry->live_from == IG_LIVE_UNKNOWN ?
		IG_SEED_UNKNOWN : IG_SEED_OVERLAPS;

		*live_from = (int64) entry->live_from * length;
		LWLockRelease(ig_history->lock);
		return result;
	}
	before = index_rows(entry, number);

	/*
	 * The same rows change nothing; nor do any for a window so old beside
	 * the series' newest that it weighs nothing (not history; one seeded
	 * before stays, worth nothing either, so that seeding again changes
	 * no count).
	 */
	if (rows == before || (rows > 0 && !ig_hist_weighs(&entry->hist, end)))
	{
		LWLockRelease(ig_history->lock);
		return IG_SEED_UNCHANGED;
	}
	day_active = rows > 0 || day_has_another(entry, number);

	/* recorded first: an error leaves the series as they were */
	memset(&record, 0, sizeof(record));
	record.seq = ig_history->seeds_seq + 1;
	record.key = *key;
	record.window_end = end;
	record.rows = rows;
	record.crc = ig_seed_record_crc(&record);
	offset = pg_atomic_read_u64(&ig_history->seeds_len);
	write_record(&record, offset);
	ig_history->seeds_seq = record.seq;
	pg_atomic_write_u64(&ig_history->seeds_len, offset + sizeof(record));

	if (before > 0)
		ig_hist_remove(&entry->hist, end, (uint64) before, day_active);
	if (rows > 0)
	{
		ig_hist_add(&entry->hist, end, (uint64) rows);
		entry->seeded_to = Max(entry->seeded_to, number);
	}
	/* what a DBA seeded is taken as given: its p99 in force at once */
	ig_rise_reset(&entry->hist);
	pg_atomic_write_u64(&entry->last_used, (uint64) now);
	ig_history_changed();
	LWLockRelease(ig_history->lock);

	/* the index had every record before this one (synced under the lock) */
	index_put(&record);
	index_read = offset + sizeof(record);
	return IG_SEED_DONE;
}

/*
 * Flushes the records written since the last flush to disk; the saver
 * calls it with the history's lock held (shared), before copying the
 * series it saves.  Only the saver calls it, one process at a time (the
 * worker, or the postmaster at shutdown once the worker is gone).
 * Returns false, after logging, if it could not.
 */
bool
ig_history_seeds_flush(void)
{
	uint64		len = pg_atomic_read_u64(&ig_history->seeds_len);
	int			fd;

	if (!ig_history->seeds_usable || len == ig_history->seeds_synced)
		return true;
	fd = OpenTransientFile(IG_SEEDS_FILE, O_RDWR | PG_BINARY);
	if (fd < 0 || pg_fsync(fd) != 0)
	{
		int			save_errno = errno;

		if (fd >= 0)
			CloseTransientFile(fd);
		errno = save_errno;
		ig_log_file_error(LOG, "flush file", IG_SEEDS_FILE, NULL, true);
		return false;
	}
	CloseTransientFile(fd);
	ig_history->seeds_synced = len;
	return true;
}
