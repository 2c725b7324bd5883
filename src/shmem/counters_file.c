/*-------------------------------------------------------------------------
 *
 * counters_file.c
 *		The counts file: every counter in use saved by the background
 *		worker, and loaded at start.
 *
 * IDENTIFICATION
 *		src/shmem/counters_file.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "base/persist.h"
#include "shmem/counters_internal.h"
#include "shmem/locks.h"

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
	IgHistWindow hist_open[2];	/* hour and day */
	IgHistWindow hist_closed[2];
	IgIncident	incidents[2];
	IgHistWindow week_open;		/* the day of a 7-day total */
	IgHistWindow week_closed;
	IgIncident	more_incidents[2];
	/* IgRing rings[nwindows] follow */
} IgCounterRecord;

/* the records of version 0.1.0 end before the history windows */
#define IG_COUNTER_RECORD_V1 offsetof(IgCounterRecord, hist_open)
/* those of earlier 0.2.0 builds before the incidents */
#define IG_COUNTER_RECORD_V2 offsetof(IgCounterRecord, incidents)
/* those of earlier 0.4.0 builds before the 7-day totals' windows */
#define IG_COUNTER_RECORD_V3 offsetof(IgCounterRecord, week_open)
/* and before the third and fourth incidents */
#define IG_COUNTER_RECORD_V4 offsetof(IgCounterRecord, more_incidents)

StaticAssertDecl(IG_COUNTER_INCIDENTS == 4,
				 "the counts file keeps two incidents, then two more");

StaticAssertDecl(sizeof(IgIncident) == 48,
				 "the counts file keeps incidents as they are in memory");
StaticAssertDecl(IG_HIST_HOUR == 0 && IG_HIST_DAY == 1 &&
				 IG_HIST_WEEK == 2 && IG_HIST_KINDS == 3,
				 "the counts file keeps hours and days, then 7-day totals");

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
	IgCounter  *copy = palloc(counter_table->counter_size);
	char	   *buf = palloc(sizeof(IgCounterRecord) +
							 IG_RING_ENCODED_MAX * IG_MAX_WINDOWS);
	IgCounterRecord record;
	int32		nused;

	LWLockAcquire(counter_table->lock, LW_SHARED);
	memset(&head, 0, sizeof(head));
	head.nwindows = counter_table->nwindows;
	head.ring_buckets = IG_RING_BUCKETS;
	head.next_gen = counter_table->next_gen;
	head.head_size = sizeof(IgCounterFileHead);
	head.window_size = sizeof(IgWindowDef);
	head.record_size = sizeof(IgCounterRecord);
	head.ring_size = sizeof(IgRing);
	head.ring_format = IG_RINGS_SPARSE;
	memcpy(windows, counter_table->windows, sizeof(windows));
	LWLockRelease(counter_table->lock);

	ig_file_write(writer, &head, sizeof(head));
	ig_file_write(writer, windows, sizeof(IgWindowDef) * head.nwindows);

	memset(&record, 0, sizeof(record));
	nused = counter_table->nused;
	for (int32 pos = 0; pos < counter_table->max_counters && nused > 0; pos++)
	{
		IgCounter  *counter = counter_at(pos);
		bool		in_use;

		SpinLockAcquire(&counter->mutex);
		in_use = counter->in_use;
		if (in_use)
			memcpy(copy, counter, counter_table->counter_size);
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
		memcpy(record.more_incidents, copy->incidents + 2,
			   sizeof(record.more_incidents));
		record.week_open = copy->hist_open[IG_HIST_WEEK];
		record.week_closed = copy->hist_closed[IG_HIST_WEEK];
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
 * startup, no concurrency).  A custom window is restored into its ring if
 * the current setting still has that ring; rings of windows not restored
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
		 head.record_size != IG_COUNTER_RECORD_V4 &&
		 head.record_size != IG_COUNTER_RECORD_V3 &&
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

	for (int w = IG_BUILTIN_WINDOWS; w < Min(head.nwindows, counter_table->nwindows); w++)
		memcpy(&counter_table->windows[w], &file_windows[w], sizeof(IgWindowDef));
	counter_table->next_gen = Max(counter_table->next_gen, head.next_gen);
	pg_atomic_fetch_add_u32(&counter_table->windows_gen, 1);

	while (offset < len)
	{
		IgCounterRecord record;
		IgIndexEntry *entry;
		IgCounter  *counter;
		int32		pos = counter_table->free_head;
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

		if (pos < 0)
		{
			dropped++;
			continue;
		}
		entry = hash_search(counter_index, &record.key, HASH_ENTER, &found);
		if (found)
			continue;			/* a duplicate key: keep the first */
		counter_table->free_head = counter_at(pos)->next_free;
		entry->pos = pos;
		counter_table->nused++;

		counter = counter_at(pos);
		counter->in_use = true;
		counter->incarnation = counter_table->next_incarnation++;
		counter->rows_gen = 0;
		counter->key = record.key;
		counter->statements = record.statements;
		counter->last_used = record.last_used;
		counter->last_read = record.last_read;
		counter->pinned_until = record.pinned_until;
		counter->reserved = 0;
		memcpy(counter->incidents, record.incidents, sizeof(record.incidents));
		memcpy(counter->incidents + 2, record.more_incidents,
			   sizeof(record.more_incidents));
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
		counter->hist_open[IG_HIST_WEEK] = record.week_open;
		counter->hist_closed[IG_HIST_WEEK] = record.week_closed;
		for (int k = 0; k < IG_HIST_KINDS; k++)
		{
			/* nothing saved (an older file): the window of the last read */
			if (counter->hist_open[k].number == 0)
				hist_window_reset(&counter->hist_open[k],
								  hist_number(k, record.last_read));
		}
		counter->windows_gen = pg_atomic_read_u32(&counter_table->windows_gen);
		for (int w = 0; w < counter_table->nwindows; w++)
		{
			if (w < head.nwindows &&
				file_windows[w].length == counter_table->windows[w].length &&
				file_windows[w].gen == counter_table->windows[w].gen)
				memcpy(&counter->rings[w], &rings[w], sizeof(IgRing));
			else
				ig_ring_reset(&counter->rings[w], counter_table->windows[w].gen);
		}
	}

	if (dropped > 0)
		ig_file_log_dropped(path, "counters_dropped", "counters", "max_tracked",
							dropped, counter_table->max_counters);
	return true;
}
