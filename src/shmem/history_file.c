/*-------------------------------------------------------------------------
 *
 * history_file.c
 *		The history series on disk: the body of the history file that the
 *		saver writes every save_interval when the history changed, and the
 *		postmaster at a clean shutdown, and that the postmaster loads at
 *		start (persist.c does the header, checksum and atomic rename).
 *
 * The body is a head, then one record per series.  Each record holds the
 * series' key, when it was last used, its histogram, and where its own
 * windows begin and its seeded ones end (history_internal.h); the head
 * holds the number of the newest seeded-window record the series reflect,
 * so that the start can match the seeded-window file to them
 * (history_seeds.c).  That file is flushed to disk before the series are
 * copied, so a history on disk never reflects a record that is not.
 *
 * Files of builds before the rise of limits was noted (0.2.0, 0.3.0:
 * records of 216 bytes) load with nothing noted: each series' p99 in
 * force then is noted as it is used.  Files written by builds before
 * seeded windows were recorded (record 200 bytes, no newest record in the
 * head) still load: their series that hold
 * windows may hold seeded ones nobody can tell apart, so seeding those
 * series is refused until reset_history forgets them.
 *
 * IDENTIFICATION
 *		src/shmem/history_file.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/lwlock.h"

#include "base/persist.h"
#include "shmem/history_internal.h"

/* the head of the body; "seeds_seq" only in the current layout */
typedef struct IgHistoryFileHead
{
	uint32		nseries;
	uint16		record_size;	/* the layout: another build's file is not
								 * misread */
	uint16		bins;
} IgHistoryFileHead;

typedef struct IgHistoryFileHeadSeeds
{
	IgHistoryFileHead head;
	uint64		seeds_seq;		/* newest seeded-window record reflected */
} IgHistoryFileHeadSeeds;

typedef struct IgSeriesRecord
{
	IgSeriesKey key;
	TimestampTz last_used;
	uint64		born_seq;
	int32		live_from;
	int32		seeded_to;
	IgHistogram hist;
} IgSeriesRecord;

/* a histogram of the builds before the rise of limits was noted */
typedef struct IgHistogramNoRise
{
	double		scale;
	int64		decayed_to;
	uint64		day_bits;
	int32		newest_day;
	uint32		windows;
	uint16		days;
	uint16		bins[IG_HIST_BINS];
} IgHistogramNoRise;

/* a record of those builds (0.2.0, 0.3.0) */
typedef struct IgSeriesRecordNoRise
{
	IgSeriesKey key;
	TimestampTz last_used;
	uint64		born_seq;
	int32		live_from;
	int32		seeded_to;
	IgHistogramNoRise hist;
} IgSeriesRecordNoRise;

/* a record of the builds before seeded windows were recorded */
typedef struct IgSeriesRecordLegacy
{
	IgSeriesKey key;
	TimestampTz last_used;
	IgHistogramNoRise hist;
} IgSeriesRecordLegacy;

/* the layouts that files of those builds have */
StaticAssertDecl(sizeof(IgSeriesRecordNoRise) == 216 &&
				 sizeof(IgSeriesRecordLegacy) == 200,
				 "record layouts of earlier builds");

/*
 * A record of those builds in the current layout, with nothing noted of
 * how its limits rose.
 */
static void
record_from_norise(IgSeriesRecord *record, const IgSeriesKey *key,
				   TimestampTz last_used, uint64 born_seq, int32 live_from,
				   int32 seeded_to, const IgHistogramNoRise *old)
{
	IgHistogram *hist = &record->hist;

	record->key = *key;
	record->last_used = last_used;
	record->born_seq = born_seq;
	record->live_from = live_from;
	record->seeded_to = seeded_to;
	memset(hist, 0, sizeof(IgHistogram));
	hist->scale = old->scale;
	hist->decayed_to = old->decayed_to;
	hist->day_bits = old->day_bits;
	hist->newest_day = old->newest_day;
	hist->windows = old->windows;
	hist->days = old->days;
	memcpy(hist->bins, old->bins, sizeof(hist->bins));
}

/*
 * Writes every series: copied under the shared lock, written after.  The
 * seeded-window file is flushed first, under the same lock, so that no
 * record the copies reflect can be lost; if it cannot be, nothing is
 * saved.
 */
void
ig_history_save(IgFileWriter *writer)
{
	HASH_SEQ_STATUS status;
	IgSeriesEntry *entry;
	IgSeriesRecord *records;
	IgHistoryFileHeadSeeds head;
	uint32		n = 0;

	records = palloc(sizeof(IgSeriesRecord) * Max(ig_history->max_series, 1));
	memset(&head, 0, sizeof(head));
	LWLockAcquire(ig_history->lock, LW_SHARED);
	if (!ig_history_seeds_flush())
	{
		LWLockRelease(ig_history->lock);
		writer->failed = true;
		pfree(records);
		return;
	}
	head.seeds_seq = ig_history->seeds_seq;
	hash_seq_init(&status, ig_series_index);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (n >= (uint32) ig_history->max_series)
			continue;
		memset(&records[n], 0, sizeof(IgSeriesRecord));
		records[n].key = entry->key;
		records[n].last_used = (TimestampTz) pg_atomic_read_u64(&entry->last_used);
		records[n].born_seq = entry->born_seq;
		records[n].live_from = entry->live_from;
		records[n].seeded_to = entry->seeded_to;
		records[n].hist = entry->hist;
		n++;
	}
	LWLockRelease(ig_history->lock);

	head.head.nseries = n;
	head.head.record_size = sizeof(IgSeriesRecord);
	head.head.bins = IG_HIST_BINS;
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
 * The records of a body, in the current layout, palloc'd: legacy ones
 * converted.  NULL if the body is malformed.
 */
