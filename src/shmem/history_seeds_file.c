/*-------------------------------------------------------------------------
 *
 * history_seeds_file.c
 *		The seeded-window file (history_seeds.c) at start: read, matched
 *		with the history just loaded, and written afresh -- in the
 *		postmaster, before any backend runs.
 *
 * The history file names the newest seeded-window record its series
 * reflect.  Records after it -- windows seeded after the last save, lost
 * with the series' changes in a crash -- are dropped, and logged.  If a
 * record it reflects is missing (the file is damaged or gone, or an older
 * history file was loaded), nobody can tell which windows of a series
 * were seeded: seeding is then refused for every series that holds
 * windows, until reset_history forgets it.  The file is then written
 * again (to a temporary file, flushed, renamed) with the newest record of
 * each window still seeded in a series loaded, and no other; its head
 * says up to which record it was so compacted.
 *
 * IDENTIFICATION
 *		src/shmem/history_seeds_file.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/memutils.h"

#include "base/event.h"
#include "base/persist.h"
#include "shmem/history_internal.h"

#define SEEDS_MAX_SIZE		((Size) 1024 * 1024 * 1024)

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
			ig_log_file_error(LOG, "open file", IG_SEEDS_FILE, NULL, true);
		return NULL;
	}
	if (fstat(fileno(file), &st) == 0 && st.st_size <= SEEDS_MAX_SIZE &&
		fread(head, sizeof(IgSeedsHead), 1, file) == 1 &&
		head->magic == IG_SEEDS_MAGIC && head->format == IG_SEEDS_FORMAT &&
		head->pg_major == PG_VERSION_NUM / 100 &&
		EQ_CRC32C(ig_seeds_head_crc(head), head->crc))
	{
		Size		room = (st.st_size - sizeof(IgSeedsHead)) / sizeof(IgSeedRecord);

		*head_ok = true;
		records = palloc_extended(sizeof(IgSeedRecord) * Max(room, 1),
								  MCXT_ALLOC_NO_OOM);
		while (records != NULL && n < room &&
			   fread(&records[n], sizeof(IgSeedRecord), 1, file) == 1 &&
			   EQ_CRC32C(ig_seed_record_crc(&records[n]), records[n].crc) &&
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
	head.format = IG_SEEDS_FORMAT;
	head.pg_major = PG_VERSION_NUM / 100;
	head.base_seq = base_seq;
	head.crc = ig_seeds_head_crc(&head);

	snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", IG_SEEDS_FILE);
	file = AllocateFile(tmp_path, PG_BINARY_W);
	if (file == NULL)
	{
		ig_log_file_error(LOG, "create file", tmp_path, NULL, true);
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
		ig_log_file_error(LOG, "write file", tmp_path, NULL, true);
		unlink(tmp_path);
		return false;
	}
	return durable_rename(tmp_path, IG_SEEDS_FILE, LOG) == 0;
}

/*
 * Logs what the start found wrong with the seeded-window file: it lacks
 * windows seeded into the history loaded ("seeded_windows_unknown"), or
 * "lost" windows seeded after the history was last saved
 * ("seeded_windows_lost").
 */
static void
log_seeds_problem(const char *event, int lost)
{
	IgEvent		ev;

	if (ig_event_json())
	{
		ig_event_begin(&ev, event, ig_now());
		ig_event_keyword(&ev, "file", IG_SEEDS_FILE);
		if (lost > 0)
			ig_event_int(&ev, "lost", lost);
		ig_event_emit(&ev, LOG);
	}
	else if (lost == 0)
		ereport(LOG,
				(errmsg("insider_guard: file \"%s\" lacks windows seeded into the history loaded",
						IG_SEEDS_FILE),
				 errdetail("Which windows of the history were seeded is not known: seeding a window of a series that holds windows is refused until reset_history forgets the series.")));
	else
		ereport(LOG,
				(errmsg("insider_guard: %d windows seeded after the history was last saved were lost",
						lost),
				 errdetail("The server stopped before saving them; seed them again.")));
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
		log_seeds_problem("seeded_windows_unknown", 0);
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
		log_seeds_problem("seeded_windows_lost", lost);

	ig_history->seeds_seq = reflected;
	ig_history->seeds_usable = write_file(reflected, records, kept);
	/* nothing to read if it could not be written (seeding is refused) */
	pg_atomic_write_u64(&ig_history->seeds_len, !ig_history->seeds_usable ? 0 :
						sizeof(IgSeedsHead) + (uint64) kept * sizeof(IgSeedRecord));
	ig_history->seeds_synced = pg_atomic_read_u64(&ig_history->seeds_len);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
