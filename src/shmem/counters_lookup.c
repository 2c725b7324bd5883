/*-------------------------------------------------------------------------
 *
 * counters_lookup.c
 *		A key's counter: found through the index, made when it is new,
 *		counters evicted to make room, a role's counters removed.
 *
 * Eviction: when the array is full, the least recently used counters that
 * are not pinned (a threshold needs them until pinned_until) and hold no
 * reservation are evicted, a twentieth of the array at a time, and the
 * eviction is logged.
 *
 * IDENTIFICATION
 *		src/shmem/counters_lookup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "base/event.h"
#include "base/guc.h"
#include "shmem/counters_internal.h"

/* evict this many counters at once when full: 5%, at least one */
#define EVICT_BATCH(max)	Max((max) / 20, 1)

/*
 * Frees a locked counter that "remove" says to give up: its key leaves the
 * index and it goes to the head of the free list.  Exclusive lock held;
 * releases the counter's mutex.  Returns "remove".
 */
static bool
free_counter_if(IgCounter *counter, int32 pos, bool remove)
{
	IgCounterKey key;

	if (remove)
	{
		key = counter->key;
		counter->in_use = false;
		counter->incarnation = 0;
		counter->next_free = counter_table->free_head;
	}
	SpinLockRelease(&counter->mutex);
	if (remove)
	{
		hash_search(counter_index, &key, HASH_REMOVE, NULL);
		counter_table->free_head = pos;
		counter_table->nused--;
	}
	return remove;
}

/*
 * Takes a free counter, evicting least recently used counters if none is
 * free.  Exclusive lock held.  Returns -1 if every counter is pinned.
 * *evicted is set to the number of counters evicted.
 */
static int32
take_free_counter(TimestampTz now, int *evicted)
{
	int32		pos;

	*evicted = 0;
	if (counter_table->free_head < 0)
	{
		typedef struct
		{
			TimestampTz last_used;
			int32		pos;
		}			Candidate;
		Candidate  *candidates;
		int			ncandidates = 0;
		int			batch = EVICT_BATCH(counter_table->max_counters);

		candidates = palloc(sizeof(Candidate) * counter_table->max_counters);
		for (pos = 0; pos < counter_table->max_counters; pos++)
		{
			IgCounter  *counter = counter_at(pos);
			bool		evictable;
			TimestampTz last_used;

			SpinLockAcquire(&counter->mutex);
			evictable = counter->in_use && counter->pinned_until <= now &&
				counter->reserved == 0;
			last_used = counter->last_used;
			SpinLockRelease(&counter->mutex);
			if (evictable)
			{
				candidates[ncandidates].last_used = last_used;
				candidates[ncandidates].pos = pos;
				ncandidates++;
			}
		}

		/* partial selection of the "batch" oldest */
		for (int i = 0; i < Min(batch, ncandidates); i++)
		{
			int			oldest = i;
			Candidate	tmp;

			for (int j = i + 1; j < ncandidates; j++)
				if (candidates[j].last_used < candidates[oldest].last_used)
					oldest = j;
			tmp = candidates[i];
			candidates[i] = candidates[oldest];
			candidates[oldest] = tmp;
		}

		for (int i = 0; i < Min(batch, ncandidates); i++)
		{
			IgCounter  *counter = counter_at(candidates[i].pos);

			SpinLockAcquire(&counter->mutex);
			/* skip it if it was used (or pinned) since we looked */
			if (free_counter_if(counter, candidates[i].pos,
								counter->in_use &&
								counter->last_used <= candidates[i].last_used &&
								counter->pinned_until <= now &&
								counter->reserved == 0))
				(*evicted)++;
		}
		pfree(candidates);
		if (*evicted > 0)
			pg_atomic_fetch_add_u64(&counter_table->evicted, *evicted);
	}

	pos = counter_table->free_head;
	if (pos >= 0)
		counter_table->free_head = counter_at(pos)->next_free;
	return pos;
}

/* Logs that counters were evicted to make room for a new one. */
static void
log_eviction(int evicted)
{
	uint64		total = pg_atomic_read_u64(&counter_table->evicted);
	IgEvent		ev;

	if (!ig_event_json())
	{
		ereport(LOG,
				(errmsg("insider_guard: evicted %d least recently used counters to make room",
						evicted),
				 errdetail("insider_guard.max_tracked is %d; %llu counters evicted since the server started.",
						   counter_table->max_counters, (unsigned long long) total)));
		return;
	}
	ig_event_begin(&ev, "eviction", ig_now());
	ig_event_int(&ev, "evicted", evicted);
	ig_event_uint(&ev, "evicted_total", total);
	ig_event_int(&ev, "max_tracked", counter_table->max_counters);
	ig_event_emit(&ev, LOG);
}

/*
 * Finds (and with "create", makes) the counter for a key; returns it with
 * its mutex held, or NULL.  *ref is the backend's memo for the key.
 */
