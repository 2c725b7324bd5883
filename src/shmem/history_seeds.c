/*-------------------------------------------------------------------------
 *
 * history_seeds.c
 *		Seeding the history (record_history), so that seeding a window
 *		again replaces it instead of adding it twice: the seeded windows
 *		recorded on disk in pg_stat/insider_guard.seeds, each backend's
 *		index of them, and the file's check against the history at start.
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
 * window_end.  Seeding it:
 *	- is refused if it does not end before the oldest window the server
 *	  counted itself into the series (live_from): the server's windows
 *	  are never replaced nor doubled by seeded ones;
 *	- with the rows it already has, changes nothing and records nothing;
 *	- else takes the window seeded before out of the histogram, if any,
 *	  and adds the new one, unless it read nothing (0 rows removes a
 *	  seeded window) or is so old beside the series' newest window that it
 *	  weighs nothing.  A day stops counting when its last window goes.
 * The server, in turn, leaves out a window it counted that is no later
 * than the newest one seeded into its series (history.c).
 *
 * At start (postmaster, once the history file is loaded), the file is
 * checked against the history: the history file names the newest record
 * its series reflect.  Records after it -- windows seeded after the last
 * save, lost with the series' changes in a crash -- are dropped, and
 * logged.  If a record it reflects is missing (the file is damaged or
 * gone, or an older history file was loaded), nobody can tell which
 * windows of a series were seeded: seeding is then refused for every
 * series that holds windows, until reset_history forgets it.  The file is
 * then written again with the newest record of each window still seeded,
 * and no other.
 *
 * IDENTIFICATION
 *		src/shmem/history_seeds.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "base/guc.h"
#include "base/persist.h"
#include "shmem/history_internal.h"

#define SEEDS_FORMAT		1
#define SEEDS_MAX_SIZE		((Size) 1024 * 1024 * 1024)

/* the head of the file */
typedef struct IgSeedsHead
{
	uint32		magic;
	uint32		format;
	uint32		pg_major;
	pg_crc32c	crc;			/* of the head, with this field 0 */
	uint64		base_seq;		/* records up to this one were compacted:
								 * those they replaced are gone */
} IgSeedsHead;

/* one seeding that changed a window */
typedef struct IgSeedRecord
{
	uint64		seq;			/* increasing from 1 */
	IgSeriesKey key;
	int64		window_end;		/* aligned */
	int64		rows;			/* 0: the window was removed */
	pg_crc32c	crc;			/* of the fields above */
	uint32		zero;
} IgSeedRecord;

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

static pg_crc32c
record_crc(const IgSeedRecord *record)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, record, offsetof(IgSeedRecord, crc));
	FIN_CRC32C(crc);
	return crc;
}

static pg_crc32c
head_crc(const IgSeedsHead *head)
{
	IgSeedsHead copy = *head;
	pg_crc32c	crc;

	copy.crc = 0;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &copy, sizeof(copy));
	FIN_CRC32C(crc);
	return crc;
}

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
			if (!EQ_CRC32C(record_crc(&records[i]), records[i].crc))
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
	if (rows > 0 && !ig_hist_weighs(&entry->hist, end))
		rows = 0;				/* so old it weighs nothing: not history */
	if (rows == before)
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
	record.crc = record_crc(&record);
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
	pg_atomic_write_u64(&entry->last_used, (uint64) now);
	ig_history_changed();
	LWLockRelease(ig_history->lock);

	index_sync(offset + sizeof(record));
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
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not flush file \"%s\": %m",
						IG_SEEDS_FILE)));
		return false;
	}
	CloseTransientFile(fd);
	ig_history->seeds_synced = len;
	return true;
}

/* ---- at start ---- */

/* by series, window, then record */
static int
compare_by_window(const void *a, const void *b)
{
	const IgSeedRecord *ra = a;
	const IgSeedRecord *rb = b;
	int			c = memcmp(&ra->key, &rb->key, sizeof(IgSeriesKey));

	if (c != 0)
		return c;
	if (ra->window_end != rb->window_end)
		return ra->window_end < rb->window_end ? -1 : 1;
	return (ra->seq > rb->seq) - (ra->seq < rb->seq);
}

static bool
same_window(const IgSeedRecord *a, const IgSeedRecord *b)
{
	return memcmp(&a->key, &b->key, sizeof(IgSeriesKey)) == 0 &&
		a->window_end == b->window_end;
}

static int
compare_by_seq(const void *a, const void *b)
{
	uint64		sa = ((const IgSeedRecord *) a)->seq;
	uint64		sb = ((const IgSeedRecord *) b)->seq;

	return (sa > sb) - (sa < sb);
}

/*
 * Reads the file: its head (*head_ok false if there is none that checks)
 * and its records up to the first that does not check, palloc'd.
 */