static IgSeriesRecord *
read_records(const char *data, Size len, uint32 *nseries, uint64 *seeds_seq,
			 bool *legacy, bool *converted)
{
	IgHistoryFileHead head;
	IgSeriesRecord *records;
	Size		series_end;

	if (len < sizeof(head))
		return NULL;
	memcpy(&head, data, sizeof(head));
	if (head.bins != IG_HIST_BINS)
		return NULL;
	series_end = sizeof(IgHistoryFileHeadSeeds) +
		(Size) head.nseries * sizeof(IgSeriesRecord);
	records = palloc0(sizeof(IgSeriesRecord) * Max(head.nseries, 1));
	if (head.record_size == sizeof(IgSeriesRecord) && len == series_end)
	{
		IgHistoryFileHeadSeeds full;

		memcpy(&full, data, sizeof(full));
		memcpy(records, data + sizeof(full),
			   sizeof(IgSeriesRecord) * head.nseries);
		*seeds_seq = full.seeds_seq;
		*legacy = false;
		*converted = false;
	}
	else if (head.record_size == sizeof(IgSeriesRecordNoRise) &&
			 len == sizeof(IgHistoryFileHeadSeeds) +
			 (Size) head.nseries * sizeof(IgSeriesRecordNoRise))
	{
		IgHistoryFileHeadSeeds full;

		memcpy(&full, data, sizeof(full));
		for (uint32 i = 0; i < head.nseries; i++)
		{
			IgSeriesRecordNoRise old;

			memcpy(&old, data + sizeof(full) + (Size) i * sizeof(old),
				   sizeof(old));
			record_from_norise(&records[i], &old.key, old.last_used,
							   old.born_seq, old.live_from, old.seeded_to,
							   &old.hist);
		}
		*seeds_seq = full.seeds_seq;
		*legacy = false;
		*converted = true;
	}
	else if (head.record_size == sizeof(IgSeriesRecordLegacy) &&
			 len == sizeof(head) +
			 (Size) head.nseries * sizeof(IgSeriesRecordLegacy))
	{
		for (uint32 i = 0; i < head.nseries; i++)
		{
			IgSeriesRecordLegacy old;

			memcpy(&old, data + sizeof(head) + (Size) i * sizeof(old),
				   sizeof(old));
			/* seeded or counted, nobody knows: no seeding over them */
			record_from_norise(&records[i], &old.key, old.last_used, 0,
							   old.hist.windows > 0 ? IG_LIVE_UNKNOWN : IG_LIVE_NONE,
							   IG_SEEDED_NONE, &old.hist);
		}
		*seeds_seq = 0;
		*legacy = true;
		*converted = true;
	}
	else
	{
		pfree(records);
		return NULL;
	}
	*nseries = head.nseries;
	return records;
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
	IgSeriesRecord *records;
	uint32		nseries;
	uint64		seeds_seq;
	bool		legacy;
	bool		converted;
	int			dropped = 0;

	records = read_records(data, len, &nseries, &seeds_seq, &legacy,
						   &converted);
	if (records == NULL)
		return false;
	qsort(records, nseries, sizeof(IgSeriesRecord), compare_records_by_use);
	for (uint32 i = 0; i < nseries; i++)
	{
		IgSeriesEntry *entry;
		bool		found;

		if (hash_get_num_entries(ig_series_index) >= ig_history->max_series ||
			(entry = hash_search(ig_series_index, &records[i].key,
								 HASH_ENTER_NULL, &found)) == NULL)
		{
			dropped++;
			continue;
		}
		if (found)
			continue;			/* a duplicate key: keep the first */
		pg_atomic_init_u64(&entry->last_used, (uint64) records[i].last_used);
		entry->born_seq = records[i].born_seq;
		entry->live_from = records[i].live_from;
		entry->seeded_to = records[i].seeded_to;
		entry->hist = records[i].hist;
	}
	pfree(records);
	ig_history->loaded = legacy ? IG_LOADED_LEGACY : IG_LOADED_CURRENT;
	ig_history->loaded_seq = seeds_seq;
	pg_atomic_fetch_add_u32(&ig_history->gen, 1);
	/* another build's layout: saved in this one's at the next save */
	if (converted)
		ig_history_mark_dirty();
	if (dropped > 0)
		ig_file_log_dropped(path, "history_dropped", "history series",
							"max_history", dropped, ig_history->max_series);
	return true;
}
