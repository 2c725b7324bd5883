/*-------------------------------------------------------------------------
 *
 * counters_incidents.c
 *		Incidents of block rules, kept on the counter of the key that was
 *		stopped: one record per incident, its later stops counted as
 *		repeats and written to the violations log lazily.  Crossings of
 *		7-day log rules, likewise.
 *
 * IDENTIFICATION
 *		src/shmem/counters_incidents.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "base/guc.h"
#include "shmem/counters_internal.h"

/* Orders violation ids. */
static int
compare_ids(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}


/* Whether an incident's rule is one of the key's block rules now. */
static bool
incident_live(const IgIncident *incident, const IgIncidentAsk *ask)
{
	return ig_live_rule_known(ask->live, ask->nlive, incident->rule_id,
							  incident->stamp);
}

/*
 * A rule of a tally's key broke (IgIncidentOf says how): a repeat of its
 * incident (its record's id in *violation_id), or a new one, which the
 * caller records and then hands its id to ig_counters_incident_recorded.
 *
 * A block rule's incident is open until a statement finds room under a
 * block rule again; a log rule's is never open, and counts while it was
 * seen since "since": a crossing then repeats it (7-day rules; others
 * pass DT_NOEND, and record every crossing), and a statement that reads
 * over the limit without crossing it (the limit went down, or the rule
 * became a log rule while over) is the same episode, seen again -- only
 * a role over a log limit with no incident of it makes a record so, and
 * at most one a minute for a counter (rules over at once, more than the
 * slots, would otherwise push each other out and record every
 * statement: LATER meanwhile).  An incident is taken
 * from one that is free, or closed with every repeat written: the one
 * seen longest ago.
 *
 * The asker's rules are the key's rules as they were when it took them:
 * an open incident of a rule it does not know ends if it was last seen
 * before then (its rule was dropped, changed, or switched to log since
 * -- or it is this rule's earlier version); one seen since may be of a
 * rule added or changed after the asker took its rules, and stays open
 * (a statement under the old rules does not end it).
 */
IgIncidentKind
ig_counters_incident(Oid dbid, Oid roleid, IgTally *tally,
					 const IgIncidentAsk *ask, TimestampTz now,
					 int64 *violation_id)
{
	IgCounter  *counter;
	IgIncident *free_incident = NULL;
	IgIncidentKind kind = IG_INCIDENT_UNTRACKED;
	int64		rule_id = ask->rule_id;
	uint32		stamp = ask->stamp;
	IgIncidentOf of = ask->of;
	TimestampTz since = ask->since;

	*violation_id = 0;
	refresh_windows();
	counter = lock_for_update_fast(&tally->ref, now);
	if (counter == NULL)
		counter = lock_tally_slow(dbid, roleid, tally, now);
	if (counter == NULL)
		return kind;
	for (int i = 0; i < IG_COUNTER_INCIDENTS; i++)
	{
		IgIncident *incident = &counter->incidents[i];
		bool		same = incident->rule_id == rule_id &&
			incident->stamp == stamp;

		/*
		 * an incident of an earlier version of the rule ends (the rule
		 * changed, or was made anew with the same id); so does a block
		 * incident the rule left open when it became a log rule: its
		 * crossings are an incident of their own; and one of a rule that
		 * is no block rule of the key any more (dropped, switched to log)
		 * -- all of them rules the asker does not know as block rules, and
		 * only if last seen before it took its rules (see above)
		 */
		if (incident->open && incident->last_seen < ask->rules_at &&
			!incident_live(incident, ask))
			incident->open = false;
		/* (the other slots are still looked at: the closings above) */
		if (kind == IG_INCIDENT_REPEAT)
			continue;
		if (same &&
			(of == IG_OF_BLOCK ? incident->open :
			 incident->crossings && incident->last_seen >= since))
		{
			if (of != IG_OF_OVER)
				incident->repeats++;
			incident->last_seen = Max(incident->last_seen, now);
			*violation_id = incident->violation_id;
			kind = IG_INCIDENT_REPEAT;
			continue;
		}
		if ((incident->rule_id == 0 ||
			 (!incident->open && incident->written == incident->repeats)) &&
			(free_incident == NULL ||
			 (free_incident->rule_id != 0 &&
			  (incident->rule_id == 0 ||
			   incident->last_seen < free_incident->last_seen))))
			free_incident = incident;
	}
	if (kind != IG_INCIDENT_REPEAT && of == IG_OF_OVER)
	{
		if (counter->over_recorded > now - USECS_PER_MINUTE &&
			counter->over_recorded <= now)
		{
			kind = IG_INCIDENT_LATER;	/* recorded one a minute ago */
			free_incident = NULL;
		}
		else
			counter->over_recorded = now;
	}
	if (kind != IG_INCIDENT_REPEAT && free_incident != NULL)
	{
		memset(free_incident, 0, sizeof(IgIncident));
		free_incident->rule_id = rule_id;
		free_incident->stamp = stamp;
		free_incident->last_seen = now;
		free_incident->open = of == IG_OF_BLOCK;
		free_incident->crossings = of != IG_OF_BLOCK;
		counter->has_open_incident |= free_incident->open;
		kind = IG_INCIDENT_NEW;
	}
	counter->last_used = now;
	release_counter(counter);
	if (kind == IG_INCIDENT_NEW || kind == IG_INCIDENT_REPEAT)
		mark_dirty();
	return kind;
}