static IgSeedRecord *
read_file(IgSeedsHead *head, bool *head_ok, int *count)
{
	FILE	   *file;
	struct stat st;
	IgSeedRecord *records = NULL;
	Size		n = 0;

	*head_ok = false;
	*count = 0;
	file = AllocateFile(IG_SEEDS_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("insider_guard: could not open file \"%s\": %m",
							IG_SEEDS_FILE)));
		return NULL;
	}
	if (fstat(fileno(file), &st) == 0 && st.st_size <= SEEDS_MAX_SIZE &&
		fread(head, sizeof(IgSeedsHead), 1, file) == 1 &&
		head->magic == IG_SEEDS_MAGIC && head->format == SEEDS_FORMAT &&
		head->pg_major == PG_VERSION_NUM / 100 &&
		EQ_CRC32C(head_crc(head), head->crc))
	{
		Size		room = (st.st_size - sizeof(IgSeedsHead)) / sizeof(IgSeedRecord);

		*head_ok = true;
		records = palloc_extended(sizeof(IgSeedRecord) * Max(room, 1),
								  MCXT_ALLOC_NO_OOM);
		while (records != NULL && n < room &&
			   fread(&records[n], sizeof(IgSeedRecord), 1, file) == 1 &&
			   EQ_CRC32C(record_crc(&records[n]), records[n].crc) &&
			   (n == 0 || records[n].seq > records[n - 1].seq))
			n++;
		if (records == NULL)
			*head_ok = false;
	}
	FreeFile(file);
	*count = (int) n;
	return records;
}

/*
 * Writes the file afresh with these records (in order) and the head;
 * returns false, after logging, if it could not.
 */
static bool
write_file(uint64 base_seq, const IgSeedRecord *records, int count)
{
	char		tmp_path[MAXPGPATH];
	IgSeedsHead head;
	FILE	   *file;
	bool		ok;

	memset(&head, 0, sizeof(head));
	head.magic = IG_SEEDS_MAGIC;
	head.format = SEEDS_FORMAT;
	head.pg_major = PG_VERSION_NUM / 100;
	head.base_seq = base_seq;
	head.crc = head_crc(&head);

	snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", IG_SEEDS_FILE);
	file = AllocateFile(tmp_path, PG_BINARY_W);
	if (file == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not create file \"%s\": %m",
						tmp_path)));
		return false;
	}
	ok = fwrite(&head, sizeof(head), 1, file) == 1 &&
		(count == 0 ||
		 fwrite(records, sizeof(IgSeedRecord), count, file) == (size_t) count) &&
		fflush(file) == 0 && pg_fsync(fileno(file)) == 0;
	if (FreeFile(file) != 0)
		ok = false;
	if (!ok)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("insider_guard: could not write file \"%s\": %m",
						tmp_path)));
		unlink(tmp_path);
		return false;
	}
	return durable_rename(tmp_path, IG_SEEDS_FILE, LOG) == 0;
}

/* Refuses seeding every series that holds windows (see the header). */
static void
forget_which_were_seeded(void)
{
	HASH_SEQ_STATUS status;
	IgSeriesEntry *entry;

	hash_seq_init(&status, ig_series_index);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->hist.windows > 0)
			entry->live_from = IG_LIVE_UNKNOWN;
}

/*
 * Matches the seeded-window file with the history just loaded, and writes
 * it afresh (see the header).  In the postmaster, at start, after the
 * history is loaded, before any backend runs.
 */
void
ig_history_seeds_start(void)
{
	MemoryContext cxt;
	MemoryContext old;
	IgSeedsHead head;
	bool		head_ok;
	IgSeedRecord *records;
	int			count;
	int			kept = 0;
	int			lost = 0;
	uint64		reflected;
	uint64		newest;
	bool		matches;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "insider_guard seeds at start",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	records = read_file(&head, &head_ok, &count);
	reflected = ig_history->loaded == IG_LOADED_CURRENT ? ig_history->loaded_seq : 0;
	newest = head_ok ? head.base_seq : 0;
	if (count > 0)
		newest = Max(newest, records[count - 1].seq);
	matches = reflected == 0 ||
		(head_ok && head.base_seq <= reflected && newest >= reflected);
	if (!matches)
	{
		forget_which_were_seeded();
		ereport(LOG,
				(errmsg("insider_guard: file \"%s\" lacks windows seeded into the history loaded",
						IG_SEEDS_FILE),
				 errdetail("Which windows of the history were seeded is not known: seeding a window of a series that holds windows is refused until reset_history forgets the series.")));
		count = 0;
	}

	/* the newest record of each window still seeded, in a series loaded */
	if (count > 0)
		qsort(records, count, sizeof(IgSeedRecord), compare_by_window);
	for (int i = 0; i < count; i++)
	{
		IgSeriesEntry *entry;

		if (records[i].seq > reflected)
		{
			lost++;
			continue;
		}
		if (i + 1 < count && records[i + 1].seq <= reflected &&
			same_window(&records[i], &records[i + 1]))
			continue;			/* a newer record of the window follows */
		entry = hash_search(ig_series_index, &records[i].key, HASH_FIND, NULL);
		if (records[i].rows == 0 || entry == NULL ||
			records[i].seq < entry->born_seq)
			continue;
		records[kept++] = records[i];
	}
	if (kept > 0)
		qsort(records, kept, sizeof(IgSeedRecord), compare_by_seq);
	if (lost > 0)
		ereport(LOG,
				(errmsg("insider_guard: %d windows seeded after the history was last saved were lost",
						lost),
				 errdetail("The server stopped before saving them; seed them again.")));

	ig_history->seeds_seq = reflected;
	ig_history->seeds_usable = write_file(reflected, records, kept);
	/* nothing to read if it could not be written (seeding is refused) */
	pg_atomic_write_u64(&ig_history->seeds_len, !ig_history->seeds_usable ? 0 :
						sizeof(IgSeedsHead) + (uint64) kept * sizeof(IgSeedRecord));
	ig_history->seeds_synced = pg_atomic_read_u64(&ig_history->seeds_len);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
