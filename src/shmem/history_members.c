/*-------------------------------------------------------------------------
 *
 * history_members.c
 *		When role memberships began, for as long as that matters: a
 *		peer-group membership younger than 14 days raises no limit
 *		(SPEC.md, "Behavioural baselines"), so that joining a high-volume
 *		group -- granted by anyone with ADMIN OPTION on it -- buys nothing
 *		at once.
 *
 * PostgreSQL keeps no time of a membership, so insider_guard notes one
 * whenever a statement grants any role to another (the ProcessUtility
 * hook, in every database: roles are the cluster's), whether or not the
 * group is a peer group yet.  A membership with no entry is old: it was
 * granted before insider_guard was loaded, or more than 14 days ago.  A
 * grant noted in a transaction that then rolled back leaves an entry for a
 * membership that does not exist; granting it later notes it again, from
 * then.  Granting a membership that exists notes it again too: it counts
 * 14 days after the last grant, never earlier.
 *
 * The entries are a small array in the history's shared state, under the
 * history lock, saved in the history file (history_file.c).  Entries past
 * their 14 days are dropped when room is needed.  If every entry is young
 * and another grant comes (a flood of grants), the oldest is dropped and,
 * until it would have come of age, no membership missing from the array
 * counts as old: the peer limits of groups fall back to none rather than
 * to a membership that may be young.
 *
 * IDENTIFICATION
 *		src/shmem/history_members.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/lwlock.h"

#include "shmem/history_internal.h"

/* the entry of a membership, or -1 */
static int
find_membership(Oid groupid, Oid member)
{
	for (int i = 0; i < ig_history->nyoung; i++)
		if (ig_history->young[i].groupid == groupid &&
			ig_history->young[i].member == member)
			return i;
	return -1;
}

/*
 * Notes that "member" was granted "groupid" now.  Never raises an error:
 * runs after the grant.
 */
void
ig_history_note_membership(Oid groupid, Oid member, TimestampTz now)
{
	int			i;

	LWLockAcquire(ig_history->lock, LW_EXCLUSIVE);
	i = find_membership(groupid, member);
	if (i < 0)
	{
		int			oldest = -1;

		/* the entries of age first, making room */
		for (int j = 0; j < ig_history->nyoung;)
		{
			if (now - ig_history->young[j].since >= IG_MEMBERSHIP_YOUNG_US)
				ig_history->young[j] = ig_history->young[--ig_history->nyoung];
			else
				j++;
		}
		if (ig_history->nyoung >= IG_YOUNG_MAX)
		{
			for (int j = 0; j < ig_history->nyoung; j++)
				if (oldest < 0 ||
					ig_history->young[j].since < ig_history->young[oldest].since)
					oldest = j;
			ig_history->overflow_until =
				Max(ig_history->overflow_until,
					ig_history->young[oldest].since + IG_MEMBERSHIP_YOUNG_US);
			i = oldest;
		}
		else
			i = ig_history->nyoung++;
		ig_history->young[i].groupid = groupid;
		ig_history->young[i].member = member;
	}
	ig_history->young[i].since = now;
	ig_history_mark_dirty();
	LWLockRelease(ig_history->lock);
}

/*
 * When a membership counts for peer limits: 0 if it does (it is older
 * than 14 days, or was never noted), else when it will.
 */
TimestampTz
ig_history_membership_counts_from(Oid groupid, Oid member, TimestampTz now)
{
	TimestampTz from = 0;
	int			i;

	LWLockAcquire(ig_history->lock, LW_SHARED);
	i = find_membership(groupid, member);
	if (i >= 0)
		from = ig_history->young[i].since + IG_MEMBERSHIP_YOUNG_US;
	else if (now < ig_history->overflow_until)
		from = ig_history->overflow_until;
	LWLockRelease(ig_history->lock);
	return from > now ? from : 0;
}
