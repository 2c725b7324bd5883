/*-------------------------------------------------------------------------
 *
 * memberships.c
 *		Role memberships a statement changed, found by comparing
 *		pg_auth_members before and after it: each one granted is noted for
 *		the 14 days it raises no peer limit (shmem/history_members.c), and
 *		each one granted or revoked is an admin event (adminlog.c).
 *
 * Comparing the catalog rather than reading the statement catches every
 * way a membership comes and goes: GRANT and REVOKE, CREATE ROLE ... IN
 * ROLE / ROLE / ADMIN, ALTER GROUP ... ADD / DROP USER, DROP ROLE, DROP
 * OWNED BY (which, from PostgreSQL 16, revokes the memberships a role
 * granted), and the membership PostgreSQL 16 and later give a role
 * without superuser in the roles it creates.  Roles are the cluster's: it
 * runs in every database, whether insider_guard is installed there or not.
 *
 * Only the statements that can change memberships read the catalog, twice
 * (pg_auth_members is small, and they are rare).  The second read sees the
 * statement's own changes (SnapshotSelf), before its transaction commits:
 * a membership granted in a transaction that then rolls back stays noted,
 * which makes it young for nothing but itself, should it be granted later
 * (it is noted again then).
 *
 * IDENTIFICATION
 *		src/sql/memberships.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_auth_members.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/snapmgr.h"

#include "base/guc.h"
#include "shmem/history.h"
#include "sql/adminlog.h"
#include "sql/memberships.h"

/* A membership: the group role and its member. */
typedef struct IgMemberPair
{
	Oid			groupid;
	Oid			member;
} IgMemberPair;

/* pg_auth_members at one time, ordered, each pair once. */
struct IgMemberships
{
	int			count;
	IgMemberPair *pairs;
};

static int
compare_pairs(const void *a, const void *b)
{
	const IgMemberPair *pa = (const IgMemberPair *) a;
	const IgMemberPair *pb = (const IgMemberPair *) b;

	if (pa->groupid != pb->groupid)
		return (pa->groupid > pb->groupid) - (pa->groupid < pb->groupid);
	return (pa->member > pb->member) - (pa->member < pb->member);
}

/*
 * Whether a statement may change role memberships: only those are
 * compared.
 */
bool
ig_memberships_may_change(Node *parsetree)
{
	/*
	 * pg_upgrade restoring the roles: they are not new (its tool carries
	 * the old server's record of young memberships)
	 */
	if (IsBinaryUpgrade)
		return false;
	return IsA(parsetree, GrantRoleStmt) || IsA(parsetree, CreateRoleStmt) ||
		IsA(parsetree, AlterRoleStmt) || IsA(parsetree, DropRoleStmt) ||
		IsA(parsetree, DropOwnedStmt);
}

/*
 * The memberships now, palloc'd; with "own_changes", those the running
 * statement made too (after it ran).
 */
IgMemberships *
ig_memberships_read(bool own_changes)
{
	IgMemberships *now = palloc(sizeof(IgMemberships));
	Relation	rel = table_open(AuthMemRelationId, AccessShareLock);
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 64;
	int			kept = 0;

	now->count = 0;
	now->pairs = palloc(sizeof(IgMemberPair) * allocated);
	scan = systable_beginscan(rel, InvalidOid, false,
							  own_changes ? SnapshotSelf : NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_auth_members form = (Form_pg_auth_members) GETSTRUCT(tuple);

		if (now->count == allocated)
		{
			allocated *= 2;
			now->pairs = repalloc(now->pairs, sizeof(IgMemberPair) * allocated);
		}
		now->pairs[now->count].groupid = form->roleid;
		now->pairs[now->count].member = form->member;
		now->count++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	/* (from PostgreSQL 16 a membership may have a row per grantor) */
	qsort(now->pairs, now->count, sizeof(IgMemberPair), compare_pairs);
	for (int i = 0; i < now->count; i++)
		if (kept == 0 || compare_pairs(&now->pairs[i], &now->pairs[kept - 1]) != 0)
			now->pairs[kept++] = now->pairs[i];
	now->count = kept;
	return now;
}

/*
 * After a statement that may have changed memberships ran: notes each
 * membership it granted, and logs each it granted or revoked.  "before"
 * is freed.
 */
void
ig_memberships_changed(IgMemberships *before)
{
	IgMemberships *after = ig_memberships_read(true);
	TimestampTz now = ig_now();
	int			b = 0;
	int			a = 0;

	while (b < before->count || a < after->count)
	{
		int			cmp = b == before->count ? 1 :
			a == after->count ? -1 :
			compare_pairs(&before->pairs[b], &after->pairs[a]);

		if (cmp == 0)
		{
			b++;
			a++;
		}
		else if (cmp < 0)
		{
			ig_admin_log_membership(before->pairs[b].groupid,
									before->pairs[b].member, false);
			b++;
		}
		else
		{
			ig_history_note_membership(after->pairs[a].groupid,
									   after->pairs[a].member, now);
			ig_admin_log_membership(after->pairs[a].groupid,
									after->pairs[a].member, true);
			a++;
		}
	}
	pfree(before->pairs);
	pfree(before);
	pfree(after->pairs);
	pfree(after);
}