/* The record of a new incident (ig_counters_incident) has been written. */
void
ig_counters_incident_recorded(Oid dbid, Oid roleid, IgTally *tally,
							  int64 rule_id, uint32 stamp, int64 violation_id)
{
	TimestampTz now = ig_now();
	IgCounter  *counter;

	refresh_windows();
	counter = lock_for_update_fast(&tally->ref, now);
	if (counter == NULL)
		counter = lock_tally_slow(dbid, roleid, tally, now);
	if (counter == NULL)
		return;
	for (int i = 0; i < IG_COUNTER_INCIDENTS; i++)
	{
		IgIncident *incident = &counter->incidents[i];

		if (incident->rule_id == rule_id && incident->stamp == stamp &&
			incident->violation_id == 0)
		{
			incident->violation_id = violation_id;
			/* not written: the next stop records again */
			if (violation_id == 0)
				incident->rule_id = 0;
			break;
		}
	}
	release_counter(counter);
	mark_dirty();
}

/*
 * The repeat counts not yet written to the violations log, palloc'd;
 * *count set.  Each counter's mutex is taken in turn.
 */
IgIncidentChange *
ig_counters_incident_changes(int *count)
{
	int			allocated = 16;
	int			n = 0;
	IgIncidentChange *changes = palloc(sizeof(IgIncidentChange) * allocated);

	for (int32 pos = 0; pos < counter_table->max_counters; pos++)
	{
		IgCounter  *counter = counter_at(pos);

		/* no palloc under a spinlock: room for a counter's all first */
		if (allocated - n < IG_COUNTER_INCIDENTS)
		{
			allocated *= 2;
			changes = repalloc(changes, sizeof(IgIncidentChange) * allocated);
		}
		SpinLockAcquire(&counter->mutex);
		for (int i = 0; counter->in_use && i < IG_COUNTER_INCIDENTS; i++)
		{
			IgIncident *incident = &counter->incidents[i];

			if (incident->rule_id == 0 || incident->violation_id == 0 ||
				incident->written == incident->repeats)
				continue;
			changes[n].dbid = counter->key.dbid;
			changes[n].violation_id = incident->violation_id;
			changes[n].repeats = incident->repeats;
			changes[n].last_seen = incident->last_seen;
			changes[n].pos = pos;
			changes[n].incarnation = counter->incarnation;
			changes[n].incident = i;
			n++;
		}
		SpinLockRelease(&counter->mutex);
	}
	*count = n;
	return changes;
}

/*
 * Forgets the incidents whose records are gone (pruned, or dropped to
 * make room) -- the violation ids in "ids", sorted -- or, with
 * keep_listed, those whose records are not among them (at start): the
 * next stop of such a role makes a new record.
 */
void
ig_counters_forget_incidents(const int64 *ids, int nids, bool keep_listed)
{
	bool		forgot = false;

	for (int32 pos = 0; pos < counter_table->max_counters; pos++)
	{
		IgCounter  *counter = counter_at(pos);

		SpinLockAcquire(&counter->mutex);
		for (int i = 0; counter->in_use && i < IG_COUNTER_INCIDENTS; i++)
		{
			IgIncident *incident = &counter->incidents[i];
			bool		listed;

			if (incident->rule_id == 0 || incident->violation_id == 0)
				continue;
			listed = nids > 0 &&
				bsearch(&incident->violation_id, ids, nids, sizeof(int64),
						compare_ids) != NULL;
			if (listed != keep_listed)
			{
				memset(incident, 0, sizeof(IgIncident));
				forgot = true;
			}
		}
		SpinLockRelease(&counter->mutex);
	}
	if (forgot)
		mark_dirty();
}

/*
 * The changes (ig_counters_incident_changes) are in the violations log:
 * their repeats are written, and closed incidents with nothing left to
 * write are freed.
 */
void
ig_counters_incidents_written(const IgIncidentChange *changes, int count)
{
	for (int c = 0; c < count; c++)
	{
		IgCounter  *counter = counter_at(changes[c].pos);
		IgIncident *incident = &counter->incidents[changes[c].incident];

		SpinLockAcquire(&counter->mutex);
		if (counter->incarnation == changes[c].incarnation &&
			incident->violation_id == changes[c].violation_id)
			incident->written = Max(incident->written, changes[c].repeats);
		SpinLockRelease(&counter->mutex);
	}
}
