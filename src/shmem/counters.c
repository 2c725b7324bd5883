/*-------------------------------------------------------------------------
 *
 * counters.c
 *		Rows read per (database, role, table) in rolling windows, kept in
 *		shared memory and bounded by insider_guard.max_tracked: the
 *		per-statement path.
 *
 * A statement settles its tallies here: their rows are added to their
 * counters, the window sums its rules need are answered (from the
 * backend's memo when the counter has not changed since), and the rows a
 * block rule's key reserves are exchanged.  A backend that remembers
 * (position, incarnation) for a key updates its counter holding only the
 * counter's mutex; only a miss takes the LWLock (counters_lookup.c).
 * Nothing here is touched per row.  The other files of the counters are
 * listed in counters_internal.h; the locking protocol is in
 * shmem/locks.h.
 *
 * IDENTIFICATION
 *		src/shmem/counters.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "base/guc.h"
#include "shmem/counters_internal.h"

/* Adds rows (and maybe a statement) to a locked counter. */
static inline void
add_rows(IgCounter *counter, uint64 rows, bool new_statement, TimestampTz now)
{
	counter->pending_rows += rows;
	counter->rows_gen += (rows > 0);
	counter->statements += new_statement;
	counter->last_used = now;
	if (rows > 0)
		counter->last_read = now;
}

/*
 * Fills a query's window sums from a locked counter (whose buffer is
 * open at "now") and pins it; "added" rows were just added to it.
 *
 * If the backend's memo is of this counter at the rows_gen before the
 * addition and its room covers "added", the memo's room less "added" is
 * the answer: no window is over, and no ring is read.  Else the sums are
 * read from the rings: the buffered rows were read in the current bucket
 * of every ring, which every window holds, so they are added to each sum
 * rather than flushed into the rings.
 */
static pg_noinline void
answer_query_exact(IgCounter *counter, int32 pos, IgWindowQuery *query,
				   TimestampTz now)
{
	IgQueryMemo *memo = query->memo;
	bool		over = false;
	int64		headroom = PG_INT64_MAX;
	int64		block_headroom = PG_INT64_MAX;

	for (int i = 0; i < query->nwindows; i++)
	{
		int			w = query->ring[i];
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
		memo->pos = pos;
		memo->incarnation = counter->incarnation;
		memo->rows_gen = counter->rows_gen;
		memo->windows_gen = counter->windows_gen;
		memo->headroom = headroom;
		memo->block_headroom = block_headroom;
	}
}

/*
 * Gives back, on a locked counter, what a key holds reserved in it; the
 * rows it read are being added.  A reservation in an earlier incarnation
 * of the counter went with it (the role was reset).
 */
static inline void
reservation_return(IgCounter *counter, IgReservation *res)
{
	if (res->held > 0 && res->incarnation == counter->incarnation)
		counter->reserved -= Min(res->held, counter->reserved);
	res->held = 0;
}

/*
 * Closes the open incidents of a locked counter whose rules a reservation
 * found room under -- the block rules of the query (their versions) --
 * and those of rules gone before the statement took its rules: last seen
 * before then, and of a rule it does not know (dropped, or changed: a
 * rule set back to an earlier version starts a new incident).  An
 * incident seen since, of a rule the statement does not know -- one
 * added, or changed, after it started -- stays open: a statement running
 * under the old rules would otherwise close it at each reservation, and
 * every stop of the role's other sessions would be a record of its own.
 */
static pg_noinline void
close_incidents(IgCounter *counter, const IgWindowQuery *query)
{
	bool		still_open = false;

	for (int i = 0; i < IG_COUNTER_INCIDENTS; i++)
	{
		IgIncident *incident = &counter->incidents[i];

		if (incident->open &&
			(incident->last_seen < query->rules_at ||
			 ig_live_rule_known(query->live, query->nlive,
								incident->rule_id, incident->stamp)))
			incident->open = false;
		still_open |= incident->open;
	}
	counter->has_open_incident = still_open;
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
 * (the query's) leave block_headroom rows: what its nodes still hold, and
 * fresh rows up to "want" -- at most half of what is left beyond every
 * holder's, so that others still find some.
 */
static pg_noinline void
reservation_take(IgCounter *counter, const IgWindowQuery *query,
				 IgReservation *res, int64 block_headroom)
{
	int64		room;
	int64		fresh = 0;

	/* block rules with rows free again end their incidents */
	if (unlikely(counter->has_open_incident) &&
		block_headroom - counter->reserved > 0)
		close_incidents(counter, query);
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
answer_query(IgCounter *counter, int32 pos, IgWindowQuery *query,
			 uint64 added, TimestampTz now)
{
	IgQueryMemo *memo = query->memo;

	if (unlikely(query->res != NULL))
		reservation_return(counter, query->res);
	if (likely(memo != NULL && memo->valid && memo->pos == pos &&
			   memo->incarnation == counter->incarnation &&
			   memo->rows_gen + (added > 0) == counter->rows_gen &&
			   memo->windows_gen == counter->windows_gen &&
			   memo->headroom >= 0 && added <= (uint64) memo->headroom))
	{
		memo->rows_gen = counter->rows_gen;
		memo->headroom -= (int64) added;
		memo->block_headroom -= (int64) added;
		query->headroom = memo->headroom;
		query->block_headroom = memo->block_headroom;
		query->over = false;
	}
	else
		answer_query_exact(counter, pos, query, now);
	if (unlikely(query->res != NULL))
		reservation_take(counter, query, query->res, query->block_headroom);
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
 * rows_gen is read before the incarnation: a counter's incarnation never
 * returns to an old value, and whoever gives the counter to another key
 * writes the incarnation before rows_gen, so a matching incarnation
 * read after rows_gen proves rows_gen is this counter's.
 */
bool
ig_counters_query_memo(IgWindowQuery *query)
{
#ifdef PG_HAVE_8BYTE_SINGLE_COPY_ATOMICITY
	IgQueryMemo *memo = query->memo;
	IgCounter  *counter;
	uint64		rows_gen;

	/* a reservation is taken under the counter's mutex */
	if (memo == NULL || !memo->valid || memo->headroom < 0 ||
		query->res != NULL)
		return false;
	counter = counter_at(memo->pos);
	rows_gen = *(volatile uint64 *) &counter->rows_gen;
	pg_read_barrier();
	if (*(volatile uint64 *) &counter->incarnation != memo->incarnation ||
		rows_gen != memo->rows_gen ||
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
			answer_query(counter, tally->ref.pos, tally->query,
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
	answer_query(counter, tally->ref.pos, tally->query, 0, now);
	release_counter(counter);
	return true;
}

/*
 * Notes that a tally's counter broke a baseline rule of a kind (hours,
 * days, 7-day totals) in the window open now: that window will not feed
 * the history (for 7-day totals: the total of the 7 days today ends).
 */
void
ig_counters_note_break(Oid dbid, Oid roleid, IgTally *tally, int kind,
					   TimestampTz now)
{
	IgCounterKey key;
	IgCounter  *counter;
	int32		pos = tally->ref.pos;

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
	tally->ref_moved |= (tally->ref.pos != pos);
}
