/*-------------------------------------------------------------------------
 *
 * counter_rings.c
 *		One locked counter's time: the buffer of rows not yet in its rings,
 *		the rings brought in line with the window definitions, and the
 *		hourly and daily windows that feed baselines' history.
 *
 * Rows are first added to a per-counter buffer, pending_rows, valid until
 * pending_until: the next instant at which any ring's current bucket
 * changes.  Until then every ring would put the rows in the same bucket,
 * so an update is an addition under the mutex; the buffer is emptied into
 * the rings (flush_pending) when time passes pending_until (about once a
 * second for a busy counter) and before any read.
 *
 * IDENTIFICATION
 *		src/shmem/counter_rings.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "base/guc.h"
#include "shmem/counters_internal.h"
#include "shmem/history.h"

/*
 * Makes every ring of a locked counter match the current definitions:
 * a ring filled under an older definition is rebuilt from the 30-day ring.
 * Returns false if the counter was built under definitions newer than this
 * backend's copy (the caller refreshes and retries).
 */
static bool
sync_rings(IgCounter *counter, TimestampTz now)
{
	for (int w = IG_BUILTIN_WINDOWS; w < counter_table->nwindows; w++)
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
 * (hist_open; for 7-day totals, per day too), in flush_pending, once a
 * minute at most; when such a
 * window ends and a baseline wants its history, it is closed into
 * hist_closed under the mutex, and added to its series (history.c) right
 * after the mutex is released -- by the backend that noticed, or by the
 * background worker's sweep of idle counters.  The counter a closure
 * happened in is remembered here until then.
 */
IgCounter  *closed_counter = NULL;
uint64		closed_incarnation = 0;

/*
 * The rows a locked counter read in the 7 days ending with day number
 * "day": from its 30-day ring, whose 12-hour buckets fall on days.  Every
 * row read before the end of the day is in the ring by the time the day
 * is closed (flush_pending closes it before adding later rows).
 */
static uint64
week_total(IgCounter *counter, int32 day)
{
	int64		width = local_windows[IG_WINDOW_MONTH].width;
	int64		end = ((int64) day + 1) * USECS_PER_DAY;

	StaticAssertStmt(USECS_PER_DAY % (IG_WINDOW_MAX_US / 60) == 0,
					 "the 30-day ring's buckets fall on days");
	return ig_ring_sum_buckets(&counter->rings[IG_WINDOW_MONTH],
							   ig_floor_div(end - 7 * USECS_PER_DAY, width),
							   ig_floor_div(end, width) - 1);
}

/*
 * Closes a locked counter's open window of a kind, if it is history: for
 * 7-day totals, a day in which the role read closes with the total of
 * the 7 days it ends.
 */
static void
hist_close(IgCounter *counter, int kind)
{
	IgHistWindow *open = &counter->hist_open[kind];

	if (open->rows > 0 && open->wanted)
	{
		if (counter->hist_closed[kind].closed)
			pg_atomic_fetch_add_u64(&counter_table->history_lost, 1);
		counter->hist_closed[kind] = *open;
		counter->hist_closed[kind].closed = true;
		if (kind == IG_HIST_WEEK)
			counter->hist_closed[kind].rows = Max(week_total(counter, open->number),
												  open->rows);
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
void
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
						taken[k].rows, taken[k].cap, taken[k].broke);
	}
}

/*
 * Empties a locked counter's buffer into its rings, brings the rings in
 * line with this backend's window definitions, and opens a new buffer
 * interval at "now".  Returns false if the counter follows definitions
 * newer than this backend's copy (the caller refreshes and retries).
 */
bool
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
		for (int w = 0; w < counter_table->nwindows; w++)
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

	for (int w = 0; w < counter_table->nwindows; w++)
	{
		IgWindowDef *def = &local_windows[w];

		if (def->length != 0)
			until = Min(until,
						(ig_window_bucket(def->width, now) + 1) * def->width);
	}
	counter->pending_until = until;
	return true;
}
