/*-------------------------------------------------------------------------
 *
 * counters_read.c
 *		Reads of the counters outside a statement: a database's activity
 *		for the views, one key's rows in a window, the background worker's
 *		sweep of idle counters' history windows, and the floor a durable
 *		violation record restores after a crash.
 *
 * IDENTIFICATION
 *		src/shmem/counters_read.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "base/guc.h"
#include "shmem/counters_internal.h"

/*
 * Closes the history windows of idle counters that ended, and adds them
 * to their series: the background worker's sweep.  Each counter's mutex
 * is taken in turn; nothing else is held.
 */
void
ig_counters_sweep(TimestampTz now)
{
	refresh_windows();
	for (int32 pos = 0; pos < counter_table->max_counters; pos++)
	{
		IgCounter  *counter = counter_at(pos);
		bool		ended = false;

		SpinLockAcquire(&counter->mutex);
		if (counter->in_use)
		{
			for (int k = 0; k < IG_HIST_KINDS; k++)
				ended |= (counter->hist_open[k].rows > 0 ||
						  counter->pending_rows > 0) &&
					hist_number(k, now) > counter->hist_open[k].number;
			ended |= hist_any_closed(counter);
		}
		if (ended && !flush_pending(counter, now))
		{
			/* built under newer window definitions: next time */
			SpinLockRelease(&counter->mutex);
			refresh_windows();
			continue;
		}
		if (ended && closed_counter == NULL &&
			hist_any_closed(counter))
		{
			/* closed earlier, not added yet (the backend failed meanwhile) */
			closed_counter = counter;
			closed_incarnation = counter->incarnation;
		}
		release_counter(counter);
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
		for (int r = 0; r < counter_table->nwindows; r++)
		{
			IgWindowDef *def = &local_windows[r];

			if (def->length != 0)
				ig_ring_add_past(&counter->rings[r],
								 ig_window_bucket(def->width, at),
								 min_rows - rows);
		}
		counter->rows_gen++;
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
 * A snapshot of a database's counters, palloc'd; *count is set.
 */
IgActivity *
ig_counters_activity(Oid dbid, TimestampTz now, int *count)
{
	IgActivity *result;
	int			n = 0;

	refresh_windows();
	result = palloc(sizeof(IgActivity) * Max(counter_table->max_counters, 1));
	for (int32 pos = 0; pos < counter_table->max_counters; pos++)
	{
		IgCounter  *counter = counter_at(pos);
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
