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
 * The entries are an array in the history's shared state (IG_YOUNG_MAX,
 * 16 bytes each), under the history lock, written to their own file
 * before the grant's statement goes on -- a crash must not make a young
 * membership old -- and loaded at start.  Entries past their 14 days are
 * dropped when room is needed.  If every entry is young and another grant
 * comes (a flood of grants), or the file cannot be written, the oldest is
 * dropped and, until it would have come of age, no membership missing
 * from the array counts as old: peer limits fall back to none rather than
 * to a membership that may be young, and the log says so.
 *
 * IDENTIFICATION
 *		src/shmem/history_members.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/lwlock.h"
#include "utils/timestamp.h"

#include "base/event.h"
#include "base/guc.h"
#include "base/persist.h"
#include "shmem/history_internal.h"

/* the file's body: a head, then the entries in use */
typedef struct IgMembersFileHead
{
	uint32		count;
	uint32		zero;
	TimestampTz overflow_until;
} IgMembersFileHead;

/* Writes the entries; the history lock held. */
static void
write_members(IgFileWriter *writer)
{
	IgMembersFileHead head;

	memset(&head, 0, sizeof(head));
	head.count = ig_history->nyoung;
	head.overflow_until = ig_history->overflow_until;
	ig_file_write(writer, &head, sizeof(head));
	ig_file_write(writer, ig_history->young,
				  sizeof(IgYoungMembership) * ig_history->nyoung);
}

/* Says, at most once a minute, that memberships are taken as young. */
static void
log_overflow(TimestampTz now, const char *why)
{
	static TimestampTz last_logged = 0;
	IgEvent		ev;

	if (now - last_logged < USECS_PER_MINUTE && now >= last_logged)
		return;
	last_logged = now;
	if (ig_event_json())
	{
		ig_event_begin(&ev, "memberships_overflow", now);
		ig_event_keyword(&ev, "reason", why);
		ig_event_int(&ev, "max_young_memberships", IG_YOUNG_MAX);
		ig_event_emit(&ev, LOG);
		return;
	}
	ereport(LOG,
			(errmsg("insider_guard: %s: role memberships not noted count as younger than 14 days until %s",
					why, timestamptz_to_str(ig_history->overflow_until)),
			 errdetail("insider_guard notes when up to %d role memberships were granted in the last 14 days; until then no peer group raises a limit through a membership it does not know.",
					   IG_YOUNG_MAX)));
}

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
			log_overflow(now, "too many role memberships granted in 14 days");
			i = oldest;
		}
		else
			i = ig_history->nyoung++;
		ig_history->young[i].groupid = groupid;
		ig_history->young[i].member = member;
	}
	ig_history->young[i].since = now;
	/* on disk before the statement goes on; if not, fail safe */
	if (!ig_file_save(IG_MEMBERS_FILE, IG_MEMBERS_MAGIC, write_members))
	{
		ig_history->overflow_until = Max(ig_history->overflow_until,
										 now + IG_MEMBERSHIP_YOUNG_US);
		log_overflow(now, "could not save when role memberships were granted");
	}
	LWLockRelease(ig_history->lock);
}

/*
 * At start, when the memberships saved last could not be read: any
 * membership may be young, for 14 days.
 */
void
ig_history_members_lost(void)
{
	TimestampTz now = ig_now();

	ig_history->overflow_until = now + IG_MEMBERSHIP_YOUNG_US;
	log_overflow(now, "could not read when role memberships were granted");
}

/*
 * Loads the memberships saved last, at postmaster start.  False if the
 * body is malformed.
 */
bool
ig_history_members_load(const char *data, Size len, const char *path)
{
	IgMembersFileHead head;

	if (len < sizeof(head))
		return false;
	memcpy(&head, data, sizeof(head));
	if (head.count > IG_YOUNG_MAX ||
		len != sizeof(head) + (Size) head.count * sizeof(IgYoungMembership))
		return false;
	ig_history->nyoung = head.count;
	ig_history->overflow_until = head.overflow_until;
	memcpy(ig_history->young, data + sizeof(head),
		   sizeof(IgYoungMembership) * head.count);
	return true;
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

	/*
	 * Mostly nothing is young: no lock then.  (A grant made meanwhile
	 * invalidates the rules matched with this answer.)
	 */
	if (ig_history->nyoung == 0 && ig_history->overflow_until <= now)
		return 0;
	LWLockAcquire(ig_history->lock, LW_SHARED);
	i = find_membership(groupid, member);
	if (i >= 0)
		from = ig_history->young[i].since + IG_MEMBERSHIP_YOUNG_US;
	else if (now < ig_history->overflow_until)
		from = ig_history->overflow_until;
	LWLockRelease(ig_history->lock);
	return from > now ? from : 0;
}