IgCounter *
lock_counter(const IgCounterKey *key, IgCounterRef *ref, bool create,
			 TimestampTz now)
{
	/* hashed once: the index is looked at up to three times */
	uint32		hashcode = get_hash_value(counter_index, key);

	for (int attempt = 0; attempt < 10; attempt++)
	{
		IgIndexEntry *entry;
		bool		found;
		int			evicted = 0;
		IgCounter  *counter = lock_remembered(ref);

		if (counter != NULL)
			return counter;

		LWLockAcquire(counter_table->lock, LW_SHARED);
		entry = hash_search_with_hash_value(counter_index, key, hashcode,
											HASH_FIND, NULL);
		if (entry)
		{
			/* key and incarnation cannot change while we hold the lock */
			ref->pos = entry->pos;
			ref->incarnation = counter_at(entry->pos)->incarnation;
		}
		LWLockRelease(counter_table->lock);
		if (entry)
			continue;			/* verify under the mutex */
		if (!create)
			return NULL;

		LWLockAcquire(counter_table->lock, LW_EXCLUSIVE);
		entry = hash_search_with_hash_value(counter_index, key, hashcode,
											HASH_FIND, NULL);
		if (!entry)
		{
			int32		pos = take_free_counter(now, &evicted);

			if (pos < 0)
			{
				LWLockRelease(counter_table->lock);
				return NULL;
			}
			entry = hash_search_with_hash_value(counter_index, key, hashcode,
												HASH_ENTER, &found);
			entry->pos = pos;
			counter_table->nused++;

			counter = counter_at(pos);
			SpinLockAcquire(&counter->mutex);
			counter->in_use = true;
			counter->incarnation = counter_table->next_incarnation++;
			/* a lock-free reader that sees the new rows_gen sees this too */
			pg_write_barrier();
			counter->rows_gen = 0;
			counter->key = *key;
			counter->statements = 0;
			counter->last_used = now;
			counter->last_read = 0;
			counter->pinned_until = 0;
			counter->reserved = 0;
			counter->has_open_incident = false;
			memset(counter->incidents, 0, sizeof(counter->incidents));
			counter->pending_rows = 0;
			counter->pending_until = 0;
			counter->over_recorded = 0;
			counter->windows_gen = local_windows_gen;
			for (int k = 0; k < IG_HIST_KINDS; k++)
			{
				hist_window_reset(&counter->hist_open[k], hist_number(k, now));
				hist_window_reset(&counter->hist_closed[k], 0);
			}
			/* an all-zero ring is an empty one: one memset for all */
			memset(counter->rings, 0, sizeof(IgRing) * counter_table->nwindows);
			for (int w = 0; w < counter_table->nwindows; w++)
				counter->rings[w].gen = local_windows[w].gen;
			SpinLockRelease(&counter->mutex);
		}
		ref->pos = entry->pos;
		ref->incarnation = counter_at(entry->pos)->incarnation;
		LWLockRelease(counter_table->lock);

		if (evicted > 0)
			log_eviction(evicted);
	}
	return NULL;
}

void
report_lost(uint64 rows)
{
	uint64		suppressed;

	if (rows == 0 || !ig_counters_log_allowed(IG_LOG_LOST, &suppressed))
		return;
	if (ig_event_json())
	{
		IgEvent		ev;

		ig_event_begin(&ev, "rows_not_counted", ig_now());
		ig_event_uint(&ev, "rows", rows);
		ig_event_int(&ev, "max_tracked", counter_table->max_counters);
		ig_event_uint(&ev, "suppressed_lines", suppressed);
		ig_event_emit(&ev, LOG);
		return;
	}
	ereport(LOG,
			(errmsg("insider_guard: could not record %llu rows read: every counter is in use",
					(unsigned long long) rows),
			 suppressed > 0 ?
			 errdetail("%llu more such lines were suppressed in the last second or more.",
					   (unsigned long long) suppressed) : 0,
			 errhint("Increase insider_guard.max_tracked."),
			 errhidestmt(true)));
}

/*
 * The counter of a tally, locked and ready to take rows at "now", found
 * or made the slow way (NULL if it cannot be made).
 */
IgCounter *
lock_tally_slow(Oid dbid, Oid roleid, IgTally *tally, TimestampTz now)
{
	IgCounterKey key;
	IgCounterRef before = tally->ref;
	IgCounter  *counter;

	key.dbid = dbid;
	key.roleid = roleid;
	key.relid = tally->relid;
	counter = lock_for_update(&key, &tally->ref, now);
	tally->ref_moved |= (tally->ref.pos != before.pos ||
						 tally->ref.incarnation != before.incarnation);
	return counter;
}

/*
 * Removes the counters of a role (all roles if roleid is InvalidOid) in a
 * database.
 */
void
ig_counters_reset(Oid dbid, Oid roleid)
{
	LWLockAcquire(counter_table->lock, LW_EXCLUSIVE);
	for (int32 pos = 0; pos < counter_table->max_counters; pos++)
	{
		IgCounter  *counter = counter_at(pos);

		SpinLockAcquire(&counter->mutex);
		(void) free_counter_if(counter, pos,
							   counter->in_use && counter->key.dbid == dbid &&
							   (roleid == InvalidOid ||
								counter->key.roleid == roleid));
	}
	LWLockRelease(counter_table->lock);
	mark_dirty();
}
